// In-memory venue search: grid for geography, bit sets for enumerations, word index for text.
#include "services/venues/search.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "libs/standard/opening_hours.hpp"
#include "libs/text/text.hpp"

namespace passerelle::venues {
namespace {

// ~2.2 km of latitude: a 5 km circle touches about 40 cells, those wholly outside it are
// skipped, and the rest hold little more than the circle (with 0.05°, 12 cells held three
// times its area).
constexpr double kCellDeg = 0.02;

// One of 64 bits for the first three characters of a word (all of it when shorter). A term of
// three or more characters can only start words whose bit it shares: a cheap first test before
// the sorted word list is searched.
uint64_t PrefixBit(std::string_view word) {
  return uint64_t{1} << (std::hash<std::string_view>{}(word.substr(0, 3)) % 64);
}

int64_t CellKey(int row, int col) { return (static_cast<int64_t>(row) << 32) ^ (col & 0xffffffff); }
int Row(double lat) { return static_cast<int>(std::floor(lat / kCellDeg)); }
int Col(double lon) { return static_cast<int>(std::floor(lon / kCellDeg)); }

// Per venue, the index holds what the tests need, compactly, and shares what venues have in
// common: its parsed hours are those of every venue with the same `horaires` text.
struct Entry {
  int revision = 0;
  std::shared_ptr<const IndexedVenue> venue;
  bool located = false;
  double lat = 0, lon = 0;
  std::string name_key;                         // folded nom, for ordering
  std::string date_maj;                         // YYYY-MM-DD as stored (empty: none)
  std::array<uint64_t, kMaskedFields> masks{};  // bit i: the schema's i-th value
  std::vector<std::string> typologie, items, areas;
  std::string words;         // sorted, distinct, each followed by '\0': one block to scan
  uint64_t word_starts = 0;  // PrefixBit of each word: most text misses end here
  std::shared_ptr<const standard::OpeningHours> hours;
  const std::string* hours_text = nullptr;  // its key in Impl::hours
};

// Calls `f` with each word of an entry's `words`.
template <typename F>
void ForEachWord(std::string_view words, F f) {
  for (size_t at = 0; at < words.size();) {
    const size_t end = words.find('\0', at);
    f(words.substr(at, end - at));
    at = end + 1;
  }
}

// Whether one of an entry's `words` starts with `term`. They are sorted: a word greater than
// the term that does not start with it is greater than every word that would.
bool HasWordStarting(std::string_view words, std::string_view term) {
  for (size_t at = 0; at < words.size();) {
    const size_t end = words.find('\0', at);
    const std::string_view w = words.substr(at, end - at);
    if (w.starts_with(term)) return true;
    if (w > term) return false;
    at = end + 1;
  }
  return false;
}

struct Candidate {
  const Entry* e;
  double distance;
};

// The order of a search without a place: folded name, then resource name (unique).
bool ByName(const Entry* a, const Entry* b) {
  if (a->name_key != b->name_key) return a->name_key < b->name_key;
  return a->venue->name < b->venue->name;
}

// A located venue as its grid cell keeps it: what the geographic and enumeration tests read,
// side by side in one array per cell, so that a search walks contiguous memory and reaches the
// entry itself only for venues that pass them.
struct Slot {
  double lat, lon;
  std::array<uint64_t, kMaskedFields> masks;
  uint64_t word_starts;  // the entry's: a text search passes over most slots without reaching it
  const Entry* e;
};

}  // namespace

struct SearchIndex::Impl {
  explicit Impl(const standard::Standard& s) : standard(s) {}
  const standard::Standard& standard;
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries;  // by id
  std::unordered_map<std::string, int> withdrawn;                   // id -> revision
  // Whether `id` is held at `revision` or a later one (the caller holds `mu`).
  bool Knows(const std::string& id, int revision) const;
  // Cell -> its venues. An open-addressing table: a search looks up about forty cells, and a
  // node-based map's division and pointer chase per look-up were a quarter of the dense query's
  // index time.
  absl::flat_hash_map<int64_t, std::vector<Slot>> grid;
  std::map<std::string, std::vector<const Entry*>, std::less<>> words;  // word -> entries
  // Parsed `horaires` by text: most venues share a few schedules.
  std::unordered_map<std::string, std::shared_ptr<const standard::OpeningHours>> hours;
  // Every entry in ByName order: a page of a search without a place and without a filter (the
  // OGC API's items page, a list of every venue by name) is a slice of it, found by binary
  // search, instead of a walk of every venue. Sorted at the first such search (under the shared
  // lock, hence its own mutex), then kept in step by every write (under the exclusive lock).
  mutable std::vector<const Entry*> by_name;
  mutable std::atomic<bool> by_name_built{false};
  mutable std::mutex by_name_mu;

