#include "services/gateway/keys.hpp"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/status.hpp"
#include "libs/server/caller.hpp"
#include "libs/text/utf8.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {
namespace {

constexpr char kPrefixText[] = "psk_";
constexpr std::string_view kPrefix = kPrefixText;
constexpr size_t kIdLength = 12;
constexpr size_t kSecretLength = 43;  // 32 bytes, base64url without padding
constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("clé d'API invalide, expirée ou révoquée");
}

bool IsBase64Url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

std::string ScopeLabel(api::v1::Scope scope) {
  switch (scope) {
    case api::v1::PARTNER:
      return "partner";
    case api::v1::ORGANISATION_WRITE:
      return "organisation:write";
    case api::v1::ADMIN:
      return "admin";
    default:
      return "public";
  }
}

}  // namespace

KeyRing::KeyRing(KeyStore& store, std::string pepper, const clocks::Clock& clock)
    : store_(store), pepper_(std::move(pepper)), clock_(clock) {}

std::optional<std::pair<std::string, std::string>> KeyRing::Parse(std::string_view presented) {
  if (presented.size() != kPrefix.size() + kIdLength + 1 + kSecretLength ||
      presented.substr(0, kPrefix.size()) != kPrefix ||
      presented[kPrefix.size() + kIdLength] != '_') {
    return std::nullopt;
  }
  std::string_view id = presented.substr(kPrefix.size(), kIdLength);
  std::string_view secret = presented.substr(kPrefix.size() + kIdLength + 1);
  for (char c : id) {
    if (std::string_view(kBase32).find(c) == std::string_view::npos) return std::nullopt;
  }
  if (!IsBase64Url(secret)) return std::nullopt;
  return std::make_pair(std::string(id), std::string(secret));
}

std::string KeyRing::Hash(std::string_view secret) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), pepper_.data(), static_cast<int>(pepper_.size()),
       reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

absl::Status KeyRing::Refresh() {
  absl::StatusOr<std::vector<KeyRecord>> all = store_.All();
  if (!all.ok()) return all.status();
  std::map<std::string, KeyRecord> keys;
  for (KeyRecord& k : *all) keys.emplace(k.id, std::move(k));
  std::lock_guard<std::mutex> lock(mu_);
  keys_ = std::move(keys);
  return absl::OkStatus();
}

absl::StatusOr<Caller> KeyRing::Authenticate(std::string_view presented) {
  std::optional<std::pair<std::string, std::string>> parsed = Parse(presented);
  if (!parsed) return Unauthenticated();
  std::string hash = Hash(parsed->second);
  absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(parsed->first);
  if (it == keys_.end()) return Unauthenticated();
  const KeyRecord& key = it->second;
  if (key.secret_hash.size() != hash.size() ||
      CRYPTO_memcmp(key.secret_hash.data(), hash.data(), hash.size()) != 0) {
    return Unauthenticated();
  }
  if (key.revoke_time || (key.expire_time && *key.expire_time <= now)) return Unauthenticated();
  used_.insert(key.id);
  Caller caller;
  caller.anonymous = false;
  caller.key_id = key.id;
  caller.display_name = key.display_name;
  caller.organisation = key.organisation;
  caller.scopes.insert(key.scopes.begin(), key.scopes.end());
  caller.sources = key.sources;
  return caller;
}

absl::Status KeyRing::FlushLastUse() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.assign(used_.begin(), used_.end());
    used_.clear();
  }
  if (ids.empty()) return absl::OkStatus();
  return store_.TouchLastUse(ids, clock_.Now());
}

absl::StatusOr<std::string> KeyRing::Issue(KeyRecord* record) {
  std::string id;
  for (unsigned char b : RandomBytes(kIdLength)) id.push_back(kBase32[b % 32]);
  std::string secret = absl::WebSafeBase64Escape(RandomBytes(32));
  record->id = id;
  record->secret_hash = Hash(secret);
  record->create_time = clock_.Now();
  if (absl::Status s = store_.Create(*record); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  keys_[record->id] = *record;
  return absl::StrCat(kPrefixText, id, "_", secret);
}

absl::Status KeyRing::Ensure(std::string_view whole_key, KeyRecord record) {
  std::optional<std::pair<std::string, std::string>> parsed = Parse(whole_key);
  if (!parsed) {
    return absl::InvalidArgumentError(
        "the bootstrap key is not of the form psk_<12 of a-z2-7>_<43 of base64url>");
  }
  record.id = parsed->first;
  record.secret_hash = Hash(parsed->second);
  record.create_time = clock_.Now();
  absl::Status created = store_.Create(record);
  if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
  return Refresh();
}

absl::StatusOr<KeyRecord> KeyRing::Revoke(const std::string& id) {
  absl::StatusOr<KeyRecord> revoked = store_.Revoke(id, clock_.Now());
  if (!revoked.ok()) return revoked;
  std::lock_guard<std::mutex> lock(mu_);
  keys_[id] = *revoked;
  return revoked;
}

std::vector<KeyRecord> KeyRing::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KeyRecord> out;
  for (const auto& [id, k] : keys_) out.push_back(k);
  return out;
}

