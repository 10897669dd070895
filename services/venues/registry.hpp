// The venue registry's use cases: validate against the standard, write with the event that
// announces the change, read and list. No gRPC and no SQL here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "libs/clock/clock.hpp"
#include "libs/standard/exchange.hpp"
#include "libs/standard/standard.hpp"
#include "libs/standard/venue.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "services/venues/areas.hpp"
#include "services/venues/search.hpp"

namespace passerelle::venues {

/// One page of a listing.
struct ListQuery {
  std::vector<std::pair<std::string, std::string>> equals;    // field = value
  std::vector<std::pair<std::string, std::string>> contains;  // list field : value
  std::string order_field = "name";  // name | nom | create_time | update_time
  bool descending = false;
  bool show_withdrawn = false;
  int page_size = 50;
  std::string after;    // cursor: the sort key and id of the last row of the previous page
  std::string binding;  // the request's parameters, which its page tokens are bound to
};

struct ListPage {
  std::vector<standard::Venue> venues;
  std::string next_cursor;      // empty on the last page
  std::string next_page_token;  // the cursor sealed for the client (set by the registry)
};

/// What an idempotent write is: its method and a digest of its content (AIP-155). A request id
/// seen again from the same caller with the same fingerprint is a retry; with another, a
/// mistake. Request ids are the caller's own: another caller's same id is another request.
struct RequestKey {
  std::string id;           // the client's request_id (empty: not idempotent)
  std::string caller;       // whose id it is: the gateway's key id, "" for internal callers
  std::string method;       // e.g. UpdateVenue
  std::string fingerprint;  // digest of the request's content
};

/// Per-row result of a batch upsert.
struct RowResult {
  enum class Outcome { kCreated, kUpdated, kUnchanged, kRejected };
  Outcome outcome = Outcome::kRejected;
  std::string source_id;
  std::string id;
  std::vector<standard::Violation> violations;
  std::vector<std::string> changed_fields;
  /// Stored rows: what will be read otherwise (rule `horaires`: hours not understood).
  std::vector<standard::Violation> warnings;
  /// The venue as stored (created or updated rows), for the search index.
  std::optional<standard::Venue> stored;
};

/// What a source's change does to a field edited locally.
enum class ConflictPolicy {
  kSourceWins,  // the new value replaces the local one, whose mark goes
  kLocalWins,   // the local value stays, still marked
};
std::string_view ConflictPolicyName(ConflictPolicy policy);  // source_wins | local_wins
std::optional<ConflictPolicy> ParseConflictPolicy(std::string_view name);

/// A producer that writes venues in batches (`sources/{id}`).
struct SourceRecord {
  std::string id;
  std::string display_name;
  absl::Time create_time = absl::UnixEpoch();
  ConflictPolicy conflict_policy = ConflictPolicy::kSourceWins;

  std::string Name() const { return "sources/" + id; }
};

/// A source changed a field edited locally (values: nullopt when the field was absent).
struct ConflictRecord {
  int64_t id = 0;
  std::string venue_id;
  std::string source;
  std::string field;
  std::optional<std::vector<std::string>> local_value, previous_source_value, new_source_value;
  ConflictPolicy policy = ConflictPolicy::kSourceWins;
  absl::Time create_time = absl::UnixEpoch();

