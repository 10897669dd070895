// Venue storage in PostgreSQL + PostGIS.
#include "services/venues/store.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/events.pb.h"
#include "services/venues/change_feed.hpp"

namespace passerelle::venues {
namespace {

// The columns a venue is read from, each qualified with `table` ("" or "v."): a statement whose
// FROM also names a column such as `record` returns the venue's own.
std::string ColumnsOf(std::string_view table) {
  const std::string t(table);
  return absl::StrCat(t, "id::text, ", t, "source, ", t, "source_id, ", t, "record::text, ", t,
                      "owner_organisation, array_to_json(", t, "referential_items)::text, ", t,
                      "accepts_aptic_pass, array_to_json(", t, "areas)::text, ", t, "state, ", t,
                      "withdrawal_reason, ", t, "revision, extract(epoch FROM ", t,
                      "create_time), extract(epoch FROM ", t, "update_time), extract(epoch FROM ",
                      t, "first_seen_time), extract(epoch FROM ", t, "last_seen_time), coalesce(",
                      t, "duplicate_of::text, ''), CASE WHEN ", t,
                      "source_record IS NOT NULL THEN ", t, "source_record::text WHEN ", t,
                      "source <> 'passerelle' THEN '=' END, ", t, "local_fields::text");
}
const std::string kColumns = ColumnsOf("");
const std::string kColumnsOfV = ColumnsOf("v.");
// Columns after kColumns (e.g. a list's sort key) start here.
constexpr int kColumnCount = 18;

// Local edits as stored: {"<field>": {"us": <unix microseconds>, "by": "<who>"}}.
nlohmann::json LocalFieldsJson(const std::map<std::string, standard::LocalEdit>& fields) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [field, edit] : fields) {
    out[field] = {{"us", absl::ToUnixMicros(edit.time)}, {"by", edit.by}};
  }
  return out;
}

std::map<std::string, standard::LocalEdit> LocalFieldsFrom(const char* text) {
  std::map<std::string, standard::LocalEdit> out;
  const nlohmann::json stored = nlohmann::json::parse(text);  // outlives the loop's proxy
  for (const auto& [field, edit] : stored.items()) {
    out[field] = {absl::FromUnixMicros(edit.at("us").get<int64_t>()),
                  edit.at("by").get<std::string>()};
  }
  return out;
}

standard::Venue FromRow(const pqxx::row& r) {
  standard::Venue v;
  v.id = r[0].as<std::string>();
  v.source = r[1].as<std::string>();
  v.source_id = r[2].as<std::string>();
  v.standard = nlohmann::json::parse(r[3].c_str()).get<standard::Record>();
  v.owner_organisation = r[4].as<std::string>();
  v.referential_items = nlohmann::json::parse(r[5].c_str()).get<std::vector<std::string>>();
  v.accepts_aptic_pass = r[6].as<bool>();
  v.areas = nlohmann::json::parse(r[7].c_str()).get<std::vector<std::string>>();
  v.withdrawn = r[8].as<std::string>() == "withdrawn";
  v.withdrawal_reason = r[9].as<std::string>();
  v.revision = r[10].as<int>();
  v.create_time = db::FromEpoch(r[11]);
  v.update_time = db::FromEpoch(r[12]);
  v.first_seen_time = db::FromEpoch(r[13]);
  v.last_seen_time = db::FromEpoch(r[14]);
  v.duplicate_of = r[15].as<std::string>();
  // Stored NULL when the source's record is the venue's (migration 0013), read as "=".
  if (!r[16].is_null()) {
    v.source_record = std::string_view(r[16].c_str()) == "="
                          ? v.standard
                          : nlohmann::json::parse(r[16].c_str()).get<standard::Record>();
  }
  v.local_fields = LocalFieldsFrom(r[17].c_str());
  return v;
}

std::optional<standard::Venue> Select(pqxx::work& tx, const std::string& where,
                                      const std::string& a, const std::string& b, bool lock) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kColumns, " FROM venues WHERE ", where, lock ? " FOR UPDATE" : ""), a,
      b);
  if (rows.empty()) return std::nullopt;
  return FromRow(rows[0]);
}

// The areas a venue's point falls in, as `<layer>:<code>`, sorted.
constexpr char kAreasOf[] =
    "coalesce((SELECT array_agg(a.layer || ':' || a.code ORDER BY a.layer, a.code) FROM areas a "
    "WHERE v.geog IS NOT NULL AND ST_Intersects(a.geom, v.geog::geometry)), '{}')";

// The inserted venue, or nullopt when (source, source_id) is taken. Database errors propagate
// as pqxx exceptions to RunInTransaction, which retries or reports them with their cause.
std::optional<standard::Venue> InsertRow(pqxx::work& tx, const standard::Venue& v) {
  auto r = tx.exec_params(
      absl::StrCat("INSERT INTO venues (id, source, source_id, record, owner_organisation, "
                   "referential_items, accepts_aptic_pass, areas) VALUES (gen_random_uuid(), $1, "
                   "$2, $3::jsonb, $4, $5::text[], $6, venue_areas($3::jsonb)) "
                   "ON CONFLICT (source, source_id) DO NOTHING RETURNING ",
                   kColumns),
      v.source, v.source_id, nlohmann::json(v.standard).dump(), v.owner_organisation,
      db::TextArray(v.referential_items), v.accepts_aptic_pass);
  if (r.empty()) return std::nullopt;
  return FromRow(r[0]);
}

