// The HTTP server on Boost.Beast: the only file that includes Beast and Asio (they cost
// compile time; every other file sees server.hpp). One strand per connection; every state
// change of a connection happens on it. Beast parses requests; responses are framed here
// (head, Content-Length or chunks) so that HEAD, gzip and streaming share one writer.
#include "libs/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace passerelle::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

constexpr size_t kPiece = 64 * 1024;       // body pieces read, chunks a handler should send
constexpr size_t kSmallRead = 2048;        // between requests, and while lingering
constexpr size_t kKeptBuffer = 16 * 1024;  // what an idle connection keeps at most
constexpr size_t kGzipMinBytes = 1024;     // smaller bodies are sent as they are
constexpr size_t kLingerBytes = 1 << 20;   // read and dropped after an error response
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kRejectTimeout = std::chrono::seconds(1);  // 503 to a connection over a cap
constexpr std::string_view kVersionMessage =
    "Version HTTP non prise en charge (HTTP/1.0 ou HTTP/1.1 seulement)";

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

// A timeout for Asio; an infinite one becomes a year (now + infinity would overflow).
std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365)));
}

bool IsHttpError(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category();
}

// Header names are tokens (RFC 9110 5.6.2); values hold no CR, LF or NUL (no response splitting).
bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!(absl::ascii_isalnum(c) ||
          std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
              std::string_view::npos)) {
      return false;
    }
  }
  return true;
}
bool ValidValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool IEquals(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string_view StatusName(int code) {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "UNIMPLEMENTED";
    case 408:
      return "DEADLINE_EXCEEDED";
    case 409:
      return "ABORTED";
    case 412:
      return "FAILED_PRECONDITION";
    case 413:
    case 414:
    case 431:
      return "RESOURCE_EXHAUSTED";  // as gRPC says of a message over its limit
    case 415:
      return "INVALID_ARGUMENT";
    case 416:
      return "OUT_OF_RANGE";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 500:
      return "INTERNAL";
    case 501:
    case 505:
      return "UNIMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "UNKNOWN";
  }
}

// A final status, header names that are tokens, values without line breaks.
bool Valid(const Response& r) {
  bool valid = r.status >= 200 && r.status <= 599;
  for (const auto& h : r.headers) valid = valid && ValidName(h.name) && ValidValue(h.value);
  return valid;
}

const Header* FindHeader(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (IEquals(h.name, name)) return &h;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string_view> Request::Find(std::string_view name) const {
  const Header* h = FindHeader(headers, name);
  if (h == nullptr) return std::nullopt;
  return std::string_view(h->value);
}

std::optional<std::string> Request::FindList(std::string_view name) const {
  std::optional<std::string> out;
  for (const Header& h : headers) {
    if (!IEquals(h.name, name)) continue;
    out = out ? absl::StrCat(*out, ", ", h.value) : h.value;
  }
  return out;
}

Response ErrorResponse(int code, std::string_view message) {
  Response r;
  r.status = code;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = absl::StrCat("{\"error\":{\"code\":", code, ",\"message\":\"", JsonEscape(message),
                        "\",\"status\":\"", std::string(StatusName(code)), "\"}}");
  return r;
}

namespace {

class Connection;

// What the server, its connections and the exchanges handed to handlers share. Exchanges may
// outlive the server: they check `stopped` under `mu` before touching a connection, and the
// server sets it before its io_context (which owns the connections) goes.
struct Core {
  ServerOptions options;
  Handler* handler = nullptr;

  std::mutex mu;
  std::condition_variable cv;  // notified when a connection closes
  bool stopped = false;
  bool draining = false;
  // The open connections, owned here while no operation of theirs is pending (a handler
  // at work); removed when closed.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> open;
  std::unordered_map<std::string, size_t> per_peer;
  size_t lingering = 0;  // of `open`: answered, waiting for the client to close

  std::atomic<size_t> budget_used{0};

  bool Draining() {
    std::lock_guard lock(mu);
    return draining;
  }
  bool Reserve(size_t n) {
    size_t used = budget_used.load();
    do {
      if (n > options.inflight_body_budget || used > options.inflight_body_budget - n) {
        return false;
      }
    } while (!budget_used.compare_exchange_weak(used, used + n));
    return true;
  }
  void Release(size_t n) {
    if (n > 0) budget_used.fetch_sub(n);
  }
};

// Whether an exchange ended, and how: shared by the connection and the handler's Exchange so
// that OnCancel works on either side of the end.
struct ExchangeState {
  std::mutex mu;
  bool ended = false;
  bool cancelled = false;
  std::function<void()> on_cancel;

  // Ends the exchange; runs the cancel callback when it ended cut short.
  void End(bool complete) {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu);
      if (ended) return;
      ended = true;
      cancelled = !complete;
      cb = std::move(on_cancel);
      on_cancel = nullptr;
    }
    if (!complete && cb) cb();
  }
};

