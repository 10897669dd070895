// The HTTP server against real sockets on 127.0.0.1: a small blocking client for normal
// exchanges, raw bytes for hostile ones, short timeouts so that the whole file runs in seconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/http/gzip.hpp"
#include "libs/http/server.hpp"
#include "libs/testing/testing.hpp"

namespace passerelle::http {
namespace {

using namespace std::chrono_literals;
using ::passerelle::testing::WaitFor;
using ::testing::HasSubstr;

// ---- A blocking client ------------------------------------------------------------------------

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool chunked = false;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool Has(const std::string& name) const { return headers.count(name) > 0; }
};

class Client {
 public:
  explicit Client(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next response; `head`: the answer to a HEAD request (no body whatever the headers).
  std::optional<Reply> Read(bool head = false, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Reply r;
    const std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::vector<std::string> lines = absl::StrSplit(head_text, "\r\n");
    std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) return std::nullopt;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) return std::nullopt;
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (absl::EqualsIgnoreCase(r.Header("transfer-encoding"), "chunked")) {
      r.chunked = true;
      while (true) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill(deadline)) return std::nullopt;
        }
        size_t size = 0;
        if (!absl::SimpleHexAtoi(buf_.substr(0, eol), &size)) return std::nullopt;
        while (buf_.size() < eol + 2 + size + 2) {
          if (!Fill(deadline)) return std::nullopt;
        }
        r.body += buf_.substr(eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2);
        if (size == 0) return r;
      }
    }
    if (r.Has("content-length")) {
      size_t n = 0;
      if (!absl::SimpleAtoi(r.Header("content-length"), &n)) return std::nullopt;
      while (buf_.size() < n) {
        if (!Fill(deadline)) return std::nullopt;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    while (Fill(deadline)) {
    }
    if (!eof_) return std::nullopt;
    r.body = std::move(buf_);
    buf_.clear();
    return r;
  }

  // True once the server closed the connection (end of stream or reset), reading and keeping
  // whatever comes before.
  bool WaitClosed(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Fill(deadline)) {
    }
    return eof_;
  }

  // Without waiting: whether the server has closed the connection (nothing else is read).
  bool ClosedNow() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    char c;
    const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
  }

  const std::string& buffered() const { return buf_; }
  int fd() const { return fd_; }

 private:
  // Reads more; false at the deadline or the end of the stream (then eof_).
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char data[65536];
    const ssize_t n = recv(fd_, data, sizeof data, 0);
    if (n <= 0) {
      eof_ = true;  // end of stream, or reset
      return false;
    }
    buf_.append(data, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

std::string Get(std::string_view target, std::string_view extra = "") {
  return absl::StrCat("GET ", std::string(target), " HTTP/1.1\r\nHost: t\r\n", std::string(extra),
                      "\r\n");
}

std::string Post(std::string_view target, std::string_view body, std::string_view extra = "") {
  return absl::StrCat("POST ", std::string(target),
                      " HTTP/1.1\r\nHost: t\r\nContent-Length: ", body.size(), "\r\n",
                      std::string(extra), "\r\n", std::string(body));
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// ---- A handler the tests program ----------------------------------------------------------------

class TestHandler : public Handler {
 public:
  std::function<BodyPlan(const Request&)> plan = [](const Request&) { return BodyPlan{}; };
  // Default: echoes the method, target and body as text/plain.
  std::function<void(std::shared_ptr<Exchange>)> handle = [](std::shared_ptr<Exchange> ex) {
    const Request& r = ex->request();
    ex->Respond({.status = 200,
                 .headers = {{"Content-Type", "text/plain"}},
                 .body = absl::StrCat(r.method, " ", r.target, " ", r.body)});
  };
  std::atomic<int> handled{0};

  BodyPlan Plan(const Request& head) override { return plan(head); }
  void Handle(std::shared_ptr<Exchange> exchange) override {
    ++handled;
    handle(std::move(exchange));
  }
};

// Exchanges a handler keeps for the test to answer.
class Held {
 public:
  void Push(std::shared_ptr<Exchange> ex) {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(ex));
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  std::shared_ptr<Exchange> Pop() {
    std::lock_guard lock(mu_);
    if (held_.empty()) return nullptr;
    auto ex = held_.front();
    held_.pop_front();
    return ex;
  }

 private:
  std::mutex mu_;
  std::deque<std::shared_ptr<Exchange>> held_;
};

ServerOptions Fast() {
  ServerOptions o;
  o.address = "127.0.0.1:0";
  o.header_timeout = absl::Seconds(5);
  o.body_timeout = absl::Seconds(5);
  o.write_timeout = absl::Seconds(5);
  o.idle_timeout = absl::Seconds(5);
  return o;
}

std::unique_ptr<Server> StartServer(Handler* handler, ServerOptions options = Fast()) {
  auto server = Server::Start(std::move(options), handler);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// The server's own error: JSON in the AIP-193 shape, and the connection closed after it.
void ExpectError(Client& c, int code, const std::string& status) {
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, code);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_THAT(r->body, HasSubstr(absl::StrCat("{\"error\":{\"code\":", code, ",\"message\":\"")));
  EXPECT_THAT(r->body, HasSubstr(absl::StrCat("\"status\":\"", status, "\"}}")));
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

// ---- Connections and keep-alive
// --------------------------------------------------------------------

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Get(absl::StrCat("/n/", i))));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, absl::StrCat("GET /n/", i, " "));
    EXPECT_FALSE(r->Has("connection"));
    EXPECT_TRUE(r->Has("date"));
  }
  EXPECT_FALSE(c.ClosedNow());
}

