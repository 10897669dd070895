// The referential's use cases: load the seed, serve versions and items, search.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/page_token.hpp"
#include "libs/clock/clock.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "services/referential/catalog.hpp"
#include "services/referential/governance.hpp"

namespace passerelle::referential {

/// Where versions are kept. A version and the event announcing it are written together. The
/// repository keeps the times it is given (`publish_time`, `create_time`, `update_time`): they
/// come from the referential's clock, never from the database's.
class Repository {
 public:
  virtual ~Repository() = default;
  virtual absl::StatusOr<std::vector<VersionTree>> LoadAll() = 0;
  /// false when the version already exists (nothing written).
  virtual absl::StatusOr<bool> InsertVersion(const VersionTree& tree,
                                             const events::v1::Event& event) = 0;
  /// Inserts the new version, marks `applied` proposals applied (updated at the version's
  /// publish time), saves `carried` (the open
  /// proposals on the base, rebased onto the new version or closed; each still holding the
  /// revision it was read at), and appends the event, in one transaction. ABORTED when the
  /// accepted or open proposals on the base changed meanwhile; false when the version id
  /// already exists (nothing written).
  virtual absl::StatusOr<bool> PublishVersion(const VersionTree& tree,
                                              const std::vector<int>& applied,
                                              const std::vector<Proposal>& carried,
                                              const events::v1::Event& event) = 0;
  /// Changes whenever a version is added (any replica): cheap enough to poll.
  virtual absl::StatusOr<std::string> VersionsFingerprint() = 0;

  /// Stores proposals not stored yet (by nomenclature and number).
  virtual absl::Status ImportProposals(const std::vector<Proposal>& proposals) = 0;
  /// Proposals of a nomenclature with their comments, by number.
  virtual absl::StatusOr<std::vector<Proposal>> ListProposals(const std::string& nomenclature) = 0;
  /// NOT_FOUND when missing.
  virtual absl::StatusOr<Proposal> GetProposal(const std::string& nomenclature, int number) = 0;
  /// Locks the proposal, runs `change` on it (which decides, etag included: its error is
  /// returned and nothing is written), and saves it with the next revision (and the
  /// `update_time` it set). NOT_FOUND when missing.
  virtual absl::StatusOr<Proposal> UpdateProposal(
      const std::string& nomenclature, int number,
      const std::function<absl::Status(Proposal&)>& change) = 0;
  /// Adds the comment and gives the proposal its next revision, updated at the comment's time.
  virtual absl::StatusOr<Proposal> AddComment(const std::string& nomenclature, int number,
                                              const Comment& comment) = 0;
};

/// Bounds of the referential's requests (documented in referential.proto).
inline constexpr size_t kMaxNameLength = 300;
inline constexpr size_t kMaxPageTokenLength = 1000;
inline constexpr size_t kMaxAuthorLength = 200;
inline constexpr size_t kMaxCommentLength = 10000;
inline constexpr size_t kMaxReasonLength = 2000;
inline constexpr size_t kMaxETagLength = 64;
inline constexpr size_t kMaxVersionIdLength = 40;
inline constexpr int kDefaultNomenclaturePage = 50, kMaxNomenclaturePage = 1000;
inline constexpr int kDefaultProposalPage = 50, kMaxProposalPage = 200;

class Referential {
 public:
  /// `tokens` seals the page tokens of the lists; `clock` gives every time the referential
  /// writes: versions' publish times, proposals' and comments' times, events' times.
  Referential(Repository& repo, const api::PageTokens& tokens, const clocks::Clock& clock)
      : repo_(repo), tokens_(tokens), clock_(clock) {}

  /// Loads `<dir>/nomenclature-*.json` with its enrichment `<dir>/items-<version>.json` when
  /// the store lacks that version, announcing it with `referential.version.published`.
  /// Idempotent: several replicas starting together insert it once.
  absl::Status LoadSeed(const std::string& dir);
  /// Re-reads every version from the store into memory.
  absl::Status Reload();
  /// Reloads when the store holds versions this replica has not loaded (another replica
  /// published); true when it reloaded.
  absl::StatusOr<bool> ReloadIfChanged();