  std::string Name() const { return absl::StrCat("venues/", venue_id, "/conflicts/", id); }
};

/// What a source's row does to the standard fields of a venue edited locally (`current`, as
/// stored; `next` holds the row's record and is changed in place): a field whose source value
/// did not change keeps its local value; one the source changed to the local value is the
/// source's again (its mark goes); one the source changed otherwise is a conflict, added to
/// `conflicts` and settled by `policy`. Values compare as sets, and a position (latitude and
/// longitude) is settled as a whole.
void MergeLocalEdits(const standard::Venue& current, ConflictPolicy policy, standard::Venue& next,
                     std::vector<ConflictRecord>& conflicts);

/// Builds the event announcing a change (given the venue after it and its changed fields).
using EventFactory = std::function<events::v1::Event(const standard::Venue& after,
                                                     const std::vector<std::string>& changed)>;

class Repository {
 public:
  virtual ~Repository() = default;
  virtual absl::StatusOr<standard::Venue> Get(const std::string& id) = 0;
  /// The request an earlier write with this id was, and the venue it produced, if any.
  struct SeenRequest {
    RequestKey key;
    std::string venue_id;
  };
  virtual absl::StatusOr<std::optional<SeenRequest>> FindRequest(const std::string& caller,
                                                                 const std::string& request_id) = 0;
  /// Inserts the venue (id assigned here) and its event; ALREADY_EXISTS on (source, source_id).
  virtual absl::StatusOr<standard::Venue> Insert(const standard::Venue& venue,
                                                 const EventFactory& event,
                                                 const RequestKey& request) = 0;
  /// Locks, checks the revision (0: none), applies `change`, and saves with its event when
  /// something changed.
  virtual absl::StatusOr<standard::Venue> Update(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(standard::Venue&)>& change, const EventFactory& event,
      const RequestKey& request) = 0;
  virtual absl::StatusOr<ListPage> List(const ListQuery& query) = 0;
  /// Where a reader of the change feed stands: the transactions its last read could not see
  /// (those that had not started, from `next_xid` on, and those still `running`).
  /// The default cursor (next_xid 0) reads every venue.
  struct ChangeCursor {
    uint64_t next_xid = 0;
    std::vector<uint64_t> running;
  };
  /// Venues (withdrawn included) written by the transactions `cursor` could not see, and the
  /// cursor for the next read: a committed write is never missed, and one already read is not
  /// read again, even while a long transaction keeps running.
  struct Changes {
    std::vector<standard::Venue> venues;
    ChangeCursor cursor;
  };
  /// `known`, when given, tells which (id, revision) the reader already holds: those are left
  /// out of `venues` without their records being read (a replica's own writes, a bulk load's).
  using KnownRevision = std::function<bool(const std::string& id, int revision)>;
  virtual absl::StatusOr<Changes> ChangedSince(const ChangeCursor& cursor,
                                               const KnownRevision& known = {}) = 0;
  /// Replaces a layer's areas and recomputes every venue's `areas` in one transaction;
  /// the number of venues changed.
  /// Nothing is committed once `deadline` is near (DEADLINE_EXCEEDED).
  virtual absl::StatusOr<int> ReplaceAreaLayer(const std::string& layer, const std::string& title,
                                               const std::vector<AreaFeature>& areas,
                                               const EventFactory& updated,
                                               absl::Time deadline = absl::InfiniteFuture()) = 0;
  /// A box in degrees WGS84.
  struct Box {
    double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;
  };
  struct AreaLayerRecord {
    std::string layer, title;
    absl::Time update_time = absl::UnixEpoch();
    int area_count = 0;
    std::optional<Box> extent;  // none without areas
  };
  /// At most `limit` layers whose ids sort after `after`, by id.
  virtual absl::StatusOr<std::vector<AreaLayerRecord>> ListAreaLayers(const std::string& after,
                                                                      int limit) = 0;
  /// NOT_FOUND when the layer does not exist.
  virtual absl::StatusOr<AreaLayerRecord> GetAreaLayer(const std::string& layer) = 0;
  struct AreaCount {
    std::string code, label;
    int venues = 0;
    std::string geometry_json;  // GeoJSON MultiPolygon (with `geometry` asked only)
    Box extent;                 // (with `geometry` asked only)
  };
  struct AreaQuery {
    std::string layer;
    bool geometry = false;      // fill geometry_json and extent
    std::optional<Box> within;  // areas intersecting it (min_lon > max_lon: across ±180°)
    std::string after;          // codes after this one (forward pages)
    std::string before;         // codes before this one, the last `limit` of them (backward)
    std::string code;           // only this area (when not empty)
    int limit = 100;
  };
  struct AreaPage {
    std::vector<AreaCount> areas;  // by code
    int total = 0;                 // areas matching `layer` and `within`
    int preceding = 0;             // of those, how many sort before the page's first
  };
  /// NOT_FOUND when the layer does not exist.
  virtual absl::StatusOr<AreaPage> ListAreas(const AreaQuery& query) = 0;
  /// Those of `items` that no published referential version offers (unknown or retired);
  /// none while no version has been received yet.
  virtual absl::StatusOr<std::vector<std::string>> UnknownItems(
      const std::vector<std::string>& items) = 0;
  /// Those of `keys` (`{layer}:{code}`) that name no area of any layer.
  virtual absl::StatusOr<std::vector<std::string>> UnknownAreas(
      const std::vector<std::string>& keys) = 0;
  /// Those of `ids` that no organisation has.
  virtual absl::StatusOr<std::vector<std::string>> UnknownOrganisations(
      const std::vector<std::string>& ids) = 0;
  /// Creates or updates valid rows by (source, source_id) in one transaction; rows whose
  /// content is unchanged write nothing. Local fields (owner when the row names none,
  /// referential items, #APTIC acceptance) of existing venues are never changed; standard fields
  /// edited locally keep their value unless the source changes that very field: then a conflict
  /// is recorded and the source's conflict policy applies. `rows` are already validated. With
  /// `reinstate`, withdrawn venues of these rows become active again (`state` among the changed
  /// fields). Nothing is committed once `deadline` has passed: DEADLINE_EXCEEDED, and no row
  /// written.
  virtual absl::StatusOr<std::vector<RowResult>> Upsert(
      const std::string& source, const std::vector<standard::Venue>& rows,
      const EventFactory& created, const EventFactory& updated, bool reinstate = false,
      absl::Time deadline = absl::InfiniteFuture()) = 0;
  struct ConflictQuery {
    std::string venue_id;  // empty: every venue
    std::string source;    // empty: every source
    int64_t before = 0;    // ids below this one (0: from the newest)
    int limit = 50;
  };
  /// Conflicts by id, newest first.
  virtual absl::StatusOr<std::vector<ConflictRecord>> ListConflicts(const ConflictQuery& query) = 0;
  /// Registers a source; ALREADY_EXISTS (the stored one unchanged) when its id is taken.
  virtual absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) = 0;
  /// NOT_FOUND when no source has this id.
  virtual absl::StatusOr<SourceRecord> GetSource(const std::string& id) = 0;
  /// At most `limit` sources whose ids sort after `after`, by id.
  virtual absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                                int limit) = 0;
};

