// The coverage read model's tables: one place for their SQL.
#include "services/indicators/coverage_store.hpp"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "libs/api/page_token.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::indicators::coverage {
namespace {

// Shortest text that reads back as the same double (StrCat keeps only 6 digits).
std::string OptionalNumber(const std::optional<double>& v) {
  if (!v) return std::string();
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *v);
  return std::string(buf, end);
}

std::vector<std::string> JsonList(const pqxx::field& f) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(f.as<std::string>(), nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// Exact doubles through text: PostgreSQL's float8 output is shortest round-trip (extra_float_digits
// defaults to 1 in PostgreSQL 12+).
std::optional<double> OptionalDouble(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<double>();
}

constexpr const char* kVenueColumns =
    "name, nom, active, latitude, longitude, array_to_json(areas)::text, "
    "array_to_json(offers)::text, hours, extract(epoch FROM update_time), seq";

VenueRow VenueFromRow(const pqxx::row& r) {
  VenueRow v;
  v.name = r[0].as<std::string>();
  v.nom = r[1].as<std::string>();
  v.active = r[2].as<bool>();
  v.latitude = OptionalDouble(r[3]);
  v.longitude = OptionalDouble(r[4]);
  v.areas = JsonList(r[5]);
  v.offers = JsonList(r[6]);
  if (!r[7].is_null()) v.hours = ParseWeekText(r[7].as<std::string>());
  v.update_time = db::FromEpoch(r[8]);
  return v;
}

void BumpCatalogue(pqxx::work& tx) {
  tx.exec0("UPDATE coverage_state SET catalogue_generation = catalogue_generation + 1");
}

}  // namespace

void Store::LockState(pqxx::work& tx) { tx.exec("SELECT 1 FROM coverage_state FOR UPDATE"); }

void Store::SetAsOf(pqxx::work& tx, absl::Time t) {
  tx.exec_params0(
      "UPDATE coverage_state SET as_of = GREATEST(COALESCE(as_of, $1::timestamptz), "
      "$1::timestamptz)",
      db::Timestamp(t));
}

bool Store::HasVenue(pqxx::work& tx, const std::string& name) {
  return !tx.exec_params("SELECT 1 FROM coverage_venues WHERE name = $1", name).empty();
}

