// Fuzz target: the HTTP server (libs/http) fed raw bytes over loopback, as a hostile client
// would send them: Beast's parser, the checks around it and the connection's state machine
// (bodies buffered and streamed, pipelining, HEAD, 100-continue, gzip, errors, lingering).
//
// One server for the whole run, with caps of 4 connections. Each input is sent on a new
// connection, the sending side is shut (so no input waits for a timeout), and everything the
// server answers is read until it closes.
//
// Properties: what the server sends is a sequence of whole HTTP/1.1 responses (1xx, then a
// final one per request), each framed by Content-Length or chunks; the server's own errors are
// AIP-193 JSON with a valid UTF-8 message; after each input a normal request is still
// answered 200 (a connection the server forgot to count as closed would soon hit the caps).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/http/server.hpp"
#include "tests/fuzz/check.hpp"

namespace http = passerelle::http;

namespace {

// The target's first letter picks what the handler does, so the fuzzer reaches every path.
class Handler : public http::Handler {
 public:
  http::BodyPlan Plan(const http::Request& head) override {
    const char k = head.target.size() > 1 ? head.target[1] : '/';
    if (k == 'r') {
      return {.kind = http::BodyPlan::kReject,
              .rejection = http::ErrorResponse(415, "Type refusé")};
    }
    if (k == 's') return {.kind = http::BodyPlan::kStream, .max_bytes = 8192};
    return {.max_bytes = 8192};
  }

