// gRPC server bootstrap.
#include "libs/server/server.hpp"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "libs/events/event.hpp"

namespace passerelle::server {

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

GrpcServer::GrpcServer(ServerOptions options, metrics::Metrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {
  if (metrics_ != nullptr) {
    call_metrics_ = std::make_shared<metrics::GrpcServerMetricsFactory>(metrics_->registry());
  }
}

namespace {

// gRPC owns the factories it is given; the server keeps its own for handlers to use.
class SharedFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit SharedFactory(std::shared_ptr<metrics::GrpcServerMetricsFactory> f) : f_(std::move(f)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return f_->CreateServerInterceptor(info);
  }

 private:
  std::shared_ptr<metrics::GrpcServerMetricsFactory> f_;
};

}  // namespace

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::AddService(grpc::Service* service) { services_.push_back(service); }

void GrpcServer::OnShutdown(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

void GrpcServer::OnStopping(std::function<void()> hook) {
  stopping_hooks_.push_back(std::move(hook));
}

absl::Status GrpcServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC turns SO_REUSEPORT on by default: a second process would bind the same port silently
  // and steal half the traffic (toolchain.md).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_bytes);
  builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(), &port_);
  for (auto* s : services_) builder.RegisterService(s);
  if (call_metrics_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(std::make_unique<SharedFactory>(call_metrics_));
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.address,
                                               ": the port is taken or the address is invalid"));
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  logging::Info("gRPC server listening", {{"address", options_.address}, {"port", port_}});
  return absl::OkStatus();
}

void GrpcServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& hook : stopping_hooks_) hook();
  stopping_hooks_.clear();
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    logging::Info("draining gRPC calls", {{"timeout_ms", options_.drain_timeout.count()}});
    server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
    server_->Wait();
    logging::Info("gRPC calls drained");
  }
  // Each hook timed: a stop that keeps the process from exiting says which one it was.
  for (size_t i = hooks_.size(); i-- > 0;) {
    const auto started = std::chrono::steady_clock::now();
    hooks_[i]();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (took > std::chrono::seconds(1)) {
      logging::Warn("slow shutdown hook", {{"hook", static_cast<int>(i)},
                                           {"of", static_cast<int>(hooks_.size())},
                                           {"ms", static_cast<int64_t>(took.count())}});
    }
  }
  hooks_.clear();
  logging::Info("shut down");
}

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_receive_bytes);
  return server_->InProcessChannel(args);
}

RequestScope::RequestScope(grpc::ServerContextBase* context) {
  const auto& md = context->client_metadata();
  if (auto it = md.find("x-request-id"); it != md.end()) {
    ids_.request_id = std::string(it->second.data(), it->second.size()).substr(0, 128);
  } else {
    ids_.request_id = events::NewUuid();
  }
  if (auto it = md.find("traceparent"); it != md.end()) {
    // traceparent: 00-<32 hex trace id>-<16 hex span id>-<flags>
    std::string tp(it->second.data(), it->second.size());
    if (tp.size() >= 35 && tp[2] == '-') ids_.trace_id = tp.substr(3, 32);
  }
  context->AddInitialMetadata("x-request-id", ids_.request_id);
  scoped_ = std::make_unique<logging::ScopedRequest>(ids_);
}

std::chrono::milliseconds RemainingBudget(const grpc::ServerContext& context,
                                          std::chrono::milliseconds cap) {
  auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return cap;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  return std::min(left, cap);
}

}  // namespace passerelle::server
