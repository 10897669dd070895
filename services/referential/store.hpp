// Referential storage in PostgreSQL: versions as rows of version_nodes.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "services/referential/referential.hpp"

namespace passerelle::referential {

class PgStore final : public Repository {
 public:
  PgStore(db::Pool& pool, events::Topology topology) : pool_(pool), topology_(std::move(topology)) {}

  absl::StatusOr<std::vector<VersionTree>> LoadAll() override;
  absl::StatusOr<bool> InsertVersion(const VersionTree& tree,
                                     const events::v1::Event& event) override;
  absl::StatusOr<bool> PublishVersion(const VersionTree& tree, const std::vector<int>& applied,
                                      const std::vector<Proposal>& carried,
                                      const events::v1::Event& event) override;
  absl::StatusOr<std::string> VersionsFingerprint() override;
  absl::Status ImportProposals(const std::vector<Proposal>& proposals) override;
  absl::StatusOr<std::vector<Proposal>> ListProposals(const std::string& nomenclature) override;
  absl::StatusOr<Proposal> GetProposal(const std::string& nomenclature, int number) override;
  absl::StatusOr<Proposal> UpdateProposal(
      const std::string& nomenclature, int number,
      const std::function<absl::Status(Proposal&)>& change) override;
  absl::StatusOr<Proposal> AddComment(const std::string& nomenclature, int number,
                                      const Comment& comment) override;

 private:
  /// Writes the version's rows; false when it already exists.
  bool WriteVersion(pqxx::work& tx, const VersionTree& t);
  /// INTERNAL when a row holds a state this program does not know.
  absl::StatusOr<std::vector<Proposal>> ReadProposals(pqxx::work& tx,
                                                      const std::string& nomenclature, int number,
                                                      bool lock);

  db::Pool& pool_;
  events::Topology topology_;
};

}  // namespace passerelle::referential