// `source_record` as stored: NULL (here "") when there is none or it is the venue's record.
std::string SourceRecordText(const standard::Venue& v) {
  if (!v.source_record || *v.source_record == v.standard) return "";
  return nlohmann::json(*v.source_record).dump();
}

standard::Venue SaveRow(pqxx::work& tx, const standard::Venue& v) {
  auto r = tx.exec_params(
      absl::StrCat("UPDATE venues SET record = $2::jsonb, areas = venue_areas($2::jsonb), "
                   "owner_organisation = $3, referential_items = $4::text[], "
                   "accepts_aptic_pass = $5, state = $6, withdrawal_reason = $7, "
                   "local_fields = $8::jsonb, source_record = nullif($9, '')::jsonb, "
                   "revision = revision + 1, update_time = now(), last_seen_time = now() "
                   "WHERE id = $1::uuid RETURNING ",
                   kColumns),
      v.id, nlohmann::json(v.standard).dump(), v.owner_organisation,
      db::TextArray(v.referential_items), v.accepts_aptic_pass,
      v.withdrawn ? "withdrawn" : "active", v.withdrawal_reason,
      LocalFieldsJson(v.local_fields).dump(), SourceRecordText(v));
  return FromRow(r[0]);
}

void Remember(pqxx::work& tx, const RequestKey& request, const std::string& id) {
  if (request.id.empty()) return;
  tx.exec_params(
      "INSERT INTO venue_requests (caller, request_id, venue_id, method, fingerprint) "
      "VALUES ($1, $2, $3::uuid, $4, $5) ON CONFLICT DO NOTHING",
      request.caller, request.id, id, request.method, request.fingerprint);
}

// Whether a transaction may still commit before the caller's deadline. The commit and the
// answer take time too: with less than 100 ms left the work is rolled back, so that
// DEADLINE_EXCEEDED means nothing was written. (A commit that itself outlasts the margin can
// still land after the deadline: every batch write is idempotent by (source, id), so sending
// the same batch again settles it, each row UNCHANGED if it had landed.)
absl::Status CommitAllowed(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return absl::OkStatus();
  if (absl::Now() + absl::Milliseconds(100) >= deadline) {
    return absl::DeadlineExceededError("deadline too near to commit; nothing was written");
  }
  return absl::OkStatus();
}

absl::Status NotFound(const std::string& id) { return api::NotFound("venues/" + id); }

// A venue.updated event also says what matching needs from before the change (its areas, items
// and owner), so a subscriber to an area hears of a venue that left it.
events::v1::Event WithPrevious(events::v1::Event event, const std::vector<std::string>& areas,
                               const std::vector<std::string>& items, const std::string& owner) {
  v1::VenueUpdated p;
  if (event.type() != "venue.updated" || !event.payload().UnpackTo(&p)) return event;
  p.mutable_previous_areas()->Assign(areas.begin(), areas.end());
  p.mutable_previous_referential_items()->Assign(items.begin(), items.end());
  p.set_previous_owner_organisation(owner);
  event.mutable_payload()->PackFrom(p);
  return event;
}
// With the whole venue before the change too (the standard is the one the registry serves).
events::v1::Event WithPrevious(events::v1::Event event, const standard::Venue& before) {
  event = WithPrevious(std::move(event), before.areas, before.referential_items,
                       before.owner_organisation);
  v1::VenueUpdated p;
  if (event.type() != "venue.updated" || !event.payload().UnpackTo(&p)) return event;
  standard::ToProto(standard::Standard::V102(), before, p.mutable_previous_venue());
  event.mutable_payload()->PackFrom(p);
  return event;
}

// Sets `duplicate_of` (empty: clears it) on the venues `where` selects (parameters $1 and $2),
// locked in id order, each with its venue.updated event: a venue hidden as another's duplicate,
// or back from it, leaves or re-enters what the consumers of venue events count. The venues as
// stored after.
std::vector<standard::Venue> SetDuplicateOfWhere(pqxx::work& tx, const events::Topology& topology,
                                                 const std::string& where, const std::string& a,
                                                 const std::string& b,
                                                 const std::string& duplicate_of, absl::Time now,
                                                 const EventFactory& updated) {
  std::vector<standard::Venue> out;
  std::vector<events::v1::Event> events;
  for (const auto& row : tx.exec_params(absl::StrCat("SELECT ", kColumns, " FROM venues WHERE ",
                                                     where, " ORDER BY id FOR UPDATE"),
                                        a, b)) {
    const standard::Venue before = FromRow(row);
    auto r = tx.exec_params(absl::StrCat("UPDATE venues SET duplicate_of = nullif($2, '')::uuid, "
                                         "revision = revision + 1, update_time = $3::timestamptz "
                                         "WHERE id = $1::uuid RETURNING ",
                                         kColumns),
                            before.id, duplicate_of, db::Timestamp(now));
    out.push_back(FromRow(r[0]));
    events.push_back(WithPrevious(updated(out.back(), {"duplicate_of"}), before));
  }
  if (!events.empty()) outbox::Append(tx, topology, events);
  return out;
}

}  // namespace

