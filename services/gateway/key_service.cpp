#include "services/gateway/key_service.hpp"

#include <algorithm>
#include <future>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/logging/logging.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::gateway {
namespace {

const api::ResourcePattern kKeyName("apiKeys/{key}");

bool IsSlug(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

void ToProto(const KeyRecord& k, v1::ApiKey* out) {
  out->set_name(kKeyName.Format({k.id}));
  out->set_display_name(k.display_name);
  out->set_organisation(k.organisation);
  for (api::v1::Scope s : k.scopes) out->add_scopes(s);
  for (const std::string& s : k.sources) out->add_sources(s);
  api::ToTimestamp(k.create_time, out->mutable_create_time());
  if (k.expire_time) api::ToTimestamp(*k.expire_time, out->mutable_expire_time());
  if (k.revoke_time) api::ToTimestamp(*k.revoke_time, out->mutable_revoke_time());
  if (k.last_use_time) api::ToTimestamp(*k.last_use_time, out->mutable_last_use_time());
}

absl::StatusOr<KeyRecord> Find(KeyRing& keys, const std::string& name) {
  absl::StatusOr<std::vector<std::string>> parts = kKeyName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  for (KeyRecord& k : keys.Snapshot()) {
    if (k.id == (*parts)[0]) return k;
  }
  return api::NotFound(name);
}

// Whether venues answered NOT_FOUND, answered, or could not be asked.
absl::Status FromBackend(const grpc::Status& st, const std::string& what) {
  if (st.ok()) return absl::OkStatus();
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
    return api::NotFound(what);
  }
  return absl::UnavailableError(absl::StrCat("venues n'a pas pu vérifier ", what, " (",
                                             text::Quote(st.error_message(), 100),
                                             ") : réessayez ; rien n'a été enregistré"));
}

}  // namespace

BackendKeyReferences::BackendKeyReferences(const RouteTable& routes, Backends& backends,
                                           absl::Duration timeout)
    : backends_(backends), timeout_(timeout) {
  for (const Route& r : routes.routes()) {
    if (r.grpc_path == "/passerelle.venues.v1.OrganisationService/GetOrganisation") {
      get_organisation_ = &r;
    } else if (r.grpc_path == "/passerelle.venues.v1.VenueService/GetSource") {
      get_source_ = &r;
    }
  }
}

absl::Status BackendKeyReferences::Exists(const Route* route, const std::string& name) {
  const std::string& what = name;
  if (route == nullptr) {
    return absl::UnavailableError(absl::StrCat("le gateway ne sert pas la lecture de ", what,
                                               " : impossible de la vérifier"));
  }
  // GetOrganisationRequest and GetSourceRequest are both `name` alone.
  venues::v1::GetSourceRequest message;
  message.set_name(name);
  std::string request = message.SerializeAsString();
  CallOptions options;
  options.request_id = logging::CurrentRequest().request_id;
  options.timeout = timeout_;
  auto done = std::make_shared<std::promise<grpc::Status>>();
  std::future<grpc::Status> answered = done->get_future();
  backends_.Unary(*route, std::move(request), options,
                  [done](grpc::Status st, std::string) { done->set_value(std::move(st)); });
  // The call's own deadline ends it; the margin only guards against a callback never run.
  if (answered.wait_for(absl::ToChronoSeconds(timeout_ + absl::Seconds(1))) !=
      std::future_status::ready) {
    return absl::UnavailableError(absl::StrCat("venues n'a pas répondu pour ", what));
  }
  return FromBackend(answered.get(), what);
}

absl::Status BackendKeyReferences::OrganisationExists(const std::string& id) {
  return Exists(get_organisation_, "organisations/" + id);
}

absl::Status BackendKeyReferences::SourceExists(const std::string& id) {
  return Exists(get_source_, "sources/" + id);
}

