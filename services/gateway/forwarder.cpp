#include "services/gateway/forwarder.hpp"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_callback.h"
#include "services/gateway/byte_buffer.hpp"

namespace passerelle::gateway {
namespace {

void Prepare(grpc::ClientContext* ctx, const CallOptions& options) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  if (!options.request_id.empty()) ctx->AddMetadata("x-request-id", options.request_id);
  if (!options.traceparent.empty()) ctx->AddMetadata("traceparent", options.traceparent);
  if (!options.tracestate.empty()) ctx->AddMetadata("tracestate", options.tracestate);
  for (const auto& [key, value] : options.metadata) ctx->AddMetadata(key, value);
}

class UnaryCallImpl : public Call {
 public:
  void Cancel() override { ctx.TryCancel(); }
  grpc::ClientContext ctx;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

// A stream of messages read one at a time at the consumer's pace. A hold keeps OnDone away
// while the consumer still holds a message; it is released when the stream ends or is
// cancelled.
class ServerStreamImpl : public Call,
                         public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public std::enable_shared_from_this<ServerStreamImpl> {
 public:
  ServerStreamImpl(std::string request, StreamCallbacks callbacks)
      : request_(ToBuffer(std::move(request))), callbacks_(std::move(callbacks)) {}

  void Start(grpc::GenericStub* stub, const std::string& method, const CallOptions& options) {
    self_ = shared_from_this();
    Prepare(&ctx_, options);
    stub->PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
    AddHold();
    StartWriteLast(&request_, grpc::WriteOptions());
    reading_ = true;
    StartRead(&response_);
    StartCall();
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    ctx_.TryCancel();
    if (!reading_) ReleaseLocked();
  }
  void OnReadDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    reading_ = false;
    if (!ok || cancelled_) {
      ReleaseLocked();
      return;
    }
    lock.unlock();
    std::weak_ptr<ServerStreamImpl> weak = shared_from_this();
    callbacks_.on_message(ToString(response_), [weak] {
      if (auto self = weak.lock()) self->Next();
    });
  }
  void OnDone(const grpc::Status& status) override {
    // The callbacks hold their caller's state, which holds this call: let both go now.
    StreamCallbacks callbacks = std::move(callbacks_);
    callbacks_ = {};
    callbacks.on_done(status);
    self_.reset();
  }

 private:
  void Next() {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_ || released_) {
      ReleaseLocked();
      return;
    }
    reading_ = true;
    StartRead(&response_);
  }
  void ReleaseLocked() {
    if (released_) return;
    released_ = true;
    RemoveHold();
  }
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  StreamCallbacks callbacks_;
  std::shared_ptr<ServerStreamImpl> self_;
  std::mutex mu_;
  bool reading_ = false;
  bool cancelled_ = false;
  bool released_ = false;
};

class ClientStreamImpl : public Backends::Upload,
                         public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public std::enable_shared_from_this<ClientStreamImpl> {
 public:
  explicit ClientStreamImpl(std::function<void(grpc::Status, std::string)> done)
      : done_(std::move(done)) {}

  void Start(grpc::GenericStub* stub, const std::string& method, const CallOptions& options) {
    self_ = shared_from_this();
    Prepare(&ctx_, options);
    stub->PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
    AddHold();
    StartRead(&response_);
    StartCall();
  }
  void Write(std::string message, std::function<void(bool)> written) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_) {
      lock.unlock();
      written(false);
      return;
    }
    written_ = std::move(written);
    pending_ = ToBuffer(std::move(message));
    StartWrite(&pending_);
  }
  void Finish() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    StartWritesDone();
    RemoveHold();
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.TryCancel();
    if (!finished_) {
      finished_ = true;
      RemoveHold();
    }
  }
  void OnWriteDone(bool ok) override {
    std::function<void(bool)> written;
    {
      std::lock_guard<std::mutex> lock(mu_);
      written = std::move(written_);
    }
    if (written) written(ok);
  }
  void OnReadDone(bool ok) override {
    if (ok) got_response_ = true;
  }
  void OnDone(const grpc::Status& status) override {
    // As for streams: the callback holds its caller's state, which holds this call.
    auto done = std::move(done_);
    done_ = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      written_ = nullptr;
    }
    done(status, got_response_ ? ToString(response_) : std::string());
    self_.reset();
  }

 private:
  grpc::ClientContext ctx_;
  grpc::ByteBuffer pending_;
  grpc::ByteBuffer response_;
  std::function<void(grpc::Status, std::string)> done_;
  std::function<void(bool)> written_;
  std::shared_ptr<ClientStreamImpl> self_;
  std::mutex mu_;
  bool finished_ = false;
  bool got_response_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backends>> Backends::Connect(
    const RouteTable& routes, const std::map<std::string, std::string>& addresses,
    std::map<std::string, ChannelFactory> local) {
  auto backends = std::unique_ptr<Backends>(new Backends());
  backends->local_ = std::move(local);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  for (const Route& r : routes.routes()) {
    const std::string& package = r.method->file()->package();
    if (backends->stubs_.count(package) || backends->local_.count(package)) continue;
    auto it = addresses.find(package);
    if (it == addresses.end() || it->second.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("no address for the backend of ", package,
                                                        " (", r.method->full_name(), ")"));
    }
    backends->stubs_[package] = std::make_unique<grpc::GenericStub>(
        grpc::CreateCustomChannel(it->second, grpc::InsecureChannelCredentials(), args));
  }
  return backends;
}

grpc::GenericStub* Backends::StubFor(const Route& route) {
  const std::string& package = route.method->file()->package();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stubs_.find(package);
  if (it == stubs_.end()) {
    it = stubs_.emplace(package, std::make_unique<grpc::GenericStub>(local_.at(package)())).first;
  }
  return it->second.get();
}

std::shared_ptr<Call> Backends::Unary(const Route& route, std::string request,
                                      const CallOptions& options,
                                      std::function<void(grpc::Status, std::string)> done) {
  auto call = std::make_shared<UnaryCallImpl>();
  Prepare(&call->ctx, options);
  call->request = ToBuffer(std::move(request));
  StubFor(route)->UnaryCall(&call->ctx, route.grpc_path, grpc::StubOptions(), &call->request,
                            &call->response, [call, done = std::move(done)](grpc::Status status) {
                              done(status, status.ok() ? ToString(call->response) : "");
                            });
  return call;
}

std::shared_ptr<Call> Backends::ServerStream(const Route& route, std::string request,
                                             const CallOptions& options,
                                             StreamCallbacks callbacks) {
  auto call = std::make_shared<ServerStreamImpl>(std::move(request), std::move(callbacks));
  call->Start(StubFor(route), route.grpc_path, options);
  return call;
}

std::shared_ptr<Backends::Upload> Backends::ClientStream(
    const Route& route, const CallOptions& options,
    std::function<void(grpc::Status, std::string)> done) {
  auto call = std::make_shared<ClientStreamImpl>(std::move(done));
  call->Start(StubFor(route), route.grpc_path, options);
  return call;
}

}  // namespace passerelle::gateway