class Registry {
 public:
  /// `clock` dates the events; deadlines stay on the system's time, as the caller's are.
  Registry(const standard::Standard& standard, Repository& repo, const api::PageTokens& tokens,
           const clocks::Clock& clock = clocks::System())
      : standard_(standard), repo_(repo), tokens_(tokens), clock_(clock), index_(standard) {}

  /// Reads the venue from the store.
  absl::StatusOr<standard::Venue> Get(const std::string& name);
  /// GetVenue served from memory: an active venue as the search index holds it, its API message
  /// serialized from the same stored row (the same bytes `ToProto` of a store read gives for
  /// that revision), or nullptr when the index has no active venue by that name (withdrawn,
  /// unknown, or a malformed name): then Get reads the store. This replica's own writes are
  /// indexed before they are answered; other replicas' arrive with the next refresh.
  std::shared_ptr<const IndexedVenue> FindIndexed(const std::string& name) const;
  /// Most venues in one BatchUpsertVenues call.
  static constexpr size_t kMaxBatch = 2000;
  /// Most code points of an area layer's title, and of the property names it reads codes and
  /// names from.
  static constexpr size_t kMaxLayerTitle = 200;
  static constexpr size_t kMaxPropertyName = 100;

  /// `acting`, in every write: the organisation the caller acts for (the gateway's
  /// `x-passerelle-organisation` on an organisation key's writes), nullopt for internal and
  /// admin callers, whose writes are not checked. A caller acting for an organisation writes
  /// only the venues it owns: PERMISSION_DENIED with reason NOT_OWNER otherwise.
  ///
  /// With `acting`, the venue's owner is that organisation: set when the message names none,
  /// NOT_OWNER when it names another.
  ///
  /// `caller`, in every idempotent write: whose `request_id` it is (the gateway's key id, ""
  /// for internal callers). A caller's request ids are its own: another caller's same id is
  /// neither refused as reused nor answered with the first caller's venue.
  absl::StatusOr<standard::Venue> Create(const v1::Venue& message, const std::string& request_id,
                                         const std::optional<std::string>& acting = std::nullopt,
                                         const std::string& caller = "");
  /// With `acting`, the stored venue's owner must be that organisation, checked in the
  /// transaction that writes (under the row's lock, as the etag), and the owner cannot change:
  /// NOT_OWNER for a mask naming `owner_organisation` or a replacement naming another owner.
  absl::StatusOr<standard::Venue> Update(const v1::Venue& message,
                                         const std::vector<std::string>& mask,
                                         const std::string& request_id,
                                         const std::optional<std::string>& acting = std::nullopt,
                                         const std::string& caller = "");
  /// With `acting`, the stored venue's owner must be that organisation, as for Update.
  absl::StatusOr<standard::Venue> Withdraw(const std::string& name, const std::string& reason,
                                           const std::string& etag, const std::string& request_id,
                                           const std::optional<std::string>& acting = std::nullopt,
                                           const std::string& caller = "");
  /// Batch writes (BatchUpsert, Import) are for partner and admin keys bound to sources:
  /// PERMISSION_DENIED (reason BATCH_WRITE_NOT_ALLOWED) for a caller acting for an
  /// organisation. Public so that a handler refuses an import before reading its stream.
  static absl::Status CheckBatchWriter(const std::optional<std::string>& acting);
  /// Parses the AIP-160 filter subset and the order; INVALID_ARGUMENT names what is wrong.
  absl::StatusOr<ListQuery> ParseListQuery(const std::string& filter, const std::string& order_by,
                                           int page_size, const std::string& page_token,
                                           bool show_withdrawn) const;
  /// A page, with its next page token sealed for the query's parameters.
  absl::StatusOr<ListPage> List(const ListQuery& query);
  /// Nothing is committed after `deadline` (the caller's gRPC deadline).
  ///
  /// Owners are set by administrators and by each organisation for itself: without
  /// `may_name_owner` (a partner key's batch), a row naming an `owner_organisation` is rejected
  /// (rule `permission`, field `owner_organisation`) and the other rows land; a row naming none
  /// keeps the stored venue's owner.
  absl::StatusOr<std::vector<RowResult>> BatchUpsert(
      const std::string& source, const std::vector<v1::Venue>& rows,
      bool reinstate_withdrawn = false, absl::Time deadline = absl::InfiniteFuture(),
      const std::optional<std::string>& acting = std::nullopt, bool may_name_owner = true);