// The object a handler holds. It holds its connection weakly: the server owns connections
// (Core::open, pending operations), and a handler may keep an exchange after the server is
// gone. The request, and the budget its body takes, are its own.
class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(std::shared_ptr<Core> core, std::weak_ptr<Connection> conn,
               std::shared_ptr<ExchangeState> state, uint64_t seq, Request request, bool buffered,
               size_t reserved)
      : core_(std::move(core)),
        conn_(std::move(conn)),
        state_(std::move(state)),
        seq_(seq),
        request_(std::move(request)),
        buffered_(buffered),
        reserved_(reserved) {}
  ~ExchangeImpl() override;

  const Request& request() const override { return request_; }
  void Respond(Response response) override;
  void StartStream(Response head) override;
  void WriteChunk(std::string data, std::function<void(bool)> on_written) override;
  void FinishStream() override;
  void AbortStream() override;
  void ReadBody(std::function<void(bool, std::string, bool)> cb) override;
  void OnCancel(std::function<void()> cb) override;

 private:
  // Runs `f(connection)` on the connection's strand, unless the server stopped or the
  // connection is gone; false when it was dropped.
  template <typename F>
  bool Post(F&& f);

  std::shared_ptr<Core> core_;
  std::weak_ptr<Connection> conn_;
  std::shared_ptr<ExchangeState> state_;
  const uint64_t seq_;
  const Request request_;
  const bool buffered_;
  const size_t reserved_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Core> core, tcp::socket socket, std::string peer, bool registered)
      : core_(std::move(core)),
        stream_(std::move(socket)),
        peer_(std::move(peer)),
        registered_(registered) {}
  ~Connection() { Deregister(); }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // Entry points, each on the strand.
  void Start() { ReadHead(/*first=*/true); }
  void StartRejected();
  void CloseIfIdle() {
    if (phase_ == Phase::kIdle) Close();
  }
  void Close();

  // Exchange operations, on the strand; `seq` names the exchange (older ones are ignored).
  void DoRespond(uint64_t seq, Response response);
  void DoStartStream(uint64_t seq, Response head);
  void DoWriteChunk(uint64_t seq, std::string data, std::function<void(bool)> on_written);
  void DoFinishStream(uint64_t seq);
  void DoAbortStream(uint64_t seq);
  void DoReadBody(uint64_t seq, std::function<void(bool, std::string, bool)> cb);
  void DoReleased(uint64_t seq);

 private:
  enum class Phase { kIdle, kHead, kBody, kHandling, kLinger, kClosed };
  enum class Out { kNone, kWhole, kStream, kDone };

  struct Write {
    std::string head, body, tail;
    std::function<void(bool)> done;
    bool final = false;  // the last write of the response
    bool abort = false;  // not a write: close once the writes before it are done
  };

  // `seq` is the exchange being handled now.
  bool Current(uint64_t seq) const { return phase_ == Phase::kHandling && seq == seq_; }

  void ReadHead(bool first);
  void ReadHeadNow();
  void OnHead(beast::error_code ec);
  std::optional<std::pair<int, std::string>> CheckHead() const;
  bool WellFormedVersion() const;
  int RequestLineRefusal() const;
  void SendContinueThen(std::function<void()> next);
  void ReadPiece(std::function<void(beast::error_code, std::string)> done);
  void ReadWholeBody();
  void FailBody(beast::error_code ec);
  void Dispatch(bool buffered);
  void Fail(int code, std::string_view message);
  bool CloseAfterResponse(bool close);
  void Send(Response response, bool close);
  // The status line and headers of `r`. A bad status or header turns `r` into a 500. Gzips a
  // whole body in place, or starts gzip_ for a stream, when the client and the type allow.
  std::string Head(Response& r, bool close, bool stream);
  void Queue(Write w);
  void WriteNext();
  void EndExchange(bool complete);
  void GracefulClose();
  void Linger(size_t dropped);
  void Deregister();

  std::shared_ptr<Core> core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const std::string peer_;
  bool registered_;        // counted in Core::open and per_peer
  bool rejected_ = false;  // over a cap: a 503 and close
  Phase phase_ = Phase::kHead;
  bool closing_ = false;  // no further request on this connection
  std::vector<char> scratch_;

  // The exchange in progress.
  std::optional<Parser> parser_;
  Request request_;
  uint64_t seq_ = 0;
  std::shared_ptr<ExchangeState> state_;
  bool head_request_ = false;
  bool keep_alive_ = false;
  bool http10_ = false;
  bool gzip_ok_ = false;
  bool body_done_ = true;
  bool body_started_ = false;  // the body deadline is set
  bool reading_ = false;
  bool expect_continue_ = false;
  absl::Duration body_timeout_;
  size_t reserved_ = 0;  // budget taken by a body being read; the exchange releases it
  std::string body_;
  std::function<void(bool, std::string, bool)> read_cb_;
  Out out_ = Out::kNone;
  bool stream_finished_ = false;
  std::unique_ptr<GzipStream> gzip_;
  std::deque<Write> writes_;
  bool writing_ = false;
};

// ---- Reading requests -----------------------------------------------------------------------

