// The coverage read model in memory (venues, offers, areas, needs) and the coverage computed
// from it: nearest venue per (area, offer) through one k-d tree per offer, hours within reach
// as the OR of 168-bit weeks. Pure: no I/O, no gRPC, no SQL.
#pragma once

#include <bitset>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace passerelle::indicators::coverage {

/// Hours of a week, bit 0 = Monday 00:00–01:00 … bit 167 = Sunday 23:00–24:00 (Europe/Paris).
using WeekBits = std::bitset<168>;

/// The week a schedule is read on: Monday 9 March 2026, a week without public holidays, so
/// every venue's ordinary week is compared on the same days (seasonal rules read as in March).
inline constexpr int kReferenceYear = 2026, kReferenceMonth = 3, kReferenceMonday = 9;

/// The week of an OSM `opening_hours` text: an hour is open when the venue is known to be open
/// at one of its quarters; nullopt when the text is empty or not understood.
std::optional<WeekBits> WeekOf(std::string_view horaires);
/// 168 '0'/'1' characters, hour 0 first (the stored form), and back.
std::string WeekText(const WeekBits& week);
std::optional<WeekBits> ParseWeekText(std::string_view text);

/// The offer name of a national service of the standard: `services/aide-aux-demarches-…` from
/// the proto enum's name (`SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES`).
std::string ServiceOffer(std::string_view enum_name);

/// One venue as the read model keeps it, keyed by name; only a newer `update_time` replaces it.
struct VenueRow {
  std::string name;  // venues/{venue}
  std::string nom;
  bool active = true;
  std::optional<double> latitude, longitude;
  std::vector<std::string> areas;   // `<layer>:<code>`, sorted
  std::vector<std::string> offers;  // `items/{item}` and `services/{service}`, sorted, unique
  std::optional<WeekBits> hours;    // nullopt: hours not understood
  absl::Time update_time = absl::InfinitePast();

  bool operator==(const VenueRow&) const = default;
};

/// Whether `incoming` replaces `held`: newer, or as new and a withdrawal of an active venue.
bool Replaces(const VenueRow& incoming, const VenueRow& held);

/// An offer: a referential item or a national service, with its French label.
struct Offer {
  std::string name;
  std::string label;
};

/// An area of a layer with its centre (PostGIS ST_PointOnSurface) and outline (GeoJSON).
struct AreaRow {
  std::string code, label;
  double centre_latitude = 0, centre_longitude = 0;
  std::string geometry;
};

/// A layer's areas, sorted by code.
struct LayerRow {
  std::string layer, title;
  std::vector<AreaRow> areas;
};

/// The needs of one area.
struct NeedsRow {
  int64_t population = 0;
  std::optional<double> score;
  std::map<std::string, double> components;
  bool operator==(const NeedsRow&) const = default;
};

/// Everything a computation reads, frozen at one generation of the model: built once per
/// generation, shared by every request until the model changes.
class Index {
 public:
  struct Point {
    double x, y, z;  // unit sphere
    uint32_t venue;
  };
  /// A static 3-d tree over a set of points (points reordered in tree order).
  struct Tree {
    /// Ranges this small are leaves, scanned whole.
    static constexpr size_t kLeaf = 8;
    std::vector<Point> points;
    void Build();
    /// Nearest point to (x, y, z): its position in `points`, or -1 when empty.
    int Nearest(double x, double y, double z, double* chord2) const;
    /// Calls f(point) for each point within chord² `r2`.
    template <typename F>
    void Within(double x, double y, double z, double r2, F&& f) const;

   private:
    void BuildRange(size_t lo, size_t hi, int axis);
    void NearestRange(size_t lo, size_t hi, int axis, const double q[3], int* best,
                      double* best2) const;
  };
  struct Venue {
    std::shared_ptr<const VenueRow> row;  // shared with the model: never copied
    std::vector<uint32_t> offers;         // offer indices
    const std::string& name() const { return row->name; }
  };

  uint64_t generation = 0;
  std::string referential_version;
  absl::Time as_of = absl::InfinitePast();
  std::vector<Offer> offers;  // published items in referential order, then national services
  std::map<std::string, uint32_t, std::less<>> offer_index;
  std::vector<Venue> venues;  // active venues with a position
  Tree all;                   // every venue of `venues`
  std::vector<Tree> by_offer;
  std::map<std::string, LayerRow, std::less<>> layers;
  std::map<std::string, std::map<std::string, NeedsRow>, std::less<>> needs;
};

/// Metres on the sphere (R = 6,371,008.8 m, PostGIS' sphere) between two WGS84 points.
double SphereMeters(double lat1, double lon1, double lat2, double lon2);

