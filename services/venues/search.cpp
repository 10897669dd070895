// In-memory venue search: grid for geography, bit sets for enumerations, word index for text.
#include "services/venues/search.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "libs/text/text.hpp"
#include "services/venues/opening_hours.hpp"

namespace passerelle::venues {
namespace {

constexpr double kCellDeg = 0.05;  // ~5.5 km of latitude: a 5 km radius touches ~9 cells

// One of 64 bits for the first three characters of a word (all of it when shorter). A term of
// three or more characters can only start words whose bit it shares: a cheap first test before
// the sorted word list is searched.
uint64_t PrefixBit(std::string_view word) {
  return uint64_t{1} << (std::hash<std::string_view>{}(word.substr(0, 3)) % 64);
}

int64_t CellKey(int row, int col) { return (static_cast<int64_t>(row) << 32) ^ (col & 0xffffffff); }
int Row(double lat) { return static_cast<int>(std::floor(lat / kCellDeg)); }
int Col(double lon) { return static_cast<int>(std::floor(lon / kCellDeg)); }

struct Entry {
  std::string id;  // UUID
  int revision = 0;
  std::shared_ptr<const IndexedVenue> venue;
  bool located = false;
  double lat = 0, lon = 0;
  std::string name_key;                         // folded nom, for ordering
  std::string date_maj;                         // YYYY-MM-DD as stored (empty: none)
  std::array<uint64_t, kMaskedFields> masks{};  // bit i: the schema's i-th value
  std::vector<std::string> typologie, items, areas;
  std::vector<std::string> words;  // sorted, distinct
  uint64_t word_starts = 0;        // PrefixBit of each word: most text misses end here
  std::optional<OpeningHours> hours;
};

struct Candidate {
  const Entry* e;
  double distance;
};

}  // namespace

struct SearchIndex::Impl {
  explicit Impl(const Standard& s) : standard(s) {}
  const Standard& standard;
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries;  // by id
  std::unordered_map<std::string, int> withdrawn;                   // id -> revision
  std::unordered_map<int64_t, std::vector<const Entry*>> grid;      // cell -> entries
  std::map<std::string, std::vector<const Entry*>> words;           // word -> entries

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
        Erase(g->second, e);
        if (g->second.empty()) grid.erase(g);
      }
    }
    for (const auto& w : e->words) {
      auto x = words.find(w);
      if (x != words.end()) {
        Erase(x->second, e);
        if (x->second.empty()) words.erase(x);
      }
    }
    entries.erase(it);
  }

  uint64_t Mask(size_t field, const std::vector<std::string>& values) const {
    const FieldSpec* spec = standard.Find(kMaskedFieldNames[field]);
    uint64_t m = 0;
    for (const auto& v : values) {
      auto pos = std::find(spec->values.begin(), spec->values.end(), v);
      if (pos != spec->values.end()) m |= uint64_t{1} << (pos - spec->values.begin());
    }
    return m;
  }
};

SearchIndex::SearchIndex(const Standard& standard) : impl_(std::make_unique<Impl>(standard)) {}
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

std::vector<v1::Venue> SearchIndex::All() const {
  const std::vector<std::shared_ptr<const IndexedVenue>> all = Snapshot();
  std::vector<v1::Venue> out(all.size());
  for (size_t i = 0; i < all.size(); ++i) out[i].ParseFromString(all[i]->wire);
  return out;
}