TEST(HttpServer, Http10ClosesUnlessKeepAliveIsAsked) {
  TestHandler h;
  auto server = StartServer(&h);
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send("GET /a HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("connection"), "close");
    EXPECT_TRUE(c.WaitClosed());
  }
  Client c(server->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "GET /b ");
    EXPECT_EQ(r->Header("connection"), "keep-alive");
  }
  EXPECT_FALSE(c.ClosedNow());
}

TEST(HttpServer, Http11ClientAskingCloseIsClosed) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/", "Connection: close\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrderOneAtATime) {
  TestHandler h;
  Held held;
  h.handle = [&](std::shared_ptr<Exchange> ex) { held.Push(std::move(ex)); };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/1") + Post("/2", "deux") + Get("/3")));  // one TCP write
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));
    // The next request is read only once this one is answered.
    EXPECT_EQ(h.handled.load(), i);
    auto ex = held.Pop();
    const Request& r = ex->request();
    ex->Respond({.status = 200, .body = absl::StrCat(r.target, "=", r.body)});
  }
  for (const char* want : {"/1=", "/2=deux", "/3="}) {
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, want);
  }
}

TEST(HttpServer, RequestCarriesLowerCasedHeadersAndThePeer) {
  TestHandler h;
  Request seen;
  std::mutex mu;
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    {
      std::lock_guard lock(mu);
      seen = ex->request();
    }
    ex->Respond({.status = 204});
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/p?q=1", "X-Request-Id: Abc\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  EXPECT_FALSE(r->Has("content-length"));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/p?q=1");
  EXPECT_EQ(seen.version, 11);
  EXPECT_EQ(seen.peer, "127.0.0.1");
  ASSERT_TRUE(seen.Find("X-REQUEST-ID").has_value());
  EXPECT_EQ(*seen.Find("x-request-id"), "Abc");
  EXPECT_EQ(seen.headers[1].name, "x-request-id");
  EXPECT_FALSE(seen.Find("absent").has_value());
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  TestHandler h;
  ServerOptions o = Fast();
  o.idle_timeout = absl::Milliseconds(200);
  auto server = StartServer(&h, o);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/")));
  ASSERT_TRUE(c.Read().has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

// ---- Requests refused by the server ------------------------------------------------------------

struct Refusal {
  std::string name;
  std::string request;
  int code;
  std::string status;
};

class Refused : public ::testing::TestWithParam<Refusal> {};

TEST_P(Refused, WithAJsonErrorAndClose) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(GetParam().request));
  ExpectError(c, GetParam().code, GetParam().status);
  EXPECT_EQ(h.handled.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    HttpServer, Refused,
    ::testing::Values(
        Refusal{"ContentLengthAndTransferEncoding",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: "
                "chunked\r\n\r\n0\r\n\r\n",
                400, "INVALID_ARGUMENT"},
        Refusal{"TransferEncodingThenContentLength",
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                "5\r\n\r\n0\r\n\r\n",
                400, "INVALID_ARGUMENT"},
        Refusal{"DuplicateContentLength",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
                400, "INVALID_ARGUMENT"},
        Refusal{"ContentLengthList", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\nab",
                400, "INVALID_ARGUMENT"},
        Refusal{"ConflictingContentLength",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
                400, "INVALID_ARGUMENT"},
        Refusal{"InvalidContentLength",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"NegativeContentLength", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
                400, "INVALID_ARGUMENT"},
        Refusal{"TransferEncodingOtherThanChunked",
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                400, "INVALID_ARGUMENT"},
        Refusal{"AbsoluteFormTarget", "GET http://example.org/ HTTP/1.1\r\nHost: t\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"AsteriskTarget", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 400, "INVALID_ARGUMENT"},
        Refusal{"AuthorityFormTarget", "CONNECT example.org:443 HTTP/1.1\r\nHost: t\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"Upgrade",
                "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"BadChunkSize",
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"ChunkLongerThanAnnounced",
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n",
                400, "INVALID_ARGUMENT"},
        Refusal{"NoHost", "GET / HTTP/1.1\r\n\r\n", 400, "INVALID_ARGUMENT"},
        Refusal{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"GarbageRequestLine", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, "INVALID_ARGUMENT"},
        Refusal{"Http20", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "UNIMPLEMENTED"},
        Refusal{"Http12", "GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505, "UNIMPLEMENTED"},
        Refusal{"Http09", "GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505, "UNIMPLEMENTED"},
        Refusal{"TargetOverLimit", Get("/" + std::string(5000, 'a')), 414, "RESOURCE_EXHAUSTED"},
        // Past the head's limit too: the target is what is too long.
        Refusal{"TargetOverHeadLimit", Get("/" + std::string(9000, 'a')), 414,
                "RESOURCE_EXHAUSTED"},
        Refusal{"TargetOverHeadLimitUnended", "GET /" + std::string(9000, 'a'), 414,
                "RESOURCE_EXHAUSTED"},
        // A short target, but a line past the head's limit all the same: malformed, not large.
        Refusal{"RequestLineOverHeadLimit",
                "GET /" + std::string(3000, 'a') + " " + std::string(6000, 'b') + "\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"MethodOverHeadLimit", std::string(9000, 'G') + " / HTTP/1.1\r\n", 400,
                "INVALID_ARGUMENT"},
        Refusal{"HeadersOverLimit", Get("/", "X-Big: " + std::string(9000, 'b') + "\r\n"), 431,
                "RESOURCE_EXHAUSTED"},
        Refusal{"ManySmallHeadersOverLimit",
                Get("/",
                    [] {
                      std::string s;
                      for (int i = 0; i < 400; ++i)
                        absl::StrAppend(&s, "X-H", i, ": vvvvvvvvvvvvvv\r\n");
                      return s;
                    }()),
                431, "RESOURCE_EXHAUSTED"},
        Refusal{"AnnouncedBodyOverLimit",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413,
                "RESOURCE_EXHAUSTED"}),
    [](const auto& info) { return info.param.name; });

TEST(HttpServer, AnnouncedBodyOverLimitIsRefusedBeforeItIsSent) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.max_bytes = 100}; };
  auto server = StartServer(&h);
  Client c(server->port());
  // Only the head: the 413 comes without the body ever being sent.
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  ExpectError(c, 413, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(h.handled.load(), 0);
}

TEST(HttpServer, ChunkedBodyOverLimitIsRefusedWhenItPassesTheLimit) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.max_bytes = 100}; };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.Send(absl::StrCat("50\r\n", std::string(0x50, 'x'), "\r\n")));
  ASSERT_TRUE(c.Send(absl::StrCat("50\r\n", std::string(0x50, 'x'), "\r\n")));
  ExpectError(c, 413, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(h.handled.load(), 0);
}

