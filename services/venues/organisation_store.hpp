// Organisations in PostgreSQL (table `organisations` of the venues schema).
#pragma once

#include "libs/db/pool.hpp"
#include "services/venues/organisations.hpp"

namespace passerelle::venues {

class PgOrganisationStore final : public OrganisationRepository {
 public:
  explicit PgOrganisationStore(db::Pool& pool) : pool_(pool) {}

  absl::StatusOr<Organisation> CreateOrganisation(const Organisation& organisation) override;
  absl::StatusOr<Organisation> GetOrganisation(const std::string& id) override;
  absl::StatusOr<std::vector<Organisation>> ListOrganisations(const std::string& after,
                                                              int limit) override;
  absl::StatusOr<Organisation> UpdateOrganisation(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(Organisation&)>& change, absl::Time now) override;

 private:
  db::Pool& pool_;
};

}  // namespace passerelle::venues
