// Metrics registry, process collector and gRPC server interceptor.
#include "libs/metrics/metrics.hpp"

#include <dirent.h>
#include <google/protobuf/descriptor.h>
#include <netdb.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::metrics {
namespace {

double StartTimeSeconds() {
  static const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return start;
}

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help, double v,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f.metric.push_back(m);
  return f;
}

class ProcessCollectorImpl : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start after the last ')'.
    auto close = content.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(content.substr(close + 2));
      std::vector<std::string> f;
      std::string tok;
      while (in >> tok) f.push_back(tok);
      // f[0] is field 3 (state); utime=14, stime=15, num_threads=20, vsize=23, rss=24.
      if (f.size() > 22) {
        const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
        const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
        out.push_back(Gauge("process_cpu_seconds_total", "User and system CPU time spent",
                            (std::stod(f[11]) + std::stod(f[12])) / ticks,
                            prometheus::MetricType::Counter));
        out.push_back(Gauge("process_threads", "Threads in the process", std::stod(f[17])));
        out.push_back(
            Gauge("process_virtual_memory_bytes", "Virtual memory size", std::stod(f[20])));
        out.push_back(Gauge("process_resident_memory_bytes", "Resident memory size",
                            std::stod(f[21]) * page));
      }
    }
    int fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d) != nullptr) ++fds;
      closedir(d);
      fds -= 3;  // ".", ".." and the directory's own descriptor
    }
    out.push_back(Gauge("process_open_fds", "Open file descriptors", fds));
    out.push_back(
        Gauge("process_start_time_seconds", "Start time since the epoch", StartTimeSeconds()));
    return out;
  }
};

// What a call's end sends and records, for the interceptor and for handlers that record their
// own calls: the status the client gets (`*changed` when it is not `status`), counted and
// timed from `start`.
grpc::Status Settle(GrpcServerMetricsFactory::Series& series, const grpc::Status& status,
                    const std::string& request_id, std::chrono::steady_clock::time_point start,
                    bool* changed) {
  *changed = true;
  grpc::Status sent = status;
  int code = status.error_code();
  if (code == grpc::StatusCode::INTERNAL &&
      (status.error_message().empty() || status.error_message() == "No payload")) {
    // gRPC's own answer when the request bytes do not parse as the method's message (most
    // often invalid UTF-8 in a string field, which proto3 refuses): the client's fault.
    code = grpc::StatusCode::INVALID_ARGUMENT;
    sent = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, api::kUnreadableRequest);
  } else if (code == grpc::StatusCode::INTERNAL && request_id.empty() &&
             status.error_message() == "Couldn't initialize byte buffer reader") {
    // gRPC's own answer when the request never arrived whole: the client cancelled, or its
    // deadline passed, while still sending. Not a fault of ours, and not an alert.
    code = grpc::StatusCode::CANCELLED;
    sent = grpc::Status(grpc::StatusCode::CANCELLED,
                        "the request did not arrive whole (cancelled or past its deadline)");
  } else if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
             code == grpc::StatusCode::DATA_LOSS) {
    // A fault of ours: the operator gets the cause once, the client an id to quote and
    // never the cause itself (it may hold SQL, record data or a secret).
    logging::Log(logging::Level::kError, "request failed",
                 {{"method", absl::StrCat(series.service(), "/", series.method())},
                  {"code", CodeName(code)},
                  {"cause", text::Quote(status.error_message(), 2000)},
                  {"request_id", request_id}});
    sent =
        grpc::Status(status.error_code(),
                     absl::StrCat("internal error; the operators have its cause under request id ",
                                  request_id.empty() ? "(none)" : request_id));
  } else {
    *changed = false;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  series.handled(code).Increment();
  series.seconds().Observe(secs);
  return sent;
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(GrpcServerMetricsFactory::Series* series)
      : series_(series), start_(std::chrono::steady_clock::now()) {
    series_->started().Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      // The handler put its request id there (server::RequestScope).
      auto* md = methods->GetSendInitialMetadata();
      if (auto it = md->find("x-request-id"); it != md->end()) request_id_ = it->second;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      bool changed = false;
      grpc::Status sent = Settle(*series_, methods->GetSendStatus(), request_id_, start_, &changed);
      if (changed) methods->ModifySendStatus(sent);
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetricsFactory::Series* series_;
  std::chrono::steady_clock::time_point start_;
  std::string request_id_;
};

}  // namespace

const char* CodeName(int code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN";
  return kNames[code];
}

std::shared_ptr<prometheus::Collectable> ProcessCollector() {
  StartTimeSeconds();
  return std::make_shared<ProcessCollectorImpl>();
}