  const standard::Standard& standard() const { return standard_; }

  /// Registers a batch source (`passerelle` is reserved); its create time is the clock's.
  /// `conflict_policy`: the API's enum number (0: source wins); another number is
  /// INVALID_ARGUMENT on `source.conflict_policy`.
  absl::StatusOr<SourceRecord> CreateSource(const std::string& source_id,
                                            const std::string& display_name,
                                            int conflict_policy = 0);
  /// Gives `fields` (standard fields edited locally) back to the venue's source: each takes the
  /// value the source last sent and loses its mark. Checks as Update (owner, etag, request id).
  absl::StatusOr<standard::Venue> RestoreSourceFields(
      const std::string& name, const std::vector<std::string>& fields, const std::string& etag,
      const std::string& request_id, const std::optional<std::string>& acting = std::nullopt,
      const std::string& caller = "");
  struct ConflictPage {
    std::vector<ConflictRecord> conflicts;
    std::string next_page_token;
  };
  /// Conflicts of `venues/{venue}` or `venues/-` (all), newest first; `filter` empty or
  /// `source = "<id>"`; `page_size` 0 meaning 50, capped at 1,000; sealed page tokens.
  absl::StatusOr<ConflictPage> ListConflicts(const std::string& parent, int page_size,
                                             const std::string& page_token,
                                             const std::string& filter);
  /// `sources/{source}`.
  absl::StatusOr<SourceRecord> GetSource(const std::string& name);
  struct SourcePage {
    std::vector<SourceRecord> sources;
    std::string next_page_token;
  };
  /// Sources by id, `page_size` 0 meaning 100 and capped at 1,000, with sealed page tokens.
  absl::StatusOr<SourcePage> ListSources(int page_size, const std::string& page_token);