  // Callers hold `mu`, shared or exclusive.
  const std::vector<const Entry*>& EntriesByName() const {
    if (!by_name_built.load(std::memory_order_acquire)) {
      std::lock_guard build(by_name_mu);
      if (!by_name_built.load(std::memory_order_relaxed)) {
        by_name.clear();
        by_name.reserve(entries.size());
        for (const auto& [id, e] : entries) by_name.push_back(e.get());
        std::sort(by_name.begin(), by_name.end(), ByName);
        by_name_built.store(true, std::memory_order_release);
      }
    }
    return by_name;
  }

  static void Erase(std::vector<const Entry*>& v, const Entry* e) {
    auto it = std::find(v.begin(), v.end(), e);
    if (it != v.end()) {
      *it = v.back();
      v.pop_back();
    }
  }

  void Unlink(const std::string& id) {
    auto it = entries.find(id);
    if (it == entries.end()) return;
    const Entry* e = it->second.get();
    if (e->located) {
      auto g = grid.find(CellKey(Row(e->lat), Col(e->lon)));
      if (g != grid.end()) {
        auto& slots = g->second;
        auto at = std::find_if(slots.begin(), slots.end(), [&](const Slot& s) { return s.e == e; });
        if (at != slots.end()) {
          *at = slots.back();
          slots.pop_back();
        }
        if (slots.empty()) grid.erase(g);
      }
    }
    ForEachWord(e->words, [&](std::string_view w) {
      auto x = words.find(w);
      if (x != words.end()) {
        Erase(x->second, e);
        if (x->second.empty()) words.erase(x);
      }
    });
    if (by_name_built.load(std::memory_order_relaxed)) {
      auto at = std::lower_bound(by_name.begin(), by_name.end(), e, ByName);
      if (at != by_name.end() && *at == e) by_name.erase(at);
    }
    if (e->hours_text != nullptr) {
      auto h = hours.find(*e->hours_text);
      if (h != hours.end() && h->second.use_count() <= 2) hours.erase(h);  // only this entry's
    }
    entries.erase(it);
  }

  uint64_t Mask(size_t field, const std::vector<std::string>& values) const {
    const standard::FieldSpec* spec = standard.Find(kMaskedFieldNames[field]);
    uint64_t m = 0;
    for (const auto& v : values) {
      auto pos = std::find(spec->values.begin(), spec->values.end(), v);
      if (pos != spec->values.end()) m |= uint64_t{1} << (pos - spec->values.begin());
    }
    return m;
  }
};

SearchIndex::SearchIndex(const standard::Standard& standard)
    : impl_(std::make_unique<Impl>(standard)) {}
SearchIndex::~SearchIndex() = default;

size_t SearchIndex::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->entries.size();
}

std::shared_ptr<const IndexedVenue> SearchIndex::Find(const std::string& id) const {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->entries.find(id);
  return it == impl_->entries.end() ? nullptr : it->second->venue;
}

