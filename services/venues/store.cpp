// Venue storage in PostgreSQL + PostGIS.
#include "services/venues/store.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/events.pb.h"

namespace passerelle::venues {
namespace {

constexpr char kColumns[] =
    "id::text, source, source_id, record::text, owner_organisation, "
    "array_to_json(referential_items)::text, accepts_aptic_pass, array_to_json(areas)::text, "
    "state, withdrawal_reason, revision, extract(epoch FROM create_time), "
    "extract(epoch FROM update_time), extract(epoch FROM first_seen_time), "
    "extract(epoch FROM last_seen_time), coalesce(duplicate_of::text, '')";

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

// Sets the areas of one venue from its (just written) position; its row as stored.
standard::Venue WithAreas(pqxx::work& tx, const std::string& id) {
  auto r = tx.exec_params(absl::StrCat("UPDATE venues v SET areas = ", kAreasOf,
                                       " WHERE v.id = $1::uuid RETURNING ", kColumns),
                          id);
  return FromRow(r[0]);
}

// The inserted venue, or nullopt when (source, source_id) is taken. Database errors propagate
// as pqxx exceptions to RunInTransaction, which retries or reports them with their cause.
std::optional<standard::Venue> InsertRow(pqxx::work& tx, const standard::Venue& v) {
  auto r = tx.exec_params(
      absl::StrCat("INSERT INTO venues (id, source, source_id, record, owner_organisation, "
                   "referential_items, accepts_aptic_pass) VALUES (gen_random_uuid(), $1, $2, "
                   "$3::jsonb, $4, $5::text[], $6) "
                   "ON CONFLICT (source, source_id) DO NOTHING RETURNING ",
                   kColumns),
      v.source, v.source_id, nlohmann::json(v.standard).dump(), v.owner_organisation,
      db::TextArray(v.referential_items), v.accepts_aptic_pass);
  if (r.empty()) return std::nullopt;
  return WithAreas(tx, r[0][0].as<std::string>());
}

standard::Venue SaveRow(pqxx::work& tx, const standard::Venue& v) {
  auto r = tx.exec_params(
      absl::StrCat("UPDATE venues SET record = $2::jsonb, owner_organisation = $3, "
                   "referential_items = $4::text[], "
                   "accepts_aptic_pass = $5, state = $6, withdrawal_reason = $7, "
                   "revision = revision + 1, update_time = now(), last_seen_time = now() "
                   "WHERE id = $1::uuid RETURNING ",
                   kColumns),
      v.id, nlohmann::json(v.standard).dump(), v.owner_organisation,
      db::TextArray(v.referential_items), v.accepts_aptic_pass,
      v.withdrawn ? "withdrawn" : "active", v.withdrawal_reason);
  return WithAreas(tx, v.id);
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

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("venues/", id, " does not exist"));
}

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
      return api::WithReason(absl::AlreadyExistsError(absl::StrCat(
                                 "a venue with id \"", venue.source_id, "\" already exists",
                                 existing ? absl::StrCat(": ", existing->Name()) : "")),
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
      return api::WithReason(absl::AbortedError(absl::StrCat("etag mismatch: ", current->Name(),
                                                             " changed since it was read (now ",
                                                             ETag(*current), "); read it again")),
                             "ETAG_MISMATCH");
    }
    standard::Venue next = *current;
    if (absl::Status s = change(next); !s.ok()) return s;
    std::vector<std::string> changed = ChangedFields(*current, next);
    if (next.withdrawn != current->withdrawn) changed.push_back("state");
    if (changed.empty()) {
      out = *current;  // nothing to write, no event
      return absl::OkStatus();
    }
    out = SaveRow(tx, next);
    outbox::Append(tx, topology_, WithPrevious(event(out, changed), *current));
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
          absl::StrCat(last[16].as<std::string>(), "\x1f", last[0].as<std::string>());
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

absl::StatusOr<std::vector<std::string>> PgStore::UnknownItems(
    const std::vector<std::string>& items) {
  std::vector<std::string> unknown;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    unknown.clear();
    for (const auto& row :
         tx.exec_params("SELECT i FROM unnest($1::text[]) AS i "
                        "WHERE EXISTS (SELECT 1 FROM referential_items) AND NOT EXISTS "
                        "(SELECT 1 FROM referential_items r WHERE r.item = i AND NOT r.retired)",
                        db::TextArray(items))) {
      unknown.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return unknown;
}

absl::StatusOr<std::vector<std::string>> PgStore::UnknownOrganisations(
    const std::vector<std::string>& ids) {
  std::vector<std::string> unknown;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    unknown.clear();
    for (const auto& row :
         tx.exec_params("SELECT i FROM unnest($1::text[]) AS i WHERE NOT EXISTS "
                        "(SELECT 1 FROM organisations o WHERE o.organisation_id = i)",
                        db::TextArray(ids))) {
      unknown.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return unknown;
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
          WithPrevious(updated(after, {"areas"}),
                       nlohmann::json::parse(row[16].c_str()).get<std::vector<std::string>>(),
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

constexpr char kSourceColumns[] = "source_id, display_name, extract(epoch FROM create_time)";

SourceRecord SourceFromRow(const pqxx::row& row) {
  return {.id = row[0].as<std::string>(),
          .display_name = row[1].as<std::string>(),
          .create_time = db::FromEpoch(row[2])};
}

}  // namespace

absl::StatusOr<SourceRecord> PgStore::CreateSource(const SourceRecord& source) {
  SourceRecord out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO sources (source_id, display_name, create_time) VALUES ($1, $2, "
                     "$3::timestamptz) ON CONFLICT DO NOTHING RETURNING ",
                     kSourceColumns),
        source.id, source.display_name, db::Timestamp(source.create_time));
    if (r.empty()) {
      return api::WithReason(
          absl::AlreadyExistsError(absl::StrCat("sources/", source.id, " already exists")),
          "SOURCE_EXISTS");
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
  if (!out) return absl::NotFoundError(absl::StrCat("sources/", id, " does not exist"));
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
    return api::WithReason(absl::NotFoundError("areaLayers/" + layer + " does not exist"),
                           "AREA_LAYER_NOT_FOUND");
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
    return api::WithReason(absl::NotFoundError("areaLayers/" + query.layer + " does not exist"),
                           "AREA_LAYER_NOT_FOUND");
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
        auto snapshot = tx.exec1(
            "SELECT pg_snapshot_xmax(s)::text, coalesce((SELECT string_agg(x::text, ',') "
            "FROM pg_snapshot_xip(s) x), '') FROM pg_current_snapshot() s");
        out.cursor.next_xid = std::stoull(snapshot[0].as<std::string>());
        for (absl::string_view x :
             absl::StrSplit(snapshot[1].as<std::string>(), ',', absl::SkipEmpty())) {
          out.cursor.running.push_back(std::stoull(std::string(x)));
        }
        const std::string running = absl::StrJoin(cursor.running, ",");
        // Both arms use the change_xid index (BitmapOr); an IN (SubPlan) made every poll a
        // sequential scan of the table.
        const std::string changed =
            " FROM venues WHERE change_xid >= $1::text::xid8 OR change_xid = "
            "ANY(string_to_array($2, ',')::xid8[])";
        const std::string from = std::to_string(cursor.next_xid);
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
    for (const auto& row : tx.exec_params(
             absl::StrCat("SELECT ", kColumns,
                          " FROM venues WHERE source = $1 AND source_id = ANY($2::text[]) "
                          "FOR UPDATE"),
             source, db::TextArray(source_ids))) {
      standard::Venue v = FromRow(row);
      current.emplace(v.source_id, std::move(v));
    }
    nlohmann::json inserts = nlohmann::json::array(), saves = nlohmann::json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
      const standard::Venue& row = rows[i];
      RowResult& r = results[i];
      r.source_id = row.source_id;
      nlohmann::json values = {{"source_id", row.source_id},
                               {"record", nlohmann::json(row.standard)},
                               {"owner_organisation", row.owner_organisation},
                               {"referential_items", row.referential_items},
                               {"accepts_aptic_pass", row.accepts_aptic_pass}};
      auto it = current.find(row.source_id);
      if (it == current.end()) {
        r.outcome = RowResult::Outcome::kCreated;
        inserts.push_back(std::move(values));
        continue;
      }
      standard::Venue next = it->second;
      next.standard = row.standard;
      // A producer that names no owner (the regional source, a national CSV) keeps the one
      // set here: the owner is Passerelle's, and who may write the venue depends on it.
      if (!row.owner_organisation.empty()) next.owner_organisation = row.owner_organisation;
      next.referential_items = row.referential_items;
      next.accepts_aptic_pass = row.accepts_aptic_pass;
      r.id = next.id;
      r.changed_fields = ChangedFields(it->second, next);
      if (reinstate && next.withdrawn) {
        next.withdrawn = false;
        next.withdrawal_reason.clear();
        r.changed_fields.push_back("state");
      }
      if (r.changed_fields.empty()) {
        r.outcome = RowResult::Outcome::kUnchanged;  // nothing written, no event
        continue;
      }
      r.outcome = RowResult::Outcome::kUpdated;
      values["owner_organisation"] = next.owner_organisation;
      values["id"] = next.id;
      values["state"] = next.withdrawn ? "withdrawn" : "active";
      values["withdrawal_reason"] = next.withdrawal_reason;
      saves.push_back(std::move(values));
    }
    constexpr char kValues[] =
        "json_to_recordset($2::json) AS x(id uuid, source_id text, record jsonb, "
        "owner_organisation text, referential_items json, accepts_aptic_pass boolean, state text, "
        "withdrawal_reason text)";
    std::vector<std::string> written;
    if (!inserts.empty()) {
      auto ins = tx.exec_params(
          absl::StrCat("INSERT INTO venues (id, source, source_id, record, owner_organisation, "
                       "referential_items, accepts_aptic_pass) SELECT gen_random_uuid(), $1, "
                       "x.source_id, x.record, x.owner_organisation, ARRAY(SELECT "
                       "json_array_elements_text(x.referential_items)), x.accepts_aptic_pass "
                       "FROM ",
                       kValues, " ON CONFLICT (source, source_id) DO NOTHING RETURNING id::text"),
          source, inserts.dump());
      if (ins.size() != inserts.size()) {
        return absl::AbortedError("another write created venues of this batch meanwhile; retry");
      }
      for (const auto& row : ins) written.push_back(row[0].as<std::string>());
    }
    if (!saves.empty()) {
      for (const auto& row : tx.exec_params(
               absl::StrCat("UPDATE venues v SET record = x.record, owner_organisation = "
                            "x.owner_organisation, referential_items = ARRAY(SELECT "
                            "json_array_elements_text(x.referential_items)), accepts_aptic_pass "
                            "= x.accepts_aptic_pass, state = x.state, withdrawal_reason = "
                            "x.withdrawal_reason, "
                            "revision = v.revision + 1, update_time = "
                            "now(), last_seen_time = now() FROM ",
                            kValues, " WHERE v.source = $1 AND v.id = x.id RETURNING v.id::text"),
               source, saves.dump())) {
        written.push_back(row[0].as<std::string>());
      }
    }
    if (written.empty()) return absl::OkStatus();  // nothing to commit
    // The areas of every written venue, and the rows as stored; then their events, in row order.
    std::vector<std::optional<events::v1::Event>> events(rows.size());
    for (const auto& row : tx.exec_params(absl::StrCat("UPDATE venues v SET areas = ", kAreasOf,
                                                       " WHERE v.id = ANY($1::uuid[]) "
                                                       "RETURNING ",
                                                       kColumns),
                                          db::TextArray(written))) {
      standard::Venue stored = FromRow(row);
      RowResult& r = results[position.at(stored.source_id)];
      r.id = stored.id;
      const auto before = current.find(stored.source_id);
      events[position.at(stored.source_id)] =
          r.outcome == RowResult::Outcome::kCreated ? created(stored, {})
          : before == current.end()
              ? updated(stored, r.changed_fields)
              : WithPrevious(updated(stored, r.changed_fields), before->second);
      r.stored = std::move(stored);
    }
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