void Connection::ReadHead(bool first) {
  if (phase_ == Phase::kClosed) return;
  ++seq_;  // from here on, calls about the previous exchange are ignored
  // What the previous request set, until this one's head sets it again: a refusal of this head
  // (414, 431, 400) is not the answer to a HEAD, nor to HTTP/1.0, nor gzip-accepting.
  head_request_ = false;
  http10_ = false;
  gzip_ok_ = false;
  parser_.emplace();
  parser_->header_limit(
      static_cast<std::uint32_t>(std::min<size_t>(core_->options.header_limit, UINT32_MAX)));
  parser_->body_limit(boost::none);  // the plan decides, once the head is known
  if (first || buffer_.size() > 0) {
    ReadHeadNow();
    return;
  }
  // Between requests: the first byte under the idle timeout, then the head under the header
  // timeout. A draining server closes idle connections.
  phase_ = Phase::kIdle;
  if (core_->Draining()) {
    Close();
    return;
  }
  stream_.expires_after(Chrono(core_->options.idle_timeout));
  // An idle connection holds little memory: a burst of pipelined requests grew the buffer,
  // a streamed body used a 64 KiB piece.
  if (buffer_.capacity() > kKeptBuffer) buffer_.shrink_to_fit();
  std::vector<char>().swap(scratch_);
  stream_.async_read_some(buffer_.prepare(kSmallRead),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (self->phase_ == Phase::kClosed) return;
                            self->buffer_.commit(n);
                            if (ec) {
                              self->Close();
                              return;
                            }
                            self->ReadHeadNow();
                          });
}

void Connection::ReadHeadNow() {
  phase_ = Phase::kHead;
  stream_.expires_after(Chrono(core_->options.header_timeout));
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHead(ec); });
}

void Connection::OnHead(beast::error_code ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    if (ec == bhttp::error::bad_version && WellFormedVersion()) {
      Fail(505, kVersionMessage);
    } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      // The head's limit counts the request line: what passed it may be the line, not headers.
      const int code = RequestLineRefusal();
      if (code == 414) {
        Fail(414, absl::StrCat("Cible de requête trop longue (au plus ",
                               core_->options.target_limit, " octets)"));
      } else if (code == 400) {
        Fail(400, absl::StrCat("Requête HTTP invalide : ligne de requête de plus de ",
                               core_->options.header_limit, " octets"));
      } else {
        Fail(431, absl::StrCat("En-têtes de requête trop volumineux (au plus ",
                               core_->options.header_limit, " octets)"));
      }
    } else if (IsHttpError(ec) && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
      Fail(400, absl::StrCat("Requête HTTP invalide : ", ec.message()));
    } else {
      Close();  // timeout (slow client), end of stream, reset: nobody to answer
    }
    return;
  }
  if (auto bad = CheckHead()) {
    Fail(bad->first, bad->second);
    return;
  }
  const auto& msg = parser_->get();
  head_request_ = msg.method() == bhttp::verb::head;
  http10_ = msg.version() == 10;
  keep_alive_ = msg.keep_alive();
  gzip_ok_ = false;
  Request request;
  request.method = Str(msg.method_string());
  request.target = Str(msg.target());
  request.version = static_cast<int>(msg.version());
  request.peer = peer_;
  for (const auto& f : msg) {
    request.headers.push_back({absl::AsciiStrToLower(Str(f.name_string())), Str(f.value())});
    if (f.name() == bhttp::field::accept_encoding && AcceptsGzip(Str(f.value()))) gzip_ok_ = true;
  }
  const bool has_body = !parser_->is_done();
  const auto expect = msg.find(bhttp::field::expect);
  expect_continue_ =
      has_body && !http10_ && expect != msg.end() && IEquals(Str(expect->value()), "100-continue");
  body_done_ = !has_body;
  body_started_ = false;
  body_.clear();
  reserved_ = 0;
  out_ = Out::kNone;
  stream_finished_ = false;
  gzip_.reset();

  BodyPlan plan = core_->handler->Plan(request);
  body_timeout_ = plan.timeout > absl::ZeroDuration() ? plan.timeout : core_->options.body_timeout;
  if (plan.kind == BodyPlan::kReject) {
    phase_ = Phase::kHandling;
    out_ = Out::kWhole;
    Send(std::move(plan.rejection), /*close=*/has_body);
    return;
  }
  const auto length = parser_->content_length();
  if (has_body && length && *length > plan.max_bytes) {
    Fail(413,
         absl::StrCat("Corps de requête trop volumineux (au plus ", plan.max_bytes, " octets)"));
    return;
  }
  parser_->body_limit(plan.max_bytes);
  request_ = std::move(request);
  if (has_body && plan.kind == BodyPlan::kBuffer) {
    if (length && !core_->Reserve(*length)) {
      Fail(503, "Serveur saturé, réessayez dans un instant");
      return;
    }
    reserved_ = length.value_or(0);
    phase_ = Phase::kBody;
    SendContinueThen([this] { ReadWholeBody(); });
    return;
  }
  Dispatch(/*buffered=*/plan.kind == BodyPlan::kBuffer);
}

