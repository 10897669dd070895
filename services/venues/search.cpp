// In-memory venue search: grid for geography, bit sets for enumerations, word index for text.
#include "services/venues/search.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "libs/text/text.hpp"

namespace passerelle::venues {
namespace {

constexpr double kCellDeg = 0.05;  // ~5.5 km of latitude: a 5 km radius touches ~9 cells

int64_t CellKey(int row, int col) { return (static_cast<int64_t>(row) << 32) ^ (col & 0xffffffff); }
int Row(double lat) { return static_cast<int>(std::floor(lat / kCellDeg)); }
int Col(double lon) { return static_cast<int>(std::floor(lon / kCellDeg)); }

struct Entry {
  std::shared_ptr<const Venue> venue;
  bool located = false;
  double lat = 0, lon = 0;
  std::string name_key;  // folded nom, for ordering
  std::map<std::string, std::set<std::string>> values;  // filterable field -> values
  std::vector<std::string> words;                        // folded words for text search
};

const std::vector<std::string>& FilterFields() {
  static const auto* f = new std::vector<std::string>{
      "services", "typologie", "dispositif_programmes_nationaux", "publics_specifiquement_adresses",
      "prise_en_charge_specifique", "frais_a_charge", "modalites_acces",
      "modalites_accompagnement"};
  return *f;
}

}  // namespace

double HaversineMeters(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kR = 6371008.8, kRad = M_PI / 180;
  const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kR * std::asin(std::min(1.0, std::sqrt(a)));
}

struct SearchIndex::Impl {
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, Entry> entries;                       // by id
  std::unordered_map<int64_t, std::set<std::string>> grid;              // cell -> ids
  std::map<std::string, std::set<std::string>> words;                   // word -> ids (sorted)

  void Unlink(const std::string& id) {
    auto it = entries.find(id);
    if (it == entries.end()) return;
    const Entry& e = it->second;
    if (e.located) {
      auto g = grid.find(CellKey(Row(e.lat), Col(e.lon)));
      if (g != grid.end()) {
        g->second.erase(id);
        if (g->second.empty()) grid.erase(g);
      }
    }
    for (const auto& w : e.words) {
      auto x = words.find(w);
      if (x != words.end()) {
        x->second.erase(id);
        if (x->second.empty()) words.erase(x);
      }
    }
    entries.erase(it);
  }
};

SearchIndex::SearchIndex() : impl_(std::make_unique<Impl>()) {}
SearchIndex::~SearchIndex() = default;

size_t SearchIndex::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->entries.size();
}

std::vector<std::shared_ptr<const Venue>> SearchIndex::All() const {
  std::shared_lock lock(impl_->mu);
  std::vector<std::shared_ptr<const Venue>> out;
  out.reserve(impl_->entries.size());
  for (const auto& [id, e] : impl_->entries) out.push_back(e.venue);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
  return out;
}

void SearchIndex::Remove(const std::string& id) {
  std::unique_lock lock(impl_->mu);
  impl_->Unlink(id);
}

void SearchIndex::Put(const Venue& v) {
  if (v.withdrawn) {
    Remove(v.id);
    return;
  }
  Entry e;
  e.venue = std::make_shared<const Venue>(v);
  auto get = [&](const char* f) -> std::string {
    auto it = v.standard.find(f);
    return it == v.standard.end() || it->second.empty() ? "" : it->second.front();
  };
  const std::string lat = get("latitude"), lon = get("longitude");
  if (!lat.empty() && !lon.empty()) {
    e.located = true;
    e.lat = std::strtod(lat.c_str(), nullptr);
    e.lon = std::strtod(lon.c_str(), nullptr);
  }
  e.name_key = text::Fold(get("nom"));
  for (const auto& f : FilterFields()) {
    auto it = v.standard.find(f);
    if (it != v.standard.end()) e.values[f].insert(it->second.begin(), it->second.end());
  }
  e.values["referential_items"].insert(v.referential_items.begin(), v.referential_items.end());
  std::set<std::string> ws;
  for (const char* f : {"nom", "adresse", "commune", "presentation_resume",
                        "presentation_detail", "structure_parente"}) {
    for (auto& w : text::Words(get(f))) ws.insert(std::move(w));
  }
  e.words.assign(ws.begin(), ws.end());

  std::unique_lock lock(impl_->mu);
  impl_->Unlink(v.id);
  if (e.located) impl_->grid[CellKey(Row(e.lat), Col(e.lon))].insert(v.id);
  for (const auto& w : e.words) impl_->words[w].insert(v.id);
  impl_->entries.emplace(v.id, std::move(e));
}

