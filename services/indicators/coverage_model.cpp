// The coverage read model in memory and the computation of a layer's coverage.
#include "services/indicators/coverage_model.hpp"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/standard/opening_hours.hpp"
#include "libs/standard/standard.hpp"
#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::indicators::coverage {
namespace {

constexpr double kEarthRadius = 6371008.8;  // PostGIS' sphere (use_spheroid = false)
constexpr double kDegrees = M_PI / 180.0;

void ToUnit(double lat, double lon, double out[3]) {
  const double phi = lat * kDegrees, lambda = lon * kDegrees;
  out[0] = std::cos(phi) * std::cos(lambda);
  out[1] = std::cos(phi) * std::sin(lambda);
  out[2] = std::sin(phi);
}

double ChordToMeters(double chord2) {
  const double half = std::min(1.0, std::sqrt(chord2) / 2);
  return 2 * kEarthRadius * std::asin(half);
}

double MetersToChord2(double meters) {
  const double angle = std::min(M_PI, meters / kEarthRadius);
  const double chord = 2 * std::sin(angle / 2);
  return chord * chord;
}

double Axis(const Index::Point& p, int axis) { return axis == 0 ? p.x : axis == 1 ? p.y : p.z; }

}  // namespace

std::optional<WeekBits> WeekOf(std::string_view horaires) {
  if (horaires.empty()) return std::nullopt;
  auto hours = standard::OpeningHours::Parse(horaires);
  if (!hours) return std::nullopt;
  WeekBits week;
  const absl::CivilDay monday(kReferenceYear, kReferenceMonth, kReferenceMonday);
  for (int day = 0; day < 7; ++day) {
    const absl::CivilDay d = monday + day;
    for (int hour = 0; hour < 24; ++hour) {
      for (int quarter = 0; quarter < 4; ++quarter) {
        const absl::CivilMinute at(d.year(), d.month(), d.day(), hour, quarter * 15);
        if (hours->IsOpen(at)) {
          week.set(static_cast<size_t>(day * 24 + hour));
          break;
        }
      }
    }
  }
  return week;
}

std::string WeekText(const WeekBits& week) {
  std::string out(168, '0');
  for (size_t i = 0; i < 168; ++i) {
    if (week.test(i)) out[i] = '1';
  }
  return out;
}

std::optional<WeekBits> ParseWeekText(std::string_view text) {
  if (text.size() != 168) return std::nullopt;
  WeekBits week;
  for (size_t i = 0; i < 168; ++i) {
    if (text[i] == '1') {
      week.set(i);
    } else if (text[i] != '0') {
      return std::nullopt;
    }
  }
  return week;
}

std::string ServiceOffer(std::string_view enum_name) {
  std::string s(enum_name);
  if (s.starts_with("SERVICE_")) s = s.substr(8);
  s = absl::AsciiStrToLower(s);
  absl::StrReplaceAll({{"_", "-"}}, &s);
  return absl::StrCat("services/", s);
}

bool Replaces(const VenueRow& incoming, const VenueRow& held) {
  if (incoming.update_time != held.update_time) return incoming.update_time > held.update_time;
  return held.active && !incoming.active;
}

double SphereMeters(double lat1, double lon1, double lat2, double lon2) {
  double a[3], b[3];
  ToUnit(lat1, lon1, a);
  ToUnit(lat2, lon2, b);
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return ChordToMeters(dx * dx + dy * dy + dz * dz);
}

// --- k-d tree -------------------------------------------------------------------------------

void Index::Tree::Build() { BuildRange(0, points.size(), 0); }

void Index::Tree::BuildRange(size_t lo, size_t hi, int axis) {
  if (hi - lo <= kLeaf) return;  // a leaf: scanned whole
  const size_t mid = (lo + hi) / 2;
  auto first = points.begin();
  switch (axis) {
    case 0:
      std::nth_element(first + static_cast<ptrdiff_t>(lo), first + static_cast<ptrdiff_t>(mid),
                       first + static_cast<ptrdiff_t>(hi),
                       [](const Point& a, const Point& b) { return a.x < b.x; });
      break;
    case 1:
      std::nth_element(first + static_cast<ptrdiff_t>(lo), first + static_cast<ptrdiff_t>(mid),
                       first + static_cast<ptrdiff_t>(hi),
                       [](const Point& a, const Point& b) { return a.y < b.y; });
      break;
    default:
      std::nth_element(first + static_cast<ptrdiff_t>(lo), first + static_cast<ptrdiff_t>(mid),
                       first + static_cast<ptrdiff_t>(hi),
                       [](const Point& a, const Point& b) { return a.z < b.z; });
      break;
  }
  BuildRange(lo, mid, (axis + 1) % 3);
  BuildRange(mid + 1, hi, (axis + 1) % 3);
}