TEST(HttpServer, ErrorMessageIsShortFrenchAndValidJson) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/" + std::string(5000, '"'))));  // a target full of quotes
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 414);
  EXPECT_EQ(r->body,
            "{\"error\":{\"code\":414,\"message\":\"Cible de requête trop longue (au plus 4096 "
            "octets)\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
}

TEST(HttpServer, BodyPlanRejectAnswersWithoutReadingTheBody) {
  TestHandler h;
  h.plan = [](const Request&) {
    return BodyPlan{.kind = BodyPlan::kReject,
                    .rejection = ErrorResponse(415, "Type de contenu non pris en charge")};
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\nabc"));
  ExpectError(c, 415, "INVALID_ARGUMENT");
  EXPECT_EQ(h.handled.load(), 0);
}

// ---- Slow and stalled clients
// --------------------------------------------------------------------

TEST(HttpServer, SlowLorisIsClosedAtTheHeaderDeadlineWhileOthersAreServed) {
  TestHandler h;
  ServerOptions o = Fast();
  o.header_timeout = absl::Seconds(1);
  auto server = StartServer(&h, o);
  constexpr int kSlow = 50;
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<Client>(server->port()));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->Send("GET / HTTP/1.1\r\nX-Slow: "));
  }
  const auto start = std::chrono::steady_clock::now();
  // Each sends one more header byte every 100 ms: a per-read timeout would never fire.
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    while (!stop) {
      for (auto& c : slow) c->Send("a");
      std::this_thread::sleep_for(100ms);
    }
  });
  {
    Client normal(server->port());
    ASSERT_TRUE(normal.Send(Get("/normal")));
    auto r = normal.Read(false, 500ms);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "GET /normal ");
  }
  int open_still = 0;
  for (auto& c : slow) open_still += c->ClosedNow() ? 0 : 1;
  EXPECT_EQ(open_still, kSlow) << "the normal request was answered while they were connected";
  for (auto& c : slow) EXPECT_TRUE(c->WaitClosed(3s));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  stop = true;
  dribble.join();
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
  for (auto& c : slow) EXPECT_EQ(c->buffered(), "");  // dropped without an answer
}

