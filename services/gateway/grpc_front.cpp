#include "services/gateway/grpc_front.hpp"

#include <atomic>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/server_builder_option.h"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/split.hpp"
#include "services/gateway/admission.hpp"
#include "services/gateway/byte_buffer.hpp"
#include "services/gateway/errors.hpp"
#include "services/gateway/ids.hpp"
#include "services/gateway/reflection.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {
namespace {

std::optional<std::string> Metadata(const grpc::GenericCallbackServerContext* ctx,
                                    std::string_view key) {
  auto it = ctx->client_metadata().find(grpc::string_ref(key.data(), key.size()));
  if (it == ctx->client_metadata().end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

// Every value of one metadata key (two `authorization` entries are refused by the gate).
std::vector<std::string_view> AllMetadata(const grpc::GenericCallbackServerContext* ctx,
                                          std::string_view key) {
  std::vector<std::string_view> out;
  auto [from, to] = ctx->client_metadata().equal_range(grpc::string_ref(key.data(), key.size()));
  for (auto it = from; it != to; ++it) out.emplace_back(it->second.data(), it->second.size());
  return out;
}

}  // namespace

struct GrpcFront::Impl : public grpc::CallbackGenericService {
  const ApiSchema* schema;
  Backends* backends;
  KeyRing* keys;
  std::unique_ptr<Gate> gate;
  GrpcFrontOptions options;
  std::map<std::string, const Route*> by_path;
  std::unique_ptr<PublicReflection> reflection;
  // Requests read before their access rules are checked (thread-safe once made).
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
};

namespace {

// A call refused before any message is read: unknown method, or a caller the gate turned
// away. It finishes at once and is audited when it named a public write.
class Refusal : public grpc::ServerGenericBidiReactor {
 public:
  Refusal(grpc::Status status, const Route* route, const Caller& caller) {
    if (route != nullptr) AuditWrite("grpc", *route, caller, "", 0, status.error_code(), "");
    Finish(status);
  }
  void OnDone() override { delete this; }
};

// The client's address as REST names it (`127.0.0.1`, `::1`), so that both doors share an
// anonymous caller's bucket. gRPC writes `ipv4:1.2.3.4:5678` or `ipv6:[::1]:5678`.
std::string Peer(const grpc::GenericCallbackServerContext* ctx) {
  std::string peer = ctx->peer();
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos) peer = peer.substr(0, colon);
  for (std::string_view prefix : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(prefix, 0) == 0) peer = peer.substr(prefix.size());
  }
  if (peer.size() >= 2 && peer.front() == '[' && peer.back() == ']') {
    peer = peer.substr(1, peer.size() - 2);
  }
  return peer;
}

// One proxied call. It finishes exactly once: before any backend call, or from the backend
// call's last callback, so OnDone (which deletes it) never races a backend callback.
class ProxyReactor : public grpc::ServerGenericBidiReactor {
 public:
  // `route` is the public method called; `caller` has been admitted by the gate.
  ProxyReactor(GrpcFront::Impl& front, grpc::GenericCallbackServerContext* ctx, const Route* route,
               Caller caller)
      : front_(front), ctx_(ctx), route_(route), caller_(std::move(caller)) {
    std::optional<std::string> rid = Metadata(ctx, "x-request-id");
    call_.request_id = rid && ValidRequestId(*rid) ? *rid : events::NewUuid();
    ctx_->AddInitialMetadata("x-request-id", call_.request_id);
    if (std::optional<std::string> tp = Metadata(ctx, "traceparent"); tp && ValidTraceparent(*tp)) {
      call_.traceparent = *tp;
      if (std::optional<std::string> ts = Metadata(ctx, "tracestate"); ts && ValidTracestate(*ts)) {
        call_.tracestate = *ts;
      }
    }
    bool stream = route_->method->server_streaming() || route_->method->client_streaming();
    call_.timeout = stream ? front_.options.stream_timeout : front_.options.default_timeout;
    if (ctx_->deadline() != std::chrono::system_clock::time_point::max()) {
      absl::Duration left = absl::FromChrono(ctx_->deadline()) - absl::Now();
      call_.timeout = std::max(absl::ZeroDuration(), std::min(call_.timeout, left));
    }
    call_.metadata = CallerMetadata(caller_);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!started_) {
      started_ = true;
      if (!ok) {
        End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "aucun message reçu"));
        return;
      }
      absl::StatusOr<std::string> request = Authorized(ToString(in_));
      if (!request.ok()) {
        End(FromAbsl(request.status()));
        return;
      }
      StartBackend(*std::move(request));
      return;
    }
    // Later messages of a client stream. A read that fails because the caller cancelled is a
    // cut upload: the backend call is cancelled, not finished, so nothing of it is applied.
    if (!ok) {
      if (ctx_->IsCancelled()) {
        upload_->Cancel();
      } else {
        upload_->Finish();
      }
      return;
    }
    uploaded_ += in_.Length();
    if (uploaded_ > front_.options.max_upload_bytes) {
      upload_->Cancel();
      End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("envoi de plus de ", front_.options.max_upload_bytes >> 20,
                                    " Mio : découpez le fichier")));
      return;
    }
    upload_->Write(ToString(in_), [this](bool written) {
      if (written) StartRead(&in_);
    });
  }

  void OnWriteDone(bool ok) override {
    std::function<void()> next = std::move(next_);
    if (ok && next) {
      next();
    } else if (!ok && backend_) {
      backend_->Cancel();
    }
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (backend_) backend_->Cancel();
  }

  void OnDone() override { delete this; }

 private:
  // Checks the caller against the route with the request as JSON; the request again as bytes
  // (the owner may have been filled in).
  absl::StatusOr<std::string> Authorized(std::string bytes) {
    const google::protobuf::Descriptor* type = route_->method->input_type();
    if (route_->access.source_field().empty() && route_->access.owner_field().empty()) {
      // No source or owner to check: the method's scope, and whether the request sets a field
      // the caller may not (read from the wire; the full check below when it does).
      if (absl::Status s = AuthorizeScope(*route_, caller_); !s.ok()) return s;
      bool beyond = false;
      for (const google::protobuf::FieldDescriptor* f : FieldsBeyondScope(*route_, caller_)) {
        std::optional<bool> set = WireFieldSet(bytes, f->number());
        beyond = beyond || !set || *set;
      }
      if (!beyond) return bytes;
    }
    // Read as the backend would: bytes it would refuse (invalid UTF-8, a cut field) are refused
    // here, not printed by a lenient converter and re-encoded into something else.
    std::unique_ptr<google::protobuf::Message> parsed(front_.factory->GetPrototype(type)->New());
    if (!parsed->ParseFromString(bytes)) {
      return absl::InvalidArgumentError("message illisible pour cette méthode");
    }
    absl::StatusOr<std::string> printed = MessageToJson(*front_.schema, type, bytes);
    if (!printed.ok()) {
      return absl::InvalidArgumentError("message illisible pour cette méthode");
    }
    nlohmann::json request = nlohmann::json::parse(*printed, nullptr, false);
    if (request.is_discarded()) {
      return absl::InvalidArgumentError("message illisible pour cette méthode");
    }
    nlohmann::json before = request;
    if (absl::Status s = Authorize(*route_, caller_, &request); !s.ok()) return s;
    if (request == before) return bytes;
    return JsonToRequest(*front_.schema, *route_, request);
  }

  void StartBackend(std::string request) {
    std::lock_guard<std::mutex> lock(mu_);
    const google::protobuf::MethodDescriptor* m = route_->method;
    if (m->client_streaming()) {
      upload_ = front_.backends->ClientStream(*route_, call_,
                                              [this](grpc::Status status, std::string response) {
                                                Answered(std::move(status), std::move(response));
                                              });
      backend_ = upload_;
      upload_->Write(std::move(request), [this](bool written) {
        if (written) StartRead(&in_);
      });
    } else if (m->server_streaming()) {
      StreamCallbacks callbacks;
      callbacks.on_message = [this](std::string message, std::function<void()> next) {
        next_ = std::move(next);
        out_ = ToBuffer(std::move(message));
        StartWrite(&out_);
      };
      callbacks.on_done = [this](grpc::Status status) { End(status); };
      backend_ =
          front_.backends->ServerStream(*route_, std::move(request), call_, std::move(callbacks));
    } else {
      backend_ = front_.backends->Unary(*route_, std::move(request), call_,
                                        [this](grpc::Status status, std::string response) {
                                          Answered(std::move(status), std::move(response));
                                        });
    }
  }

  // The backend's one answer (unary or upload): sent, and what a write changed dropped from the
  // answer cache.
  void Answered(grpc::Status status, std::string response) {
    if (!status.ok()) {
      End(status);
      return;
    }
    if (front_.options.answer_cache != nullptr && route_->http_method != "GET") {
      front_.options.answer_cache->SawWrite(route_->method->output_type(), response);
    }
    out_ = ToBuffer(std::move(response));
    if (finished_.exchange(true)) return;
    Audit(grpc::Status::OK);
    StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void End(grpc::Status status) {
    if (finished_.exchange(true)) return;
    Audit(status);
    Finish(Outward(status, call_.request_id));
  }

  void Audit(const grpc::Status& status) const {
    if (route_ != nullptr) {
      AuditWrite("grpc", *route_, caller_, "", 0, status.error_code(), call_.request_id);
    }
  }

  GrpcFront::Impl& front_;
  grpc::GenericCallbackServerContext* ctx_;
  const Route* route_;
  Caller caller_;
  CallOptions call_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  std::function<void()> next_;
  std::mutex mu_;
  std::shared_ptr<Call> backend_;
  std::shared_ptr<Backends::Upload> upload_;
  bool started_ = false;
  size_t uploaded_ = 0;
  std::atomic<bool> finished_{false};
};

}  // namespace

