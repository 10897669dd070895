// Venue storage in PostgreSQL + PostGIS.
#pragma once

#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "passerelle/referential/v1/events.pb.h"
#include "services/venues/registry.hpp"

namespace passerelle::venues {

class PgStore final : public Repository {
 public:
  /// `wake`: called after a write committed its event to the outbox (the relay's Wake).
  PgStore(db::Pool& pool, events::Topology topology, std::function<void()> wake = {})
      : pool_(pool), topology_(std::move(topology)), wake_(std::move(wake)) {}

  absl::StatusOr<standard::Venue> Get(const std::string& id) override;
  absl::StatusOr<std::optional<SeenRequest>> FindRequest(const std::string& caller,
                                                         const std::string& request_id) override;
  absl::StatusOr<standard::Venue> Insert(const standard::Venue& venue, const EventFactory& event,
                                         const RequestKey& request) override;
  absl::StatusOr<standard::Venue> Update(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(standard::Venue&)>& change, const EventFactory& event,
      const RequestKey& request) override;
  absl::StatusOr<ListPage> List(const ListQuery& query) override;
  absl::StatusOr<Changes> ChangedSince(const ChangeCursor& cursor,
                                       const KnownRevision& known = {}) override;
  absl::StatusOr<int> ReplaceAreaLayer(const std::string& layer, const std::string& title,
                                       const std::vector<AreaFeature>& areas,
                                       const EventFactory& updated, absl::Time deadline) override;
  absl::StatusOr<std::vector<AreaLayerRecord>> ListAreaLayers(const std::string& after,
                                                              int limit) override;
  absl::StatusOr<AreaLayerRecord> GetAreaLayer(const std::string& layer) override;
  absl::StatusOr<AreaPage> ListAreas(const AreaQuery& query) override;
  absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) override;
  absl::StatusOr<SourceRecord> GetSource(const std::string& id) override;
  absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                        int limit) override;
  absl::StatusOr<std::vector<ConflictRecord>> ListConflicts(const ConflictQuery& query) override;
  absl::StatusOr<std::vector<std::string>> UnknownItems(
      const std::vector<std::string>& items) override;
  absl::StatusOr<std::vector<std::string>> UnknownAreas(
      const std::vector<std::string>& keys) override;
  absl::StatusOr<std::vector<std::string>> UnknownOrganisations(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<std::vector<RowResult>> Upsert(const std::string& source,
                                                const std::vector<standard::Venue>& rows,
                                                const EventFactory& created,
                                                const EventFactory& updated, bool reinstate,
                                                absl::Time deadline) override;

  /// Follows a published referential version inside the consumer's transaction: retired items
  /// leave every venue that offered them (each such venue gets venue.updated). Item ids are
  /// stable across versions, so nothing else needs rewriting. Returns the venues changed.
  int ApplyReferentialVersion(pqxx::work& tx, const referential::v1::VersionPublished& version,
                              const EventFactory& updated);

 private:
  db::Pool& pool_;
  events::Topology topology_;
  std::function<void()> wake_;
};

/// Sets `duplicate_of` to `canonical` (a venue id; empty: clears it) on the venue `id`, when its
/// `duplicate_of` is `only_if` (a venue id; empty: not hidden). Inside the caller's transaction:
/// the row is locked, its revision and update time change, and its venue.updated event
/// (changed field `duplicate_of`, the venue before) goes to the outbox, so that the consumers of
/// venue events drop a venue hidden as a duplicate and count it again when it comes back. The
/// venue as stored after, nullopt when nothing matched.
std::optional<standard::Venue> SetDuplicateOf(pqxx::work& tx, const events::Topology& topology,
                                              const std::string& id, const std::string& only_if,
                                              const std::string& canonical, absl::Time now,
                                              const EventFactory& updated);

}  // namespace passerelle::venues