std::vector<std::shared_ptr<const IndexedVenue>> SearchIndex::Snapshot() const {
  std::vector<std::shared_ptr<const IndexedVenue>> all;
  {
    std::shared_lock lock(impl_->mu);
    all.reserve(impl_->entries.size());
    for (const auto& [id, e] : impl_->entries) all.push_back(e->venue);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return all;
}

v1::Venue BasicView(const v1::Venue& full) {
  v1::Venue basic;
  basic.set_name(full.name());
  basic.set_id(full.id());
  basic.set_nom(full.nom());
  basic.set_adresse(full.adresse());
  basic.set_code_postal(full.code_postal());
  basic.set_commune(full.commune());
  if (full.has_latitude()) basic.set_latitude(full.latitude());
  if (full.has_longitude()) basic.set_longitude(full.longitude());
  *basic.mutable_typologie() = full.typologie();
  *basic.mutable_services() = full.services();
  *basic.mutable_frais_a_charge() = full.frais_a_charge();
  basic.set_source(full.source());
  if (full.has_provenance()) basic.mutable_provenance()->set_source(full.provenance().source());
  basic.set_date_maj(full.date_maj());
  basic.set_accepts_aptic_pass(full.accepts_aptic_pass());
  basic.set_etag(full.etag());
  return basic;
}

std::vector<v1::Venue> SearchIndex::All() const {
  const std::vector<std::shared_ptr<const IndexedVenue>> all = Snapshot();
  std::vector<v1::Venue> out(all.size());
  for (size_t i = 0; i < all.size(); ++i) out[i].ParseFromString(all[i]->wire);
  return out;
}

bool SearchIndex::Impl::Knows(const std::string& id, int revision) const {
  auto it = entries.find(id);
  if (it != entries.end()) return it->second->revision >= revision;
  auto w = withdrawn.find(id);
  return w != withdrawn.end() && w->second >= revision;
}

bool SearchIndex::Knows(const std::string& id, int revision) const {
  std::shared_lock lock(impl_->mu);
  return impl_->Knows(id, revision);
}

void SearchIndex::Put(const standard::Venue& v) {
  // The change feed brings rows again, and this process's own writes race with it: a revision
  // the index already has, or an older one, changes nothing.
  auto known = [&] { return impl_->Knows(v.id, v.revision); };
  {
    std::shared_lock lock(impl_->mu);
    if (known()) return;
  }
  // A venue hidden as another's duplicate leaves search and exports as a withdrawn one does.
  if (v.withdrawn || !v.duplicate_of.empty()) {
    std::unique_lock lock(impl_->mu);
    if (known()) return;
    impl_->Unlink(v.id);
    impl_->withdrawn[v.id] = v.revision;
    return;
  }
  auto e = std::make_unique<Entry>();
  e->revision = v.revision;
  {
    v1::Venue message;
    ToProto(impl_->standard, v, &message);
    auto indexed = std::make_shared<IndexedVenue>();
    indexed->name = v.Name();
    message.SerializeToString(&indexed->wire);
    BasicView(message).SerializeToString(&indexed->basic);
    e->venue = std::move(indexed);
  }
  auto get = [&](const char* f) -> std::string {
    auto it = v.standard.find(f);
    return it == v.standard.end() || it->second.empty() ? "" : it->second.front();
  };
  const std::string lat = get("latitude"), lon = get("longitude");
  if (!lat.empty() && !lon.empty()) {
    e->located = true;
    e->lat = std::strtod(lat.c_str(), nullptr);
    e->lon = std::strtod(lon.c_str(), nullptr);
  }
  e->name_key = text::Fold(get("nom"));
  e->date_maj = get("date_maj");
  for (size_t i = 0; i < kMaskedFields; ++i) {
    auto it = v.standard.find(std::string(kMaskedFieldNames[i]));
    if (it != v.standard.end()) e->masks[i] = impl_->Mask(i, it->second);
  }
  if (auto it = v.standard.find("typologie"); it != v.standard.end()) e->typologie = it->second;
  e->items = v.referential_items;
  e->areas = v.areas;
  std::set<std::string> ws;
  for (const char* f : {"nom", "adresse", "commune", "presentation_resume", "presentation_detail",
                        "structure_parente"}) {
    for (auto& w : text::Words(get(f))) ws.insert(std::move(w));
  }
  for (const auto& w : ws) {
    e->words += w;
    e->words += '\0';
    e->word_starts |= PrefixBit(w);
  }
  const std::string horaires = get("horaires");
  std::optional<standard::OpeningHours> hours = standard::OpeningHours::Parse(horaires);

  std::unique_lock lock(impl_->mu);
  if (known()) return;
  impl_->Unlink(v.id);
  impl_->withdrawn.erase(v.id);
  Entry* raw = e.get();
  if (raw->located) {
    impl_->grid[CellKey(Row(raw->lat), Col(raw->lon))].push_back(
        {raw->lat, raw->lon, raw->masks, raw->word_starts, raw});
  }
  for (const auto& w : ws) impl_->words[w].push_back(raw);
  if (hours) {
    auto h = impl_->hours.try_emplace(horaires).first;
    if (h->second == nullptr)
      h->second = std::make_shared<const standard::OpeningHours>(std::move(*hours));
    raw->hours = h->second;
    raw->hours_text = &h->first;
  }
  if (impl_->by_name_built.load(std::memory_order_relaxed)) {
    auto& order = impl_->by_name;
    order.insert(std::upper_bound(order.begin(), order.end(), raw, ByName), raw);
  }
  impl_->entries.emplace(v.id, std::move(e));
}

namespace {

// A query's filters compiled once: bit sets for enumerations, folded words for text.
struct Compiled {
  std::array<uint64_t, kMaskedFields> want{};
  std::array<uint8_t, kMaskedFields> filtered{};  // the fields with a filter, `filters` of them
  size_t filters = 0;
  bool impossible = false;  // a filter whose values are all unknown: nothing can match
  std::vector<std::string> terms;
  uint64_t term_starts = 0;
  bool lists = false;  // a filter on typologie, referential items or areas (tested on the entry)
  bool great_circle = false;  // a circle reaching past kFlatLimitDeg: see GreatCircle
};

// Longitude spans a circle or box covers: one, or two when it crosses the antimeridian (a box
// with west > east, or a circle reaching past ±180°, as around Wallis-et-Futuna); the whole
// range near a pole.
struct Area {
  double min_lat, max_lat;
  std::vector<std::pair<double, double>> spans;
};

constexpr double kMetersPerDeg = 6371008.8 * M_PI / 180;

// Up to this latitude a circle is measured on the plane tangent to its centre; a circle that
// reaches past it is measured on the sphere. Near a pole meridians converge too fast for the
// plane (a venue across the pole would seem 180 degrees of longitude away) and a circle may
// hold the pole itself.
constexpr double kFlatLimitDeg = 60;

bool GreatCircle(const SearchQuery& q) {
  return q.has_circle && std::abs(q.lat) + q.radius_m / kMetersPerDeg > kFlatLimitDeg;
}

// Great-circle distance in meters (haversine), for circles near a pole.
double GreatCircleMeters(double lat1, double lon1, double lat2, double lon2) {
  const double to_rad = M_PI / 180;
  const double s_lat = std::sin((lat2 - lat1) * to_rad / 2);
  const double s_lon = std::sin((lon2 - lon1) * to_rad / 2);
  const double h =
      s_lat * s_lat + std::cos(lat1 * to_rad) * std::cos(lat2 * to_rad) * s_lon * s_lon;
  return 2 * (kMetersPerDeg * 180 / M_PI) * std::asin(std::min(1.0, std::sqrt(h)));
}

Area AreaOf(const SearchQuery& q) {
  Area a{q.min_lat, q.max_lat, {}};
  double min_lon = q.min_lon, max_lon = q.max_lon;
  bool all_lon = false;
  if (q.has_circle) {
    const double dlat = q.radius_m / kMetersPerDeg;
    const double cos_lat = std::cos(q.lat * M_PI / 180);
    a.min_lat = std::max(-90.0, q.lat - dlat);
    a.max_lat = std::min(90.0, q.lat + dlat);
    const double dlon = cos_lat > 1e-9 ? q.radius_m / (kMetersPerDeg * cos_lat) : 360;
    min_lon = q.lon - dlon;
    max_lon = q.lon + dlon;
    all_lon = dlon >= 180;
  }
  if (all_lon || max_lon - min_lon >= 360) {
    a.spans = {{-180, 180}};
  } else if (q.has_box && min_lon > max_lon) {
    a.spans = {{min_lon, 180}, {-180, max_lon}};
  } else if (min_lon < -180) {
    a.spans = {{min_lon + 360, 180}, {-180, max_lon}};
  } else if (max_lon > 180) {
    a.spans = {{min_lon, 180}, {-180, max_lon - 360}};
  } else {
    a.spans = {{min_lon, max_lon}};
  }
  return a;
}

// Whether a venue holds at least one of `wanted` (an empty filter keeps every venue).
bool HasAny(const std::vector<std::string>& have, const std::vector<std::string>& wanted) {
  return wanted.empty() || std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) {
           return std::find(have.begin(), have.end(), w) != have.end();
         });
}

}  // namespace

