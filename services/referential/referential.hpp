// The referential's use cases: load the seed, serve versions and items, search.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passerelle/events/v1/event.pb.h"
#include "services/referential/catalog.hpp"

namespace passerelle::referential {

/// Where versions are kept. A version and the event announcing it are written together.
class Repository {
 public:
  virtual ~Repository() = default;
  virtual absl::StatusOr<std::vector<VersionTree>> LoadAll() = 0;
  /// false when the version already exists (nothing written).
  virtual absl::StatusOr<bool> InsertVersion(const VersionTree& tree,
                                             const events::v1::Event& event) = 0;
};

class Referential {
 public:
  explicit Referential(Repository& repo) : repo_(repo) {}

  /// Loads `<dir>/nomenclature-*.json` with its enrichment `<dir>/items-<version>.json` when
  /// the store lacks that version, announcing it with `referential.version.published`.
  /// Idempotent: several replicas starting together insert it once.
  absl::Status LoadSeed(const std::string& dir);
  /// Re-reads every version from the store into memory.
  absl::Status Reload();

  std::shared_ptr<const Catalog::Snapshot> snapshot() const { return catalog_.snapshot(); }

  /// Resolves `nomenclatures/{n}/versions/{v}` (v may be `-`); NOT_FOUND names what is missing.
  absl::StatusOr<const VersionTree*> ResolveVersion(const Catalog::Snapshot& snap,
                                                    const std::string& name) const;

 private:
  Repository& repo_;
  Catalog catalog_;
};

/// `nomenclatures/{n}/versions/{v}`.
std::string VersionName(const VersionTree& t);

}  // namespace passerelle::referential