absl::StatusOr<standard::Venue> PgStore::Get(const std::string& id) {
  if (!api::IsCanonicalUuid(id)) return NotFound(id);
  std::optional<standard::Venue> v;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    v = Select(tx, "id = $1::uuid AND $2 = ''", id, "", false);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!v) return NotFound(id);
  return *v;
}

absl::StatusOr<std::optional<Repository::SeenRequest>> PgStore::FindRequest(
    const std::string& caller, const std::string& request_id) {
  std::optional<SeenRequest> seen;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT venue_id::text, method, fingerprint FROM venue_requests "
        "WHERE caller = $1 AND request_id = $2",
        caller, request_id);
    if (!r.empty()) {
      seen = SeenRequest{{request_id, caller, r[0][1].as<std::string>(), r[0][2].as<std::string>()},
                         r[0][0].as<std::string>()};
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return seen;
}

absl::StatusOr<standard::Venue> PgStore::Insert(const standard::Venue& venue,
                                                const EventFactory& event,
                                                const RequestKey& request) {
  standard::Venue out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    std::optional<standard::Venue> inserted = InsertRow(tx, venue);
    if (!inserted) {
      auto existing =
          Select(tx, "source = $1 AND source_id = $2", venue.source, venue.source_id, false);
      return api::WithReason(
          absl::AlreadyExistsError(absl::StrCat(
              "un lieu d'identifiant « ", text::Quote(venue.source_id, 80), " » existe déjà",
              existing ? absl::StrCat(" : ", existing->Name()) : "")),
          "VENUE_EXISTS");
    }
    out = *std::move(inserted);
    outbox::Append(tx, topology_, event(out, {}));
    Remember(tx, request, out.id);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (wake_) wake_();  // the relay publishes the event now, not at its next poll
  return out;
}

absl::StatusOr<standard::Venue> PgStore::Update(
    const std::string& id, int expected_revision,
    const std::function<absl::Status(standard::Venue&)>& change, const EventFactory& event,
    const RequestKey& request) {
  if (!api::IsCanonicalUuid(id)) return NotFound(id);
  standard::Venue out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto current = Select(tx, "id = $1::uuid AND $2 = ''", id, "", true);
    if (!current) return NotFound(id);
    if (expected_revision != 0 && current->revision != expected_revision) {
      return api::WithReason(
          absl::AbortedError(absl::StrCat("etag périmé : ", current->Name(),
                                          " a changé depuis sa lecture (maintenant ",
                                          ETag(*current), ") ; relisez-le")),
          "ETAG_MISMATCH");
    }
    standard::Venue next = *current;
    if (absl::Status s = change(next); !s.ok()) return s;
    std::vector<std::string> changed = ChangedFields(*current, next);
    if (next.withdrawn != current->withdrawn) changed.push_back("state");
    if (changed.empty() && next.local_fields == current->local_fields) {
      out = *current;  // nothing to write, no event
      return absl::OkStatus();
    }
    out = SaveRow(tx, next);
    // Only the local marks changed (a field restored whose value was the source's already):
    // the venue is written (its etag changes), but its content is the same: no event.
    if (!changed.empty()) {
      outbox::Append(tx, topology_, WithPrevious(event(out, changed), *current));
    }
    if (next.withdrawn && !current->withdrawn) {
      // The venue kept of a pair resolved SAME is withdrawn: the place stays published by the
      // other source, whose venue comes back; the resolution goes (if this venue returns, the
      // pair is detected and proposed again). Links first, then venues: the order in which
      // ResolveDuplicate takes them.
      tx.exec_params("DELETE FROM duplicate_links WHERE state = 'same' AND canonical = $1::uuid",
                     id);
      SetDuplicateOfWhere(tx, topology_, "duplicate_of = $1::uuid AND $2 = ''", id, "", "",
                          absl::Now(), event);
    }
    Remember(tx, request, out.id);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (wake_) wake_();  // the relay publishes the event now, not at its next poll
  return out;
}