namespace {

// Step 1: the query's filters as bit sets and folded words.
Compiled Compile(const SearchIndex::Impl& im, const SearchQuery& q) {
  Compiled c;
  for (size_t i = 0; i < kMaskedFields; ++i) {
    if (q.any_of[i].empty()) continue;
    c.want[i] = im.Mask(i, q.any_of[i]);
    if (c.want[i] == 0) c.impossible = true;
    c.filtered[c.filters++] = static_cast<uint8_t>(i);
  }
  using F = SearchField;
  c.lists = !q.any_of[static_cast<size_t>(F::kTypologie)].empty() ||
            !q.any_of[static_cast<size_t>(F::kReferentialItems)].empty() ||
            !q.any_of[static_cast<size_t>(F::kAreas)].empty();
  c.great_circle = GreatCircle(q);
  c.terms = text::Words(q.text);
  for (const auto& t : c.terms) {
    if (t.size() >= 3) c.term_starts |= PrefixBit(t);
  }
  return c;
}

// How far grid cell (row, col) lies from the query's centre in the flat-earth distance
// MatchesPlace uses (`lon_scale`: meters per degree of longitude at the centre), squared: its
// nearest and farthest points. Every venue of the cell lies between the two (up to rounding:
// callers keep a margin).
struct CellReach {
  double nearest2, farthest2;
};

CellReach ReachOf(const SearchQuery& q, int row, int col, double lon_scale) {
  const double lat0 = row * kCellDeg, lat1 = lat0 + kCellDeg;
  const double dlat = q.lat < lat0 ? lat0 - q.lat : q.lat > lat1 ? q.lat - lat1 : 0;
  const double far_lat = std::max(std::abs(q.lat - lat0), std::abs(q.lat - lat1));
  auto wrap = [](double d) { return d > 180 ? d - 360 : d < -180 ? d + 360 : d; };
  const double lon0 = col * kCellDeg, lon1 = lon0 + kCellDeg;
  const double d0 = std::abs(wrap(lon0 - q.lon)), d1 = std::abs(wrap(lon1 - q.lon));
  const double dlon = q.lon < lon0 || q.lon > lon1 ? std::min(d0, d1) : 0;
  auto meters2 = [&](double dlat_deg, double dlon_deg) {
    const double dy = dlat_deg * kMetersPerDeg, dx = dlon_deg * lon_scale;
    return dx * dx + dy * dy;
  };
  return {meters2(dlat, dlon), meters2(far_lat, std::max(d0, d1))};
}

// Whether a cell lies wholly outside the circle (with a margin: a cell is skipped only when
// none of its venues could pass), or wholly inside it (every venue of it passes the radius).
bool OutsideCircle(const SearchQuery& q, const CellReach& r) {
  const double beyond = q.radius_m * 1.001 + 1;
  return r.nearest2 > beyond * beyond;
}
bool InsideCircle(const SearchQuery& q, const CellReach& r) {
  const double within = q.radius_m * 0.999 - 1;
  return within > 0 && r.farthest2 < within * within;
}

// Step 2: where the candidates come from, the most selective structure available: the grid
// cells of the area (their slots, tested in place), or else a list of entries: every located
// venue for an area too large for the grid, the venues whose words start with the first term,
// or every venue. `*first_term_done` tells whether the first term is already satisfied.
struct Cell {
  const std::vector<Slot>* slots;
  CellReach reach;      // with a circle: from its centre (else zeros)
  bool inside = false;  // with a circle: every slot within the radius
};
struct Source {
  std::vector<Cell> cells;            // the area's non-empty cells (grid walk); with a circle,
                                      // nearest first
  std::vector<const Entry*> entries;  // otherwise
  bool grid = false;
};

Source Candidates(const SearchIndex::Impl& im, const SearchQuery& q, const Compiled& c,
                  double lon_scale, size_t* first_term_done) {
  Source out;
  *first_term_done = 0;
  if (q.has_circle || q.has_box) {
    const Area area = AreaOf(q);
    double cells = 0;
    for (const auto& [w, e] : area.spans) {
      cells += (Row(area.max_lat) - Row(area.min_lat) + 1.0) * (Col(e) - Col(w) + 1.0);
    }
    if (c.great_circle) {
      // Near a pole the cells' distances (ReachOf) are the plane's: every non-empty cell of the
      // circle's band of latitude is walked whole, nothing skipped or taken unmeasured.
      out.grid = true;
      const int first = Row(area.min_lat), last = Row(area.max_lat);
      for (const auto& [key, slots] : im.grid) {
        const int row = static_cast<int>(key >> 32);
        if (row >= first && row <= last) {
          out.cells.push_back({&slots, {0, std::numeric_limits<double>::infinity()}, false});
        }
      }
      return out;
    }
    if (cells > static_cast<double>(im.grid.size()) * 4 + 64) {
      // A huge area: walking its empty cells would cost more than testing every venue.
      for (const auto& [id, e] : im.entries) {
        if (e->located) out.entries.push_back(e.get());
      }
      return out;
    }
    out.grid = true;
    for (const auto& [w, e] : area.spans) {
      for (int r = Row(area.min_lat); r <= Row(area.max_lat); ++r) {
        for (int col = Col(w); col <= Col(e); ++col) {
          Cell cell{nullptr, {0, 0}, false};
          if (q.has_circle) {
            cell.reach = ReachOf(q, r, col, lon_scale);
            if (OutsideCircle(q, cell.reach)) continue;
            cell.inside = InsideCircle(q, cell.reach);
          }
          auto g = im.grid.find(CellKey(r, col));
          if (g == im.grid.end()) continue;
          cell.slots = &g->second;
          out.cells.push_back(cell);
        }
      }
    }
    if (q.has_circle) {
      std::sort(out.cells.begin(), out.cells.end(),
                [](const Cell& a, const Cell& b) { return a.reach.nearest2 < b.reach.nearest2; });
    }
    return out;
  }
  if (!c.terms.empty()) {
    // Entries whose words start with the first term (prefix range of the sorted word map).
    std::set<const Entry*> ids;
    const std::string& t = c.terms.front();
    for (auto it = im.words.lower_bound(t); it != im.words.end() && it->first.starts_with(t);
         ++it) {
      ids.insert(it->second.begin(), it->second.end());
    }
    *first_term_done = 1;
    out.entries.assign(ids.begin(), ids.end());
    return out;
  }
  for (const auto& [id, e] : im.entries) out.entries.push_back(e.get());
  return out;
}

// Step 3: the exact tests, cheapest first, in two parts. First what a grid slot holds: the
// enumerations and the area; the distance in meters (circle) or -1.
// On the plane tangent to the centre (meridians kept parallel) the distance differs from the
// great-circle one by about tan(latitude) x (difference of latitude) / 2: under 0.1 % within
// 5 km below 60 degrees, under 1.5 % at 100 km. It filters, orders and is returned without
// trigonometry per candidate; a circle reaching past kFlatLimitDeg is measured on the sphere.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool MatchesMasks(
    const std::array<uint64_t, kMaskedFields>& masks, const Compiled& c) {
  for (size_t k = 0; k < c.filters; ++k) {
    const size_t i = c.filtered[k];
    if ((masks[i] & c.want[i]) == 0) return false;
  }
  return true;
}