namespace {

// One TCP connection to the exposer's own socket, closed at once: it wakes civetweb's listener.
// `address` is what the exposer bound (host:port, [v6]:port); a wildcard host is reached on
// loopback, a host name is not looked up (the listener then stops at its next wake-up).
void Knock(const std::string& address, int port) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0) {
    (void)connect(fd, found->ai_addr, found->ai_addrlen);  // in progress is enough
    close(fd);
  }
  freeaddrinfo(found);
}

}  // namespace

Metrics::~Metrics() {
  if (exposer_ == nullptr) return;
  const int bound = port();
  if (bound <= 0) return;  // nothing listens: the exposer goes with its members
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  // Knocks until the exposer is gone: the first knock may come before civetweb asked its
  // listener to stop, and is then served as an ordinary (empty) connection.
  std::thread knocker([&] {
    std::unique_lock lock(mu);
    while (!stopped) {
      lock.unlock();
      Knock(address_, bound);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
    }
  });
  exposer_.reset();
  {
    std::lock_guard lock(mu);
    stopped = true;
  }
  cv.notify_all();
  knocker.join();
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& address) {
  auto m = std::unique_ptr<Metrics>(new Metrics());
  m->address_ = address;
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->process_ = ProcessCollector();
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->process_);
  return m;
}

int Metrics::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

GrpcServerMetricsFactory::GrpcServerMetricsFactory(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("passerelle_grpc_server_started_total")
                   .Help("RPCs started on the server")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("passerelle_grpc_server_handled_total")
                   .Help("RPCs completed on the server, by status code")
                   .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("passerelle_grpc_server_handling_seconds")
                   .Help("Time from receiving an RPC to sending its status")
                   .Register(registry)) {}

GrpcServerMetricsFactory::Series::Series(GrpcServerMetricsFactory& f, std::string service,
                                         std::string method)
    : factory_(f),
      service_(std::move(service)),
      method_(std::move(method)),
      started_(f.started_.Add({{"service", service_}, {"method", method_}})),
      seconds_(f.seconds_.Add(
          {{"service", service_}, {"method", method_}},
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

prometheus::Counter& GrpcServerMetricsFactory::Series::handled(int code) {
  if (code < 0 || code > 16) code = 2;  // UNKNOWN, as CodeName names it
  std::atomic<prometheus::Counter*>& slot = handled_[static_cast<size_t>(code)];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    // The family hands the same counter to every thread that asks for the same labels.
    c = &factory_.handled_.Add(
        {{"service", service_}, {"method", method_}, {"code", CodeName(code)}});
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

GrpcServerMetricsFactory::Series& GrpcServerMetricsFactory::SeriesOf(
    const std::string& full_method) {
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(full_method); it != series_.end()) return *it->second;
  }
  // "/passerelle.venues.v1.VenueService/GetVenue" -> service, method (bounded label values).
  std::string service = "unknown", method = "unknown";
  auto slash = full_method.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    service = full_method.substr(1, slash - 1);
    method = full_method.substr(slash + 1);
  }
  std::unique_lock lock(mu_);
  // Any caller may name any method: only methods of a compiled-in service get series (and a
  // place in the map) of their own, or each made-up name would add some for the life of the
  // process.
  if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(service + "." +
                                                                           method) == nullptr) {
    if (unknown_ == nullptr) unknown_ = std::make_unique<Series>(*this, "unknown", "unknown");
    return *unknown_;
  }
  auto& slot = series_[full_method];
  if (slot == nullptr) slot = std::make_unique<Series>(*this, service, method);
  return *slot;
}

grpc::experimental::Interceptor* GrpcServerMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const std::string method = info->method() != nullptr ? info->method() : "";
  if (recorded_by_handler_.contains(method)) return nullptr;  // gRPC then skips interception
  return new MetricsInterceptor(&SeriesOf(method));
}

void GrpcServerMetricsFactory::RecordedByHandler(const std::string& full_method) {
  recorded_by_handler_.insert(full_method);
}

GrpcServerMetricsFactory::Call GrpcServerMetricsFactory::Begin(const std::string& full_method) {
  Call call;
  call.series_ = &SeriesOf(full_method);
  call.start_ = std::chrono::steady_clock::now();
  call.series_->started().Increment();
  return call;
}

grpc::Status GrpcServerMetricsFactory::Call::End(const grpc::Status& status,
                                                 const std::string& request_id) const {
  bool changed = false;
  return Settle(*series_, status, request_id, start_, &changed);
}

}  // namespace passerelle::metrics