// Beast refuses versions other than 1.0 and 1.1 as malformed; a well-formed other version
// (HTTP/2.0 sent in clear, HTTP/1.2) deserves 505.
bool Connection::WellFormedVersion() const {
  const auto data = buffer_.data();
  const std::string_view text(static_cast<const char*>(data.data()), data.size());
  const std::string_view line = text.substr(0, text.find("\r\n"));
  const std::string_view version = line.substr(line.rfind(' ') + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
         absl::ascii_isdigit(version[5]) && version[6] == '.' && absl::ascii_isdigit(version[7]);
}

// When the parser stopped at the head's limit still inside the request line: 414 when the
// target it holds (ended or not) passes the target's own limit, else 400 (a method or a version
// of kilobytes); 0 when the line was read, so that the headers are what is too large.
int Connection::RequestLineRefusal() const {
  // Once its line is parsed, the parser has the target and the buffer holds only what follows.
  if (!parser_->get().target().empty()) return 0;
  const auto data = buffer_.data();
  std::string_view line(static_cast<const char*>(data.data()), data.size());
  line = line.substr(0, line.find("\r\n"));
  const size_t start = line.find(' ');
  if (start == std::string_view::npos) return 400;
  std::string_view target = line.substr(start + 1);
  const size_t end = target.find(' ');
  if (end != std::string_view::npos) target = target.substr(0, end);
  return target.size() > core_->options.target_limit ? 414 : 400;
}

std::optional<std::pair<int, std::string>> Connection::CheckHead() const {
  const auto& msg = parser_->get();
  const auto& o = core_->options;
  auto bad = [](int code, std::string message) {
    return std::optional<std::pair<int, std::string>>(std::pair{code, std::move(message)});
  };
  if (msg.version() != 10 && msg.version() != 11) return bad(505, std::string(kVersionMessage));
  const auto target = msg.target();
  if (target.size() > o.target_limit) {
    return bad(414,
               absl::StrCat("Cible de requête trop longue (au plus ", o.target_limit, " octets)"));
  }
  if (target.empty() || target[0] != '/') {
    return bad(400, "Requête HTTP invalide : la cible doit commencer par « / »");
  }
  size_t lengths = 0, encodings = 0, hosts = 0;
  for (const auto& f : msg) {
    switch (f.name()) {
      case bhttp::field::content_length:
        lengths += f.value().find(',') == beast::string_view::npos ? 1 : 2;
        break;
      case bhttp::field::transfer_encoding:
        encodings +=
            absl::EqualsIgnoreCase(
                absl::StripAsciiWhitespace(absl::string_view(f.value().data(), f.value().size())),
                "chunked")
                ? 1
                : 2;
        break;
      case bhttp::field::host:
        ++hosts;
        break;
      case bhttp::field::upgrade:
        return bad(400, "Requête HTTP invalide : Upgrade n'est pas pris en charge");
      default:
        break;
    }
  }
  if (lengths > 1) return bad(400, "Requête HTTP invalide : Content-Length répété");
  if (encodings > 1) {
    return bad(400, "Requête HTTP invalide : seul « Transfer-Encoding: chunked » est accepté");
  }
  if (lengths > 0 && encodings > 0) {
    return bad(400, "Requête HTTP invalide : Content-Length et Transfer-Encoding ensemble");
  }
  if (msg.version() == 11 && hosts != 1) {
    return bad(400, "Requête HTTP invalide : un en-tête Host est attendu");
  }
  return std::nullopt;
}

// `Expect: 100-continue`: the client waits for this before sending the body, so it is sent
// only when the body is going to be read.
void Connection::SendContinueThen(std::function<void()> next) {
  if (!expect_continue_) {
    next();
    return;
  }
  expect_continue_ = false;
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  writing_ = true;
  stream_.expires_after(Chrono(core_->options.write_timeout));
  asio::async_write(
      stream_, asio::buffer(kContinue.data(), kContinue.size()),
      [self = shared_from_this(), next = std::move(next)](beast::error_code ec, size_t) {
        self->writing_ = false;
        if (self->phase_ == Phase::kClosed) return;
        if (ec) {
          self->Close();
          return;
        }
        next();
      });
}

// Reads the next piece of the body (at most kPiece bytes) under the body's deadline.
void Connection::ReadPiece(std::function<void(beast::error_code, std::string)> done) {
  if (!body_started_) {
    body_started_ = true;
    stream_.expires_after(Chrono(body_timeout_));
  }
  if (scratch_.size() < kPiece) scratch_.resize(kPiece);
  auto& body = parser_->get().body();
  body.data = scratch_.data();
  body.size = kPiece;
  body.more = true;
  reading_ = true;
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this(), done = std::move(done)](beast::error_code ec, size_t) {
        self->reading_ = false;
        if (self->phase_ == Phase::kClosed) return;
        if (ec == bhttp::error::need_buffer) ec = {};
        std::string piece;
        if (!ec) {
          piece.assign(self->scratch_.data(), kPiece - self->parser_->get().body().size);
          if (self->parser_->is_done()) self->body_done_ = true;
        }
        done(ec, std::move(piece));
      });
}