  /// Creates or replaces an area layer and recomputes venues' areas; venues changed.
  absl::StatusOr<int> ImportAreaLayer(const std::string& layer, const std::string& title,
                                      std::string_view geojson, std::string code_property,
                                      std::string name_property,
                                      absl::Time deadline = absl::InfiniteFuture());
  struct AreaListing {
    std::string layer;
    bool full = false;  // the FULL view (geometry and extent)
    std::optional<Repository::Box> within;
    int page_size = 0;
    std::string page_token;
    std::string binding;  // the request's parameters, which its page tokens are bound to
  };
  struct AreaResult {
    Repository::AreaPage page;
    std::string next_page_token, previous_page_token;
  };
  /// The areas of `areaLayers/{layer}` (`parent`) by code, in pages of `page_size` (0: 1,000
  /// without geometry, 100 with; capped at these), with sealed tokens both ways.
  absl::StatusOr<AreaResult> ListAreas(const std::string& parent, AreaListing listing);
  /// `areaLayers/{layer}/areas/{code}` with its geometry; NOT_FOUND (AREA_NOT_FOUND) when
  /// the layer has no such area.
  absl::StatusOr<Repository::AreaCount> GetArea(const std::string& name);
  /// `areaLayers/{layer}`, `field` naming the request field for errors.
  absl::StatusOr<Repository::AreaLayerRecord> GetAreaLayer(const std::string& name,
                                                           const std::string& field = "name");
  struct AreaLayerPage {
    std::vector<Repository::AreaLayerRecord> layers;
    std::string next_page_token;
  };
  /// Layers by id, `page_size` 0 meaning 100 and capped at 1,000.
  absl::StatusOr<AreaLayerPage> ListAreaLayers(int page_size, const std::string& page_token);

  struct ImportReport {
    int rows = 0, created = 0, updated = 0, unchanged = 0;
    std::vector<standard::ParsedFile::Rejected> rejected;
    std::vector<std::string> ignored_columns;
    std::vector<std::string> normalisations;
    std::vector<standard::ParsedFile::Warning> warnings;
  };
  /// Reads a national CSV and upserts its valid rows by (source, id), 500 per transaction.
  /// Stops at the deadline: no batch is committed once it is near; the batches committed
  /// before stay (importing the same file again completes it, each row once).
  absl::StatusOr<ImportReport> Import(const std::string& source, std::string_view csv_text,
                                      absl::Time deadline = absl::InfiniteFuture(),
                                      const std::optional<std::string>& acting = std::nullopt);

  /// Loads every venue into the search index (at start).
  absl::Status LoadIndex();
  /// Picks up changes other replicas made since the last call (run as their commits are
  /// notified, and every second).
  absl::Status RefreshIndex();
  /// Searches the in-memory index; `page_token` from a previous response.
  struct SearchResult {
    std::vector<SearchHit> hits;
    size_t total = 0;
    size_t unknown_hours = 0;  // left out by open_at: hours unknown then
    std::string next_page_token;
    std::string previous_page_token;
  };
  /// `request_parameters`: the request without its page token and size, which the token is
  /// bound to.
  absl::StatusOr<SearchResult> Search(SearchQuery query, const std::string& request_parameters,
                                      const std::string& page_token) const;
  const SearchIndex& index() const { return index_; }
  /// When this replica last committed a write of venues (the epoch before its first): duplicate
  /// detection waits for writes to pause, so that a bulk load's batches do not share the CPU
  /// with it.
  absl::Time LastWrite() const { return absl::FromUnixNanos(last_write_ns_.load()); }

