// Who a call comes from, as the gateway tells the backends: the `x-passerelle-*` metadata it
// sets for a caller with an API key (and strips from what clients send). One reading of that
// metadata for every service.
#pragma once

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace passerelle::server {

/// Metadata names; the gateway writes them (services/gateway/keys.cpp, CallerMetadata).
inline constexpr char kCallerKeyIdHeader[] = "x-passerelle-key-id";
inline constexpr char kCallerScopesHeader[] = "x-passerelle-scopes";
/// The key's display name, UTF-8 (binary metadata, so any text travels).
inline constexpr char kCallerKeyNameHeader[] = "x-passerelle-key-name-bin";
/// The key's organisation, whatever its scopes (`x-passerelle-organisation`, set only for
/// organisation keys, is the organisation a write acts for: see the venues service).
inline constexpr char kCallerKeyOrganisationHeader[] = "x-passerelle-key-organisation";

struct Caller {
  /// The gateway's key id; empty for an internal caller (another service, a test, the
  /// operator) or a call the gateway made without a key.
  std::string key_id;
  /// Scope labels of the key (`partner`, `organisation:write`, `admin`).
  std::set<std::string> scopes;
  std::string key_name;
  std::string key_organisation;

  bool internal() const { return key_id.empty(); }
  bool Has(std::string_view scope) const { return scopes.contains(std::string(scope)); }
  /// What a caller's remembered request ids (AIP-155 `request_id`) are kept under: the key id,
  /// or "" for internal callers. Two callers never share a request id.
  const std::string& RequestScope() const { return key_id; }
};

/// The caller of `context`. PERMISSION_DENIED when one of the metadata is given more than
/// once (the gateway never does), INVALID_ARGUMENT when the scopes or the key's identity are
/// given without a key id.
absl::StatusOr<Caller> CallerOf(const grpc::ServerContextBase& context);

}  // namespace passerelle::server