void Index::Tree::NearestRange(size_t lo, size_t hi, int axis, const double q[3], int* best,
                               double* best2) const {
  if (hi - lo <= kLeaf) {
    for (size_t i = lo; i < hi; ++i) {
      const Point& p = points[i];
      const double dx = p.x - q[0], dy = p.y - q[1], dz = p.z - q[2];
      const double d2 = dx * dx + dy * dy + dz * dz;
      if (d2 < *best2 || (d2 == *best2 && p.venue < points[static_cast<size_t>(*best)].venue)) {
        *best2 = d2;
        *best = static_cast<int>(i);
      }
    }
    return;
  }
  const size_t mid = (lo + hi) / 2;
  const Point& p = points[mid];
  const double dx = p.x - q[0], dy = p.y - q[1], dz = p.z - q[2];
  const double d2 = dx * dx + dy * dy + dz * dz;
  if (d2 < *best2 || (d2 == *best2 && p.venue < points[static_cast<size_t>(*best)].venue)) {
    *best2 = d2;
    *best = static_cast<int>(mid);
  }
  const double d = q[axis] - Axis(p, axis);
  const int next = (axis + 1) % 3;
  if (d < 0) {
    NearestRange(lo, mid, next, q, best, best2);
    if (d * d <= *best2) NearestRange(mid + 1, hi, next, q, best, best2);
  } else {
    NearestRange(mid + 1, hi, next, q, best, best2);
    if (d * d <= *best2) NearestRange(lo, mid, next, q, best, best2);
  }
}

int Index::Tree::Nearest(double x, double y, double z, double* chord2) const {
  int best = -1;
  double best2 = std::numeric_limits<double>::infinity();
  const double q[3] = {x, y, z};
  if (!points.empty()) {
    // Seed with the root so ties compare against a real point.
    best = static_cast<int>(points.size() / 2);
    const Point& p = points[points.size() / 2];
    best2 = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y) + (p.z - z) * (p.z - z);
    NearestRange(0, points.size(), 0, q, &best, &best2);
  }
  *chord2 = best2;
  return best;
}

// --- computation ----------------------------------------------------------------------------

namespace {

// Z-order (Morton) key of a position: nearby areas get nearby keys.
uint64_t Morton(double lat, double lon) {
  auto spread = [](uint64_t v) {
    v &= 0xffffffff;
    v = (v | (v << 16)) & 0x0000ffff0000ffffULL;
    v = (v | (v << 8)) & 0x00ff00ff00ff00ffULL;
    v = (v | (v << 4)) & 0x0f0f0f0f0f0f0f0fULL;
    v = (v | (v << 2)) & 0x3333333333333333ULL;
    v = (v | (v << 1)) & 0x5555555555555555ULL;
    return v;
  };
  const auto x = static_cast<uint64_t>((std::clamp(lon, -180.0, 180.0) + 180) / 360 * 4294967295.0);
  const auto y = static_cast<uint64_t>((std::clamp(lat, -90.0, 90.0) + 90) / 180 * 4294967295.0);
  return spread(x) | (spread(y) << 1);
}

void ComputeAreas(const Index& index, const LayerRow& layer, LayerCoverage* out,
                  const std::vector<size_t>& order, size_t from, size_t to) {
  const size_t n_offers = out->offers.size();
  const double reach2 = MetersToChord2(out->reach_meters);
  // Position of each offer index in the request (or -1).
  std::vector<int> slot(index.offers.size(), -1);
  for (size_t o = 0; o < n_offers; ++o) slot[out->offers[o]] = static_cast<int>(o);
  std::vector<double> best2(n_offers);
  for (size_t k = from; k < to; ++k) {
    const size_t a = order[k];
    const AreaRow& area = layer.areas[a];
    double q[3];
    ToUnit(area.centre_latitude, area.centre_longitude, q);
    OfferFigures* figs = &out->figures[a * n_offers];
    std::fill(best2.begin(), best2.end(), std::numeric_limits<double>::infinity());
    // Venues within reach, whatever they offer: their hours and the nearest of each offer.
    index.all.Within(q[0], q[1], q[2], reach2, [&](const Index::Point& p) {
      const Index::Venue& v = index.venues[p.venue];
      const double dx = p.x - q[0], dy = p.y - q[1], dz = p.z - q[2];
      const double d2 = dx * dx + dy * dy + dz * dz;
      const std::optional<WeekBits>& hours = v.row->hours;
      for (uint32_t offer : v.offers) {
        const int o = slot[offer];
        if (o < 0) continue;
        OfferFigures& f = figs[o];
        if (hours) f.open_within_reach |= *hours;
        if (d2 < best2[static_cast<size_t>(o)] ||
            (d2 == best2[static_cast<size_t>(o)] &&
             p.venue < static_cast<uint32_t>(f.nearest_venue))) {
          best2[static_cast<size_t>(o)] = d2;
          f.nearest_venue = static_cast<int>(p.venue);
        }
      }
    });
    for (size_t o = 0; o < n_offers; ++o) {
      OfferFigures& f = figs[o];
      if (f.nearest_venue < 0) {
        const Index::Tree& tree = index.by_offer[out->offers[o]];
        double d2 = 0;
        const int at = tree.Nearest(q[0], q[1], q[2], &d2);
        if (at < 0) continue;
        f.nearest_venue = static_cast<int>(tree.points[static_cast<size_t>(at)].venue);
        best2[o] = d2;
      }
      f.nearest_meters = ChordToMeters(best2[o]);
    }
  }
}

}  // namespace

