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

 private:
  db::Pool& pool_;
  events::Topology topology_;
};

}  // namespace passerelle::referential
