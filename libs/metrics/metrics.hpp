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
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

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
/// passerelle_grpc_server_handling_seconds{service,method}. An internal fault's status
/// (INTERNAL, UNKNOWN, DATA_LOSS) is logged with its cause and sent as a request id instead.
class GrpcServerMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcServerMetricsFactory(prometheus::Registry& registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  class Series;
  /// One call its handler records (see RecordedByHandler): the same series, the same status
  /// rules and the same log line as the interceptor's. Copyable, to follow a callback's reactor.
  class Call {
   public:
    /// The status to send for `status`, counted and timed from Begin.
    grpc::Status End(const grpc::Status& status, const std::string& request_id) const;

   private:
    friend class GrpcServerMetricsFactory;
    Series* series_ = nullptr;
    std::chrono::steady_clock::time_point start_;
  };
  /// Calls of `full_method` ("/package.Service/Method") are not intercepted: their handler
  /// records each with Begin and End. For callback methods answering on gRPC's own thread, where
  /// the interception hooks on every batch of a call cost 6 % of a search's instructions. A call
  /// gRPC ends before the handler runs (a request that never arrived whole) is then not
  /// counted. Before the server starts only.
  void RecordedByHandler(const std::string& full_method);
  /// A call of `full_method` starts (counted in started_total).
  Call Begin(const std::string& full_method);

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
  std::unordered_set<std::string> recorded_by_handler_;  // written before the server starts
};

/// The canonical name of a gRPC status code, e.g. "NOT_FOUND".
const char* CodeName(int code);

}  // namespace passerelle::metrics
