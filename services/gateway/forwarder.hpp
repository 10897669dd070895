// Calls to the internal services for the gateway's routes, as raw bytes (grpc::GenericStub and
// the callback API: no thread waits on a backend), with deadlines, request and trace ids and
// the gateway's own metadata. One channel per backend package.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// What travels with a call besides the message.
struct CallOptions {
  std::string request_id;
  std::string traceparent;  ///< already validated, or empty
  std::string tracestate;
  /// `x-passerelle-*` metadata the gateway sets (key id, organisation, scopes).
  std::vector<std::pair<std::string, std::string>> metadata;
  absl::Duration timeout = absl::Seconds(10);
};

/// A call in flight; Cancel() ends it early (the client went away).
class Call {
 public:
  virtual ~Call() = default;
  virtual void Cancel() = 0;
};

/// Receives a server stream's messages one at a time: `next` asks for the following one, so a
/// slow HTTP client slows the backend stream instead of filling memory.
struct StreamCallbacks {
  std::function<void(std::string message, std::function<void()> next)> on_message;
  std::function<void(grpc::Status status)> on_done;
};

class Backends {
 public:
  /// `addresses`: backend package (`passerelle.venues.v1`) → host:port. Every package with a
  /// route must have one (FAILED_PRECONDITION naming it otherwise).
  /// `local`: packages served by this process, reached through an in-process channel made on
  /// first use (the server is not started yet when the gateway wires itself).
  using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>()>;
  static absl::StatusOr<std::unique_ptr<Backends>> Connect(
      const RouteTable& routes, const std::map<std::string, std::string>& addresses,
      std::map<std::string, ChannelFactory> local = {});

  /// A unary call; `done` runs once, on a gRPC thread.
  std::shared_ptr<Call> Unary(const Route& route, std::string request, const CallOptions& options,
                              std::function<void(grpc::Status, std::string response)> done);

  /// A server-streaming call (exports). `timeout` bounds the wait for each message, not the
  /// whole stream.
  std::shared_ptr<Call> ServerStream(const Route& route, std::string request,
                                     const CallOptions& options, StreamCallbacks callbacks);

  /// A client-streaming call (imports): `first` is sent at once, then each piece given to
  /// the returned writer; `done` runs once with the response.
  class Upload : public Call {
   public:
    /// Sends one message; `written` runs when the next may be sent (false: the call ended).
    virtual void Write(std::string message, std::function<void(bool ok)> written) = 0;
    /// No more messages.
    virtual void Finish() = 0;
  };
  std::shared_ptr<Upload> ClientStream(const Route& route, const CallOptions& options,
                                       std::function<void(grpc::Status, std::string)> done);

 private:
  grpc::GenericStub* StubFor(const Route& route);
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_;  // by package
  std::map<std::string, ChannelFactory> local_;
};

}  // namespace passerelle::gateway
