// The public gRPC door: the same public methods as REST, on a port of their own, forwarded as
// raw bytes to their backends with the caller's deadline, request and trace ids. Keys come in
// the `authorization: Bearer …` (or `x-api-key`) metadata and are checked like REST's.
// Methods without a google.api.http rule do not exist here (UNIMPLEMENTED).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/gateway/answer_cache.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/forwarder.hpp"
#include "services/gateway/keys.hpp"
#include "services/gateway/rate_limit.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

struct GrpcFrontOptions {
  std::string address = "0.0.0.0:0";
  absl::Duration default_timeout = absl::Seconds(10);
  absl::Duration stream_timeout = absl::Minutes(10);
  /// Largest client stream (imports), as REST's PASSERELLE_GATEWAY_MAX_UPLOAD_MB.
  size_t max_upload_bytes = size_t{64} << 20;
  std::map<std::string, RateLimit> rate_limits;
  /// Told of each write's answer, so REST readers see what was written through this door at
  /// once (not owned; null: none).
  AnswerCache* answer_cache = nullptr;
};

class GrpcFront {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcFront>> Start(const ApiSchema& schema,
                                                          const RouteTable& routes,
                                                          Backends& backends, KeyRing& keys,
                                                          RateLimiter& limiter,
                                                          GrpcFrontOptions options);
  ~GrpcFront();
  int port() const;
  /// Stops accepting; calls in flight get until `grace`.
  void Shutdown(absl::Duration grace);

  struct Impl;

 private:
  explicit GrpcFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::gateway
