// The coverage domain: keeps the read model current (events, snapshots, replicas' polling) and
// answers ImportNeeds, GetCoverage, ListGaps and ExportCoverage from memory.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/page_token.hpp"
#include "libs/clock/clock.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/indicators/v1/indicators.pb.h"
#include "services/indicators/coverage_model.hpp"
#include "services/indicators/coverage_store.hpp"
#include "services/indicators/coverage_upstream.hpp"

namespace passerelle::indicators::coverage {

struct Options {
  /// Reach when a request gives none (PASSERELLE_INDICATORS_REACH).
  double default_reach_meters = 1500;
  /// How often area layers are read again from venues.
  absl::Duration areas_refresh = absl::Minutes(5);
  /// Least time between two reads of the layers asked for on demand (unknown layer or area):
  /// short, so a layer imported into venues just before its needs is found at once.
  absl::Duration on_demand_gap = absl::Seconds(1);
  /// Wait before trying again a snapshot or a label fetch that failed (service down).
  absl::Duration retry_gap = absl::Seconds(5);
  /// The nomenclature whose current version is read when nothing is known yet.
  std::string nomenclature = "roubaix-aptic";
  /// Threads of one computation.
  int threads = 2;
  /// A venue event whose `update_time` is later than now + this is refused: stored, it would
  /// hold the venue against every real update until then.
  absl::Duration future_margin = absl::Minutes(5);
  /// Most offers (items + services) or areas one venue event may carry; past it, refused.
  size_t max_venue_offers = 500;
};

class Domain {
 public:
  Domain(Store& store, Upstream& upstream, const api::PageTokens& tokens,
         const clocks::Clock& clock, Options options);

  // --- read model ---------------------------------------------------------------------------
  /// Applies one event in the consumer's transaction (venue.*, referential.version.published;
  /// others are ignored). An undecodable payload is a permanent error (dead-lettered at once);
  /// refused events (see docs/indicators.md) are OK, counted through OnRejected.
  absl::Status Consume(pqxx::work& tx, const events::v1::Event& event);
  /// Reads what changed in the tables into memory (this replica's and the others' writes).
  absl::Status Refresh();
  /// Background upkeep: the first snapshot, labels of a new version, area layers when due or
  /// asked for. Returns the first error (the rest is still tried).
  absl::Status Upkeep();
  /// Rebuilds from scratch: snapshot of every venue and the current referential version read
  /// from their services, written where newer (events after it then apply as usual).
  absl::Status Snapshot();
  /// Reads the area layers from venues now.
  absl::Status RefreshAreas();
  ReadModel& model() { return model_; }
  /// Called after each computation (not a cache hit) with its duration in seconds.
  void OnCompute(std::function<void(double)> observer) { on_compute_ = std::move(observer); }
  /// Called when a venue event, or part of it, is refused, with the reason (`unknown_venue`,
  /// `future_update_time`, `too_many_offers`, `too_many_areas`, `unknown_offers`).
  void OnRejected(std::function<void(const std::string&)> observer) {
    on_rejected_ = std::move(observer);
  }

  // --- API ----------------------------------------------------------------------------------
  /// Nothing is stored once the caller's `deadline` (system time, as gRPC's) is near.
  absl::StatusOr<v1::ImportNeedsResponse> ImportNeeds(const v1::ImportNeedsRequest& req,
                                                      absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Coverage> GetCoverage(const v1::GetCoverageRequest& req);
  absl::StatusOr<v1::ListGapsResponse> ListGaps(const v1::ListGapsRequest& req);
  /// Writes the document piece by piece to `write` (false: the client is gone, stop). The
  /// first call carries the content type in `content_type`.
  absl::Status Export(const v1::ExportCoverageRequest& req, std::string* content_type,
                      const std::function<bool(std::string_view)>& write);

  /// One computation as cached (tests and the benchmark).
  struct Computed {
    std::shared_ptr<const LayerCoverage> coverage;
    struct GapRef {
      uint32_t area, offer;  // offer: position in coverage->offers
      double need_score;
    };
    std::vector<GapRef> gaps;  // ranked
  };

 private:
  struct Query {
    std::string layer;
    std::vector<uint32_t> offers;
    double reach = 0;
    std::string params;  // bound into page tokens
  };
  absl::StatusOr<Query> ParseQuery(const std::string& layer_name, const std::string& field,
                                   bool coverage_name,
                                   const google::protobuf::RepeatedPtrField<std::string>& offers,
                                   double reach, std::shared_ptr<const Index>* index);
  absl::StatusOr<std::shared_ptr<const Computed>> Compute(const Query& q,
                                                          std::shared_ptr<const Index> index);
  /// Reads the layers again if allowed now (rate-limited unless `force`: public reads naming
  /// unknown layers must not make every request a call to venues); true when it ran.
  bool RefreshAreasOnDemand(bool force = false);
  /// Counts and logs a venue event (or part of it) refused for `reason`.
  void Reject(const events::v1::Event& event, const std::string& reason, const std::string& detail);

  Store& store_;
  Upstream& upstream_;
  const api::PageTokens& tokens_;
  const clocks::Clock& clock_;
  Options options_;
  ReadModel model_;

  std::mutex refresh_mu_;  // one Refresh at a time
  int64_t seen_seq_ = 0;
  int64_t seen_catalogue_ = -1;
  std::atomic<bool> areas_wanted_{true};
  std::mutex upkeep_mu_;
  absl::Time last_areas_ = absl::InfinitePast();
  absl::Time last_snapshot_try_ = absl::InfinitePast();
  absl::Time last_labels_try_ = absl::InfinitePast();

  std::mutex cache_mu_;
  struct CacheEntry {
    uint64_t generation;
    std::string key;
    std::shared_ptr<const Computed> value;
  };
  std::list<CacheEntry> cache_;  // most recent first, at most 16
  std::function<void(double)> on_compute_;
  std::function<void(const std::string&)> on_rejected_;
};

}  // namespace passerelle::indicators::coverage
