// The coverage read model's tables (schema `indicators`, tables `coverage_…`).
#pragma once

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/db/pool.hpp"
#include "services/indicators/coverage_model.hpp"

namespace passerelle::indicators::coverage {

/// An item of the published referential as stored.
struct ItemRow {
  std::string item, code, label;
  int position = 0;
};

/// An area as venues lists it (FULL view).
struct AreaInput {
  std::string code, label, geometry;  // GeoJSON MultiPolygon
};
struct LayerInput {
  std::string layer, title;
  std::vector<AreaInput> areas;
};

/// What replicas poll to keep their memory current.
struct StateRow {
  std::string referential_version;
  bool labels_pending = false;
  std::optional<absl::Time> as_of;
  int64_t catalogue_generation = 0;
  std::optional<absl::Time> snapshot_time;
};

using NeedsMap = std::map<std::string, std::map<std::string, NeedsRow>, std::less<>>;

class Store {
 public:
  explicit Store(db::Pool& pool) : pool_(pool) {}

  // --- inside the consumer's transaction --------------------------------------------------
  /// Locks the state row (writers then commit in `seq` order) and records the time of the
  /// last venue event applied.
  static void LockState(pqxx::work& tx);
  static void SetAsOf(pqxx::work& tx, absl::Time t);
  /// Whether a row (active or a tombstone) is stored for the venue `name`.
  static bool HasVenue(pqxx::work& tx, const std::string& name);
  /// Those of `items` (`items/{item}`) that the version in force offers, in their order; all
  /// of them while no version is known yet (the model ignores unknown items when it reads).
  static std::vector<std::string> OfferedItems(pqxx::work& tx,
                                               const std::vector<std::string>& items);
  /// Writes `row` if it replaces the stored one (newer update_time, or a withdrawal at the
  /// same time); true when it did.
  static bool UpsertVenue(pqxx::work& tx, const VenueRow& row);
  /// A withdrawal at `at`: the stored row becomes a tombstone (its other fields kept), or a
  /// tombstone is written from `row` when none is stored. True when it changed something.
  static bool WithdrawVenue(pqxx::work& tx, const VenueRow& row);
  /// A version came into force (if newer than the one stored): items offered and retired;
  /// labels are fetched later (labels_pending). False when older (nothing done).
  static bool ApplyVersion(pqxx::work& tx, const std::string& version, absl::Time published,
                           const std::vector<std::pair<std::string, std::string>>& offered,
                           const std::vector<std::string>& retired);

  // --- own transactions -------------------------------------------------------------------
  /// Venues read from venues' gRPC (snapshot): each written if it replaces the stored one.
  absl::StatusOr<int> SnapshotVenues(const std::vector<VenueRow>& rows, absl::Time taken);
  /// The version's items with labels, in order (when `version` is still the one in force).
  /// `bootstrap`: nothing is known yet and `version` (published at `published`) is the one in
  /// force, read from the referential.
  absl::Status SetItems(const std::string& version, const std::vector<ItemRow>& items,
                        bool bootstrap, absl::Time published = absl::UnixEpoch());
  /// Replaces the layers and areas (centres computed by PostGIS); false when unchanged.
  absl::StatusOr<bool> ReplaceLayers(const std::vector<LayerInput>& layers);
  /// Stores needs of `layer` (and, with `replace`, removes the others of the layer): the
  /// number removed. Nothing is committed once the caller's `deadline` is near
  /// (DEADLINE_EXCEEDED, nothing written).
  absl::StatusOr<int> StoreNeeds(const std::string& layer,
                                 const std::map<std::string, NeedsRow>& rows, bool replace,
                                 absl::Time deadline = absl::InfiniteFuture());

  absl::StatusOr<StateRow> State();
  /// Venue rows written after `after_seq`, in seq order; `*max_seq` the last one's.
  absl::StatusOr<std::vector<VenueRow>> VenuesSince(int64_t after_seq, int64_t* max_seq);
  absl::StatusOr<std::vector<Offer>> Items();
  absl::StatusOr<std::vector<LayerRow>> Layers();
  absl::StatusOr<NeedsMap> Needs();
  /// Area codes of a layer (empty when the layer is unknown).
  absl::StatusOr<std::vector<std::string>> AreaCodes(const std::string& layer);

 private:
  db::Pool& pool_;
};

}  // namespace passerelle::indicators::coverage
