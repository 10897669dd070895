// Duplicate links in PostgreSQL + PostGIS (table `duplicate_links` and `venues.duplicate_of`).
#pragma once

#include "libs/db/pool.hpp"
#include "services/venues/duplicates.hpp"

namespace passerelle::venues {

class PgDuplicateStore final : public DuplicateRepository {
 public:
  explicit PgDuplicateStore(db::Pool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<DuplicateCandidate>> Candidates(
      const std::vector<std::string>& venue_ids) override;
  absl::StatusOr<int> SaveScores(const std::vector<std::string>& written,
                                 const std::vector<DuplicateLink>& scored, absl::Time now) override;
  absl::StatusOr<Pass> ChangedSinceDetection() override;
  absl::Status SaveDetectionCursor(const Repository::ChangeCursor& next) override;
  absl::StatusOr<std::vector<DuplicateLink>> ListLinks(const Filter& filter,
                                                       const std::string& after,
                                                       int limit) override;
  absl::StatusOr<DuplicateLink> GetLink(const std::string& id) override;
  absl::StatusOr<DuplicateLink> Resolve(const std::string& id, LinkState state,
                                        const std::string& canonical, absl::Time now) override;

 private:
  db::Pool& pool_;
};

}  // namespace passerelle::venues