std::vector<std::string> Store::OfferedItems(pqxx::work& tx,
                                             const std::vector<std::string>& items) {
  if (items.empty()) return {};
  auto state = tx.exec("SELECT referential_version FROM coverage_state");
  if (state.empty() || state[0][0].is_null() || state[0][0].as<std::string>().empty()) {
    return items;
  }
  std::vector<std::string> out;
  for (const auto& r :
       tx.exec_params("SELECT u.i FROM unnest($1::text[]) WITH ORDINALITY AS u(i, n) "
                      "JOIN coverage_items c ON c.item = u.i AND NOT c.retired ORDER BY u.n",
                      db::TextArray(items))) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

bool Store::UpsertVenue(pqxx::work& tx, const VenueRow& v) {
  auto r = tx.exec_params(
      "INSERT INTO coverage_venues AS c (name, nom, active, latitude, longitude, areas, offers, "
      "hours, update_time, seq) VALUES ($1, $2, $3, NULLIF($4, '')::float8, "
      "NULLIF($5, '')::float8, $6::text[], $7::text[], NULLIF($8, ''), $9::timestamptz, "
      "nextval('coverage_venue_seq')) "
      "ON CONFLICT (name) DO UPDATE SET nom = EXCLUDED.nom, active = EXCLUDED.active, "
      "latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, areas = EXCLUDED.areas, "
      "offers = EXCLUDED.offers, hours = EXCLUDED.hours, update_time = EXCLUDED.update_time, "
      "seq = EXCLUDED.seq "
      "WHERE c.update_time < EXCLUDED.update_time OR (c.update_time = EXCLUDED.update_time "
      "AND c.active AND NOT EXCLUDED.active)",
      v.name, v.nom, v.active, OptionalNumber(v.latitude), OptionalNumber(v.longitude),
      db::TextArray(v.areas), db::TextArray(v.offers), v.hours ? WeekText(*v.hours) : "",
      db::Timestamp(v.update_time));
  return r.affected_rows() == 1;
}

bool Store::WithdrawVenue(pqxx::work& tx, const VenueRow& v) {
  auto r = tx.exec_params(
      "UPDATE coverage_venues SET active = false, update_time = $2::timestamptz, "
      "seq = nextval('coverage_venue_seq') WHERE name = $1 AND (update_time < $2::timestamptz "
      "OR (update_time = $2::timestamptz AND active))",
      v.name, db::Timestamp(v.update_time));
  if (r.affected_rows() == 1) return true;
  auto held = tx.exec_params("SELECT 1 FROM coverage_venues WHERE name = $1", v.name);
  if (!held.empty()) return false;
  return UpsertVenue(tx, v);
}

bool Store::ApplyVersion(pqxx::work& tx, const std::string& version, absl::Time published,
                         const std::vector<std::pair<std::string, std::string>>& offered,
                         const std::vector<std::string>& retired) {
  auto r = tx.exec_params(
      "UPDATE coverage_state SET referential_version = $1, referential_time = $2::timestamptz, "
      "labels_pending = true, catalogue_generation = catalogue_generation + 1 "
      "WHERE referential_time IS NULL OR referential_time < $2::timestamptz",
      version, db::Timestamp(published));
  if (r.affected_rows() == 0) return false;
  std::vector<std::string> items, codes;
  for (const auto& [item, code] : offered) {
    items.push_back(item);
    codes.push_back(code);
  }
  tx.exec_params0(
      "INSERT INTO coverage_items (item, code, retired) "
      "SELECT i, c, false FROM unnest($1::text[], $2::text[]) AS u(i, c) "
      "ON CONFLICT (item) DO UPDATE SET code = EXCLUDED.code, retired = false",
      db::TextArray(items), db::TextArray(codes));
  tx.exec_params0(
      "INSERT INTO coverage_items (item, retired) SELECT i, true FROM unnest($1::text[]) AS i "
      "ON CONFLICT (item) DO UPDATE SET retired = true",
      db::TextArray(retired));
  return true;
}

absl::StatusOr<int> Store::SnapshotVenues(const std::vector<VenueRow>& rows, absl::Time taken) {
  int written = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    written = 0;
    LockState(tx);
    for (const auto& v : rows) written += UpsertVenue(tx, v) ? 1 : 0;
    tx.exec_params0("UPDATE coverage_state SET snapshot_time = $1::timestamptz",
                    db::Timestamp(taken));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return written;
}

absl::Status Store::SetItems(const std::string& version, const std::vector<ItemRow>& items,
                             bool bootstrap, absl::Time published) {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto state = tx.exec("SELECT referential_version FROM coverage_state FOR UPDATE");
    const std::string current = state[0][0].as<std::string>();
    // Labels of an older version never overwrite a newer one's; a bootstrap (nothing known yet)
    // installs the version read.
    if (current != version && !(bootstrap && current.empty())) return absl::OkStatus();
    std::vector<std::string> names, codes, labels, positions;
    for (const auto& i : items) {
      names.push_back(i.item);
      codes.push_back(i.code);
      labels.push_back(i.label);
      positions.push_back(std::to_string(i.position));
    }
    tx.exec0("UPDATE coverage_items SET retired = true");
    tx.exec_params0(
        "INSERT INTO coverage_items (item, code, label, position, retired) "
        "SELECT i, c, l, p::int, false FROM unnest($1::text[], $2::text[], $3::text[], "
        "$4::text[]) AS u(i, c, l, p) "
        "ON CONFLICT (item) DO UPDATE SET code = EXCLUDED.code, label = EXCLUDED.label, "
        "position = EXCLUDED.position, retired = false",
        db::TextArray(names), db::TextArray(codes), db::TextArray(labels),
        db::TextArray(positions));
    tx.exec_params0(
        "UPDATE coverage_state SET referential_version = $1, labels_pending = false, "
        "catalogue_generation = catalogue_generation + 1, referential_time = "
        "CASE WHEN $2 THEN $3::timestamptz ELSE referential_time END",
        version, bootstrap && current.empty(), db::Timestamp(published));
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> Store::ReplaceLayers(const std::vector<LayerInput>& layers) {
  bool changed = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    changed = false;
    std::vector<std::string> names;
    for (const auto& l : layers) {
      names.push_back(l.layer);
      // The digest of what venues listed: an unchanged layer is not rewritten.
      std::string content = l.title;
      for (const auto& a : l.areas) {
        content += api::BindParameters({a.code, a.label, a.geometry});
      }
      const std::string digest = api::ContentDigest(content);
      auto held = tx.exec_params("SELECT digest FROM coverage_layers WHERE layer = $1", l.layer);
      if (!held.empty() && held[0][0].as<std::string>() == digest) continue;
      changed = true;
      tx.exec_params0(
          "INSERT INTO coverage_layers (layer, title, digest) VALUES ($1, $2, $3) "
          "ON CONFLICT (layer) DO UPDATE SET title = EXCLUDED.title, digest = EXCLUDED.digest",
          l.layer, l.title, digest);
      tx.exec_params0("DELETE FROM coverage_areas WHERE layer = $1", l.layer);
      for (const auto& a : l.areas) {
        tx.exec_params0(
            "INSERT INTO coverage_areas (layer, code, label, outline, centre) "
            "SELECT $1, $2, $3, g, ST_PointOnSurface(g) FROM "
            "(SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($4), 4326)) AS g) s",
            l.layer, a.code, a.label, a.geometry);
      }
    }
    auto gone = tx.exec_params("DELETE FROM coverage_layers WHERE layer <> ALL($1::text[])",
                               db::TextArray(names));
    if (gone.affected_rows() > 0) changed = true;
    if (changed) BumpCatalogue(tx);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return changed;
}

absl::StatusOr<int> Store::StoreNeeds(const std::string& layer,
                                      const std::map<std::string, NeedsRow>& rows, bool replace,
                                      absl::Time deadline) {
  int cleared = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    cleared = 0;
    std::vector<std::string> codes;
    for (const auto& [code, n] : rows) {
      codes.push_back(code);
      nlohmann::json components = nlohmann::json::object();
      for (const auto& [k, v] : n.components) components[k] = v;
      tx.exec_params0(
          "INSERT INTO coverage_needs (layer, code, population, score, components, update_time) "
          "VALUES ($1, $2, $3, NULLIF($4, '')::float8, $5::jsonb, now()) "
          "ON CONFLICT (layer, code) DO UPDATE SET population = EXCLUDED.population, "
          "score = EXCLUDED.score, components = EXCLUDED.components, update_time = now()",
          layer, code, n.population, OptionalNumber(n.score), components.dump());
    }
    if (replace) {
      cleared = static_cast<int>(
          tx.exec_params("DELETE FROM coverage_needs WHERE layer = $1 AND code <> ALL($2::text[])",
                         layer, db::TextArray(codes))
              .affected_rows());
    }
    BumpCatalogue(tx);
    // The commit itself takes a moment: a caller whose deadline is that near has gone.
    if (deadline != absl::InfiniteFuture() && absl::Now() + absl::Milliseconds(100) >= deadline) {
      return absl::DeadlineExceededError("deadline too near to commit; nothing was written");
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return cleared;
}

absl::StatusOr<StateRow> Store::State() {
  StateRow out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec(
        "SELECT referential_version, labels_pending, extract(epoch FROM as_of), "
        "catalogue_generation, extract(epoch FROM snapshot_time) FROM coverage_state");
    out = {};
    out.referential_version = r[0][0].as<std::string>();
    out.labels_pending = r[0][1].as<bool>();
    if (!r[0][2].is_null()) out.as_of = db::FromEpoch(r[0][2]);
    out.catalogue_generation = r[0][3].as<int64_t>();
    if (!r[0][4].is_null()) out.snapshot_time = db::FromEpoch(r[0][4]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<VenueRow>> Store::VenuesSince(int64_t after_seq, int64_t* max_seq) {
  std::vector<VenueRow> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    *max_seq = after_seq;
    for (const auto& r :
         tx.exec_params(absl::StrCat("SELECT ", kVenueColumns,
                                     " FROM coverage_venues WHERE seq > $1 ORDER BY seq"),
                        after_seq)) {
      out.push_back(VenueFromRow(r));
      *max_seq = r[9].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<Offer>> Store::Items() {
  std::vector<Offer> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r : tx.exec("SELECT item, label FROM coverage_items WHERE NOT retired "
                                 "ORDER BY position, item")) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<LayerRow>> Store::Layers() {
  std::vector<LayerRow> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    std::map<std::string, size_t> at;
    for (const auto& r : tx.exec("SELECT layer, title FROM coverage_layers ORDER BY layer")) {
      at[r[0].as<std::string>()] = out.size();
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), {}});
    }
    for (const auto& r :
         tx.exec("SELECT layer, code, label, ST_Y(centre), ST_X(centre), ST_AsGeoJSON(outline, 7) "
                 "FROM coverage_areas ORDER BY layer, code")) {
      auto it = at.find(r[0].as<std::string>());
      if (it == at.end()) continue;
      out[it->second].areas.push_back({r[1].as<std::string>(), r[2].as<std::string>(),
                                       r[3].as<double>(), r[4].as<double>(),
                                       r[5].as<std::string>()});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<NeedsMap> Store::Needs() {
  NeedsMap out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r : tx.exec("SELECT layer, code, population, score, components::text "
                                 "FROM coverage_needs")) {
      NeedsRow n;
      n.population = r[2].as<int64_t>();
      n.score = OptionalDouble(r[3]);
      auto j = nlohmann::json::parse(r[4].as<std::string>(), nullptr, false);
      if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
          if (v.is_number()) n.components[k] = v.get<double>();
        }
      }
      out[r[0].as<std::string>()][r[1].as<std::string>()] = std::move(n);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::string>> Store::AreaCodes(const std::string& layer) {
  std::vector<std::string> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r :
         tx.exec_params("SELECT code FROM coverage_areas WHERE layer = $1 ORDER BY code", layer)) {
      out.push_back(r[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace passerelle::indicators::coverage
