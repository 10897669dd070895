// Duplicates across sources (`duplicateLinks/{link}`): the same place published by two sources is
// detected and linked, never merged. The scorer (how alike two venues are, and which fields
// matched), the links' rules, and detect, list, read and resolve over a repository. No gRPC and no
// SQL here.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "libs/clock/clock.hpp"
#include "libs/standard/venue.hpp"
#include "passerelle/venues/v1/duplicates.pb.h"
#include "services/venues/registry.hpp"

namespace passerelle::venues {

/// What the scorer reads of a venue.
struct DuplicateSide {
  std::string nom, adresse, code_postal, code_insee, commune;
  std::optional<double> latitude, longitude;
};

/// The scorer's verdict on a pair.
struct DuplicateScore {
  double score = 0;  // 0 to 1; a pair is linked from kDuplicateThreshold on
  /// Standard fields that matched, among `nom`, `adresse`, `code_insee`, `code_postal` and
  /// `position` (within kDuplicateNearMeters), in this order.
  std::vector<std::string> matched_fields;
  double distance_m = -1;  // -1 when either side has no position
};

/// Candidates are looked for within this distance (metres); farther pairs score 0.
inline constexpr double kDuplicateMaxMeters = 100;
/// Candidates per written venue at most: its nearest. Without a bound, two sources placing
/// hundreds of similar venues at one point made every pair a candidate (n x m scores and links
/// per batch).
inline constexpr int kDuplicateMaxCandidates = 8;
/// Two positions this close count as the same (`position` among the matched fields).
inline constexpr double kDuplicateNearMeters = 50;
/// Pairs scoring this or more are linked (precision and recall on the labelled fixture:
/// docs/venues.md).
inline constexpr double kDuplicateThreshold = 0.7;

/// `standard::Venue` as the scorer reads it.
DuplicateSide SideOf(const standard::Venue& venue);

/// How alike two venues of different sources are. Both must share their INSEE code or, when
/// either has none, their postcode, and lie within kDuplicateMaxMeters: otherwise 0. Names are
/// folded (case, accents), abbreviations expanded (`Ctre soc.`, `CCAS`, `r.`, `av.`), and the
/// generic words of a kind of place (`centre social`, `France Services`, `médiathèque`) kept
/// apart from the distinctive ones: two places of different kinds, or of the same kind with
/// different distinctive names (two France Services of one town), are not duplicates.
DuplicateScore ScoreDuplicate(const DuplicateSide& a, const DuplicateSide& b);

/// A link's state.
enum class LinkState { kProposed, kSame, kDifferent };

/// `proposed`, `same`, `different`.
std::string_view LinkStateName(LinkState state);

/// A link between two venues of different sources (`venue_a` < `venue_b`, ids).
struct DuplicateLink {
  std::string id;  // duplicateLinks/{id}
  std::string venue_a, venue_b;
  std::string source_a, source_b;
  double score = 0;
  std::vector<std::string> matched_fields;
  double distance_m = -1;
  LinkState state = LinkState::kProposed;
  std::string canonical;  // SAME: the venue id kept (the other is hidden)
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();