TEST(HttpServer, SlowBodyIsClosedAtTheBodyDeadline) {
  TestHandler h;
  ServerOptions o = Fast();
  o.body_timeout = absl::Milliseconds(300);
  auto server = StartServer(&h, o);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab"));
  EXPECT_TRUE(c.WaitClosed(3s));
  EXPECT_EQ(h.handled.load(), 0);
}

TEST(HttpServer, ClientThatStopsReadingAStreamTimesOutAndCancels) {
  TestHandler h;
  ServerOptions o = Fast();
  o.write_timeout = absl::Milliseconds(300);
  std::atomic<bool> failed{false}, cancelled{false};
  std::atomic<size_t> accepted_bytes{0};
  const std::string chunk = RandomBytes(64 * 1024);
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    ex->OnCancel([&] { cancelled = true; });
    ex->StartStream({.status = 200, .headers = {{"Content-Type", "application/octet-stream"}}});
    // Each chunk only once the previous one is written.
    auto next = std::make_shared<std::function<void(bool)>>();
    *next = [&, ex, next](bool ok) {
      if (!ok) {
        failed = true;
        *next = nullptr;  // let the exchange go
        return;
      }
      accepted_bytes += chunk.size();
      ex->WriteChunk(chunk, *next);
    };
    ex->WriteChunk(chunk, *next);
  };
  auto server = StartServer(&h, o);
  Client c(server->port(), /*rcvbuf=*/4096);
  ASSERT_TRUE(c.Send(Get("/export")));  // and never read
  ASSERT_TRUE(WaitFor([&] { return failed && cancelled; }, 5s));
  // Memory stayed bounded: what was accepted fits in the sockets' buffers.
  EXPECT_LT(accepted_bytes.load(), size_t{16} << 20);
  EXPECT_TRUE(c.WaitClosed(3s));
}

// ---- Caps
// ----------------------------------------------------------------------------------------

TEST(HttpServer, ConnectionsOverTheCapGet503AndClose) {
  TestHandler h;
  ServerOptions o = Fast();
  o.max_connections = 2;
  auto server = StartServer(&h, o);
  auto a = std::make_unique<Client>(server->port());
  Client b(server->port());
  for (Client* c : {a.get(), &b}) {  // both served, so both counted
    ASSERT_TRUE(c->Send(Get("/")));
    ASSERT_TRUE(c->Read().has_value());
  }
  {
    Client over(server->port());
    ASSERT_TRUE(over.Send(Get("/")));
    auto r = over.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 503);
    EXPECT_THAT(r->body, HasSubstr("\"status\":\"UNAVAILABLE\""));
    EXPECT_EQ(r->Header("retry-after"), "1");
    EXPECT_TRUE(over.WaitClosed());
  }
  a.reset();  // a place frees up
  ASSERT_TRUE(WaitFor(
      [&] {
        Client again(server->port());
        again.Send(Get("/"));
        auto r = again.Read();
        return r.has_value() && r->status == 200;
      },
      5s));
}