void Connection::ReadWholeBody() {
  ReadPiece([this](beast::error_code ec, std::string piece) {
    if (ec) {
      FailBody(ec);
      return;
    }
    if (!parser_->content_length()) {  // chunked: take from the budget as the body grows
      if (!core_->Reserve(piece.size())) {
        Fail(503, "Serveur saturé, réessayez dans un instant");
        return;
      }
      reserved_ += piece.size();
    }
    body_ += piece;
    if (!body_done_) {
      ReadWholeBody();
      return;
    }
    request_.body = std::move(body_);
    body_ = std::string();
    Dispatch(/*buffered=*/true);
  });
}

void Connection::FailBody(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    Fail(413, "Corps de requête trop volumineux");
  } else if (IsHttpError(ec) && ec != bhttp::error::partial_message &&
             ec != bhttp::error::end_of_stream) {
    Fail(400, absl::StrCat("Corps de requête invalide : ", ec.message()));
  } else {
    Close();  // timeout, or the client went away
  }
}

void Connection::Dispatch(bool buffered) {
  phase_ = Phase::kHandling;
  state_ = std::make_shared<ExchangeState>();
  auto exchange = std::make_shared<ExchangeImpl>(core_, weak_from_this(), state_, seq_,
                                                 std::move(request_), buffered, reserved_);
  reserved_ = 0;  // the exchange gives it back when the handler lets go of the body
  request_ = Request();
  core_->handler->Handle(std::move(exchange));
}

void Connection::DoReadBody(uint64_t seq, std::function<void(bool, std::string, bool)> cb) {
  if (!Current(seq) || out_ != Out::kNone || reading_ || read_cb_) {
    cb(false, {}, false);  // over, answered, or a second read before the first one ended
    return;
  }
  if (body_done_) {
    cb(true, {}, true);
    return;
  }
  read_cb_ = std::move(cb);
  SendContinueThen([this] {
    if (out_ != Out::kNone) {  // answered while 100 Continue was being written
      if (auto cb = std::move(read_cb_)) cb(false, {}, false);
      read_cb_ = nullptr;
      WriteNext();
      return;
    }
    ReadPiece([this](beast::error_code ec, std::string piece) {
      auto cb = std::move(read_cb_);
      read_cb_ = nullptr;
      if (out_ != Out::kNone) {  // the handler answered: the read was cancelled for it
        if (cb) cb(false, {}, false);
        WriteNext();
        return;
      }
      if (ec) {
        FailBody(ec);
        if (cb) cb(false, {}, false);
        return;
      }
      if (cb) cb(true, std::move(piece), body_done_);
    });
  });
}

// ---- Writing responses ------------------------------------------------------------------------

std::string Connection::Head(Response& r, bool close, bool stream) {
  if (!Valid(r)) r = ErrorResponse(500, "Le serveur a produit une réponse invalide");
  const bool no_body = r.status == 204 || r.status == 304;
  const Header* type = FindHeader(r.headers, "content-type");
  const bool encoded = FindHeader(r.headers, "content-encoding") != nullptr;
  std::string vary;
  bool gzipped = false;
  if (!no_body && !encoded && type != nullptr && IsCompressible(type->value) &&
      (stream || r.body.size() >= kGzipMinBytes)) {
    vary = "Accept-Encoding";
    if (gzip_ok_ && stream) {
      gzip_ = std::make_unique<GzipStream>();
      gzipped = gzip_->ok();
      if (!gzipped) gzip_.reset();
    } else if (gzip_ok_) {
      if (auto gz = GzipCompress(r.body); gz.ok()) {
        r.body = *std::move(gz);
        gzipped = true;
      }
    }
  }
  if (no_body) r.body.clear();

  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  std::string head = absl::StrCat("HTTP/1.1 ", r.status, " ", Str(reason), "\r\n");
  for (const auto& h : r.headers) {
    if (IEquals(h.name, "content-length") || IEquals(h.name, "transfer-encoding") ||
        IEquals(h.name, "connection") || IEquals(h.name, "date")) {
      continue;
    }
    if (!vary.empty() && IEquals(h.name, "vary")) {
      absl::StrAppend(&vary, ", ", h.value);  // one Vary with both
      continue;
    }
    absl::StrAppend(&head, h.name, ": ", h.value, "\r\n");
  }
  if (gzipped) head += "Content-Encoding: gzip\r\n";
  if (!vary.empty()) absl::StrAppend(&head, "Vary: ", vary, "\r\n");
  if (r.status == 503 && FindHeader(r.headers, "retry-after") == nullptr) {
    head += "Retry-After: 1\r\n";
  }
  const clocks::Clock& clock =
      core_->options.clock != nullptr ? *core_->options.clock : clocks::System();
  absl::StrAppend(&head, "Date: ",
                  absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", clock.Now(), absl::UTCTimeZone()),
                  "\r\n");
  if (stream && !http10_) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!stream && !no_body) {
    absl::StrAppend(&head, "Content-Length: ", r.body.size(), "\r\n");
  }
  if (close) {
    head += "Connection: close\r\n";
  } else if (http10_) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