absl::StatusOr<ListPage> PgStore::List(const ListQuery& q) {
  // Keyset pagination on (sort key, id): stable while rows are written, no OFFSET.
  const std::string key = q.order_field == "name"  ? "id::text"
                          : q.order_field == "nom" ? "coalesce(nom, '')"
                                                   : q.order_field;
  const std::string cmp = q.descending ? "<" : ">";
  const std::string dir = q.descending ? " DESC" : "";
  std::vector<std::string> where;
  std::vector<std::string> params;
  auto param = [&](const std::string& v) {
    params.push_back(v);
    return absl::StrCat("$", params.size());
  };
  // Venues hidden as another's duplicate (duplicates.hpp) are listed with the withdrawn ones.
  if (!q.show_withdrawn) where.push_back("state = 'active' AND duplicate_of IS NULL");
  for (const auto& [field, value] : q.equals) where.push_back(field + " = " + param(value));
  for (const auto& [field, value] : q.contains) {
    where.push_back(param(value) + " = ANY(" + field + ")");
  }
  if (!q.after.empty()) {
    std::vector<std::string> parts = absl::StrSplit(q.after, '\x1f');
    if (parts.size() == 2) {
      const std::string typed =
          q.order_field == "create_time" || q.order_field == "update_time" ? "::timestamptz" : "";
      where.push_back(absl::StrCat("(", key, ", id::text) ", cmp, " (", param(parts[0]), typed,
                                   ", ", param(parts[1]), ")"));
    }
  }
  const std::string sql =
      absl::StrCat("SELECT ", kColumns, ", ", key, "::text FROM venues",
                   where.empty() ? "" : " WHERE " + absl::StrJoin(where, " AND "), " ORDER BY ",
                   key, dir, ", id::text", dir, " LIMIT ", q.page_size + 1);
  ListPage page;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    page = {};
    auto rows = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
    const int n = std::min<int>(static_cast<int>(rows.size()), q.page_size);
    for (int i = 0; i < n; ++i) page.venues.push_back(FromRow(rows[i]));
    if (static_cast<int>(rows.size()) > q.page_size) {
      const auto& last = rows[n - 1];
      page.next_cursor =
          absl::StrCat(last[kColumnCount].as<std::string>(), "\x1f", last[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return page;
}

int PgStore::ApplyReferentialVersion(pqxx::work& tx,
                                     const referential::v1::VersionPublished& version,
                                     const EventFactory& updated) {
  // What venues may reference from now on: every item the version offers, not those it retired.
  std::vector<std::string> offered(version.items_added().begin(), version.items_added().end());
  for (const auto& m : version.code_mapping()) {
    if (!m.new_code().empty()) offered.push_back(m.item());
  }
  std::vector<std::string> retired(version.items_retired().begin(), version.items_retired().end());
  tx.exec_params(
      "INSERT INTO referential_items (item, retired, version) "
      "SELECT DISTINCT i, false, $2 FROM unnest($1::text[]) AS i "
      "ON CONFLICT (item) DO UPDATE SET retired = false, version = EXCLUDED.version",
      db::TextArray(offered), version.version());
  tx.exec_params(
      "INSERT INTO referential_items (item, retired, version) "
      "SELECT DISTINCT i, true, $2 FROM unnest($1::text[]) AS i "
      "ON CONFLICT (item) DO UPDATE SET retired = true, version = EXCLUDED.version",
      db::TextArray(retired), version.version());
  if (retired.empty()) return 0;
  const std::string list = db::TextArray(retired);
  int changed = 0;
  for (const auto& row :
       tx.exec_params(absl::StrCat("UPDATE venues SET referential_items = ARRAY(SELECT i FROM "
                                   "unnest(referential_items) AS i WHERE i <> ALL($1::text[])), "
                                   "revision = revision + 1, update_time = now() "
                                   "WHERE referential_items && $1::text[] RETURNING ",
                                   kColumns),
                      list)) {
    outbox::Append(tx, topology_, updated(FromRow(row), {"referential_items"}));
    ++changed;
  }
  return changed;
}

namespace {

// Those of `values` that `sql` (values as $1, one text[]; a row per value it selects) calls
// missing, read in one transaction.
absl::StatusOr<std::vector<std::string>> Missing(db::Pool& pool, const char* sql,
                                                 const std::vector<std::string>& values) {
  std::vector<std::string> missing;
  absl::Status st = db::RunInTransaction(pool, [&](pqxx::work& tx) {
    missing.clear();
    for (const auto& row : tx.exec_params(sql, db::TextArray(values))) {
      missing.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return missing;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PgStore::UnknownItems(
    const std::vector<std::string>& items) {
  return Missing(pool_,
                 "SELECT i FROM unnest($1::text[]) AS i "
                 "WHERE EXISTS (SELECT 1 FROM referential_items) AND NOT EXISTS "
                 "(SELECT 1 FROM referential_items r WHERE r.item = i AND NOT r.retired)",
                 items);
}

absl::StatusOr<std::vector<std::string>> PgStore::UnknownAreas(
    const std::vector<std::string>& keys) {
  // Keys have one colon (the handler's pattern): layer before it, code after.
  return Missing(
      pool_,
      "SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM areas a "
      "WHERE a.layer = split_part(k, ':', 1) AND a.code = substr(k, strpos(k, ':') + 1))",
      keys);
}

absl::StatusOr<std::vector<std::string>> PgStore::UnknownOrganisations(
    const std::vector<std::string>& ids) {
  return Missing(pool_,
                 "SELECT i FROM unnest($1::text[]) AS i WHERE NOT EXISTS "
                 "(SELECT 1 FROM organisations o WHERE o.organisation_id = i)",
                 ids);
}

absl::StatusOr<int> PgStore::ReplaceAreaLayer(const std::string& layer, const std::string& title,
                                              const std::vector<AreaFeature>& areas,
                                              const EventFactory& updated, absl::Time deadline) {
  int changed = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    changed = 0;
    tx.exec_params(
        "INSERT INTO area_layers (layer, title) VALUES ($1, $2) ON CONFLICT (layer) DO UPDATE "
        "SET title = EXCLUDED.title, update_time = now()",
        layer, title);
    tx.exec_params("DELETE FROM areas WHERE layer = $1", layer);
    for (size_t i = 0; i < areas.size(); ++i) {
      const AreaFeature& a = areas[i];
      try {
        pqxx::subtransaction sub(tx);
        sub.exec_params(
            "INSERT INTO areas (layer, code, label, geom) VALUES ($1, $2, $3, "
            "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($4), "
            "4326)), 3)))",
            layer, a.code, a.label, a.geometry_json);
        sub.commit();
      } catch (const pqxx::sql_error& e) {
        return api::InvalidArgument(
            "invalid geometry",
            {{absl::StrCat("features[", i, "].geometry"), absl::StrCat("PostGIS: ", e.what())}});
      }
    }
    for (const auto& row : tx.exec(absl::StrCat(
             "WITH computed (cid, careas, oareas) AS (SELECT v.id, ", kAreasOf,
             ", array_to_json(v.areas)::text FROM venues v) "
             "UPDATE venues SET areas = careas, revision = revision + 1, update_time = now() "
             "FROM computed WHERE id = cid AND areas IS DISTINCT FROM careas RETURNING ",
             kColumns, ", oareas"))) {
      const standard::Venue after = FromRow(row);
      outbox::Append(
          tx, topology_,
          WithPrevious(
              updated(after, {"areas"}),
              nlohmann::json::parse(row[kColumnCount].c_str()).get<std::vector<std::string>>(),
              after.referential_items, after.owner_organisation));
      ++changed;
    }
    if (absl::Status late = CommitAllowed(deadline); !late.ok()) return late;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (wake_) wake_();  // the relay publishes the event now, not at its next poll
  return changed;
}

namespace {

constexpr char kSourceColumns[] =
    "source_id, display_name, extract(epoch FROM create_time), conflict_policy";

SourceRecord SourceFromRow(const pqxx::row& row) {
  return {.id = row[0].as<std::string>(),
          .display_name = row[1].as<std::string>(),
          .create_time = db::FromEpoch(row[2]),
          .conflict_policy =
              ParseConflictPolicy(row[3].as<std::string>()).value_or(ConflictPolicy::kSourceWins)};
}

}  // namespace

absl::StatusOr<SourceRecord> PgStore::CreateSource(const SourceRecord& source) {
  SourceRecord out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO sources (source_id, display_name, create_time, conflict_policy) "
                     "VALUES ($1, $2, $3::timestamptz, $4) ON CONFLICT DO NOTHING RETURNING ",
                     kSourceColumns),
        source.id, source.display_name, db::Timestamp(source.create_time),
        std::string(ConflictPolicyName(source.conflict_policy)));
    if (r.empty()) {
      return api::AlreadyExists("sources/" + source.id, "SOURCE_EXISTS");
    }
    out = SourceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<SourceRecord> PgStore::GetSource(const std::string& id) {
  std::optional<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kSourceColumns, " FROM sources WHERE source_id = $1"), id);
    if (!r.empty()) out = SourceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return api::NotFound("sources/" + id);
  return *out;
}

absl::StatusOr<std::vector<SourceRecord>> PgStore::ListSources(const std::string& after,
                                                               int limit) {
  std::vector<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& row : tx.exec_params(
             absl::StrCat("SELECT ", kSourceColumns,
                          " FROM sources WHERE source_id > $1 ORDER BY source_id LIMIT $2"),
             after, limit)) {
      out.push_back(SourceFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

// A layer with its area count and extent (null coordinates without areas). The extent is
// computed from each geometry's exact coordinates: ST_Extent reads the boxes cached in the
// stored geometries, in single precision.
constexpr char kLayerColumns[] =
    "l.layer, l.title, extract(epoch FROM l.update_time), count(a.code), "
    "min(ST_XMin(a.geom)), min(ST_YMin(a.geom)), max(ST_XMax(a.geom)), max(ST_YMax(a.geom)) "
    "FROM area_layers l LEFT JOIN areas a ON a.layer = l.layer";

Repository::AreaLayerRecord LayerFromRow(const pqxx::row& r) {
  Repository::AreaLayerRecord out{.layer = r[0].as<std::string>(),
                                  .title = r[1].as<std::string>(),
                                  .update_time = db::FromEpoch(r[2]),
                                  .area_count = r[3].as<int>()};
  if (!r[4].is_null()) {
    out.extent = Repository::Box{.min_lon = r[4].as<double>(),
                                 .min_lat = r[5].as<double>(),
                                 .max_lon = r[6].as<double>(),
                                 .max_lat = r[7].as<double>()};
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Repository::AreaLayerRecord>> PgStore::ListAreaLayers(
    const std::string& after, int limit) {
  std::vector<AreaLayerRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& row : tx.exec_params(absl::StrCat("SELECT ", kLayerColumns,
                                                       " WHERE l.layer > $1 GROUP BY l.layer "
                                                       "ORDER BY l.layer LIMIT $2"),
                                          after, limit)) {
      out.push_back(LayerFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<Repository::AreaLayerRecord> PgStore::GetAreaLayer(const std::string& layer) {
  std::optional<AreaLayerRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.reset();
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kLayerColumns, " WHERE l.layer = $1 GROUP BY l.layer"), layer);
    if (!r.empty()) out = LayerFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) {
    return api::NotFound("areaLayers/" + layer, "AREA_LAYER_NOT_FOUND");
  }
  return *out;
}

absl::StatusOr<Repository::AreaPage> PgStore::ListAreas(const AreaQuery& query) {
  AreaPage out;
  bool exists = false;
  // $1 layer, $2 cursor code, $3 limit, $4..$7 the box (west, south, east, north) when $9,
  // $8 one area's code (GetArea) or empty. A box across the antimeridian is two envelopes.
  const std::string where =
      "a.layer = $1 AND ($8 = '' OR a.code = $8) AND (NOT $9::boolean OR CASE WHEN $4::float8 <= "
      "$6::float8 THEN "
      "ST_Intersects(a.geom, ST_MakeEnvelope($4::float8, $5::float8, $6::float8, $7::float8, "
      "4326)) ELSE "
      "ST_Intersects(a.geom, ST_MakeEnvelope($4::float8, $5::float8, 180, $7::float8, 4326)) OR "
      "ST_Intersects(a.geom, ST_MakeEnvelope(-180, $5::float8, $6::float8, $7::float8, 4326)) END)";
  const bool backward = !query.before.empty();
  const std::string cursor = backward ? query.before : query.after;
  const std::string columns = absl::StrCat(
      "a.code, a.label, (SELECT count(*) FROM venues v WHERE v.state = 'active' AND (a.layer || "
      "':' || a.code) = ANY(v.areas))",
      query.geometry ? ", ST_AsGeoJSON(a.geom), ST_XMin(a.geom), ST_YMin(a.geom), "
                       "ST_XMax(a.geom), ST_YMax(a.geom)"
                     : "");
  const std::string page_sql =
      absl::StrCat("SELECT ", columns, " FROM areas a WHERE ", where,
                   backward ? " AND a.code < $2 ORDER BY a.code DESC"
                            : " AND ($2 = '' OR a.code > $2) ORDER BY a.code",
                   " LIMIT $3");
  const Box box = query.within.value_or(Box{});
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out = {};
    exists = !tx.exec_params("SELECT 1 FROM area_layers WHERE layer = $1", query.layer).empty();
    if (!exists) return absl::OkStatus();
    auto run = [&](const std::string& sql, const std::string& code) {
      return tx.exec_params(sql, query.layer, code, query.limit, box.min_lon, box.min_lat,
                            box.max_lon, box.max_lat, query.code, query.within.has_value());
    };
    for (const auto& row : run(page_sql, cursor)) {
      AreaCount a{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>()};
      if (query.geometry) {
        a.geometry_json = row[3].as<std::string>();
        a.extent = {.min_lon = row[4].as<double>(),
                    .min_lat = row[5].as<double>(),
                    .max_lon = row[6].as<double>(),
                    .max_lat = row[7].as<double>()};
      }
      out.areas.push_back(std::move(a));
    }
    if (backward) std::reverse(out.areas.begin(), out.areas.end());
    // The counts that tell whether pages exist before and after this one (one row: the
    // LIMIT only gives $3 its type).
    const std::string first = out.areas.empty() ? "" : out.areas.front().code;
    auto counts = run(absl::StrCat("SELECT count(*), count(*) FILTER (WHERE a.code < $2) "
                                   "FROM areas a WHERE ",
                                   where, " LIMIT $3"),
                      first);
    out.total = counts[0][0].as<int>();
    out.preceding = counts[0][1].as<int>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!exists) {
    return api::NotFound("areaLayers/" + query.layer, "AREA_LAYER_NOT_FOUND");
  }
  return out;
}

absl::StatusOr<Repository::Changes> PgStore::ChangedSince(const ChangeCursor& cursor,
                                                          const KnownRevision& known) {
  Changes out;
  // One snapshot for both reads: the rows it sees, and which transactions it cannot see yet
  // (not started: from xmax on; running: its xip list). Those are the next read's.
  absl::Status st = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        out = {};
        out.cursor = change_feed::Next(tx);
        const std::string changed = change_feed::kVenuesChanged;
        const std::string from = change_feed::From(cursor), running = change_feed::Running(cursor);
        if (!known) {
          for (const auto& row :
               tx.exec_params(absl::StrCat("SELECT ", kColumns, changed, " ORDER BY change_xid"),
                              from, running)) {
            out.venues.push_back(FromRow(row));
          }
          return absl::OkStatus();
        }
        // First the ids and revisions, then the records the reader does not hold yet: during a
        // bulk load through this replica every row it reads is one it indexed at commit.
        std::vector<std::string> wanted;
        for (const auto& row :
             tx.exec_params(absl::StrCat("SELECT id::text, revision", changed), from, running)) {
          std::string id = row[0].as<std::string>();
          if (!known(id, row[1].as<int>())) wanted.push_back(std::move(id));
        }
        if (wanted.empty()) return absl::OkStatus();
        for (const auto& row : tx.exec_params(
                 absl::StrCat("SELECT ", kColumns,
                              " FROM venues WHERE id = ANY($1::uuid[]) ORDER BY change_xid"),
                 db::TextArray(wanted))) {
          out.venues.push_back(FromRow(row));
        }
        return absl::OkStatus();
      },
      {.isolation = db::Isolation::kRepeatableRead});
  if (!st.ok()) return st;
  return out;
}

namespace {

using FieldValue = std::optional<std::vector<std::string>>;  // nullopt: the field is absent

nlohmann::json ValueJson(const FieldValue& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

}  // namespace

absl::StatusOr<std::vector<RowResult>> PgStore::Upsert(const std::string& source,
                                                       const std::vector<standard::Venue>& rows,
                                                       const EventFactory& created,
                                                       const EventFactory& updated, bool reinstate,
                                                       absl::Time deadline) {
  // Set-based: one read of the batch's current rows, one insert, one update, one pass for the
  // areas and one for the events, whatever the batch size.
  std::vector<RowResult> results;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    results.assign(rows.size(), RowResult{});
    std::unordered_map<std::string, size_t> position;  // source id -> row
    std::vector<std::string> source_ids;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!position.emplace(rows[i].source_id, i).second) {
        return absl::InvalidArgumentError("source id " + rows[i].source_id + " twice in a batch");
      }
      source_ids.push_back(rows[i].source_id);
    }
    std::unordered_map<std::string, standard::Venue> current;
    bool any_local = false;
    for (const auto& row : tx.exec_params(
             absl::StrCat("SELECT ", kColumns,
                          " FROM venues WHERE source = $1 AND source_id = ANY($2::text[]) "
                          "FOR UPDATE"),
             source, db::TextArray(source_ids))) {
      standard::Venue v = FromRow(row);
      any_local = any_local || !v.local_fields.empty();
      current.emplace(v.source_id, std::move(v));
    }
    // The policy matters only to venues edited locally: batches without any read nothing more.
    ConflictPolicy policy = ConflictPolicy::kSourceWins;
    if (any_local) {
      auto p = tx.exec_params("SELECT conflict_policy FROM sources WHERE source_id = $1", source);
      if (!p.empty()) {
        policy = ParseConflictPolicy(p[0][0].as<std::string>()).value_or(policy);
      }
    }
    std::vector<ConflictRecord> conflicts;
    // New venues as parallel text arrays: PostgreSQL reads each record once (json_to_recordset
    // lexed the whole batch as json, then each record again as jsonb: 45 ms of 500 rows).
    struct Inserts {
      std::vector<std::string> source_ids, records, owners, items, aptic;
      size_t size() const { return source_ids.size(); }
      bool empty() const { return source_ids.empty(); }
    } inserts;
    nlohmann::json saves = nlohmann::json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
      const standard::Venue& row = rows[i];
      RowResult& r = results[i];
      r.source_id = row.source_id;
      auto it = current.find(row.source_id);
      if (it == current.end()) {
        r.outcome = RowResult::Outcome::kCreated;
        inserts.source_ids.push_back(row.source_id);
        inserts.records.push_back(nlohmann::json(row.standard).dump());
        inserts.owners.push_back(row.owner_organisation);
        inserts.items.push_back(db::TextArray(row.referential_items));
        inserts.aptic.push_back(row.accepts_aptic_pass ? "t" : "f");
        continue;
      }
      const standard::Venue& before = it->second;
      standard::Venue next = before;
      next.standard = row.standard;
      next.source_record = row.standard;
      // Local fields are Passerelle's: a source sets them on the venues it creates, never on
      // existing ones. A producer that names no owner (the regional source, a national CSV)
      // keeps the one set here; an administrator's batch may name one.
      if (!row.owner_organisation.empty()) next.owner_organisation = row.owner_organisation;
      const size_t conflicts_before = conflicts.size();
      if (!before.local_fields.empty()) MergeLocalEdits(before, policy, next, conflicts);
      r.id = next.id;
      r.changed_fields = ChangedFields(before, next);
      if (reinstate && next.withdrawn) {
        next.withdrawn = false;
        next.withdrawal_reason.clear();
        r.changed_fields.push_back("state");
      }
      // What the source sent, the local marks and conflicts are kept even when the venue as
      // read does not change (a conflict the local value won): written without a new revision.
      const bool bump = !r.changed_fields.empty() || next.local_fields != before.local_fields;
      if (!bump && next.source_record == before.source_record &&
          conflicts.size() == conflicts_before) {
        r.outcome = RowResult::Outcome::kUnchanged;  // nothing written, no event
        continue;
      }
      r.outcome =
          r.changed_fields.empty() ? RowResult::Outcome::kUnchanged : RowResult::Outcome::kUpdated;
      saves.push_back(
          {{"id", next.id},
           {"source_id", row.source_id},
           {"record", nlohmann::json(next.standard)},
           {"source_record",
            next.standard == row.standard ? nlohmann::json() : nlohmann::json(row.standard)},
           {"local_fields", LocalFieldsJson(next.local_fields)},
           {"bump", bump},
           {"owner_organisation", next.owner_organisation},
           {"state", next.withdrawn ? "withdrawn" : "active"},
           {"withdrawal_reason", next.withdrawal_reason}});
    }
    // The changed venues (usually few).
    constexpr char kSaves[] =
        "json_to_recordset($2::json) AS x(id uuid, source_id text, record jsonb, "
        "owner_organisation text, state text, withdrawal_reason text, source_record jsonb, "
        "local_fields jsonb, bump boolean)";
    // Each written venue as stored (its areas set by the same statement), then its event, in
    // row order.
    std::vector<std::optional<events::v1::Event>> events(rows.size());
    auto stored_row = [&](const pqxx::row& row) {
      standard::Venue stored = FromRow(row);
      const size_t at = position.at(stored.source_id);
      RowResult& r = results[at];
      r.id = stored.id;
      const auto before = current.find(stored.source_id);
      if (r.outcome == RowResult::Outcome::kCreated) {
        events[at] = created(stored, {});
      } else if (r.outcome == RowResult::Outcome::kUpdated) {
        // kUnchanged: only what the source sent or the marks were written, no event.
        events[at] = WithPrevious(updated(stored, r.changed_fields), before->second);
      }
      r.stored = std::move(stored);
    };
    if (!inserts.empty()) {
      auto ins = tx.exec_params(
          absl::StrCat(
              "WITH x AS MATERIALIZED (SELECT n.source_id, n.record::jsonb AS record, n.owner, "
              "n.items::text[] AS items, n.aptic::boolean AS aptic FROM unnest($2::text[], "
              "$3::text[], $4::text[], $5::text[], $6::text[]) AS n(source_id, record, owner, "
              "items, aptic)) "
              "INSERT INTO venues (id, source, source_id, record, owner_organisation, "
              "referential_items, accepts_aptic_pass, areas) SELECT gen_random_uuid(), $1, "
              "x.source_id, x.record, x.owner, x.items, x.aptic, venue_areas(x.record) FROM x "
              "ON CONFLICT (source, source_id) DO NOTHING RETURNING ",
              kColumns),
          source, db::TextArray(inserts.source_ids), db::TextArray(inserts.records),
          db::TextArray(inserts.owners), db::TextArray(inserts.items),
          db::TextArray(inserts.aptic));
      if (ins.size() != inserts.size()) {
        return absl::AbortedError("another write created venues of this batch meanwhile; retry");
      }
      for (const auto& row : ins) stored_row(row);
    }
    if (!saves.empty()) {
      for (const auto& row : tx.exec_params(
               absl::StrCat("UPDATE venues v SET record = x.record, areas = "
                            "venue_areas(x.record), source_record = x.source_record, "
                            "local_fields = x.local_fields, owner_organisation = "
                            "x.owner_organisation, state = x.state, withdrawal_reason = "
                            "x.withdrawal_reason, revision = v.revision + x.bump::int, "
                            "update_time = CASE WHEN x.bump THEN now() ELSE v.update_time END, "
                            "last_seen_time = now() FROM ",
                            kSaves, " WHERE v.source = $1 AND v.id = x.id RETURNING ", kColumnsOfV),
               source, saves.dump())) {
        stored_row(row);
      }
    }
    if (!conflicts.empty()) {
      nlohmann::json list = nlohmann::json::array();
      for (const ConflictRecord& c : conflicts) {
        list.push_back({{"venue_id", c.venue_id},
                        {"field", c.field},
                        {"local_value", ValueJson(c.local_value)},
                        {"previous_source_value", ValueJson(c.previous_source_value)},
                        {"new_source_value", ValueJson(c.new_source_value)},
                        {"policy", ConflictPolicyName(c.policy)}});
      }
      tx.exec_params(
          "INSERT INTO venue_conflicts (venue_id, source, field, local_value, "
          "previous_source_value, new_source_value, policy) SELECT x.venue_id, $1, x.field, "
          "x.local_value, x.previous_source_value, x.new_source_value, x.policy FROM "
          "json_to_recordset($2::json) AS x(venue_id uuid, field text, local_value jsonb, "
          "previous_source_value jsonb, new_source_value jsonb, policy text)",
          source, list.dump());
    }
    if (inserts.empty() && saves.empty()) return absl::OkStatus();  // nothing to commit
    std::vector<events::v1::Event> ordered;
    for (auto& e : events) {
      if (e) ordered.push_back(std::move(*e));
    }
    outbox::Append(tx, topology_, ordered);
    // The caller stops waiting at its deadline: a commit after it would write what the caller
    // was told failed.
    if (absl::Status late = CommitAllowed(deadline); !late.ok()) return late;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (wake_) wake_();  // the relay publishes the event now, not at its next poll
  return results;
}

}  // namespace passerelle::venues

namespace passerelle::venues {
namespace {

FieldValue ValueFrom(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  auto j = nlohmann::json::parse(f.c_str());
  if (j.is_null()) return std::nullopt;
  return j.get<std::vector<std::string>>();
}

}  // namespace

absl::StatusOr<std::vector<ConflictRecord>> PgStore::ListConflicts(const ConflictQuery& query) {
  std::vector<ConflictRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& row : tx.exec_params(
             "SELECT id, venue_id::text, source, field, local_value::text, "
             "previous_source_value::text, new_source_value::text, policy, "
             "extract(epoch FROM create_time) FROM venue_conflicts "
             "WHERE ($1 = '' OR venue_id = nullif($1, '')::uuid) AND ($2 = '' OR source = $2) "
             "AND ($3::bigint = 0 OR id < $3::bigint) ORDER BY id DESC LIMIT $4",
             query.venue_id, query.source, query.before, query.limit)) {
      out.push_back(
          {.id = row[0].as<int64_t>(),
           .venue_id = row[1].as<std::string>(),
           .source = row[2].as<std::string>(),
           .field = row[3].as<std::string>(),
           .local_value = ValueFrom(row[4]),
           .previous_source_value = ValueFrom(row[5]),
           .new_source_value = ValueFrom(row[6]),
           .policy =
               ParseConflictPolicy(row[7].as<std::string>()).value_or(ConflictPolicy::kSourceWins),
           .create_time = db::FromEpoch(row[8])});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

std::optional<standard::Venue> SetDuplicateOf(pqxx::work& tx, const events::Topology& topology,
                                              const std::string& id, const std::string& only_if,
                                              const std::string& canonical, absl::Time now,
                                              const EventFactory& updated) {
  auto set = SetDuplicateOfWhere(
      tx, topology, "id = $1::uuid AND duplicate_of IS NOT DISTINCT FROM nullif($2, '')::uuid", id,
      only_if, canonical, now, updated);
  if (set.empty()) return std::nullopt;
  return set.front();
}

}  // namespace passerelle::venues