TEST(HttpServer, ConnectionsOverThePerPeerCapGet503) {
  TestHandler h;
  ServerOptions o = Fast();
  o.max_connections_per_peer = 1;
  auto server = StartServer(&h, o);
  Client a(server->port());
  ASSERT_TRUE(a.Send(Get("/")));
  ASSERT_TRUE(a.Read().has_value());
  Client b(server->port());
  ASSERT_TRUE(b.Send(Get("/")));
  auto r = b.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(b.WaitClosed());
  ASSERT_TRUE(a.Send(Get("/")));  // the first one is still served
  EXPECT_EQ(a.Read()->status, 200);
}

TEST(HttpServer, BufferedBodiesOverTheInflightBudgetGet503) {
  TestHandler h;
  Held held;
  h.handle = [&](std::shared_ptr<Exchange> ex) { held.Push(std::move(ex)); };
  ServerOptions o = Fast();
  o.inflight_body_budget = 100 * 1000;
  auto server = StartServer(&h, o);
  const std::string body(80 * 1000, 'x');
  Client a(server->port());
  ASSERT_TRUE(a.Send(Post("/a", body)));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));  // held: its body counts
  Client b(server->port());
  ASSERT_TRUE(b.Send(Post("/b", body)));
  ExpectError(b, 503, "UNAVAILABLE");
  auto ex = held.Pop();
  ex->Respond({.status = 200});
  ex.reset();  // the handler lets go of the body
  ASSERT_TRUE(a.Read().has_value());
  Client c(server->port());
  ASSERT_TRUE(c.Send(Post("/c", body)));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));
  held.Pop()->Respond({.status = 200});
  EXPECT_EQ(c.Read()->status, 200);
}

// ---- Bodies
// ---------------------------------------------------------------------------------------

TEST(HttpServer, ChunkedBodyIsBufferedWhole) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(
      c.Send("POST /u HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "POST /u abcdefg");
  ASSERT_TRUE(c.Send(Get("/next")));  // the connection is still in step
  EXPECT_EQ(c.Read()->body, "GET /next ");
}

TEST(HttpServer, StreamedBodyComesInPiecesOfAtMost64KiB) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.kind = BodyPlan::kStream, .max_bytes = 1 << 20}; };
  std::atomic<size_t> biggest{0};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    if (ex->request().method == "GET") {
      ex->Respond({.status = 200, .body = "GET"});
      return;
    }
    auto total = std::make_shared<std::string>();
    auto read = std::make_shared<std::function<void(bool, std::string, bool)>>();
    *read = [&biggest, ex, total, read](bool ok, std::string piece, bool last) {
      if (!ok) {
        *read = nullptr;
        return;
      }
      biggest = std::max(biggest.load(), piece.size());
      *total += piece;
      if (!last) {
        ex->ReadBody(*read);
        return;
      }
      ex->Respond({.status = 200, .body = absl::StrCat(total->size(), ":", total->substr(0, 8))});
      *read = nullptr;
    };
    ex->ReadBody(*read);
  };
  auto server = StartServer(&h);
  const std::string body = RandomBytes(300 * 1000);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Post("/import", body)));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, absl::StrCat(body.size(), ":", body.substr(0, 8)));
  EXPECT_LE(biggest.load(), size_t{64 * 1024});
  EXPECT_GT(biggest.load(), size_t{0});
  ASSERT_TRUE(c.Send(Get("/next")));  // the body was read to its end: still in step
  EXPECT_EQ(c.Read()->body, "GET");
}

TEST(HttpServer, StreamedBodyOverTheLimitFailsTheReadAndCancels) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.kind = BodyPlan::kStream, .max_bytes = 100}; };
  std::atomic<bool> failed{false}, cancelled{false};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    ex->OnCancel([&] { cancelled = true; });
    auto read = std::make_shared<std::function<void(bool, std::string, bool)>>();
    *read = [&, ex, read](bool ok, std::string, bool last) {
      if (!ok) {
        failed = true;
        ex->Respond({.status = 200, .body = "ignored"});
        *read = nullptr;
        return;
      }
      if (!last) ex->ReadBody(*read);
    };
    ex->ReadBody(*read);
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.Send(absl::StrCat("c8\r\n", std::string(200, 'x'), "\r\n")));
  ExpectError(c, 413, "RESOURCE_EXHAUSTED");
  EXPECT_TRUE(WaitFor([&] { return failed && cancelled; }, 5s));
}

TEST(HttpServer, AnswerBeforeTheStreamedBodyIsReadClosesAfterIt) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.kind = BodyPlan::kStream}; };
  h.handle = [](std::shared_ptr<Exchange> ex) { ex->Respond(ErrorResponse(403, "Interdit")); };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nabc"));
  ExpectError(c, 403, "PERMISSION_DENIED");
}