// Whether the connection closes after this response, and from now on.
bool Connection::CloseAfterResponse(bool close) {
  closing_ = closing_ || close || !keep_alive_ || !body_done_ || core_->Draining();
  return closing_;
}

void Connection::Send(Response response, bool close) {
  Write w;
  w.head = Head(response, CloseAfterResponse(close), /*stream=*/false);
  if (!head_request_) w.body = std::move(response.body);
  w.final = true;
  Queue(std::move(w));
}

void Connection::StartRejected() {
  rejected_ = true;
  ++seq_;
  phase_ = Phase::kHandling;
  out_ = Out::kWhole;
  Send(ErrorResponse(503, "Trop de connexions ouvertes, réessayez dans un instant"),
       /*close=*/true);
}

// The server answers itself (a broken or refused request); any exchange in progress is over.
void Connection::Fail(int code, std::string_view message) {
  if (out_ == Out::kWhole || out_ == Out::kStream) {
    Close();  // a response already began: the client sees it cut
    return;
  }
  EndExchange(/*complete=*/false);
  phase_ = Phase::kHandling;
  out_ = Out::kWhole;
  Send(ErrorResponse(code, message), /*close=*/true);
}

void Connection::DoRespond(uint64_t seq, Response response) {
  if (!Current(seq) || out_ != Out::kNone) return;
  out_ = Out::kWhole;
  if (reading_) stream_.socket().cancel();  // stop reading the body; the write follows
  Send(std::move(response), /*close=*/false);
}

void Connection::DoStartStream(uint64_t seq, Response head) {
  if (!Current(seq) || out_ != Out::kNone) return;
  if (head.status == 204 || head.status == 304 || !Valid(head)) {  // no body to stream, or a 500
    DoRespond(seq, std::move(head));
    stream_finished_ = true;
    return;
  }
  out_ = Out::kStream;
  if (reading_) stream_.socket().cancel();
  Write w;
  w.head = Head(head, CloseAfterResponse(/*close=*/http10_), /*stream=*/true);
  Queue(std::move(w));
}

void Connection::DoWriteChunk(uint64_t seq, std::string data,
                              std::function<void(bool)> on_written) {
  if (!Current(seq) || out_ != Out::kStream || stream_finished_) {
    if (on_written) on_written(false);
    return;
  }
  Write w;
  w.done = std::move(on_written);
  if (gzip_ != nullptr) {
    auto gz = gzip_->Compress(data);
    if (!gz.ok()) {
      Close();
      if (w.done) w.done(false);
      return;
    }
    data = *std::move(gz);
  }
  if (!head_request_ && !data.empty()) {
    if (!http10_) {
      w.head = absl::StrFormat("%x\r\n", data.size());
      w.tail = "\r\n";
    }
    w.body = std::move(data);
  }
  Queue(std::move(w));  // even empty: on_written runs in order
}

void Connection::DoFinishStream(uint64_t seq) {
  if (!Current(seq) || out_ != Out::kStream || stream_finished_) return;
  stream_finished_ = true;
  Write w;
  w.final = true;
  if (gzip_ != nullptr) {
    auto gz = gzip_->Finish();
    if (!gz.ok()) {
      Close();
      return;
    }
    if (!head_request_) {
      if (http10_) {
        w.body = *std::move(gz);
      } else {
        w.head = absl::StrFormat("%x\r\n", gz->size());
        w.body = *std::move(gz);
        w.tail = "\r\n";
      }
    }
  }
  if (!head_request_ && !http10_) w.tail += "0\r\n\r\n";
  Queue(std::move(w));
}

void Connection::DoAbortStream(uint64_t seq) {
  if (!Current(seq) || stream_finished_) return;
  stream_finished_ = true;
  Queue(Write{.abort = true});  // what was sent before goes out, then the cut
}

// The handler let go of its Exchange: an exchange with no answer gets a 500, a stream left
// unfinished is cut.
void Connection::DoReleased(uint64_t seq) {
  if (!Current(seq)) return;
  if (out_ == Out::kNone) {
    DoRespond(seq, ErrorResponse(500, "Le serveur n'a pas produit de réponse"));
  } else if (out_ == Out::kStream && !stream_finished_) {
    Close();
  }
}

void Connection::Queue(Write w) {
  writes_.push_back(std::move(w));
  WriteNext();
}

void Connection::WriteNext() {
  if (writing_ || reading_ || writes_.empty() || phase_ == Phase::kClosed) return;
  if (writes_.front().abort) {
    Close();
    return;
  }
  writing_ = true;
  const Write& w = writes_.front();
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(w.head), asio::buffer(w.body),
                                                  asio::buffer(w.tail)};
  stream_.expires_after(rejected_ ? std::chrono::steady_clock::duration(kRejectTimeout)
                                  : Chrono(core_->options.write_timeout));
  asio::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_ = false;
    if (self->phase_ == Phase::kClosed) return;
    if (ec) {
      self->Close();
      return;
    }
    Write w = std::move(self->writes_.front());
    self->writes_.pop_front();
    if (w.done) w.done(true);
    if (self->phase_ == Phase::kClosed) return;
    if (!w.final) {
      self->WriteNext();
      return;
    }
    self->EndExchange(/*complete=*/true);
    if (self->closing_) {
      self->GracefulClose();
    } else {
      self->ReadHead(/*first=*/false);
    }
  });
}

