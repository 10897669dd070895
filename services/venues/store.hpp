// Venue storage in PostgreSQL + PostGIS.
#pragma once

#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "services/venues/registry.hpp"

namespace passerelle::venues {

class PgStore final : public Repository {
 public:
  PgStore(db::Pool& pool, events::Topology topology) : pool_(pool), topology_(std::move(topology)) {}

  absl::StatusOr<Venue> Get(const std::string& id) override;
  absl::StatusOr<std::optional<std::string>> FindRequest(const std::string& request_id) override;
  absl::StatusOr<Venue> Insert(const Venue& venue, const EventFactory& event,
                               const std::string& request_id) override;
  absl::StatusOr<Venue> Update(const std::string& id, int expected_revision,
                               const std::function<absl::Status(Venue&)>& change,
                               const EventFactory& event, const std::string& request_id) override;
  absl::StatusOr<ListPage> List(const ListQuery& query) override;
  absl::StatusOr<std::vector<Venue>> ChangedSince(absl::Time since) override;
  absl::StatusOr<std::vector<RowResult>> Upsert(const std::string& source,
                                                const std::vector<Venue>& rows,
                                                const EventFactory& created,
                                                const EventFactory& updated) override;

 private:
  db::Pool& pool_;
  events::Topology topology_;
};

}  // namespace passerelle::venues