std::vector<SearchHit> SearchIndex::Search(const SearchQuery& q, size_t* total) const {
  std::shared_lock lock(impl_->mu);
  const Impl& im = *impl_;
  // 1. Candidates from the most selective structure available.
  std::vector<const std::string*> candidates;
  std::vector<std::string> text_terms = text::Words(q.text);
  std::set<std::string> text_ids;
  bool text_first = false;
  if (!text_terms.empty()) {
    // Ids whose words start with the first term (prefix range of the sorted word map).
    const std::string& t = text_terms.front();
    for (auto it = im.words.lower_bound(t); it != im.words.end() && it->first.starts_with(t); ++it) {
      text_ids.insert(it->second.begin(), it->second.end());
    }
    text_first = !q.has_circle && !q.has_box;
  }
  if (q.has_circle || q.has_box) {
    double min_lat = q.min_lat, max_lat = q.max_lat, min_lon = q.min_lon, max_lon = q.max_lon;
    if (q.has_circle) {
      const double dlat = q.radius_m / 111320.0;
      const double dlon = q.radius_m / (111320.0 * std::max(0.01, std::cos(q.lat * M_PI / 180)));
      min_lat = q.lat - dlat, max_lat = q.lat + dlat, min_lon = q.lon - dlon, max_lon = q.lon + dlon;
    }
    for (int r = Row(min_lat); r <= Row(max_lat); ++r) {
      for (int c = Col(min_lon); c <= Col(max_lon); ++c) {
        auto g = im.grid.find(CellKey(r, c));
        if (g == im.grid.end()) continue;
        for (const auto& id : g->second) candidates.push_back(&id);
      }
    }
  } else if (text_first) {
    for (const auto& id : text_ids) candidates.push_back(&id);
  } else {
    for (const auto& [id, e] : im.entries) candidates.push_back(&id);
  }
  // 2. Exact tests.
  std::vector<SearchHit> hits;
  for (const std::string* id : candidates) {
    const Entry& e = im.entries.at(*id);
    double distance = -1;
    if (q.has_circle) {
      distance = HaversineMeters(q.lat, q.lon, e.lat, e.lon);
      if (distance > q.radius_m) continue;
    } else if (q.has_box) {
      if (e.lat < q.min_lat || e.lat > q.max_lat || e.lon < q.min_lon || e.lon > q.max_lon) continue;
    }
    bool ok = true;
    for (const auto& [field, wanted] : q.any_of) {
      if (wanted.empty()) continue;
      auto it = e.values.find(field);
      ok = it != e.values.end() &&
           std::any_of(wanted.begin(), wanted.end(),
                       [&](const std::string& w) { return it->second.count(w) > 0; });
      if (!ok) break;
    }
    if (!ok) continue;
    if (!text_terms.empty()) {
      if (!text_ids.count(*id)) continue;
      for (size_t k = 1; k < text_terms.size() && ok; ++k) {
        const std::string& t = text_terms[k];
        auto w = std::lower_bound(e.words.begin(), e.words.end(), t);
        ok = w != e.words.end() && w->starts_with(t);
      }
      if (!ok) continue;
    }
    hits.push_back({e.venue, distance, e.name_key});
  }
  // 3. Order, cursor, limit.
  auto less = [&](const SearchHit& a, const SearchHit& b) {
    if (q.has_circle && a.distance_m != b.distance_m) return a.distance_m < b.distance_m;
    if (!q.has_circle && a.key != b.key) return a.key < b.key;
    return a.venue->id < b.venue->id;
  };
  std::sort(hits.begin(), hits.end(), less);
  *total = hits.size();
  if (!q.after_id.empty()) {
    SearchHit cursor{nullptr, q.after_distance, q.after_key};
    auto cursor_venue = std::make_shared<Venue>();
    cursor_venue->id = q.after_id;
    cursor.venue = cursor_venue;
    hits.erase(hits.begin(), std::upper_bound(hits.begin(), hits.end(), cursor, less));
  }
  if (hits.size() > q.limit) hits.resize(q.limit);
  return hits;
}

}  // namespace passerelle::venues