void SearchIndex::Put(const Venue& v) {
  // The change feed brings rows again, and this process's own writes race with it: a revision
  // the index already has, or an older one, changes nothing.
  auto known = [&] {
    auto it = impl_->entries.find(v.id);
    if (it != impl_->entries.end()) return it->second->revision >= v.revision;
    auto w = impl_->withdrawn.find(v.id);
    return w != impl_->withdrawn.end() && w->second >= v.revision;
  };
  {
    std::shared_lock lock(impl_->mu);
    if (known()) return;
  }
  if (v.withdrawn) {
    std::unique_lock lock(impl_->mu);
    if (known()) return;
    impl_->Unlink(v.id);
    impl_->withdrawn[v.id] = v.revision;
    return;
  }
  auto e = std::make_unique<Entry>();
  e->id = v.id;
  e->revision = v.revision;
  {
    v1::Venue message;
    ToProto(impl_->standard, v, &message);
    auto indexed = std::make_shared<IndexedVenue>();
    indexed->name = v.Name();
    message.SerializeToString(&indexed->wire);
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
  e->words.assign(ws.begin(), ws.end());
  for (const auto& w : e->words) e->word_starts |= PrefixBit(w);
  e->hours = OpeningHours::Parse(get("horaires"));

  std::unique_lock lock(impl_->mu);
  if (known()) return;
  impl_->Unlink(v.id);
  impl_->withdrawn.erase(v.id);
  const Entry* raw = e.get();
  if (raw->located) impl_->grid[CellKey(Row(raw->lat), Col(raw->lon))].push_back(raw);
  for (const auto& w : raw->words) impl_->words[w].push_back(raw);
  impl_->entries.emplace(v.id, std::move(e));
}

namespace {

// A query's filters compiled once: bit sets for enumerations, folded words for text.
struct Compiled {
  std::array<uint64_t, kMaskedFields> want{};
  bool impossible = false;  // a filter whose values are all unknown: nothing can match
  std::vector<std::string> terms;
  uint64_t term_starts = 0;
};

// Longitude spans a circle or box covers: one, or two when it crosses the antimeridian (a box
// with west > east, or a circle reaching past ±180°, as around Wallis-et-Futuna); the whole
// range near a pole.
struct Area {
  double min_lat, max_lat;
  std::vector<std::pair<double, double>> spans;
};

constexpr double kMetersPerDeg = 6371008.8 * M_PI / 180;

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
  }
  c.terms = text::Words(q.text);
  for (const auto& t : c.terms) {
    if (t.size() >= 3) c.term_starts |= PrefixBit(t);
  }
  return c;
}