  std::shared_ptr<const Catalog::Snapshot> snapshot() const { return catalog_.snapshot(); }

  /// One page of nomenclature names (`nomenclatures/{n}`), read in `snapshot`.
  struct NomenclaturePage {
    std::shared_ptr<const Catalog::Snapshot> snapshot;
    std::vector<std::string> nomenclatures;  // ids, by name
    std::string next_page_token;
  };
  absl::StatusOr<NomenclaturePage> ListNomenclatures(int page_size, const std::string& page_token);

  // Proposals. `name` is `nomenclatures/{n}/proposals/{number}`; `etag` as returned by ETag().
  struct ProposalPage {
    std::vector<Proposal> proposals;
    std::string next_page_token;
  };
  /// `filter`: empty or `state = OPEN|ACCEPTED|REJECTED|APPLIED|CLOSED` (AIP-160).
  absl::StatusOr<ProposalPage> ListProposals(const std::string& parent, const std::string& filter,
                                             int page_size, const std::string& page_token);
  absl::StatusOr<Proposal> GetProposal(const std::string& name);
  /// `key_author`: who the caller's API key stands for (the key's display name, from the
  /// gateway's metadata), nullopt for internal callers. A comment made with a key is signed by
  /// the key: an empty `author` becomes `key_author`, another one is refused
  /// (PERMISSION_DENIED, reason NOT_AUTHOR, field `author`), as a venue's owner is for an
  /// organisation key. Internal callers write the author they name.
  absl::StatusOr<Proposal> Comment(const std::string& name, const std::string& author,
                                   const std::string& text,
                                   const std::optional<std::string>& key_author = std::nullopt);
  absl::StatusOr<Proposal> Amend(const std::string& name, std::vector<Operation> operations,
                                 const std::string& etag);
  absl::StatusOr<Proposal> Decide(const std::string& name, bool accept, const std::string& reason,
                                  const std::string& etag);

  struct Published {
    /// Holds `version` alive while the caller reads it, whatever reloads happen meanwhile.
    std::shared_ptr<const Catalog::Snapshot> snapshot;
    const VersionTree* version;
    VersionDiff diff;
    std::string previous;  // version id
  };
  /// Publishes `version_id` from the current version and its accepted proposals.
  absl::StatusOr<Published> Publish(const std::string& parent, const std::string& version_id);
  struct Diffed {
    std::string nomenclature, from, to;  // ids of the versions compared
    VersionDiff diff;
  };
  absl::StatusOr<Diffed> DiffVersions(const std::string& from, const std::string& to);

  /// Resolves `nomenclatures/{n}/versions/{v}` (v may be `-`); INVALID_ARGUMENT on `field` when
  /// malformed, NOT_FOUND names what is missing.
  absl::StatusOr<const VersionTree*> ResolveVersion(const Catalog::Snapshot& snap,
                                                    const std::string& name,
                                                    const std::string& field = "name") const;

 private:
  Repository& repo_;
  const api::PageTokens& tokens_;
  const clocks::Clock& clock_;
  Catalog catalog_;
  std::mutex reload_mu_;     // one reload at a time; guards fingerprint_
  std::string fingerprint_;  // of the versions loaded last
};

/// `nomenclatures/{n}`.
std::string NomenclatureName(const std::string& nomenclature);
/// `items/{id}`: items keep their id across versions.
std::string ItemName(const std::string& id);
/// The id in `items/{item}`; INVALID_ARGUMENT on `field` when malformed or longer than
/// kMaxNameLength.
absl::StatusOr<std::string> ParseItemName(const std::string& name, const std::string& field);
/// `nomenclatures/{n}/versions/{v}`.
std::string VersionName(const VersionTree& t);
std::string VersionName(const std::string& nomenclature, const std::string& version);
/// `nomenclatures/{n}/proposals/{number}`.
std::string ProposalName(const Proposal& p);
std::string ProposalName(const std::string& nomenclature, int number);
/// Weak etag of a proposal revision (AIP-154).
std::string ETag(const Proposal& p);
/// A new version's id: 1 to 40 lower-case letters, digits and single dashes, starting and
/// ending with a letter or digit.
bool IsValidVersionId(const std::string& id);

}  // namespace passerelle::referential