// Inlined: called once per slot of every cell in the area, its call was a fifth of the dense
// query's index time.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool MatchesPlace(
    const std::array<uint64_t, kMaskedFields>& masks, double lat, double lon, const SearchQuery& q,
    const Compiled& c, double lon_scale, double* distance) {
  if (!MatchesMasks(masks, c)) return false;
  *distance = -1;
  if (c.great_circle) {
    const double d = GreatCircleMeters(q.lat, q.lon, lat, lon);
    if (d > q.radius_m * 1.0000005) return false;
    *distance = d;
  } else if (q.has_circle) {
    double dlon = lon - q.lon;  // the short way round, across the antimeridian too
    if (dlon > 180) dlon -= 360;
    if (dlon < -180) dlon += 360;
    const double dy = (lat - q.lat) * kMetersPerDeg, dx = dlon * lon_scale;
    const double d2 = dx * dx + dy * dy;
    if (d2 > q.radius_m * q.radius_m * 1.000001) return false;
    *distance = std::sqrt(d2);
  } else if (q.has_box) {
    const bool lon_in = q.min_lon <= q.max_lon ? lon >= q.min_lon && lon <= q.max_lon
                                               : lon >= q.min_lon || lon <= q.max_lon;
    if (lat < q.min_lat || lat > q.max_lat || !lon_in) return false;
  }
  return true;
}

