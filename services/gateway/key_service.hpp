// ApiKeyService: administrators create, list and revoke API keys (gRPC handler; served on the
// gateway's internal port and reached from REST through an in-process channel).
#pragma once

#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "passerelle/gateway/v1/gateway.grpc.pb.h"
#include "services/gateway/forwarder.hpp"
#include "services/gateway/keys.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// Whether what a new key names exists in venues: its organisation and its sources.
class KeyReferences {
 public:
  virtual ~KeyReferences() = default;
  /// OK when `organisations/{id}` exists, NOT_FOUND when venues says it does not, UNAVAILABLE
  /// (with the cause) when venues did not answer.
  virtual absl::Status OrganisationExists(const std::string& id) = 0;
  /// The same for `sources/{id}`.
  virtual absl::Status SourceExists(const std::string& id) = 0;
};

/// KeyReferences asked of venues through the gateway's backends (its GetOrganisation and
/// GetSource routes), each call bounded by `timeout`.
class BackendKeyReferences final : public KeyReferences {
 public:
  BackendKeyReferences(const RouteTable& routes, Backends& backends,
                       absl::Duration timeout = absl::Seconds(5));
  absl::Status OrganisationExists(const std::string& id) override;
  absl::Status SourceExists(const std::string& id) override;

 private:
  absl::Status Exists(const Route* route, const std::string& name);
  Backends& backends_;
  absl::Duration timeout_;
  const Route* get_organisation_ = nullptr;
  const Route* get_source_ = nullptr;
};

class KeyService final : public v1::ApiKeyService::Service {
 public:
  /// `references` (not owned): checks that a new key's organisation and sources exist; null
  /// leaves them unchecked (main wires BackendKeyReferences once the backends are connected).
  KeyService(KeyRing& keys, const api::PageTokens& tokens, KeyReferences* references = nullptr)
      : keys_(keys), tokens_(tokens), references_(references) {}
  /// Wires the references after construction (the backends connect after the service exists).
  void SetReferences(KeyReferences* references) { references_ = references; }
  grpc::Status CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                            v1::CreateApiKeyResponse* resp) override;
  grpc::Status GetApiKey(grpc::ServerContext* ctx, const v1::GetApiKeyRequest* req,
                         v1::ApiKey* resp) override;
  grpc::Status ListApiKeys(grpc::ServerContext* ctx, const v1::ListApiKeysRequest* req,
                           v1::ListApiKeysResponse* resp) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                            v1::ApiKey* resp) override;

 private:
  absl::Status CheckReferences(const v1::ApiKey& key);
  KeyRing& keys_;
  const api::PageTokens& tokens_;
  KeyReferences* references_;
};

/// The checks of a key to create (display name, organisation, scopes, sources, expiry), as
/// BadRequest violations in French.
absl::Status ValidateNewKey(const v1::ApiKey& key, absl::Time now);

}  // namespace passerelle::gateway