  void Handle(std::shared_ptr<http::Exchange> ex) override {
    const http::Request& r = ex->request();
    const char k = r.target.size() > 1 ? r.target[1] : '/';
    if (k == 's') {  // pull the body piece by piece, then answer its size
      auto total = std::make_shared<size_t>(0);
      auto read = std::make_shared<std::function<void(bool, std::string, bool)>>();
      *read = [ex, total, read](bool ok, std::string piece, bool last) {
        if (!ok) {
          *read = nullptr;
          return;
        }
        *total += piece.size();
        if (last) {
          ex->Respond({.status = 200, .body = absl::StrCat(*total)});
          *read = nullptr;
          return;
        }
        ex->ReadBody(*read);
      };
      ex->ReadBody(*read);
      return;
    }
    if (k == 'z') {  // a streamed, gzipped when asked, CSV export
      ex->StartStream({.status = 200, .headers = {{"Content-Type", "text/csv"}}});
      ex->WriteChunk(std::string(2000, 'a'), nullptr);
      ex->WriteChunk("", nullptr);
      ex->WriteChunk(r.body, nullptr);
      ex->FinishStream();
      return;
    }
    if (k == 'n') {
      ex->Respond({.status = 304});
      return;
    }
    if (k == 'd') return;  // dropped unanswered: the server answers 500
    ex->Respond({.status = 200,
                 .headers = {{"Content-Type", "application/json"}},
                 .body = absl::StrCat("{\"t\":\"", std::string(1500, 'x'),
                                      "\",\"n\":", r.body.size(), "}")});
  }
};

int Port() {
  static Handler handler;
  static std::unique_ptr<http::Server> server = [] {
    http::ServerOptions o;
    o.address = "127.0.0.1:0";
    o.threads = 2;
    o.header_timeout = absl::Seconds(2);
    o.body_timeout = absl::Seconds(2);
    o.write_timeout = absl::Seconds(2);
    o.idle_timeout = absl::Seconds(2);
    o.max_connections = 4;
    o.max_connections_per_peer = 4;
    auto s = http::Server::Start(o, &handler);
    FUZZ_CHECK(s.ok(), "the server starts");
    return *std::move(s);
  }();
  return server->port();
}

// A connection closed with a reset once read to its end: tens of thousands of runs would
// otherwise leave as many sockets in TIME_WAIT and run out of local ports.
int Connect() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(Port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int error = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const linger abortive{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    error = errno;
    close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FUZZ_CHECK(false, std::string("connect to the server: ") + std::strerror(error));
  return -1;
}

// Sends `bytes`, shuts the sending side, and reads until the server closes (at most 5 s).
std::string Exchange(std::string_view bytes) {
  const int fd = Connect();
  std::string got;
  size_t sent = 0;
  bool shut = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (sent == bytes.size() && !shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (p.revents & POLLOUT) {
      const ssize_t n =
          send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
      if (n < 0) sent = bytes.size();  // the server closed while we were sending
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return got;
}

// Checks `out` is a sequence of whole responses; returns the final statuses.
std::vector<int> CheckResponses(std::string_view out) {
  std::vector<int> statuses;
  while (!out.empty()) {
    const size_t end = out.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string_view::npos, "a response head is whole");
    const std::string head(out.substr(0, end));
    out.remove_prefix(end + 4);
    std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
    FUZZ_CHECK(absl::StartsWith(lines[0], "HTTP/1.1 ") && lines[0].size() >= 12,
               "a status line: " + lines[0]);
    int status = 0;
    FUZZ_CHECK(absl::SimpleAtoi(lines[0].substr(9, 3), &status), "a status code: " + lines[0]);
    std::string length, encoding, type, connection;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(": ");
      FUZZ_CHECK(colon != std::string::npos && colon > 0, "a header line: " + lines[i]);
      const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      const std::string value = lines[i].substr(colon + 2);
      if (name == "content-length") length = value;
      if (name == "transfer-encoding") encoding = value;
      if (name == "content-type") type = value;
      if (name == "connection") connection = value;
    }
    if (status < 200) {
      FUZZ_CHECK(status == 100, "the only interim answer is 100 Continue");
      continue;
    }
    statuses.push_back(status);
    std::string body;
    // An answer to HEAD has the headers of the GET and no body: what follows is the next head
    // (a chunk size line or a body here never starts like one).
    const bool head_answer = out.empty() || out.starts_with("HTTP/1.1 ");
    if (head_answer) {
      // nothing to read
    } else if (encoding == "chunked") {
      while (true) {
        const size_t eol = out.find("\r\n");
        FUZZ_CHECK(eol != std::string_view::npos, "a chunk size line");
        size_t size = 0;
        FUZZ_CHECK(absl::SimpleHexAtoi(std::string(out.substr(0, eol)), &size), "a chunk size");
        FUZZ_CHECK(out.size() >= eol + 2 + size + 2, "a whole chunk");
        body += out.substr(eol + 2, size);
        FUZZ_CHECK(out.substr(eol + 2 + size, 2) == "\r\n", "a chunk ends with CRLF");
        out.remove_prefix(eol + 2 + size + 2);
        if (size == 0) break;
      }
    } else if (!length.empty()) {
      size_t n = 0;
      FUZZ_CHECK(absl::SimpleAtoi(length, &n), "a Content-Length");
      FUZZ_CHECK(out.size() >= n, "a whole body");
      body = std::string(out.substr(0, n));
      out.remove_prefix(n);
    } else {  // a stream to an HTTP/1.0 client: the body runs to the close
      FUZZ_CHECK(connection == "close", "a body without length ends with the connection");
      body = std::string(out);
      out = {};
    }
    if (type == "application/json" && status >= 400) {
      FUZZ_CHECK(
          absl::StartsWith(body, absl::StrCat("{\"error\":{\"code\":", status)) || body.empty(),
          "an error is AIP-193 JSON: " + body);
      passerelle::fuzz::CheckMessage(body, "an error body");
    }
  }
  return statuses;
}

}  // namespace

// libFuzzer's leak check after each input stops the world and scans the heap whenever an
// input's mallocs and frees differ, which with the server's threads at work is every input:
// 90% of the time went there. Leaks are still reported, once, when the run ends.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args(*argv, *argv + *argc);
  static char no_leak_check_per_input[] = "-detect_leaks=0";
  args.push_back(no_leak_check_per_input);
  args.push_back(nullptr);
  *argc += 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckResponses(Exchange(input));
  // Still serving, and nothing was left counted against the caps.
  bool healthy = false;
  for (int attempt = 0; attempt < 1000 && !healthy; ++attempt) {
    const auto statuses = CheckResponses(Exchange("GET / HTTP/1.1\r\nHost: f\r\n\r\n"));
    healthy = statuses.size() == 1 && statuses[0] == 200;
    if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  FUZZ_CHECK(healthy, "a normal request is answered 200 after the input");
  return 0;
}