  std::string Name() const { return "duplicateLinks/" + id; }
};

/// A pair the store found near each other, for the scorer.
struct DuplicateCandidate {
  standard::Venue a, b;  // a.id < b.id
};

class DuplicateRepository {
 public:
  virtual ~DuplicateRepository() = default;
  /// Pairs of one of `venue_ids` (active, not hidden) with an active, not hidden venue of
  /// another source within kDuplicateMaxMeters sharing its INSEE code or postcode (its
  /// kDuplicateMaxCandidates nearest), and their proposed links that still meet those
  /// conditions (nearest is not symmetric), each pair once, in one query.
  virtual absl::StatusOr<std::vector<DuplicateCandidate>> Candidates(
      const std::vector<std::string>& venue_ids) = 0;
  /// Stores the scored pairs of the venues `written`: a new pair above the threshold is
  /// proposed; a proposed one gets its new score; a proposed link of a written venue that is not
  /// among the pairs scored above the threshold (the venue moved away, was renamed, withdrawn or
  /// hidden) is dropped; a resolved one (same or different) is left as it is. One transaction.
  /// The number of links created.
  virtual absl::StatusOr<int> SaveScores(const std::vector<std::string>& written,
                                         const std::vector<DuplicateLink>& scored,
                                         absl::Time now) = 0;
  /// Duplicate detection's place in the venues' change feed.
  struct Pass {
    std::vector<std::string> venue_ids;  // written since the saved cursor, withdrawn included
    Repository::ChangeCursor next;       // the cursor to save once they are detected
  };
  /// A replica's turn at a pass, held while the pass runs and given back when dropped.
  struct PassTurn {
    virtual ~PassTurn() = default;
  };
  /// The turn, or nullptr while another replica's pass runs (it covers the same venues: two
  /// replicas would each read and score all of them, as after an import).
  virtual absl::StatusOr<std::unique_ptr<PassTurn>> TakePassTurn() = 0;
  /// The venues written (by any replica, the sync included) since the saved cursor.
  virtual absl::StatusOr<Pass> ChangedSinceDetection() = 0;
  /// Saves the cursor once a pass's links are stored: a pass cut short by a fault is run again
  /// (storing scores twice changes nothing).
  virtual absl::Status SaveDetectionCursor(const Repository::ChangeCursor& next) = 0;
  struct Filter {
    std::optional<LinkState> state;
    std::string source;  // links with a venue of this source (empty: any)
    std::string venue;   // links with this venue (empty: any)
  };
  /// At most `limit` links matching `filter` whose ids sort after `after`, by id.
  virtual absl::StatusOr<std::vector<DuplicateLink>> ListLinks(const Filter& filter,
                                                               const std::string& after,
                                                               int limit) = 0;
  /// NOT_FOUND when none has this id.
  virtual absl::StatusOr<DuplicateLink> GetLink(const std::string& id) = 0;
  /// Locks the link; when proposed, sets `state` (and `canonical` for SAME: the other venue is
  /// hidden as a duplicate of it) in one transaction, with the hidden venue's event made by
  /// `updated` (changed field `duplicate_of`). A link resolved SAME may be resolved DIFFERENT
  /// (a correction): the hidden venue comes back, with its event. A link already resolved the
  /// same way is returned as it is; resolved otherwise: FAILED_PRECONDITION (LINK_RESOLVED).
  virtual absl::StatusOr<DuplicateLink> Resolve(const std::string& id, LinkState state,
                                                const std::string& canonical, absl::Time now,
                                                const EventFactory& updated) = 0;
};

/// When a detection pass runs (main.cpp runs DetectChanges every interval): while this replica
/// writes (a bulk load), passes wait for its writes to pause for `quiet`, so that the batches
/// do not share the CPU with detection, but never longer than `max_delay` after the last pass.
class DetectionPacer {
 public:
  DetectionPacer(absl::Duration quiet, absl::Duration max_delay, absl::Time start)
      : quiet_(quiet), max_delay_(max_delay), last_pass_(start) {}
  /// Whether a pass runs at `now`, the replica's last write having been at `last_write`; a
  /// pass that runs is counted from `now`.
  bool ShouldRun(absl::Time now, absl::Time last_write) {
    if (now - last_write < quiet_ && now - last_pass_ < max_delay_) return false;
    last_pass_ = now;
    return true;
  }

 private:
  absl::Duration quiet_, max_delay_;
  absl::Time last_pass_;
};

/// The duplicates' use cases.
class Duplicates {
 public:
  /// `updated`: the venue.updated event of a venue hidden or shown again by a resolution.
  /// `refresh`: brings the search index up to date after a resolution hid or showed a venue.
  Duplicates(DuplicateRepository& repo, const api::PageTokens& tokens, EventFactory updated,
             std::function<absl::Status()> refresh = {},
             const clocks::Clock& clock = clocks::System())
      : repo_(repo),
        tokens_(tokens),
        updated_(std::move(updated)),
        refresh_(std::move(refresh)),
        clock_(clock) {}

  /// Detects duplicates of the venues written since the last pass (batches, imports, creates,
  /// updates, withdrawals, by any replica), off the write path: one thread runs it every second
  /// (main.cpp), so a write's answer never waits for it and a first load's writes are checked
  /// a few thousand at a time. The number of venues checked.
  /// When `stopping` turns true (the service shutting down) the pass ends early, CANCELLED,
  /// and the next one starts again from the same place.
  absl::StatusOr<int> DetectChanges(const std::function<bool()>& stopping = {});
  /// Detects duplicates of `venue_ids`: one candidate query per chunk, scored here, stored.
  /// The number of links created.
  absl::StatusOr<int> Detect(const std::vector<std::string>& venue_ids,
                             const std::function<bool()>& stopping = {});

  struct Page {
    std::vector<DuplicateLink> links;
    std::string next_page_token;
  };
  /// `state`: any (unspecified) or one; `source`: empty or `sources/{id}`; `venue`: empty or
  /// `venues/{id}`. `page_size` 0 means 100, capped at 1,000; sealed page tokens bound to the
  /// filters.
  absl::StatusOr<Page> List(v1::DuplicateLinkState state, const std::string& source,
                            const std::string& venue, int page_size, const std::string& page_token);
  /// `duplicateLinks/{id}`.
  absl::StatusOr<DuplicateLink> Get(const std::string& name);
  /// `resolution`: DUPLICATE_SAME (with `canonical`, `venues/{id}`, one of the link's two
  /// venues: the other is hidden from search and exports) or DUPLICATE_DIFFERENT (never
  /// proposed again; `canonical` empty; on a link resolved SAME, the hidden venue comes back).
  absl::StatusOr<DuplicateLink> Resolve(const std::string& name, v1::DuplicateLinkState resolution,
                                        const std::string& canonical);

 private:
  DuplicateRepository& repo_;
  const api::PageTokens& tokens_;
  EventFactory updated_;
  std::function<absl::Status()> refresh_;
  const clocks::Clock& clock_;
};

/// The API message of a link.
void ToProto(const DuplicateLink& link, v1::DuplicateLink* out);

}  // namespace passerelle::venues