TEST(HttpServer, AnswerDuringAPendingBodyReadFailsTheReadAndCloses) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.kind = BodyPlan::kStream}; };
  std::atomic<int> read_ok{-1};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    ex->ReadBody([&](bool ok, std::string, bool) { read_ok = ok; });  // waits: no body sent yet
    ex->Respond(ErrorResponse(403, "Interdit"));
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"));
  ExpectError(c, 403, "PERMISSION_DENIED");
  EXPECT_EQ(read_ok.load(), 0);
}

TEST(HttpServer, StreamedBodyGetsContinueAtTheFirstRead) {
  TestHandler h;
  h.plan = [](const Request&) { return BodyPlan{.kind = BodyPlan::kStream}; };
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->ReadBody([ex](bool ok, std::string piece, bool last) {
      ex->Respond({.status = 200, .body = absl::StrCat(ok, last, piece)});
    });
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(
      c.Send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  auto cont = c.Read();
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.Send("ok"));
  EXPECT_EQ(c.Read()->body, "11ok");
  ASSERT_TRUE(c.Send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(c.Read()->body, "11");  // no body: one empty last piece
}

TEST(HttpServer, ExpectContinueIsSentOnlyWhenThePlanAcceptsTheBody) {
  TestHandler h;
  h.plan = [](const Request& head) {
    if (head.target == "/refused") {
      return BodyPlan{.kind = BodyPlan::kReject, .rejection = ErrorResponse(401, "Clé absente")};
    }
    return BodyPlan{.max_bytes = 10};
  };
  auto server = StartServer(&h);
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send(
        "POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    auto cont = c.Read();
    ASSERT_TRUE(cont.has_value());
    EXPECT_EQ(cont->status, 100);
    ASSERT_TRUE(c.Send("body"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "POST /ok body");
  }
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send(
        "POST /refused HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    ExpectError(c, 401, "UNAUTHENTICATED");  // first and only answer: no 100
  }
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send(
        "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"));
    ExpectError(c, 413, "RESOURCE_EXHAUSTED");
  }
}

// ---- Responses
// -----------------------------------------------------------------------------------

TEST(HttpServer, HeadKeepsContentLengthAndSendsNoBody) {
  TestHandler h;
  std::atomic<bool> saw_head{false};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    if (ex->request().method == "HEAD") saw_head = true;
    ex->Respond({.status = 200,
                 .headers = {{"Content-Type", "application/octet-stream"}},
                 .body = std::string(5000, 'z')});
  };
  auto server = StartServer(&h);
  Client c(server->port());
  // HEAD then GET in one write: a body after the HEAD's head would corrupt the GET's answer.
  ASSERT_TRUE(c.Send("HEAD /r HTTP/1.1\r\nHost: t\r\n\r\n" + Get("/r")));
  auto head = c.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("content-length"), "5000");
  auto get = c.Read();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, std::string(5000, 'z'));
  EXPECT_TRUE(saw_head);
}

TEST(HttpServer, ARefusedHeadAfterAHeadRequestStillCarriesItsBody) {
  TestHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  // The refusal answers the second request, a GET: its JSON body is sent.
  ASSERT_TRUE(c.Send("HEAD /r HTTP/1.1\r\nHost: t\r\n\r\n" + Get("/" + std::string(9000, 'a'))));
  auto head = c.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  auto refused = c.Read();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 414);
  EXPECT_THAT(refused->body, HasSubstr("Cible de requête trop longue"));
}

TEST(HttpServer, JsonIsGzippedWhenTheClientAcceptsIt) {
  TestHandler h;
  const std::string json = "[" + std::string(3000, ' ') + "{\"a\":1}]";
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    const bool small = ex->request().target == "/small";
    ex->Respond({.status = 200,
                 .headers = {{"Content-Type", "application/geo+json; charset=utf-8"},
                             {"Vary", "Origin"},
                             {"Content-Length", "1"}},  // dropped: the server counts
                 .body = small ? "{}" : json});
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/", "Accept-Encoding: br;q=1.0, gzip;q=0.8\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("content-encoding"), "gzip");
  EXPECT_EQ(r->Header("vary"), "Accept-Encoding, Origin");
  auto plain = GzipDecompress(r->body, 1 << 20);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, json);
  EXPECT_LT(r->body.size(), json.size() / 10);

  ASSERT_TRUE(c.Send(Get("/", "Accept-Encoding: gzip;q=0\r\n")));  // refused by name
  r = c.Read();
  EXPECT_FALSE(r->Has("content-encoding"));
  EXPECT_EQ(r->Header("vary"), "Accept-Encoding, Origin");
  EXPECT_EQ(r->body, json);

  ASSERT_TRUE(c.Send(Get("/small", "Accept-Encoding: gzip\r\n")));  // under 1 KiB
  r = c.Read();
  EXPECT_FALSE(r->Has("content-encoding"));
  EXPECT_EQ(r->body, "{}");
}