  /// The event factory for venue.updated (for writes made outside the registry's methods,
  /// such as the referential consumer's).
  EventFactory CreatedEvents() const {
    return [this](const standard::Venue& v, const std::vector<std::string>&) {
      return MakeVenueEvent(VenueEvent::kCreated, v, {});
    };
  }
  EventFactory UpdatedEvents() const {
    return [this](const standard::Venue& v, const std::vector<std::string>& changed) {
      return MakeVenueEvent(VenueEvent::kUpdated, v, changed);
    };
  }

 private:
  /// OK when `source` is a valid id of a registered source: INVALID_ARGUMENT for a bad id,
  /// FAILED_PRECONDITION (SOURCE_NOT_FOUND) for one nobody registered.
  absl::Status CheckWritableSource(const std::string& source);
  /// Row violations for referential items that no published version offers, per item name.
  absl::StatusOr<std::set<std::string>> UnknownItemsOf(const std::vector<const v1::Venue*>& rows);
  /// The rows' owner organisations that no organisation has (well-formed ids only).
  absl::StatusOr<std::set<std::string>> UnknownOwnersOf(const std::vector<const v1::Venue*>& rows);
  /// What a message refers to that does not exist, read before any transaction.
  struct Unknown {
    std::set<std::string> items;   // referential items no published version offers
    std::set<std::string> owners;  // owner organisations no organisation has
  };
  absl::StatusOr<Unknown> UnknownOf(const v1::Venue& message);
  /// Validates a message's standard fields into `venue`; the violations as a BadRequest.
  /// The owner is checked when `check_owner` (a new value: one stored before organisations
  /// existed is kept as it is).
  absl::Status Fill(const v1::Venue& message, const std::string& path_prefix,
                    const Unknown& unknown, bool check_owner, standard::Venue* venue);
  enum class VenueEvent { kCreated, kUpdated, kWithdrawn };
  events::v1::Event MakeVenueEvent(VenueEvent kind, const standard::Venue& v,
                                   const std::vector<std::string>& changed) const;

  /// The venue an earlier write with this request id produced, if it was the same request;
  /// INVALID_ARGUMENT when the id was used for another method or content.
  absl::StatusOr<std::optional<standard::Venue>> Replay(const RequestKey& request);
  /// A failed write whose request id another copy of the same request used meanwhile: that
  /// copy's result (concurrent true retries all get the first result).
  absl::StatusOr<standard::Venue> Settle(const RequestKey& key,
                                         absl::StatusOr<standard::Venue> result);
  /// Violations for the `areas` filter values (`{layer}:{code}`) that name no area: a typo in a
  /// code is a mistake to report, not a filter matching nothing. Areas found are remembered for
  /// kKnownAreaTtl (layers change rarely); the store is only asked about the others.
  void CheckAreas(const std::vector<std::string>& keys,
                  std::vector<api::FieldViolation>* bad) const;
  /// Puts stored rows of a batch into the index.
  void IndexRows(const std::vector<RowResult>& rows);
  /// Puts the outcome of a successful write into the index.
  absl::StatusOr<standard::Venue> Indexed(absl::StatusOr<standard::Venue> v);

  const standard::Standard& standard_;
  Repository& repo_;
  const api::PageTokens& tokens_;
  const clocks::Clock& clock_;
  SearchIndex index_;
  std::atomic<int64_t> last_write_ns_{0};
  /// One refresh at a time (the periodic one and ImportAreaLayer's): the cursor is theirs.
  std::mutex refresh_mu_;
  Repository::ChangeCursor refresh_cursor_;
  /// Areas CheckAreas found, with when; emptied when this replica imports a layer. Another
  /// replica's import that removes a code is seen here after kKnownAreaTtl at most.
  static constexpr absl::Duration kKnownAreaTtl = absl::Minutes(1);
  mutable std::mutex known_areas_mu_;
  mutable absl::flat_hash_map<std::string, absl::Time> known_areas_;
};

}  // namespace passerelle::venues
