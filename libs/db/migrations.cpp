// Applies versioned SQL migrations.
#include "libs/db/migrations.hpp"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/db/pool.hpp"
#include "libs/logging/logging.hpp"

namespace passerelle::db {

std::string Fingerprint(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", h);
}

absl::Status Migrate(pqxx::connection& conn, const std::string& schema,
                     const std::vector<Component>& components) {
  const std::string q = QuoteIdent(schema);
  try {
    pqxx::work tx(conn);
    // One lock per schema, held until commit: concurrent starters wait, then find nothing to do.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))", "passerelle.migrate." + schema);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS " + q);
    tx.exec0("CREATE TABLE IF NOT EXISTS " + q +
             ".schema_migrations (component text NOT NULL, version int NOT NULL, "
             "name text NOT NULL, checksum text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))");
    tx.exec0("SET LOCAL search_path TO " + q + ", public");
    for (const auto& component : components) {
      std::map<int, std::string> applied;  // version -> checksum
      for (const auto& row : tx.exec_params(
               "SELECT version, checksum FROM schema_migrations WHERE component = $1",
               component.name)) {
        applied[row[0].as<int>()] = row[1].as<std::string>();
      }
      int known_max = 0;
      for (const auto& m : component.migrations) known_max = std::max(known_max, m.version);
      if (!applied.empty() && applied.rbegin()->first > known_max) {
        return absl::FailedPreconditionError(absl::StrCat(
            "schema ", schema, " component ", component.name, " is at version ",
            applied.rbegin()->first, ", newer than this binary knows (", known_max,
            "): refusing to start; deploy the newer binary"));
      }
      std::vector<const Migration*> ordered;
      for (const auto& m : component.migrations) ordered.push_back(&m);
      std::sort(ordered.begin(), ordered.end(),
                [](auto* a, auto* b) { return a->version < b->version; });
      for (const Migration* m : ordered) {
        const std::string sum = Fingerprint(m->sql);
        auto it = applied.find(m->version);
        if (it != applied.end()) {
          if (it->second != sum) {
            return absl::FailedPreconditionError(absl::StrCat(
                "migration ", component.name, "/", m->version, " (", m->name,
                ") was changed after it was applied to schema ", schema,
                "; add a new migration instead of editing an applied one"));
          }
          continue;
        }
        tx.exec0(m->sql);
        tx.exec_params(
            "INSERT INTO schema_migrations (component, version, name, checksum) "
            "VALUES ($1, $2, $3, $4)",
            component.name, m->version, m->name, sum);
        logging::Info("migration applied", {{"schema", schema},
                                            {"component", component.name},
                                            {"version", m->version},
                                            {"name", m->name}});
      }
    }
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("migrating schema ", schema, ": ", e.what()));
  }
}

}  // namespace passerelle::db