// Step 2: candidates from the most selective structure available: the grid cells of the area,
// the venues whose words start with the first term, or every venue. `*first_term_done` tells
// whether the first term is already satisfied.
std::vector<const Entry*> Candidates(const SearchIndex::Impl& im, const SearchQuery& q,
                                     const Compiled& c, size_t* first_term_done) {
  std::vector<const Entry*> out;
  *first_term_done = 0;
  if (q.has_circle || q.has_box) {
    const Area area = AreaOf(q);
    double cells = 0;
    for (const auto& [w, e] : area.spans) {
      cells += (Row(area.max_lat) - Row(area.min_lat) + 1.0) * (Col(e) - Col(w) + 1.0);
    }
    if (cells > static_cast<double>(im.grid.size()) * 4 + 64) {
      // A huge area: walking its empty cells would cost more than testing every venue.
      for (const auto& [id, e] : im.entries) {
        if (e->located) out.push_back(e.get());
      }
      return out;
    }
    for (const auto& [w, e] : area.spans) {
      for (int r = Row(area.min_lat); r <= Row(area.max_lat); ++r) {
        for (int col = Col(w); col <= Col(e); ++col) {
          auto g = im.grid.find(CellKey(r, col));
          if (g != im.grid.end()) out.insert(out.end(), g->second.begin(), g->second.end());
        }
      }
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
    return {ids.begin(), ids.end()};
  }
  for (const auto& [id, e] : im.entries) out.push_back(e.get());
  return out;
}

// Step 3: the exact tests, cheapest first. The distance in meters (circle) or -1.
// Within a search radius (at most 100 km) the local flat-earth distance differs from the
// great-circle one by far less than a meter per kilometre: it filters, orders and is returned
// without trigonometry per candidate.
bool Matches(const Entry& e, const SearchQuery& q, const Compiled& c, size_t first_term_done,
             double lon_scale, double* distance, bool* unknown_hours) {
  for (size_t i = 0; i < kMaskedFields; ++i) {
    if (c.want[i] != 0 && (e.masks[i] & c.want[i]) == 0) return false;
  }
  *distance = -1;
  if (q.has_circle) {
    double dlon = e.lon - q.lon;  // the short way round, across the antimeridian too
    if (dlon > 180) dlon -= 360;
    if (dlon < -180) dlon += 360;
    const double dy = (e.lat - q.lat) * kMetersPerDeg, dx = dlon * lon_scale;
    const double d2 = dx * dx + dy * dy;
    if (d2 > q.radius_m * q.radius_m * 1.000001) return false;
    *distance = std::sqrt(d2);
  } else if (q.has_box) {
    const bool lon_in = q.min_lon <= q.max_lon ? e.lon >= q.min_lon && e.lon <= q.max_lon
                                               : e.lon >= q.min_lon || e.lon <= q.max_lon;
    if (e.lat < q.min_lat || e.lat > q.max_lat || !lon_in) return false;
  }
  using F = SearchField;
  if (!HasAny(e.typologie, q.any_of[static_cast<size_t>(F::kTypologie)]) ||
      !HasAny(e.items, q.any_of[static_cast<size_t>(F::kReferentialItems)]) ||
      !HasAny(e.areas, q.any_of[static_cast<size_t>(F::kAreas)])) {
    return false;
  }
  // Dates YYYY-MM-DD compare as text.
  if (!q.min_date_maj.empty() && (e.date_maj.empty() || e.date_maj < q.min_date_maj)) return false;
  if (!q.max_date_maj.empty() && (e.date_maj.empty() || e.date_maj > q.max_date_maj)) return false;
  if ((e.word_starts & c.term_starts) != c.term_starts) return false;
  for (size_t k = first_term_done; k < c.terms.size(); ++k) {
    auto w = std::lower_bound(e.words.begin(), e.words.end(), c.terms[k]);
    if (w == e.words.end() || !w->starts_with(c.terms[k])) return false;
  }
  // Last, so that `*unknown_hours` counts venues that every other criterion keeps: only venues
  // known to be open are shown.
  if (q.open_at) {
    const HoursState state = HoursStateAt(e.hours, *q.open_at);
    if (state == HoursState::kUnknown) *unknown_hours = true;
    if (state != HoursState::kOpen) return false;
  }
  return true;
}

// Step 4: the hits after the cursor, the best `limit` of them in order (by distance with a
// circle, by folded name otherwise; resource name breaks ties); or, for a previous page, the
// last `limit` of those before the cursor. `*preceding`: the hits before the first returned.
std::vector<SearchHit> Page(std::vector<Candidate> hits, const SearchQuery& q, size_t* preceding) {
  auto less = [&](const Candidate& a, const Candidate& b) {
    if (q.has_circle && a.distance != b.distance) return a.distance < b.distance;
    if (!q.has_circle && a.e->name_key != b.e->name_key) return a.e->name_key < b.e->name_key;
    return a.e->venue->name < b.e->venue->name;
  };
  *preceding = 0;
  if (!q.after_id.empty()) {
    auto after = [&](const Candidate& c) {
      if (q.has_circle && c.distance != q.after_distance) return c.distance > q.after_distance;
      if (!q.has_circle && c.e->name_key != q.after_key) return c.e->name_key > q.after_key;
      return c.e->venue->name > q.after_id;
    };
    auto at = [&](const Candidate& c) {
      return (!q.has_circle || c.distance == q.after_distance) &&
             (q.has_circle || c.e->name_key == q.after_key) && c.e->venue->name == q.after_id;
    };
    const size_t all = hits.size();
    if (q.before) {
      // Strictly before the cursor: neither after it nor the cursor's own venue.
      hits.erase(std::remove_if(hits.begin(), hits.end(),
                                [&](const Candidate& c) { return after(c) || at(c); }),
                 hits.end());
    } else {
      hits.erase(
          std::remove_if(hits.begin(), hits.end(), [&](const Candidate& c) { return !after(c); }),
          hits.end());
      *preceding = all - hits.size();
    }
  }
  const size_t k = std::min(q.limit, hits.size());
  std::vector<SearchHit> out;
  out.reserve(k);
  if (q.before) {
    // The last k in order: the k greatest, sorted.
    auto greater = [&](const Candidate& a, const Candidate& b) { return less(b, a); };
    std::partial_sort(hits.begin(), hits.begin() + static_cast<long>(k), hits.end(), greater);
    *preceding = hits.size() - k;
    for (size_t i = k; i > 0; --i) {
      out.push_back({hits[i - 1].e->venue, hits[i - 1].distance, hits[i - 1].e->name_key});
    }
    return out;
  }
  std::partial_sort(hits.begin(), hits.begin() + static_cast<long>(k), hits.end(), less);
  for (size_t i = 0; i < k; ++i) {
    out.push_back({hits[i].e->venue, hits[i].distance, hits[i].e->name_key});
  }
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
  size_t first_term_done = 0;
  const std::vector<const Entry*> candidates = Candidates(im, q, c, &first_term_done);
  const double lon_scale = std::cos(q.lat * M_PI / 180) * kMetersPerDeg;
  std::vector<Candidate> hits;
  for (const Entry* e : candidates) {
    double distance = -1;
    bool unknown = false;
    if (Matches(*e, q, c, first_term_done, lon_scale, &distance, &unknown)) {
      hits.push_back({e, distance});
    } else if (unknown) {
      ++*unknown_hours;
    }
  }
  *total = hits.size();
  return Page(std::move(hits), q, preceding);
}

}  // namespace passerelle::venues