// Whether the query tests anything beyond the enumerations and the area, i.e. needs the
// entry itself (MatchesRest); most map searches do not.
bool NeedsRest(const SearchQuery& q, const Compiled& c) {
  using F = SearchField;
  return !q.any_of[static_cast<size_t>(F::kTypologie)].empty() ||
         !q.any_of[static_cast<size_t>(F::kReferentialItems)].empty() ||
         !q.any_of[static_cast<size_t>(F::kAreas)].empty() || q.open_at.has_value() ||
         !q.min_date_maj.empty() || !q.max_date_maj.empty() || !c.terms.empty();
}

// Whether an entry (or its slot) has a word starting as each term of three or more characters
// does: a necessary condition, the cheapest test of a text search, which most venues fail.
bool MayHaveTerms(uint64_t word_starts, const Compiled& c) {
  return (word_starts & c.term_starts) == c.term_starts;
}

// Then the other tests, on the entry, cheapest first.
// `*unknown_hours` is set when the venue is refused only because its hours are not understood.
bool MatchesRest(const Entry& e, const SearchQuery& q, const Compiled& c, size_t first_term_done,
                 bool* unknown_hours) {
  using F = SearchField;
  if (!MayHaveTerms(e.word_starts, c)) return false;
  if (c.lists && (!HasAny(e.typologie, q.any_of[static_cast<size_t>(F::kTypologie)]) ||
                  !HasAny(e.items, q.any_of[static_cast<size_t>(F::kReferentialItems)]) ||
                  !HasAny(e.areas, q.any_of[static_cast<size_t>(F::kAreas)]))) {
    return false;
  }
  // Dates YYYY-MM-DD compare as text.
  if (!q.min_date_maj.empty() && (e.date_maj.empty() || e.date_maj < q.min_date_maj)) return false;
  if (!q.max_date_maj.empty() && (e.date_maj.empty() || e.date_maj > q.max_date_maj)) return false;
  for (size_t k = first_term_done; k < c.terms.size(); ++k) {
    if (!HasWordStarting(e.words, c.terms[k])) return false;
  }
  // Last, so that `*unknown_hours` counts venues that every other criterion keeps: only venues
  // known to be open are shown.
  if (q.open_at) {
    const standard::HoursState state = !e.hours       ? standard::HoursState::kUnknown
                                       : q.open_until ? e.hours->During(*q.open_at, *q.open_until)
                                                      : e.hours->At(*q.open_at).state;
    if (state == standard::HoursState::kUnknown) *unknown_hours = true;
    if (state != standard::HoursState::kOpen) return false;
  }
  return true;
}

