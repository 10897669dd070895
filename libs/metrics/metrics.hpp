// Prometheus metrics for every binary: registry, /metrics exposer, process metrics and the
// gRPC server interceptor (passerelle_grpc_server_*).
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace passerelle::metrics {

/// Owns the registry and the HTTP exposer serving it at /metrics.
class Metrics {
 public:
  /// Binds `address` (host:port, port 0 for any) and registers process metrics.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const std::string& address);

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }
  /// The port actually bound.
  int port() const;

  /// Stops the exposer within milliseconds. Its listener (civetweb) looks at the stop request
  /// only between two waits of 2 s on its socket, so the destructor connects to that
  /// socket while it stops, to end the wait.
  ~Metrics();

 private:
  Metrics() = default;
  std::string address_;  // as bound: host:port, [v6]:port
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

/// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_open_fds, process_start_time_seconds, process_threads: the names Prometheus' own
/// clients use, so standard dashboards work.
std::shared_ptr<prometheus::Collectable> ProcessCollector();

/// Counts and times every RPC: passerelle_grpc_server_started_total{service,method},
/// passerelle_grpc_server_handled_total{service,method,code},
/// passerelle_grpc_server_handling_seconds{service,method}.
class GrpcServerMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcServerMetricsFactory(prometheus::Registry& registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  /// One method's series, found once: a call costs no label map and no family lookup.
  class Series {
   public:
    Series(GrpcServerMetricsFactory& f, std::string service, std::string method);
    const std::string& service() const { return service_; }
    const std::string& method() const { return method_; }
    prometheus::Counter& started() { return started_; }
    prometheus::Histogram& seconds() { return seconds_; }
    /// passerelle_grpc_server_handled_total for `code` (0..16), made at its first use.
    prometheus::Counter& handled(int code);

   private:
    GrpcServerMetricsFactory& factory_;
    std::string service_, method_;
    prometheus::Counter& started_;
    prometheus::Histogram& seconds_;
    std::array<std::atomic<prometheus::Counter*>, 17> handled_{};
  };

 private:
  Series& SeriesOf(const std::string& full_method);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  std::shared_mutex mu_;
  // By full method name, compiled-in methods only (a caller's made-up names share `unknown_`).
  std::unordered_map<std::string, std::unique_ptr<Series>> series_;
  std::unique_ptr<Series> unknown_;
};

/// The canonical name of a gRPC status code, e.g. "NOT_FOUND".
const char* CodeName(int code);

}  // namespace passerelle::metrics