TEST(HttpServer, BinaryTypesAreNotGzipped) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->Respond({.status = 200,
                 .headers = {{"Content-Type", "image/png"}},
                 .body = std::string(4000, 'p')});
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/", "Accept-Encoding: gzip\r\n")));
  auto r = c.Read();
  EXPECT_FALSE(r->Has("content-encoding"));
  EXPECT_FALSE(r->Has("vary"));
  EXPECT_EQ(r->body.size(), 4000u);
}

TEST(HttpServer, StreamedCsvIsChunkedAndGzippedOnTheFly) {
  TestHandler h;
  std::string expected;
  for (int i = 0; i < 3; ++i)
    expected += absl::StrCat("ligne;", i, ";", std::string(100, 'v'), "\n");
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->StartStream({.status = 200,
                     .headers = {{"Content-Type", "text/csv; charset=utf-8"},
                                 {"Content-Disposition", "attachment; filename=\"lieux.csv\""}}});
    auto i = std::make_shared<int>(0);
    auto next = std::make_shared<std::function<void(bool)>>();
    *next = [ex, i, next](bool ok) {
      if (!ok || *i == 3) {
        if (ok) ex->FinishStream();
        *next = nullptr;
        return;
      }
      const int n = (*i)++;
      ex->WriteChunk(absl::StrCat("ligne;", n, ";", std::string(100, 'v'), "\n"), *next);
    };
    (*next)(true);
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/export.csv", "Accept-Encoding: gzip\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->Header("content-encoding"), "gzip");
  EXPECT_EQ(r->Header("vary"), "Accept-Encoding");
  EXPECT_FALSE(r->Has("content-length"));
  auto plain = GzipDecompress(r->body, 1 << 20);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, expected);

  ASSERT_TRUE(c.Send(Get("/export.csv")));  // same connection, no gzip this time
  r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->Has("content-encoding"));
  EXPECT_EQ(r->body, expected);
}

TEST(HttpServer, StreamToHttp10ClientIsRawThenClosed) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->StartStream({.status = 200, .headers = {{"Content-Type", "text/plain"}}});
    ex->WriteChunk("un,", nullptr);
    ex->WriteChunk("deux", nullptr);
    ex->FinishStream();
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_EQ(r->body, "un,deux");
}

TEST(HttpServer, AbortedStreamIsCutWithoutTheLastChunk) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->StartStream({.status = 200, .headers = {{"Content-Type", "text/csv"}}});
    ex->WriteChunk("a;b\n", nullptr);
    ex->AbortStream();
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/")));
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_THAT(c.buffered(), HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_TRUE(absl::EndsWith(c.buffered(), "\r\n\r\n4\r\na;b\n\r\n"));  // no final chunk
}

TEST(HttpServer, ExchangeReleasedWithoutAnAnswerGets500) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange>) {};  // forgets it
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, HasSubstr("\"status\":\"INTERNAL\""));
}

TEST(HttpServer, ResponseHeaderWithALineBreakBecomes500) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange> ex) {
    ex->Respond({.status = 200, .headers = {{"X-Echo", "a\r\nSet-Cookie: x=1"}}, .body = "b"});
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_FALSE(r->Has("set-cookie"));
}

TEST(HttpServer, StreamHeadWithABadHeaderBecomes500AndChunksAreRefused) {
  TestHandler h;
  std::atomic<int> written{-1};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    ex->StartStream({.status = 200, .headers = {{"Bad Name", "v"}}});
    ex->WriteChunk("x", [&](bool ok) { written = ok; });
    ex->FinishStream();
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_FALSE(r->chunked);
  EXPECT_TRUE(WaitFor([&] { return written.load() == 0; }, 5s));
  ASSERT_TRUE(c.Send(Get("/")));  // still in step
  EXPECT_EQ(c.Read()->status, 500);
}

