// Duplicate links in PostgreSQL + PostGIS (table `duplicate_links` and `venues.duplicate_of`).
#pragma once

#include <functional>

#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "services/venues/duplicates.hpp"

namespace passerelle::venues {

class PgDuplicateStore final : public DuplicateRepository {
 public:
  /// `wake`: called after a resolution committed its venue's event to the outbox (the relay's
  /// Wake).
  PgDuplicateStore(db::Pool& pool, events::Topology topology, std::function<void()> wake = {})
      : pool_(pool), topology_(std::move(topology)), wake_(std::move(wake)) {}

  absl::StatusOr<std::vector<DuplicateCandidate>> Candidates(
      const std::vector<std::string>& venue_ids) override;
  absl::StatusOr<int> SaveScores(const std::vector<std::string>& written,
                                 const std::vector<DuplicateLink>& scored, absl::Time now) override;
  /// A PostgreSQL advisory lock named after the schema, held on a pooled connection.
  absl::StatusOr<std::unique_ptr<PassTurn>> TakePassTurn() override;
  absl::StatusOr<Pass> ChangedSinceDetection() override;
  absl::Status SaveDetectionCursor(const Repository::ChangeCursor& next) override;
  absl::StatusOr<std::vector<DuplicateLink>> ListLinks(const Filter& filter,
                                                       const std::string& after,
                                                       int limit) override;
  absl::StatusOr<DuplicateLink> GetLink(const std::string& id) override;
  absl::StatusOr<DuplicateLink> Resolve(const std::string& id, LinkState state,
                                        const std::string& canonical, absl::Time now,
                                        const EventFactory& updated) override;

 private:
  db::Pool& pool_;
  events::Topology topology_;
  std::function<void()> wake_;
};

}  // namespace passerelle::venues
