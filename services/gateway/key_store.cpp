#include "services/gateway/key_store.hpp"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/text/split.hpp"

namespace passerelle::gateway {
namespace {

constexpr char kColumns[] =
    "key_id, encode(secret_hash, 'hex'), display_name, organisation, "
    "array_to_string(scopes, ','), array_to_string(sources, ','), extract(epoch FROM "
    "create_time), extract(epoch FROM expire_time), extract(epoch FROM revoke_time), "
    "extract(epoch FROM last_use_time)";

std::vector<std::string> Words(const std::string& joined) {
  std::vector<std::string> out;
  for (std::string_view w : text::Split(joined, ',')) {
    if (!w.empty()) out.emplace_back(w);
  }
  return out;
}

std::optional<absl::Time> MaybeTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return db::FromEpoch(f);
}

KeyRecord FromRow(const pqxx::row& row) {
  KeyRecord k;
  k.id = row[0].as<std::string>();
  k.secret_hash = absl::HexStringToBytes(row[1].as<std::string>());
  k.display_name = row[2].as<std::string>();
  k.organisation = row[3].as<std::string>();
  for (const std::string& s : Words(row[4].as<std::string>())) {
    api::v1::Scope scope;
    if (api::v1::Scope_Parse(s, &scope)) k.scopes.push_back(scope);
  }
  k.sources = Words(row[5].as<std::string>());
  k.create_time = db::FromEpoch(row[6]);
  k.expire_time = MaybeTime(row[7]);
  k.revoke_time = MaybeTime(row[8]);
  k.last_use_time = MaybeTime(row[9]);
  return k;
}

}  // namespace

absl::Status PgKeyStore::Create(const KeyRecord& key) {
  std::vector<std::string> scopes;
  for (api::v1::Scope s : key.scopes) scopes.push_back(api::v1::Scope_Name(s));
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        "INSERT INTO api_keys (key_id, secret_hash, display_name, organisation, scopes, "
        "sources, create_time, expire_time) VALUES ($1, decode($2, 'hex'), $3, $4, $5::text[], "
        "$6::text[], $7::timestamptz, NULLIF($8, '')::timestamptz) ON CONFLICT DO NOTHING "
        "RETURNING 1",
        key.id, absl::BytesToHexString(key.secret_hash), key.display_name, key.organisation,
        db::TextArray(scopes), db::TextArray(key.sources), db::Timestamp(key.create_time),
        key.expire_time ? db::Timestamp(*key.expire_time) : std::string());
    if (r.empty()) return absl::AlreadyExistsError(absl::StrCat("apiKeys/", key.id));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<KeyRecord>> PgKeyStore::All() {
  std::vector<KeyRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& row : tx.exec(absl::StrCat("SELECT ", kColumns, " FROM api_keys"))) {
      out.push_back(FromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<KeyRecord> PgKeyStore::Revoke(const std::string& id, absl::Time when) {
  std::optional<KeyRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("UPDATE api_keys SET revoke_time = coalesce(revoke_time, $2::timestamptz) "
                     "WHERE key_id = $1 RETURNING ",
                     kColumns),
        id, db::Timestamp(when));
    if (!r.empty()) out = FromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return api::NotFound("apiKeys/" + id);
  return *out;
}

absl::Status PgKeyStore::TouchLastUse(const std::vector<std::string>& ids, absl::Time when) {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE api_keys SET last_use_time = $2::timestamptz WHERE key_id = ANY($1::text[])",
        db::TextArray(ids), db::Timestamp(when));
    return absl::OkStatus();
  });
}

}  // namespace passerelle::gateway