/// The figures of one offer in one area.
struct OfferFigures {
  int venue_count = 0;
  std::optional<double> nearest_meters;
  int nearest_venue = -1;  // index in Index::venues
  WeekBits open_within_reach;
};

/// The coverage of a layer for some offers within a reach.
struct LayerCoverage {
  std::shared_ptr<const Index> index;
  const LayerRow* layer = nullptr;  // in `index`
  std::vector<uint32_t> offers;     // offer indices, in request order
  double reach_meters = 0;
  std::vector<int> venue_count;       // per area
  std::vector<OfferFigures> figures;  // area-major: figures[a * offers.size() + o]
  const OfferFigures& At(size_t area, size_t offer) const {
    return figures[area * offers.size() + offer];
  }
};

/// Computes a layer's coverage; `threads` > 1 splits the areas between threads. Areas are
/// visited in space-filling-curve order, so neighbours reuse the trees' hot parts.
LayerCoverage Compute(std::shared_ptr<const Index> index, const LayerRow& layer,
                      std::vector<uint32_t> offers, double reach_meters, int threads = 2);

/// The read model in memory: written by the refresher (rows read back from the tables), read
/// by computations through Index snapshots. Thread-safe.
class ReadModel {
 public:
  ReadModel();
  /// Applies a venue row if it replaces the one held (Replaces); true when it changed.
  bool ApplyVenue(VenueRow row);
  /// The published referential version and its items (not retired), in referential order;
  /// the national services are added after them.
  void SetReferential(std::string version, std::vector<Offer> items);
  void SetLayers(std::vector<LayerRow> layers);
  void SetNeeds(std::map<std::string, std::map<std::string, NeedsRow>, std::less<>> needs);
  void SetAsOf(absl::Time t);
  /// The model's generation: changes whenever something a figure depends on changed.
  uint64_t generation() const;
  /// The frozen index of the current generation (built on first use after a change).
  std::shared_ptr<const Index> Snapshot();
  /// Whether `area` (`<layer>:<code>`) is an area of a layer held (cheap: no index built).
  bool KnowsArea(std::string_view area) const;
  /// The venue held under `name`, if any (tests and the benchmark).
  std::optional<VenueRow> Venue(const std::string& name) const;
  size_t venue_count() const;

 private:
  std::shared_ptr<const Index> Build() const;  // under mu_
  mutable std::mutex mu_;
  uint64_t generation_ = 1;
  // Rows are immutable once held (an update replaces the pointer), so indexes share them.
  std::map<std::string, std::shared_ptr<const VenueRow>, std::less<>> venues_;
  std::string version_;
  std::vector<Offer> items_;
  std::vector<Offer> services_;
  std::map<std::string, LayerRow, std::less<>> layers_;
  std::map<std::string, std::map<std::string, NeedsRow>, std::less<>> needs_;
  absl::Time as_of_ = absl::InfinitePast();
  std::shared_ptr<const Index> index_;
  std::mutex build_mu_;  // one build at a time
};

template <typename F>
void Index::Tree::Within(double x, double y, double z, double r2, F&& f) const {
  // Iterative descent over the implicit tree: [lo, hi) with the split at the middle.
  struct Frame {
    size_t lo, hi;
    int axis;
  };
  Frame stack[64];
  int top = 0;
  if (points.empty()) return;
  stack[top++] = {0, points.size(), 0};
  const double q[3] = {x, y, z};
  while (top > 0) {
    const Frame fr = stack[--top];
    if (fr.lo >= fr.hi) continue;
    if (fr.hi - fr.lo <= kLeaf) {
      for (size_t i = fr.lo; i < fr.hi; ++i) {
        const Point& p = points[i];
        const double dx = p.x - x, dy = p.y - y, dz = p.z - z;
        if (dx * dx + dy * dy + dz * dz <= r2) f(p);
      }
      continue;
    }
    const size_t mid = (fr.lo + fr.hi) / 2;
    const Point& p = points[mid];
    const double dx = p.x - x, dy = p.y - y, dz = p.z - z;
    if (dx * dx + dy * dy + dz * dz <= r2) f(p);
    const double pv[3] = {p.x, p.y, p.z};
    const double d = q[fr.axis] - pv[fr.axis];
    const int next = (fr.axis + 1) % 3;
    if (d <= 0 || d * d <= r2) stack[top++] = {fr.lo, mid, next};
    if (d >= 0 || d * d <= r2) stack[top++] = {mid + 1, fr.hi, next};
  }
}

}  // namespace passerelle::indicators::coverage
