// An asynchronous HTTP/1.1 server for the public door (the gateway): keep-alive, pipelining
// answered in order, bodies read whole or streamed, streamed responses with back-pressure,
// gzip, and the limits that keep hostile clients from holding it (sizes, timeouts, caps).
// Boost.Beast does the work behind this header, which needs only std and Abseil.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "libs/http/gzip.hpp"

namespace passerelle::http {

/// One header field. Request names are lower-cased by the server.
struct Header {
  std::string name;
  std::string value;
};

/// A request as received: origin-form target, HTTP/1.0 or 1.1.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request-target, always starting with '/'
  int version = 11;    // 10 or 11
  std::vector<Header> headers;
  std::string body;  // the whole body when the plan was kBuffer; empty otherwise
  std::string peer;  // the client's IP address (the socket's peer), IPv4 unmapped

  /// The first value of a header (name matched case-insensitively), or nullopt.
  std::optional<std::string_view> Find(std::string_view name) const;
  /// Every value of a list header (`If-None-Match`, `Accept-Encoding`...) sent on several lines,
  /// joined by ", " as RFC 9110 section 5.3 says they combine; nullopt when absent.
  std::optional<std::string> FindList(std::string_view name) const;
};

/// A response. The server sets Content-Length (or chunked transfer), Date, Connection and,
/// when it compresses, Content-Encoding and Vary itself; a handler's own Content-Length,
/// Transfer-Encoding or Connection is dropped. A handler that sets Content-Encoding has
/// encoded the body itself: the server leaves it alone.
struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;
};

/// What to do with a request's body, decided from its head before any of it is read.
struct BodyPlan {
  enum Kind {
    kBuffer,  // read it whole into Request::body, then Handle()
    kStream,  // Handle() at once; the handler pulls pieces with Exchange::ReadBody
    kReject,  // send `rejection` without reading the body (then close, if one was announced)
  };
  Kind kind = kBuffer;
  /// Over it: 413, before reading anything when Content-Length announces it, else as soon as
  /// the chunks pass it.
  size_t max_bytes = size_t{1} << 20;
  /// The whole body must arrive within this (absolute, from the first body byte read);
  /// zero: ServerOptions::body_timeout. Imports want minutes, JSON seconds.
  absl::Duration timeout = absl::ZeroDuration();
  Response rejection;
};

/// One request/response exchange. Every method may be called from any thread (e.g. a gRPC
/// callback): the work is posted onto the connection's strand. Calls after the exchange ended
/// (response sent, connection closed, server shut down) are ignored.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;

  /// A whole response. Gzipped when the request's Accept-Encoding allows gzip, the body is at
  /// least 1 KiB and its type IsCompressible (then also `Vary: Accept-Encoding`). HEAD: the
  /// head with the Content-Length the body would have, no body.
  virtual void Respond(Response response) = 0;

  /// A streamed response: the head now (chunked transfer; gzip streamed when the client
  /// accepts it and the type IsCompressible; HTTP/1.0: raw bytes, then close), then chunks.
  virtual void StartStream(Response head) = 0;
  /// Sends `data` as one chunk. `on_written(true)` runs (on the connection's strand) once the
  /// chunk is handed to the socket: send the next one only then, which bounds memory to one
  /// chunk per client. `on_written(false)`: the client went away, the write timed out or the
  /// exchange is over; when the connection is already gone it runs at once, on the calling
  /// thread (do not hold a lock the callback takes).
  virtual void WriteChunk(std::string data, std::function<void(bool ok)> on_written) = 0;
  /// The final chunk: the response is complete.
  virtual void FinishStream() = 0;
  /// Closes the connection without the final chunk, so the client sees a truncated body.
  virtual void AbortStream() = 0;

  /// The next piece of the request body (at most 64 KiB) to `cb`, on the connection's strand;
  /// `last` is true with the final piece (possibly empty). `ok` is false when the client
  /// broke the body, timed out or passed max_bytes: the server has answered (400/413) or
  /// closed the connection itself, and the handler's response will be ignored. One call per
  /// piece (pull: the client is not read faster than the handler consumes). For a kBuffer plan
  /// the whole body comes as one last piece. A response sent before the body was read to the
  /// end stops the reading (a pending ReadBody gets ok=false), and the connection closes
  /// after the response. Like on_written, `cb` may run at once on the calling thread when the
  /// connection is already gone.
  virtual void ReadBody(std::function<void(bool ok, std::string piece, bool last)> cb) = 0;

  /// `cb` runs once, on the connection's strand, if the connection closes before the response
  /// is complete (client gone, timeout, shutdown, a body the server refused): cancel the
  /// backend call. At once, on the calling thread, if that already happened. A later call
  /// replaces the callback.
  virtual void OnCancel(std::function<void()> cb) = 0;
};

/// The application. Both methods run on the server's threads and must not block.
class Handler {
 public:
  virtual ~Handler() = default;
  /// Decides about the body from the head (`head.body` is empty).
  virtual BodyPlan Plan(const Request& head) = 0;
  /// Must eventually Respond, StartStream or AbortStream exactly once. An exchange released
  /// without an answer gets a 500; a stream released unfinished is cut.
  virtual void Handle(std::shared_ptr<Exchange> exchange) = 0;
};

struct ServerOptions {
  /// host:port; host an IP address ("0.0.0.0", "[::]", "127.0.0.1") or a name resolved once
  /// at start; port 0: any free port (see Server::port()).
  std::string address = "0.0.0.0:0";
  int threads = 2;
  size_t header_limit = 8 * 1024;  // the whole head -> 431
  size_t target_limit = 4 * 1024;  // the request-target -> 414
  /// Absolute deadlines: a client sending one byte a second is closed when they pass.
  absl::Duration header_timeout = absl::Seconds(10);  // the whole head
  absl::Duration body_timeout = absl::Seconds(30);    // the whole body (BodyPlan::timeout)
  absl::Duration write_timeout = absl::Seconds(30);   // each write
  absl::Duration idle_timeout = absl::Seconds(30);    // keep-alive wait for the next request
  /// Over a cap, a new connection gets a 503 and is closed.
  size_t max_connections = 1024;
  size_t max_connections_per_peer = 64;
  /// Sum of the kBuffer bodies being read or held by handlers; a body that would pass it is
  /// refused with 503 (Retry-After: 1).
  size_t inflight_body_budget = size_t{64} << 20;
  /// The clock of the Date header; null: the system clock.
  const clocks::Clock* clock = nullptr;
};

/// The server. `handler` must outlive it.
class Server {
 public:
  /// Binds and starts the threads. INVALID_ARGUMENT for a bad address or option, UNAVAILABLE
  /// when the address cannot be bound (in use, not local).
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Handler* handler);
  ~Server();  // Shutdown(absl::ZeroDuration()) if not done

  /// The port bound.
  int port() const;

  /// Stops accepting at once and closes idle keep-alive connections; requests in progress get
  /// until `grace` to finish (their responses say `Connection: close`); then every connection
  /// is closed (OnCancel runs for unfinished exchanges) and the threads stop. Handler calls
  /// afterwards are ignored. Idempotent; blocks until done.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// An error made by the server itself, as JSON in the AIP-193 shape:
/// `{"error":{"code":413,"message":"…","status":"RESOURCE_EXHAUSTED"}}`, Content-Type
/// application/json. `status` follows from the HTTP code (400 INVALID_ARGUMENT, 408
/// DEADLINE_EXCEEDED, 413/414/431 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, 505 UNIMPLEMENTED...).
Response ErrorResponse(int code, std::string_view message);

}  // namespace passerelle::http