// Step 4: the page, built while matching. Every hit is counted; those after the cursor (for a
// previous page: strictly before it) compete for the `limit` places in a heap whose top is the
// worst kept, so no list of all the hits is built or sorted. Order: by distance with a circle,
// by folded name otherwise; the resource name breaks ties. `preceding()`: the hits before the
// first returned.
class PageBuilder {
 public:
  explicit PageBuilder(const SearchQuery& q) : q_(q) { heap_.reserve(q.limit); }

  void Add(const Entry* e, double distance) {
    ++total_;
    const Candidate c{e, distance};
    if (!q_.after_id.empty()) {
      if (q_.before) {
        if (After(c) || At(c)) return;  // strictly before the cursor only
        ++before_;
      } else if (!After(c)) {
        ++preceding_;
        return;
      }
    }
    if (q_.limit == 0) return;
    // A next page keeps the least, a previous page the greatest.
    auto worse_first = [&](const Candidate& a, const Candidate& b) {
      return q_.before ? Less(b, a) : Less(a, b);
    };
    if (heap_.size() < q_.limit) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (worse_first(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }

  // Counts a hit the page cannot take (see Search's nearest-first walk).
  void Count() { ++total_; }
  // Whether no hit at least sqrt(`distance2`) away can enter the page: a first page (no
  // cursor) whose places are taken by nearer hits.
  bool FullBefore(double distance2) const {
    if (!q_.after_id.empty() || q_.before || !q_.has_circle) return false;
    if (q_.limit == 0) return true;
    if (heap_.size() < q_.limit) return false;
    const double worst = heap_.front().distance;
    return worst * worst < distance2;
  }

  size_t total() const { return total_; }

  std::vector<SearchHit> Take(size_t* preceding) {
    *preceding = q_.before ? before_ - heap_.size() : preceding_;
    std::sort(heap_.begin(), heap_.end(),
              [&](const Candidate& a, const Candidate& b) { return Less(a, b); });
    std::vector<SearchHit> out;
    out.reserve(heap_.size());
    // The name key orders only a search without a circle: not copied for the others.
    for (const Candidate& c : heap_) {
      out.push_back({c.e->venue, c.distance, q_.has_circle ? std::string() : c.e->name_key});
    }
    return out;
  }

 private:
  bool Less(const Candidate& a, const Candidate& b) const {
    if (q_.has_circle && a.distance != b.distance) return a.distance < b.distance;
    if (!q_.has_circle && a.e->name_key != b.e->name_key) return a.e->name_key < b.e->name_key;
    return a.e->venue->name < b.e->venue->name;
  }
  bool After(const Candidate& c) const {
    if (q_.has_circle && c.distance != q_.after_distance) return c.distance > q_.after_distance;
    if (!q_.has_circle && c.e->name_key != q_.after_key) return c.e->name_key > q_.after_key;
    return c.e->venue->name > q_.after_id;
  }
  bool At(const Candidate& c) const {
    return (!q_.has_circle || c.distance == q_.after_distance) &&
           (q_.has_circle || c.e->name_key == q_.after_key) && c.e->venue->name == q_.after_id;
  }

  const SearchQuery& q_;
  std::vector<Candidate> heap_;
  size_t total_ = 0, preceding_ = 0, before_ = 0;
};

// A search without a place and without a filter matches every venue, in ByName order: its
// page is the slice of `order` after the cursor (or, for a previous page, before it), and its
// total the number of venues. The same pages as PageBuilder's, without testing every venue.
std::vector<SearchHit> PageByName(const std::vector<const Entry*>& order, const SearchQuery& q,
                                  size_t* total, size_t* preceding) {
  *total = order.size();
  size_t from = 0, to = order.size();
  if (!q.after_id.empty()) {
    auto before_cursor = [&](const Entry* e) {
      if (e->name_key != q.after_key) return e->name_key < q.after_key;
      return e->venue->name < q.after_id;
    };
    // Entries strictly before the cursor, and those before or at it.
    const size_t strictly = static_cast<size_t>(
        std::partition_point(order.begin(), order.end(), before_cursor) - order.begin());
    const bool at = strictly < order.size() && order[strictly]->name_key == q.after_key &&
                    order[strictly]->venue->name == q.after_id;
    if (q.before) {
      to = strictly;
    } else {
      from = strictly + (at ? 1 : 0);
    }
  }
  if (q.before) {
    from = to - std::min(q.limit, to);
  } else {
    to = from + std::min(q.limit, order.size() - from);
  }
  *preceding = from;
  std::vector<SearchHit> out;
  out.reserve(to - from);
  for (size_t i = from; i < to; ++i) out.push_back({order[i]->venue, -1, order[i]->name_key});
  return out;
}

}  // namespace

std::vector<SearchHit> SearchIndex::Search(const SearchQuery& q, size_t* total, size_t* preceding,
                                           size_t* unknown_hours) const {
  size_t ignored = 0, ignored_unknown = 0;
  if (preceding == nullptr) preceding = &ignored;
  if (unknown_hours == nullptr) unknown_hours = &ignored_unknown;
  *unknown_hours = 0;
  *preceding = 0;
  std::shared_lock lock(impl_->mu);
  const Impl& im = *impl_;
  const Compiled c = Compile(im, q);
  *total = 0;
  if (c.impossible) return {};
  if (!q.has_circle && !q.has_box && c.filters == 0 && !NeedsRest(q, c)) {
    return PageByName(im.EntriesByName(), q, total, preceding);
  }
  size_t first_term_done = 0;
  const double lon_scale = std::cos(q.lat * M_PI / 180) * kMetersPerDeg;
  const Source source = Candidates(im, q, c, lon_scale, &first_term_done);
  const bool rest = NeedsRest(q, c);
  PageBuilder page(q);
  double distance = -1;
  bool unknown = false;
  auto consider = [&](const Entry* e, bool place_matches, bool test_rest) {
    if (!place_matches) return;
    unknown = false;
    if (!test_rest || MatchesRest(*e, q, c, first_term_done, &unknown)) {
      page.Add(e, distance);
    } else if (unknown) {
      ++*unknown_hours;
    }
  };
  // Nearest cells first: once the page holds `limit` hits nearer than a cell's nearest point,
  // that cell's venues are only counted (`total_size` stays exact): the enumerations tested,
  // and the distance only for cells the circle cuts.
  for (const Cell& cell : source.cells) {
    if (!rest && page.FullBefore(cell.reach.nearest2 * (1 - 1e-9) - 1e-6)) {
      for (const Slot& s : *cell.slots) {
        if (cell.inside ? MatchesMasks(s.masks, c)
                        : MatchesPlace(s.masks, s.lat, s.lon, q, c, lon_scale, &distance)) {
          page.Count();
        }
      }
      continue;
    }
    for (const Slot& s : *cell.slots) {
      consider(s.e,
               MayHaveTerms(s.word_starts, c) &&
                   MatchesPlace(s.masks, s.lat, s.lon, q, c, lon_scale, &distance),
               rest);
    }
  }
  for (const Entry* e : source.entries) {
    consider(e, MatchesPlace(e->masks, e->lat, e->lon, q, c, lon_scale, &distance), true);
  }
  *total = page.total();
  return page.Take(preceding);
}

}  // namespace passerelle::venues