// The exchange is over: its callbacks go (they may hold the Exchange); cut short, OnCancel
// runs first.
void Connection::EndExchange(bool complete) {
  out_ = Out::kDone;
  gzip_.reset();
  if (auto cb = std::move(read_cb_)) {
    read_cb_ = nullptr;
    cb(false, {}, false);
  }
  if (auto state = std::move(state_)) state->End(complete);
  state_ = nullptr;
}

void Connection::GracefulClose() {
  // Stop sending, then read (and drop) what the client still sends, for a while, before
  // closing: closing a socket with unread data sends a reset, which can destroy the response
  // before the client has read it (a 413 to a client still sending its body).
  phase_ = Phase::kLinger;
  if (registered_) {
    std::lock_guard lock(core_->mu);
    ++core_->lingering;
  }
  core_->cv.notify_all();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(rejected_ ? std::chrono::steady_clock::duration(kRejectTimeout)
                                  : std::chrono::steady_clock::duration(kLingerTime));
  buffer_.clear();
  Linger(0);
}

void Connection::Linger(size_t dropped) {
  stream_.async_read_some(buffer_.prepare(kSmallRead),
                          [self = shared_from_this(), dropped](beast::error_code ec, size_t n) {
                            if (self->phase_ == Phase::kClosed) return;
                            self->buffer_.clear();  // dropped
                            if (ec || dropped + n > kLingerBytes) {
                              self->Close();
                              return;
                            }
                            self->Linger(dropped + n);
                          });
}

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  auto keep = shared_from_this();  // Core::open may have held the last reference
  Deregister();
  phase_ = Phase::kClosed;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  core_->Release(reserved_);
  reserved_ = 0;
  // Callbacks last: they may call back into the exchange, which now finds it over.
  std::deque<Write> writes = std::move(writes_);
  writes_.clear();
  for (auto& w : writes) {
    if (w.done) w.done(false);
  }
  EndExchange(/*complete=*/false);
  request_ = Request();
  // parser_, buffer_ and scratch_ stay: an operation cancelled by the close still completes,
  // and uses them.
}

void Connection::Deregister() {
  if (!registered_) return;
  registered_ = false;
  std::shared_ptr<Connection> owned;  // released after the lock (callers hold another)
  {
    std::lock_guard lock(core_->mu);
    if (auto it = core_->open.find(this); it != core_->open.end()) {
      owned = std::move(it->second);
      core_->open.erase(it);
    }
    auto it = core_->per_peer.find(peer_);
    if (it != core_->per_peer.end() && --it->second == 0) core_->per_peer.erase(it);
    if (phase_ == Phase::kLinger) --core_->lingering;
  }
  core_->cv.notify_all();
}

// ---- The handler's side -----------------------------------------------------------------------

template <typename F>
bool ExchangeImpl::Post(F&& f) {
  // `conn` outlives the lock: were it the last reference, the connection's destructor (which
  // takes the lock, and may release callbacks holding exchanges) runs after it.
  std::shared_ptr<Connection> conn;
  std::lock_guard lock(core_->mu);
  if (core_->stopped) return false;
  conn = conn_.lock();
  if (conn == nullptr) return false;
  asio::post(conn->executor(), [conn, f = std::forward<F>(f)]() mutable { f(*conn); });
  return true;
}

ExchangeImpl::~ExchangeImpl() {
  core_->Release(reserved_);
  Post([seq = seq_](Connection& c) { c.DoReleased(seq); });
}

void ExchangeImpl::Respond(Response response) {
  Post([seq = seq_, r = std::move(response)](Connection& c) mutable {
    c.DoRespond(seq, std::move(r));
  });
}

void ExchangeImpl::StartStream(Response head) {
  Post([seq = seq_, r = std::move(head)](Connection& c) mutable {
    c.DoStartStream(seq, std::move(r));
  });
}

void ExchangeImpl::WriteChunk(std::string data, std::function<void(bool)> on_written) {
  // The callback goes through a shared slot, so that it can still be told "no" when the post
  // is dropped.
  auto slot = std::make_shared<std::function<void(bool)>>(std::move(on_written));
  const bool posted = Post([seq = seq_, d = std::move(data), slot](Connection& c) mutable {
    c.DoWriteChunk(seq, std::move(d), std::move(*slot));
  });
  if (!posted && *slot) (*slot)(false);
}

void ExchangeImpl::FinishStream() {
  Post([seq = seq_](Connection& c) { c.DoFinishStream(seq); });
}

void ExchangeImpl::AbortStream() {
  Post([seq = seq_](Connection& c) { c.DoAbortStream(seq); });
}

