// Admission at either door (REST and gRPC), before anything else is done for a request: the
// credentials it presents, the caller they stand for, and one token from that caller's bucket.
// A bad key, a malformed header or an unknown path costs a prober a token like any call, and
// both doors share the buckets and the audit line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "services/gateway/keys.hpp"
#include "services/gateway/rate_limit.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// What a request presents: every value of `authorization` and of `x-api-key`, and the
/// client's address as REST names it (`127.0.0.1`, `::1`).
struct Credentials {
  std::vector<std::string_view> authorization;
  std::vector<std::string_view> api_key;
  std::string_view peer;
};

struct Admission {
  /// Anonymous when no key, or when the credentials were refused.
  Caller caller;
  /// OK, or why the request goes no further: RESOURCE_EXHAUSTED (no token left; `rate` says
  /// when to come back), INVALID_ARGUMENT (more than one credential), UNAUTHENTICATED (not
  /// `Bearer <key>`, or a key that is not valid: one message whatever the cause).
  absl::Status status;
  /// The bucket's state after the token was taken; nullopt when no limit applies.
  std::optional<RateLimiter::Decision> rate;
};

class Gate {
 public:
  /// `limits` by bucket scope: `public`, `partner`, `organisation`, `admin`.
  Gate(KeyRing& keys, RateLimiter& limiter, std::map<std::string, RateLimit> limits);

  /// Authenticates and takes one token: from the key's bucket (settings of its highest scope),
  /// or from the address's `public` bucket for anonymous callers and refused credentials.
  Admission Admit(const Credentials& credentials);

  /// The caller a request's credentials stand for, without taking a token (a decision made
  /// before the request is admitted, e.g. whether to read its body; the request is then
  /// either admitted or refused with Admit).
  absl::StatusOr<Caller> Identify(const Credentials& credentials) const;

 private:
  KeyRing& keys_;
  RateLimiter& limiter_;
  std::map<std::string, RateLimit> limits_;
};

/// The RateLimit-* headers of a decision (and Retry-After when it refused).
std::vector<std::pair<std::string, std::string>> RateHeaders(const RateLimiter::Decision& d);

/// One log line per write through either door: who (key id, organisation), what (method,
/// resource), how it ended. Never a secret or a body. Reads (GET routes) are not logged.
void AuditWrite(std::string_view door, const Route& route, const Caller& caller,
                std::string_view resource, int http_status, grpc::StatusCode code,
                std::string_view request_id);

}  // namespace passerelle::gateway
