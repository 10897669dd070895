// gRPC server bootstrap shared by every service: health, reflection, metrics interceptor,
// SO_REUSEPORT off, request ids, deadlines, graceful shutdown on SIGTERM.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/logging/logging.hpp"
#include "libs/metrics/metrics.hpp"

namespace passerelle::server {

struct ServerOptions {
  /// host:port; port 0 picks a free port (tests), read back with port().
  std::string address = "127.0.0.1:0";
  /// How long in-flight calls may run after shutdown starts before they are cancelled.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  /// Largest request accepted.
  int max_receive_bytes = 16 * 1024 * 1024;
};

/// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts after, so they
/// can be awaited with WaitForShutdownSignal. Call first thing in main.
void BlockShutdownSignals();
/// Waits for SIGTERM or SIGINT; returns the signal's number.
int WaitForShutdownSignal();

class GrpcServer {
 public:
  GrpcServer(ServerOptions options, metrics::Metrics* metrics);
  ~GrpcServer();

  /// Registers a service before Start (not owned).
  void AddService(grpc::Service* service);
  /// Work to do after the server drained, in reverse order of registration: stop relays and
  /// consumers, close pools.
  void OnShutdown(std::function<void()> hook);
  /// Work to stop before the drain, in order of registration: background work that would
  /// otherwise go on for as long as a client holds a call open (the sync's runs).
  void OnStopping(std::function<void()> hook);

  absl::Status Start();
  int port() const { return port_; }
  /// A channel to this server's own services without the network (after Start).
  std::shared_ptr<grpc::Channel> InProcessChannel();
  /// What counts and times every call (null without metrics); a callback handler may record its
  /// own calls with it (GrpcServerMetricsFactory::RecordedByHandler, before Start).
  metrics::GrpcServerMetricsFactory* call_metrics() { return call_metrics_.get(); }
  /// The stopping hooks, health NOT_SERVING, drain calls up to drain_timeout, then the shutdown
  /// hooks. Idempotent.
  void Shutdown();

 private:
  ServerOptions options_;
  metrics::Metrics* metrics_;
  std::shared_ptr<metrics::GrpcServerMetricsFactory> call_metrics_;  // outlives server_
  std::vector<grpc::Service*> services_;
  std::vector<std::function<void()>> hooks_, stopping_hooks_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

/// The call's request id (x-request-id metadata, or a new one) and W3C trace id (traceparent),
/// set as the logging context for the handler's thread; the request id is echoed back.
class RequestScope {
 public:
  explicit RequestScope(grpc::ServerContextBase* context);
  const logging::RequestIds& ids() const { return ids_; }

 private:
  logging::RequestIds ids_;
  std::unique_ptr<logging::ScopedRequest> scoped_;
};

/// Time left before the caller's deadline, capped at `cap` (a call without deadline gets `cap`).
/// Zero or negative means the caller has already given up. Pass it on as the statement timeout.
std::chrono::milliseconds RemainingBudget(const grpc::ServerContext& context,
                                          std::chrono::milliseconds cap);

}  // namespace passerelle::server