void ExchangeImpl::ReadBody(std::function<void(bool, std::string, bool)> cb) {
  auto slot = std::make_shared<std::function<void(bool, std::string, bool)>>(std::move(cb));
  bool posted;
  if (buffered_) {
    posted = Post([slot, body = request_.body](Connection&) mutable {
      if (*slot) (*slot)(true, std::move(body), true);
    });
  } else {
    posted = Post([seq = seq_, slot](Connection& c) { c.DoReadBody(seq, std::move(*slot)); });
  }
  if (!posted && *slot) (*slot)(false, {}, false);
}

void ExchangeImpl::OnCancel(std::function<void()> cb) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->ended) {
      state_->on_cancel = std::move(cb);
      return;
    }
    if (!state_->cancelled) return;
  }
  if (cb) cb();
}

}  // namespace

// ---- The server -------------------------------------------------------------------------------

struct Server::Impl {
  std::shared_ptr<Core> core;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::steady_timer accept_retry{acceptor.get_executor()};
  std::vector<std::thread> threads;
  int port = 0;
  std::mutex shutdown_mu;
  bool shut_down = false;

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
};

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors (EMFILE) or a connection reset before accept: try again shortly
    // rather than spin.
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](beast::error_code e) {
      if (!e && acceptor.is_open()) Accept();
    });
    return;
  }
  Accept();
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto remote = socket.remote_endpoint(ignored);
  if (ignored) return;  // gone already
  auto address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  std::string peer = address.to_string();
  bool accepted = false;
  {
    std::lock_guard lock(core->mu);
    size_t& mine = core->per_peer[peer];
    accepted = !core->draining && core->open.size() < core->options.max_connections &&
               mine < core->options.max_connections_per_peer;
    if (accepted) {
      ++mine;
    } else if (mine == 0) {
      core->per_peer.erase(peer);
    }
  }
  auto conn = std::make_shared<Connection>(core, std::move(socket), peer, accepted);
  if (accepted) {
    std::lock_guard lock(core->mu);
    core->open.emplace(conn.get(), conn);
  }
  asio::post(conn->executor(), [conn, accepted] {
    if (accepted) {
      conn->Start();
    } else {
      conn->StartRejected();
    }
  });
}

namespace {

absl::StatusOr<tcp::endpoint> ParseAddress(const std::string& address, asio::io_context& ioc) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("adresse d'écoute « ", address, " » : ", std::string(why)));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid("host:port attendu");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return invalid("port de 0 à 65535 attendu");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(ip, static_cast<unsigned short>(port));
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) return invalid(absl::StrCat("nom inconnu (", ec.message(), ")"));
  return results.begin()->endpoint();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("http::Server: no handler");
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError("http::Server: threads must be within 1..256");
  }
  if (options.header_limit < 256 || options.target_limit < 1 || options.max_connections < 1 ||
      options.max_connections_per_peer < 1) {
    return absl::InvalidArgumentError("http::Server: a limit is too small");
  }
  auto impl = std::make_unique<Impl>();
  impl->core = std::make_shared<Core>();
  impl->core->options = options;
  impl->core->handler = handler;
  auto endpoint = ParseAddress(options.address, impl->ioc);
  if (!endpoint.ok()) return endpoint.status();
  beast::error_code ec;
  auto& acceptor = impl->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("http::Server: cannot listen on ", options.address, ": ", ec.message()));
  }
  impl->port = acceptor.local_endpoint(ec).port();
  impl->work.emplace(impl->ioc.get_executor());
  impl->Accept();
  for (int i = 0; i < options.threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

int Server::port() const { return impl_->port; }

void Server::Shutdown(absl::Duration grace) {
  std::lock_guard shutdown_lock(impl_->shutdown_mu);
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  const auto deadline = std::chrono::steady_clock::now() + Chrono(grace);
  Core& core = *impl_->core;

  // Stop accepting (on the acceptor's strand), and close the connections waiting for a
  // request.
  std::promise<void> closed;
  asio::post(impl_->acceptor.get_executor(), [this, &closed] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  auto each_open = [&core](auto&& f) {
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard lock(core.mu);
      core.draining = true;
      for (auto& [_, c] : core.open) conns.push_back(c);
    }
    for (auto& c : conns) asio::post(c->executor(), [c, f] { f(*c); });
  };
  each_open([](Connection& c) { c.CloseIfIdle(); });

  // Requests in progress finish (each closing its connection after), until the grace ends.
  {
    std::unique_lock lock(core.mu);
    core.cv.wait_until(lock, deadline, [&core] { return core.open.size() == core.lingering; });
  }
  each_open([](Connection& c) { c.Close(); });
  {
    std::unique_lock lock(core.mu);
    core.cv.wait_for(lock, std::chrono::seconds(5), [&core] { return core.open.empty(); });
    core.stopped = true;  // from now on, exchanges leave the connections alone
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Connections that did not close in time go now, while the io_context they belong to is
  // still there (outside the lock: their destructors take it).
  std::unordered_map<Connection*, std::shared_ptr<Connection>> left;
  {
    std::lock_guard lock(core.mu);
    left.swap(core.open);
  }
  left.clear();
}

}  // namespace passerelle::http
