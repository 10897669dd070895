// The HTTP client against servers on loopback: the policy before connecting and on every
// redirect, credentials kept to their origin, hostile headers, trickling bodies and cancellation.
#include "libs/net/http.hpp"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/net/raw_http_server.hpp"

namespace passerelle::net {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

HttpClient Loopback() {
  return HttpClient(*DestinationPolicy::FromStrings("127.0.0.0/8", "1-65535"));
}

RawHttpServer::Responder Answer(std::string response) {
  return [response](RawHttpServer& s, int fd, const std::string&) { s.Send(fd, response); };
}

TEST(HttpClient, LoopbackIsRefusedUnlessConfiguredAndNothingIsSent) {
  RawHttpServer server(Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  const std::string url = absl::StrCat("http://127.0.0.1:", server.port(), "/a.csv");
  HttpClient strict(*DestinationPolicy::FromStrings("", "1-65535"));
  auto refused = strict.Get(url, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  auto named = strict.Get(absl::StrCat("http://localhost:", server.port(), "/a.csv"), {});
  EXPECT_EQ(named.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(server.requests(), 0);
  auto ok = Loopback().Get(url, {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "ok");
}

TEST(HttpClient, RedirectsAreCheckedByThePolicyAndCredentialsStayWithTheirOrigin) {
  std::string seen_by_target;
  RawHttpServer target([&](RawHttpServer& s, int fd, const std::string& request) {
    seen_by_target = request;
    s.Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfile");
  });
  RawHttpServer metadata(
      Answer("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/"
             "\r\nContent-Length: 0\r\n\r\n"));
  const std::string to_target =
      absl::StrCat("HTTP/1.1 302 Found\r\nLocation: http://localhost:", target.port(),
                   "/moved.csv\r\nContent-Length: 0\r\n\r\n");
  RawHttpServer moving(Answer(to_target));
  HttpOptions options;
  options.authorization = "Bearer s3cret";
  auto refused = Loopback().Get(absl::StrCat("http://127.0.0.1:", metadata.port(), "/"), options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("169.254.169.254"));

  auto moved = Loopback().Get(absl::StrCat("http://127.0.0.1:", moving.port(), "/"), options);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->body, "file");
  EXPECT_EQ(moved->url.target, "/moved.csv");
  EXPECT_THAT(seen_by_target, HasSubstr("GET /moved.csv"));
  EXPECT_THAT(seen_by_target, ::testing::Not(HasSubstr("s3cret")));  // another origin

  options.max_redirects = 1;  // this one goes on to the target, then 302 once more: too many
  RawHttpServer twice(Answer(absl::StrCat("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:",
                                          moving.port(), "/\r\nContent-Length: 0\r\n\r\n")));
  EXPECT_EQ(
      Loopback().Get(absl::StrCat("http://127.0.0.1:", twice.port(), "/"), options).status().code(),
      absl::StatusCode::kFailedPrecondition);
  options.max_redirects = 0;  // not followed: answered as it is
  auto kept = Loopback().Get(absl::StrCat("http://127.0.0.1:", moving.port(), "/"), options);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->status, 302);
  EXPECT_THAT(kept->location, HasSubstr("/moved.csv"));
}

TEST(HttpClient, HostileContentLengthsAreErrorsNotCrashes) {
  for (const char* length : {"abc", "99999999999999999999999", "-1", "1e3"}) {
    RawHttpServer server(
        Answer(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", length, "\r\n\r\nbody")));
    auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", server.port(), "/"), {});
    EXPECT_FALSE(r.ok()) << length;
    EXPECT_THAT(r.status().message(), HasSubstr("Content-Length")) << length;
  }
  RawHttpServer big(Answer("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nbody"));
  HttpOptions small;
  small.max_bytes = 1000;
  EXPECT_EQ(
      Loopback().Get(absl::StrCat("http://127.0.0.1:", big.port(), "/"), small).status().code(),
      absl::StatusCode::kResourceExhausted);
  // The connection closed before the announced end: a cut file, not an unreachable server.
  RawHttpServer cut(Answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"));
  auto short_body = Loopback().Get(absl::StrCat("http://127.0.0.1:", cut.port(), "/"), {});
  EXPECT_EQ(short_body.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(short_body.status().message(), HasSubstr("fichier tronqué"));
  EXPECT_THAT(short_body.status().message(), HasSubstr("sur 100"));
}

TEST(HttpClient, AmbiguousAnswersAreNamed) {
  RawHttpServer twice(
      Answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 10\r\n\r\nbody"));
  auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", twice.port(), "/"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("plusieurs en-têtes Content-Length"));
  RawHttpServer nowhere(Answer("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"));
  r = Loopback().Get(absl::StrCat("http://127.0.0.1:", nowhere.port(), "/"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("sans en-tête Location"));
  // gzip sent unasked stays gzip: the caller sees bytes, not a 1000-fold expansion.
  const std::string gz(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c\x4a\x06\x00\xc2\x41\x24\x35\x03\x00\x00"
      "\x00",
      23);
  RawHttpServer zipped(Answer(absl::StrCat(
      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ", gz.size(), "\r\n\r\n", gz)));
  r = Loopback().Get(absl::StrCat("http://127.0.0.1:", zipped.port(), "/"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, gz);
}

TEST(HttpClient, AnAnswerWithoutBodyKeepsItsStatus) {
  RawHttpServer empty(Answer("HTTP/1.1 204 No Content\r\n\r\n"));
  auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", empty.port(), "/"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
}

// Conditional requests: the validators are sent when header-safe, a 304 keeps its status and
// its validators; validators a server sends that could not be sent back as they are (too long,
// control characters, given twice) are not kept.
TEST(HttpClient, ValidatorsGoBackOnlyWhenHeaderSafe) {
  std::string seen;
  RawHttpServer same([&](RawHttpServer& s, int fd, const std::string& request) {
    seen = request;
    s.Send(fd,
           "HTTP/1.1 304 Not Modified\r\nETag: \"v2\"\r\n"
           "Last-Modified: Tue, 01 Dec 2026 08:00:00 GMT\r\n\r\n");
  });
  HttpOptions options;
  options.if_none_match = "\"v1\"";
  options.if_modified_since = "Mon, 30 Nov 2026 08:00:00 GMT";
  auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", same.port(), "/"), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->etag, "\"v2\"");
  EXPECT_EQ(r->last_modified, "Tue, 01 Dec 2026 08:00:00 GMT");
  EXPECT_THAT(seen, HasSubstr("If-None-Match: \"v1\"\r\n"));
  EXPECT_THAT(seen, HasSubstr("If-Modified-Since: Mon, 30 Nov 2026 08:00:00 GMT\r\n"));

  options.if_none_match = "\"v1\"\r\nX-Injected: yes";
  options.if_modified_since = std::string(kMaxValidatorBytes + 1, 'a');
  r = Loopback().Get(absl::StrCat("http://127.0.0.1:", same.port(), "/"), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("If-None-Match")));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("X-Injected")));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("If-Modified-Since")));

  RawHttpServer hostile(Answer(
      absl::StrCat("HTTP/1.1 200 OK\r\nETag: ", std::string(kMaxValidatorBytes + 1, 'e'),
                   "\r\nLast-Modified: a\r\nLast-Modified: b\r\nContent-Length: 2\r\n\r\nok")));
  r = Loopback().Get(absl::StrCat("http://127.0.0.1:", hostile.port(), "/"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->etag, "");
  EXPECT_EQ(r->last_modified, "");
}

// POST (webhooks): the body and the caller's headers go out; a redirect is answered as it is,
// never followed; an answer over the limit is cut, not kept whole nor refused.
TEST(HttpClient, PostSendsItsBodyAndFollowsNoRedirectAndCutsLongAnswers) {
  std::string seen;
  RawHttpServer moved([&](RawHttpServer& s, int fd, const std::string& request) {
    seen = request;
    s.Send(fd,
           "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/ailleurs\r\n"
           "Content-Length: 0\r\n\r\n");
  });
  HttpOptions options;
  auto r = Loopback().Post(absl::StrCat("http://127.0.0.1:", moved.port(), "/hook"), "{\"a\":1}",
                           "application/json", {{"webhook-id", "msg_1"}}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 307);
  EXPECT_EQ(r->location, "http://127.0.0.1:1/ailleurs");
  EXPECT_THAT(seen, HasSubstr("POST /hook HTTP/1.1"));
  EXPECT_THAT(seen, HasSubstr("webhook-id: msg_1\r\n"));
  EXPECT_THAT(seen, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(moved.requests(), 1);

  const std::string big(4 << 20, 'x');
  for (const bool announced : {true, false}) {
    RawHttpServer chatty([&](RawHttpServer& s, int fd, const std::string&) {
      s.Send(fd, announced
                     ? absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", big.size(), "\r\n\r\n")
                     : std::string("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"));
      s.Send(fd, big);
    });
    options.max_bytes = 1024;
    options.cut_long_bodies = true;
    r = Loopback().Post(absl::StrCat("http://127.0.0.1:", chatty.port(), "/"), "{}",
                        "application/json", {}, options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_LE(r->body.size(), 1024u);
  }
}

// A server sending one byte every 100 ms would hold a read timeout forever.
RawHttpServer::Responder Trickle() {
  return [](RawHttpServer& s, int fd, const std::string&) {
    if (!s.Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")) return;
    while (!s.stopping() && s.Send(fd, "x")) std::this_thread::sleep_for(100ms);
  };
}

TEST(HttpClient, ACancelledRequestEndsAtOnceEvenWhenTheServerTrickles) {
  RawHttpServer server(Trickle());
  Cancellation cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(500ms);
    cancel.Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", server.port(), "/"), {}, &cancel);
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(took, 2s);
}

TEST(HttpClient, TheWholeRequestHasADeadline) {
  RawHttpServer server(Trickle());
  HttpOptions options;
  options.total_timeout = 700ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = Loopback().Get(absl::StrCat("http://127.0.0.1:", server.port(), "/"), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(Cancellation, WaitForEndsWhenCancelled) {
  Cancellation c;
  EXPECT_FALSE(c.WaitFor(10ms));
  std::thread t([&] { c.Cancel(); });
  EXPECT_TRUE(c.WaitFor(10s));
  t.join();
  int called = 0;
  c.Subscribe([&] { ++called; });
  EXPECT_EQ(called, 1);
}

}  // namespace
}  // namespace passerelle::net