namespace {

bool Allowed(const Caller& caller, api::v1::Scope needed) {
  switch (needed) {
    case api::v1::PUBLIC:
      return true;
    case api::v1::PARTNER:
      return caller.Has(api::v1::PARTNER) || caller.Has(api::v1::ADMIN);
    case api::v1::ORGANISATION_WRITE:
      return caller.Has(api::v1::ORGANISATION_WRITE) || caller.Has(api::v1::ADMIN);
    case api::v1::ADMIN:
      return caller.Has(api::v1::ADMIN);
    default:
      return false;
  }
}

absl::Status Refuse(const Caller& caller, api::v1::Scope needed, const std::string& what) {
  if (caller.anonymous) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " demande une clé d'API (Authorization: Bearer …)"));
  }
  return api::WithReason(absl::PermissionDeniedError(
                             absl::StrCat(what, " demande le droit « ", ScopeLabel(needed), " »")),
                         "SCOPE_MISSING");
}

}  // namespace

absl::Status AuthorizeScope(const Route& route, const Caller& caller) {
  if (Allowed(caller, route.access.scope())) return absl::OkStatus();
  for (int s : route.access.also()) {
    if (Allowed(caller, static_cast<api::v1::Scope>(s))) return absl::OkStatus();
  }
  return Refuse(caller, route.access.scope(),
                absl::StrCat("cette opération (", route.method->name(), ")"));
}

std::vector<const google::protobuf::FieldDescriptor*> FieldsBeyondScope(const Route& route,
                                                                        const Caller& caller) {
  std::vector<const google::protobuf::FieldDescriptor*> out;
  for (const auto& [field, scope] : route.field_scopes) {
    if (!Allowed(caller, scope)) out.push_back(field);
  }
  return out;
}

absl::Status Authorize(const Route& route, const Caller& caller, nlohmann::json* request) {
  auto allowed = [&](api::v1::Scope needed) { return Allowed(caller, needed); };
  auto refuse = [&](api::v1::Scope needed, const std::string& what) {
    return Refuse(caller, needed, what);
  };
  if (absl::Status s = AuthorizeScope(route, caller); !s.ok()) return s;
  for (const auto& [field, scope] : route.field_scopes) {
    const nlohmann::json* v = nullptr;
    for (const std::string& key : {field->json_name(), field->name()}) {
      if (request->contains(key)) v = &(*request)[key];
    }
    bool set = v != nullptr && !v->is_null() && *v != false && *v != 0 && *v != "";
    if (set && !allowed(scope)) return refuse(scope, field->json_name());
  }
  const google::protobuf::Descriptor* input = route.method->input_type();
  if (!route.access.source_field().empty() && !caller.Has(api::v1::ADMIN)) {
    std::string source = GetStringField(*request, input, route.access.source_field()).value_or("");
    if (std::find(caller.sources.begin(), caller.sources.end(), source) == caller.sources.end()) {
      return api::WithReason(absl::PermissionDeniedError(absl::StrCat(
                                 "cette clé n'écrit pas la source ", text::Quote(source))),
                             "SOURCE_NOT_BOUND");
    }
  }
  if (!route.access.owner_field().empty() && caller.Has(api::v1::ORGANISATION_WRITE) &&
      !caller.Has(api::v1::ADMIN)) {
    std::string owner = GetStringField(*request, input, route.access.owner_field()).value_or("");
    if (owner.empty()) {
      SetStringField(request, input, route.access.owner_field(), caller.organisation);
    } else if (owner != caller.organisation) {
      return api::WithReason(
          absl::PermissionDeniedError(absl::StrCat("cette clé agit pour ", caller.organisation,
                                                   ", pas pour ", text::Quote(owner))),
          "NOT_OWNER");
    }
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> CallerMetadata(const Caller& caller) {
  std::vector<std::pair<std::string, std::string>> md;
  if (caller.anonymous) return md;
  md.emplace_back(server::kCallerKeyIdHeader, caller.key_id);
  std::vector<std::string> scopes;
  for (api::v1::Scope s : caller.scopes) scopes.push_back(ScopeLabel(s));
  md.emplace_back(server::kCallerScopesHeader, absl::StrJoin(scopes, ","));
  md.emplace_back(server::kCallerKeyNameHeader, caller.display_name);
  if (!caller.organisation.empty()) {
    md.emplace_back(server::kCallerKeyOrganisationHeader, caller.organisation);
  }
  if (caller.Has(api::v1::ORGANISATION_WRITE) && !caller.Has(api::v1::ADMIN)) {
    md.emplace_back("x-passerelle-organisation", caller.organisation);
  }
  return md;
}

}  // namespace passerelle::gateway