LayerCoverage Compute(std::shared_ptr<const Index> index, const LayerRow& layer,
                      std::vector<uint32_t> offers, double reach_meters, int threads) {
  LayerCoverage out;
  out.index = index;
  out.layer = &layer;
  out.offers = std::move(offers);
  out.reach_meters = reach_meters;
  const size_t n_areas = layer.areas.size(), n_offers = out.offers.size();
  out.venue_count.assign(n_areas, 0);
  out.figures.assign(n_areas * n_offers, OfferFigures{});
  // Venues inside each area (as venues placed them): counted from each venue's areas.
  std::map<std::string_view, size_t> area_at;
  for (size_t a = 0; a < n_areas; ++a) area_at.emplace(layer.areas[a].code, a);
  std::vector<int> slot(index->offers.size(), -1);
  for (size_t o = 0; o < n_offers; ++o) slot[out.offers[o]] = static_cast<int>(o);
  const std::string prefix = layer.layer + ":";
  for (const auto& v : index->venues) {
    for (const auto& area : v.row->areas) {
      if (!area.starts_with(prefix)) continue;
      auto it = area_at.find(std::string_view(area).substr(prefix.size()));
      if (it == area_at.end()) continue;
      ++out.venue_count[it->second];
      for (uint32_t offer : v.offers) {
        if (slot[offer] >= 0) {
          ++out.figures[it->second * n_offers + static_cast<size_t>(slot[offer])].venue_count;
        }
      }
    }
  }
  if (n_offers == 0 || n_areas == 0) return out;
  std::vector<size_t> order(n_areas);
  std::vector<uint64_t> keys(n_areas);
  for (size_t a = 0; a < n_areas; ++a) {
    order[a] = a;
    keys[a] = Morton(layer.areas[a].centre_latitude, layer.areas[a].centre_longitude);
  }
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return keys[x] < keys[y]; });
  threads = std::max(1, std::min<int>(threads, static_cast<int>(n_areas / 64) + 1));
  if (threads == 1) {
    ComputeAreas(*index, layer, &out, order, 0, n_areas);
    return out;
  }
  std::vector<std::thread> pool;
  const size_t step = (n_areas + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  for (size_t from = 0; from < n_areas; from += step) {
    pool.emplace_back([&, from] {
      ComputeAreas(*index, layer, &out, order, from, std::min(n_areas, from + step));
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

// --- read model -----------------------------------------------------------------------------

ReadModel::ReadModel() {
  // The national services, in the schema's order with its French spelling (enum value n is
  // the n-th value of the schema's `services`).
  const auto* field = standard::Standard::V102().Find("services");
  const auto* desc = venues::v1::Service_descriptor();
  for (int i = 0; i < desc->value_count(); ++i) {
    const int n = desc->value(i)->number();
    if (n == 0) continue;
    std::string label = desc->value(i)->name();
    if (field != nullptr && static_cast<size_t>(n) <= field->values.size()) {
      label = field->values[static_cast<size_t>(n - 1)];
    }
    services_.push_back({ServiceOffer(desc->value(i)->name()), std::move(label)});
  }
}

bool ReadModel::ApplyVenue(VenueRow row) {
  auto held = std::make_shared<const VenueRow>(std::move(row));
  std::lock_guard lock(mu_);
  auto it = venues_.find(held->name);
  if (it != venues_.end()) {
    if (!Replaces(*held, *it->second)) return false;
    const bool same_figures = !it->second->active && !held->active;
    it->second = std::move(held);
    if (same_figures) return true;  // a withdrawn venue stays out of every figure
  } else {
    std::string key = held->name;
    venues_.emplace(std::move(key), std::move(held));
  }
  ++generation_;
  return true;
}

void ReadModel::SetReferential(std::string version, std::vector<Offer> items) {
  std::lock_guard lock(mu_);
  version_ = std::move(version);
  items_ = std::move(items);
  ++generation_;
}

void ReadModel::SetLayers(std::vector<LayerRow> layers) {
  std::lock_guard lock(mu_);
  layers_.clear();
  for (auto& l : layers) {
    std::string key = l.layer;
    layers_.emplace(std::move(key), std::move(l));
  }
  ++generation_;
}

void ReadModel::SetNeeds(
    std::map<std::string, std::map<std::string, NeedsRow>, std::less<>> needs) {
  std::lock_guard lock(mu_);
  needs_ = std::move(needs);
  ++generation_;
}

void ReadModel::SetAsOf(absl::Time t) {
  std::lock_guard lock(mu_);
  if (t == as_of_) return;
  as_of_ = t;
  ++generation_;
}

uint64_t ReadModel::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

bool ReadModel::KnowsArea(std::string_view area) const {
  const size_t colon = area.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view code = area.substr(colon + 1);
  std::lock_guard lock(mu_);
  auto layer = layers_.find(area.substr(0, colon));
  if (layer == layers_.end()) return false;
  const auto& areas = layer->second.areas;
  auto it = std::lower_bound(areas.begin(), areas.end(), code,
                             [](const AreaRow& a, std::string_view c) { return a.code < c; });
  return it != areas.end() && it->code == code;
}

std::optional<VenueRow> ReadModel::Venue(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = venues_.find(name);
  if (it == venues_.end()) return std::nullopt;
  return *it->second;
}

size_t ReadModel::venue_count() const {
  std::lock_guard lock(mu_);
  return venues_.size();
}

std::shared_ptr<const Index> ReadModel::Snapshot() {
  std::lock_guard build(build_mu_);
  {
    std::lock_guard lock(mu_);
    if (index_ && index_->generation == generation_) return index_;
  }
  // Copy what the index needs under the lock, build outside it: writers wait only for a copy.
  auto index = std::make_shared<Index>();
  {
    std::lock_guard lock(mu_);
    index->generation = generation_;
    index->referential_version = version_;
    index->as_of = as_of_;
    index->offers = items_;
    index->offers.insert(index->offers.end(), services_.begin(), services_.end());
    index->layers = layers_;
    index->needs = needs_;
    std::unordered_map<std::string_view, uint32_t> offer_at;
    for (uint32_t i = 0; i < index->offers.size(); ++i) {
      index->offer_index.emplace(index->offers[i].name, i);
      offer_at.emplace(index->offers[i].name, i);
    }
    index->venues.reserve(venues_.size());
    for (const auto& [name, row] : venues_) {
      const VenueRow& v = *row;
      if (!v.active || !v.latitude || !v.longitude) continue;
      Index::Venue out{row, {}};
      out.offers.reserve(v.offers.size());
      for (const auto& o : v.offers) {
        auto it = offer_at.find(o);
        if (it != offer_at.end()) out.offers.push_back(it->second);
      }
      index->venues.push_back(std::move(out));
    }
  }
  index->by_offer.resize(index->offers.size());
  index->all.points.reserve(index->venues.size());
  std::vector<size_t> sizes(index->offers.size(), 0);
  for (const auto& v : index->venues) {
    for (uint32_t o : v.offers) ++sizes[o];
  }
  for (size_t o = 0; o < sizes.size(); ++o) index->by_offer[o].points.reserve(sizes[o]);
  for (uint32_t i = 0; i < index->venues.size(); ++i) {
    const auto& v = index->venues[i];
    double u[3];
    ToUnit(*v.row->latitude, *v.row->longitude, u);
    const Index::Point p{u[0], u[1], u[2], i};
    index->all.points.push_back(p);
    for (uint32_t o : v.offers) index->by_offer[o].points.push_back(p);
  }
  // The trees are independent: two threads build them (the largest, `all`, on this one).
  std::thread helper([&] {
    for (size_t o = 0; o < index->by_offer.size(); o += 2) index->by_offer[o].Build();
  });
  index->all.Build();
  for (size_t o = 1; o < index->by_offer.size(); o += 2) index->by_offer[o].Build();
  helper.join();
  std::lock_guard lock(mu_);
  index_ = std::move(index);
  return index_;
}

}  // namespace passerelle::indicators::coverage
