// ApiKeyService: administrators create, list and revoke API keys (gRPC handler; served on the
// gateway's internal port and reached from REST through an in-process channel).
#pragma once

#include "libs/api/page_token.hpp"
#include "passerelle/gateway/v1/gateway.grpc.pb.h"
#include "services/gateway/keys.hpp"

namespace passerelle::gateway {

class KeyService final : public v1::ApiKeyService::Service {
 public:
  KeyService(KeyRing& keys, const api::PageTokens& tokens) : keys_(keys), tokens_(tokens) {}
  grpc::Status CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                            v1::CreateApiKeyResponse* resp) override;
  grpc::Status GetApiKey(grpc::ServerContext* ctx, const v1::GetApiKeyRequest* req,
                         v1::ApiKey* resp) override;
  grpc::Status ListApiKeys(grpc::ServerContext* ctx, const v1::ListApiKeysRequest* req,
                           v1::ListApiKeysResponse* resp) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                            v1::ApiKey* resp) override;

 private:
  KeyRing& keys_;
  const api::PageTokens& tokens_;
};

/// The checks of a key to create (display name, organisation, scopes, sources, expiry), as
/// BadRequest violations in French.
absl::Status ValidateNewKey(const v1::ApiKey& key, absl::Time now);

}  // namespace passerelle::gateway
