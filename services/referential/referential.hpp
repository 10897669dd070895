// The referential's use cases: load the seed, serve versions and items, search.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passerelle/events/v1/event.pb.h"
#include "services/referential/catalog.hpp"
#include "services/referential/governance.hpp"

namespace passerelle::referential {

/// Where versions are kept. A version and the event announcing it are written together.
class Repository {
 public:
  virtual ~Repository() = default;
  virtual absl::StatusOr<std::vector<VersionTree>> LoadAll() = 0;
  /// false when the version already exists (nothing written).
  virtual absl::StatusOr<bool> InsertVersion(const VersionTree& tree,
                                             const events::v1::Event& event) = 0;
  /// Inserts the new version, marks `applied` proposals applied, and appends the event, in one
  /// transaction. ABORTED when the accepted proposals on the base changed meanwhile; false when
  /// the version id already exists.
  virtual absl::StatusOr<bool> PublishVersion(const VersionTree& tree,
                                              const std::vector<int>& applied,
                                              const events::v1::Event& event) = 0;

  /// Stores proposals not stored yet (by nomenclature and number).
  virtual absl::Status ImportProposals(const std::vector<Proposal>& proposals) = 0;
  /// Proposals of a nomenclature with their comments, by number.
  virtual absl::StatusOr<std::vector<Proposal>> ListProposals(const std::string& nomenclature) = 0;
  /// NOT_FOUND when missing.
  virtual absl::StatusOr<Proposal> GetProposal(const std::string& nomenclature, int number) = 0;
  /// Locks the proposal, checks its revision (ABORTED on mismatch; 0 skips the check), runs
  /// `change` on it, and saves it with the next revision.
  virtual absl::StatusOr<Proposal> UpdateProposal(
      const std::string& nomenclature, int number, int expected_revision,
      const std::function<absl::Status(Proposal&)>& change) = 0;
  virtual absl::StatusOr<Proposal> AddComment(const std::string& nomenclature, int number,
                                              const Comment& comment) = 0;
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

  // Proposals. `name` is `nomenclatures/{n}/proposals/{number}`; `etag` as returned by ETag().
  absl::StatusOr<std::vector<Proposal>> ListProposals(const std::string& parent,
                                                      const std::string& state_filter);
  absl::StatusOr<Proposal> GetProposal(const std::string& name);
  absl::StatusOr<Proposal> Comment(const std::string& name, const std::string& author,
                                   const std::string& text);
  absl::StatusOr<Proposal> Amend(const std::string& name, std::vector<Operation> operations,
                                 const std::string& etag);
  absl::StatusOr<Proposal> Decide(const std::string& name, bool accept, const std::string& reason,
                                  const std::string& etag);

  struct Published {
    const VersionTree* version;
    VersionDiff diff;
    std::string previous;  // version id
  };
  /// Publishes `version_id` from the current version and its accepted proposals.
  absl::StatusOr<Published> Publish(const std::string& parent, const std::string& version_id);
  absl::StatusOr<VersionDiff> DiffVersions(const std::string& from, const std::string& to);

  /// Resolves `nomenclatures/{n}/versions/{v}` (v may be `-`); NOT_FOUND names what is missing.
  absl::StatusOr<const VersionTree*> ResolveVersion(const Catalog::Snapshot& snap,
                                                    const std::string& name) const;

 private:
  Repository& repo_;
  Catalog catalog_;
};

/// `nomenclatures/{n}/versions/{v}`.
std::string VersionName(const VersionTree& t);
/// `nomenclatures/{n}/proposals/{number}`.
std::string ProposalName(const Proposal& p);
/// Weak etag of a proposal revision (AIP-154).
std::string ETag(const Proposal& p);

}  // namespace passerelle::referential