TEST(HttpServer, SecondAnswerAndAnswersFromOtherThreadsAreSafe) {
  TestHandler h;
  h.handle = [](std::shared_ptr<Exchange> ex) {
    std::thread([ex] {
      ex->Respond({.status = 200, .body = "first"});
      ex->Respond({.status = 500, .body = "second"});  // ignored
    }).detach();
  };
  auto server = StartServer(&h);
  Client c(server->port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send(Get("/")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "first");
  }
}

// ---- Shutdown
// -------------------------------------------------------------------------------------

TEST(HttpServer, ShutdownFinishesInFlightResponsesThenCloses) {
  TestHandler h;
  Held held;
  h.handle = [&](std::shared_ptr<Exchange> ex) { held.Push(std::move(ex)); };
  auto server = StartServer(&h);
  const int port = server->port();
  Client idle(port);  // served, then waiting on keep-alive
  ASSERT_TRUE(idle.Send(Get("/")));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));
  held.Pop()->Respond({.status = 200});
  ASSERT_TRUE(idle.Read().has_value());
  Client busy(port);
  ASSERT_TRUE(busy.Send(Get("/slow")));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));

  std::atomic<bool> done{false};
  std::thread stopper([&] {
    server->Shutdown(absl::Seconds(10));
    done = true;
  });
  EXPECT_TRUE(idle.WaitClosed());  // idle connections go at once
  EXPECT_TRUE(WaitFor([&] { return !Client(port).connected(); }, 5s));  // no more accepts
  EXPECT_FALSE(done);
  held.Pop()->Respond({.status = 200, .body = "fini"});
  auto r = busy.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "fini");
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(busy.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return done.load(); }, 5s));  // well before the grace ends
  stopper.join();
}

TEST(HttpServer, AnswersAfterShutdownAreIgnored) {
  TestHandler h;
  Held held;
  std::atomic<bool> cancelled{false};
  h.handle = [&](std::shared_ptr<Exchange> ex) {
    ex->OnCancel([&] { cancelled = true; });
    held.Push(std::move(ex));
  };
  auto server = StartServer(&h);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/never")));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }, 5s));
  auto ex = held.Pop();
  server->Shutdown(absl::Milliseconds(100));  // the grace passes
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(c.WaitClosed());
  ex->Respond({.status = 200});
  bool written = true;
  ex->WriteChunk("x", [&](bool ok) { written = ok; });
  EXPECT_FALSE(written);
  server.reset();
  ex->Respond({.status = 200});  // the server is gone
  ex->ReadBody([](bool ok, std::string, bool) { EXPECT_FALSE(ok); });
  bool late_cancel = false;
  ex->OnCancel([&] { late_cancel = true; });
  EXPECT_TRUE(late_cancel);  // it happened already: at once
  ex.reset();
}

TEST(HttpServer, DestroyingTheServerWithOpenConnectionsIsClean) {
  TestHandler h;
  Held held;
  h.handle = [&](std::shared_ptr<Exchange> ex) { held.Push(std::move(ex)); };
  auto server = StartServer(&h);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    clients.back()->Send(i % 2 ? Get("/held") : "GET / HTTP/1.1\r\nHo");
  }
  ASSERT_TRUE(WaitFor([&] { return held.size() == 2; }, 5s));
  server.reset();
  for (auto& c : clients) EXPECT_TRUE(c->WaitClosed());
  while (auto ex = held.Pop()) ex->Respond({.status = 200});
}

// ---- Start
// -----------------------------------------------------------------------------------------

TEST(HttpServer, StartRefusesBadAddressesAndBusyPorts) {
  TestHandler h;
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", "127.0.0.1:+80", ":80", "127.0.0.1:8a"}) {
    ServerOptions o;
    o.address = bad;
    auto s = Server::Start(o, &h);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto first = StartServer(&h);
  ServerOptions o;
  o.address = absl::StrCat("127.0.0.1:", first->port());
  EXPECT_EQ(Server::Start(o, &h).status().code(), absl::StatusCode::kUnavailable);
  o.address = "[::1]:0";
  auto v6 = Server::Start(o, &h);
  if (v6.ok()) {  // where the machine has IPv6
    EXPECT_GT((*v6)->port(), 0);
  }
  o.address = "localhost:0";
  EXPECT_TRUE(Server::Start(o, &h).ok());
}

}  // namespace
}  // namespace passerelle::http
