// Organisations in PostgreSQL.
#include "services/venues/organisation_store.hpp"

#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"

namespace passerelle::venues {
namespace {

constexpr char kColumns[] =
    "organisation_id, display_name, siret, rna, contact_email, website, revision, "
    "extract(epoch FROM create_time), extract(epoch FROM update_time)";

Organisation FromRow(const pqxx::row& r) {
  return {.id = r[0].as<std::string>(),
          .display_name = r[1].as<std::string>(),
          .siret = r[2].as<std::string>(),
          .rna = r[3].as<std::string>(),
          .contact_email = r[4].as<std::string>(),
          .website = r[5].as<std::string>(),
          .revision = r[6].as<int>(),
          .create_time = db::FromEpoch(r[7]),
          .update_time = db::FromEpoch(r[8])};
}

absl::Status NotFound(const std::string& id) { return api::NotFound("organisations/" + id); }

}  // namespace

absl::StatusOr<Organisation> PgOrganisationStore::CreateOrganisation(const Organisation& o) {
  Organisation out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO organisations (organisation_id, display_name, siret, rna, "
                     "contact_email, website, revision, create_time, update_time) VALUES ($1, $2, "
                     "$3, $4, $5, $6, 1, $7::timestamptz, $7::timestamptz) ON CONFLICT DO NOTHING "
                     "RETURNING ",
                     kColumns),
        o.id, o.display_name, o.siret, o.rna, o.contact_email, o.website,
        db::Timestamp(o.create_time));
    if (r.empty()) {
      return api::AlreadyExists("organisations/" + o.id, "ORGANISATION_EXISTS");
    }
    out = FromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<Organisation> PgOrganisationStore::GetOrganisation(const std::string& id) {
  std::optional<Organisation> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.reset();
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kColumns, " FROM organisations WHERE organisation_id = $1"), id);
    if (!r.empty()) out = FromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return NotFound(id);
  return *out;
}

absl::StatusOr<std::vector<Organisation>> PgOrganisationStore::ListOrganisations(
    const std::string& after, int limit) {
  std::vector<Organisation> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& row :
         tx.exec_params(absl::StrCat("SELECT ", kColumns,
                                     " FROM organisations WHERE organisation_id > $1 "
                                     "ORDER BY organisation_id LIMIT $2"),
                        after, limit)) {
      out.push_back(FromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<Organisation> PgOrganisationStore::UpdateOrganisation(
    const std::string& id, int expected_revision,
    const std::function<absl::Status(Organisation&)>& change, absl::Time now) {
  Organisation out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(absl::StrCat("SELECT ", kColumns,
                                         " FROM organisations WHERE organisation_id = $1 "
                                         "FOR UPDATE"),
                            id);
    if (r.empty()) return NotFound(id);
    const Organisation current = FromRow(r[0]);
    if (expected_revision != 0 && current.revision != expected_revision) {
      return api::WithReason(
          absl::AbortedError(absl::StrCat("etag mismatch: ", current.Name(),
                                          " changed since it was read (now ",
                                          api::WeakETag(current.revision), "); read it again")),
          "ETAG_MISMATCH");
    }
    Organisation next = current;
    if (absl::Status s = change(next); !s.ok()) return s;
    if (next.display_name == current.display_name && next.siret == current.siret &&
        next.rna == current.rna && next.contact_email == current.contact_email &&
        next.website == current.website) {
      out = current;  // nothing to write
      return absl::OkStatus();
    }
    auto saved = tx.exec_params(
        absl::StrCat("UPDATE organisations SET display_name = $2, siret = $3, rna = $4, "
                     "contact_email = $5, website = $6, revision = revision + 1, "
                     "update_time = $7::timestamptz WHERE organisation_id = $1 RETURNING ",
                     kColumns),
        id, next.display_name, next.siret, next.rna, next.contact_email, next.website,
        db::Timestamp(now));
    out = FromRow(saved[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace passerelle::venues