grpc::ServerGenericBidiReactor* GrpcFront::Impl::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  // Every call, reflection and unknown methods included, is admitted first: a bad key is
  // refused and an anonymous caller spends a token before the method is even looked up.
  auto found = by_path.find(ctx->method());
  const Route* route = found == by_path.end() ? nullptr : found->second;
  Admission admitted = gate->Admit({.authorization = AllMetadata(ctx, "authorization"),
                                    .api_key = AllMetadata(ctx, "x-api-key"),
                                    .peer = Peer(ctx)});
  if (!admitted.status.ok()) {
    if (admitted.rate && !admitted.rate->allowed) {
      ctx->AddTrailingMetadata("retry-after", absl::StrCat(admitted.rate->retry_after));
    }
    return new Refusal(FromAbsl(admitted.status), route, admitted.caller);
  }
  if (ctx->method() == kReflectionMethod) return reflection->NewReactor();
  if (route == nullptr) {
    return new Refusal(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                     absl::StrCat("méthode inconnue ou non publique : ", ctx->method())),
        nullptr, admitted.caller);
  }
  return new ProxyReactor(*this, ctx, route, std::move(admitted.caller));
}

namespace {

// Drops the process-wide server plugins (the generated-pool reflection) from one builder.
class WithoutPlugins : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcFront>> GrpcFront::Start(const ApiSchema& schema,
                                                            const RouteTable& routes,
                                                            Backends& backends, KeyRing& keys,
                                                            RateLimiter& limiter,
                                                            GrpcFrontOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->schema = &schema;
  impl->backends = &backends;
  impl->keys = &keys;
  impl->gate = std::make_unique<Gate>(keys, limiter, impl->options.rate_limits);
  impl->factory = std::make_unique<google::protobuf::DynamicMessageFactory>(&schema.pool());
  for (const Route& r : routes.routes()) impl->by_path.emplace(r.grpc_path, &r);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(impl->options.address, grpc::InsecureServerCredentials(), &impl->port);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.RegisterCallbackGenericService(impl.get());
  impl->reflection = std::make_unique<PublicReflection>(schema, routes);
  // libgrpc++_reflection adds its own reflection to every server of the process; this door
  // answers from its public pool instead (GenericCallbackServerContext below).
  builder.SetOption(std::make_unique<WithoutPlugins>());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(
        absl::StrCat("the public gRPC door cannot listen on ", impl->options.address));
  }
  return std::unique_ptr<GrpcFront>(new GrpcFront(std::move(impl)));
}

GrpcFront::GrpcFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcFront::~GrpcFront() { Shutdown(absl::ZeroDuration()); }

int GrpcFront::port() const { return impl_->port; }

void GrpcFront::Shutdown(absl::Duration grace) {
  if (impl_->server == nullptr) return;
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace passerelle::gateway