absl::Status KeyService::CheckReferences(const v1::ApiKey& key) {
  if (references_ == nullptr) return absl::OkStatus();
  // What is missing is named for a program too: PreconditionFailure's type and subject.
  auto missing = [](absl::Status found, const std::string& field, const char* type,
                    const std::string& subject, const char* reason) {
    if (!absl::IsNotFound(found)) return found;
    return api::FailedPrecondition(
        absl::StrCat(field, " : ", found.message(), " ; créez-la avant de lui donner une clé"),
        type, subject, reason);
  };
  if (!key.organisation().empty()) {
    absl::Status found = references_->OrganisationExists(key.organisation());
    if (!found.ok()) {
      return missing(found, "api_key.organisation", "ORGANISATION",
                     "organisations/" + key.organisation(), "ORGANISATION_NOT_FOUND");
    }
  }
  for (int i = 0; i < key.sources_size(); ++i) {
    absl::Status found = references_->SourceExists(key.sources(i));
    if (!found.ok()) {
      return missing(found, absl::StrCat("api_key.sources[", i, "]"), "SOURCE",
                     "sources/" + key.sources(i), "SOURCE_NOT_FOUND");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNewKey(const v1::ApiKey& key, absl::Time now) {
  std::vector<api::FieldViolation> bad;
  if (api::CheckText(&bad, "api_key.display_name", key.display_name(), 200) &&
      text::IsBlank(key.display_name())) {
    bad.push_back({"api_key.display_name",
                   "[required] obligatoire : qui tient la clé et pour quoi (ce nom signe ses commentaires "
                   "de propositions)"});
  }
  if (!key.organisation().empty() && !IsSlug(key.organisation(), 63)) {
    bad.push_back({"api_key.organisation",
                   absl::StrCat("identifiant d'organisation attendu (a-z, 0-9, -), reçu ",
                                text::Quote(key.organisation()))});
  }
  if (key.scopes().empty()) {
    bad.push_back({"api_key.scopes", "[required] au moins un droit : PARTNER, ORGANISATION_WRITE, ADMIN"});
  }
  for (int i = 0; i < key.scopes_size(); ++i) {
    int s = key.scopes(i);
    if (s != api::v1::PARTNER && s != api::v1::ORGANISATION_WRITE && s != api::v1::ADMIN) {
      bad.push_back({absl::StrCat("api_key.scopes[", i, "]"),
                     "droit attendu : PARTNER, ORGANISATION_WRITE ou ADMIN"});
    }
    if (s == api::v1::ORGANISATION_WRITE && key.organisation().empty()) {
      bad.push_back({"api_key.organisation", "obligatoire avec le droit ORGANISATION_WRITE"});
    }
  }
  if (key.sources_size() > 50) bad.push_back({"api_key.sources", "au plus 50 sources"});
  for (int i = 0; i < key.sources_size() && i < 50; ++i) {
    if (!IsSlug(key.sources(i), 64)) {
      bad.push_back(
          {absl::StrCat("api_key.sources[", i, "]"),
           absl::StrCat("identifiant de source attendu, reçu ", text::Quote(key.sources(i)))});
    }
  }
  if (key.has_expire_time()) {
    absl::Time expire = absl::FromUnixSeconds(key.expire_time().seconds());
    if (expire <= now || key.expire_time().seconds() > 4102444800) {
      bad.push_back({"api_key.expire_time", "date future avant 2100 attendue"});
    }
  }
  if (bad.empty()) return absl::OkStatus();
  return api::InvalidArgument("clé d'API refusée", bad);
}

grpc::Status KeyService::CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                                      v1::CreateApiKeyResponse* resp) {
  server::RequestScope scope(ctx);
  if (absl::Status s = ValidateNewKey(req->api_key(), absl::Now()); !s.ok()) {
    return server::ToGrpc(s);
  }
  // Before anything is stored: a key for an organisation or source venues does not know would
  // act for nobody.
  if (absl::Status s = CheckReferences(req->api_key()); !s.ok()) return server::ToGrpc(s);
  KeyRecord record;
  record.display_name = req->api_key().display_name();
  record.organisation = req->api_key().organisation();
  for (int s : req->api_key().scopes()) {
    auto scope_value = static_cast<api::v1::Scope>(s);
    if (std::find(record.scopes.begin(), record.scopes.end(), scope_value) == record.scopes.end()) {
      record.scopes.push_back(scope_value);
    }
  }
  record.sources.assign(req->api_key().sources().begin(), req->api_key().sources().end());
  if (req->api_key().has_expire_time()) {
    record.expire_time = absl::FromUnixSeconds(req->api_key().expire_time().seconds());
  }
  absl::StatusOr<std::string> secret = keys_.Issue(&record);
  if (!secret.ok()) return server::ToGrpc(secret.status());
  ToProto(record, resp->mutable_api_key());
  resp->set_secret(*secret);
  logging::Info("api key created", {{"key_id", record.id}, {"organisation", record.organisation}});
  return grpc::Status::OK;
}

grpc::Status KeyService::GetApiKey(grpc::ServerContext* ctx, const v1::GetApiKeyRequest* req,
                                   v1::ApiKey* resp) {
  server::RequestScope scope(ctx);
  absl::StatusOr<KeyRecord> key = Find(keys_, req->name());
  if (!key.ok()) return server::ToGrpc(key.status());
  ToProto(*key, resp);
  return grpc::Status::OK;
}

grpc::Status KeyService::ListApiKeys(grpc::ServerContext* ctx, const v1::ListApiKeysRequest* req,
                                     v1::ListApiKeysResponse* resp) {
  server::RequestScope scope(ctx);
  auto page_size = api::PageSize(req->page_size(), 50, 500);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  int size = *page_size;
  std::vector<KeyRecord> keys = keys_.Snapshot();
  std::sort(keys.begin(), keys.end(), [](const KeyRecord& a, const KeyRecord& b) {
    return std::tie(b.create_time, b.id) < std::tie(a.create_time, a.id);
  });
  size_t start = 0;
  if (!req->page_token().empty()) {
    absl::StatusOr<std::string> cursor = tokens_.Open("apiKeys", "", req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    // The cursor is the last key of the previous page: resume after it in the same order.
    size_t slash = cursor->find('/');
    int64_t nanos = 0;
    if (slash == std::string::npos || !absl::SimpleAtoi(cursor->substr(0, slash), &nanos)) {
      return server::ToGrpc(absl::InternalError("sealed api key cursor unreadable"));
    }
    absl::Time at = absl::FromUnixNanos(nanos);
    std::string id = cursor->substr(slash + 1);
    while (start < keys.size() &&
           std::tie(at, id) <= std::tie(keys[start].create_time, keys[start].id)) {
      ++start;
    }
  }
  size_t end = std::min(keys.size(), start + size);
  for (size_t i = start; i < end; ++i) ToProto(keys[i], resp->add_api_keys());
  if (end < keys.size()) {
    resp->set_next_page_token(tokens_.Seal(
        "apiKeys", "",
        absl::StrCat(absl::ToUnixNanos(keys[end - 1].create_time), "/", keys[end - 1].id)));
  }
  return grpc::Status::OK;
}

grpc::Status KeyService::RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                                      v1::ApiKey* resp) {
  server::RequestScope scope(ctx);
  absl::StatusOr<KeyRecord> key = Find(keys_, req->name());
  if (!key.ok()) return server::ToGrpc(key.status());
  absl::StatusOr<KeyRecord> revoked = keys_.Revoke(key->id);
  if (!revoked.ok()) return server::ToGrpc(revoked.status());
  ToProto(*revoked, resp);
  logging::Info("api key revoked", {{"key_id", revoked->id}});
  return grpc::Status::OK;
}

}  // namespace passerelle::gateway
