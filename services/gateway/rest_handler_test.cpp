// The REST door's admission, through its handler: credentials, tokens and the answers given
// before any backend is called (the backends here are unreachable, and never asked).
#include "services/gateway/rest_handler.hpp"

#include <chrono>
#include <future>
#include <memory>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "libs/clock/clock.hpp"
#include "nlohmann/json.hpp"
#include "services/gateway/fake_key_store.hpp"
#include "services/gateway/recording_exchange.hpp"

namespace passerelle::gateway {
namespace {

// gRPC 1.51 shares one completion queue among the callback calls of all channels and tears it
// down when the last channel that used it goes; a thread draining it then sometimes aborts on
// its reference count (grpc_cq_internal_unref, "prior > 0"): a third of this test's runs did,
// at a fixture's teardown. One channel that made a callback call and is never released keeps
// that queue for the whole process, as the gateway's own channels do.
class KeepCallbackQueue : public ::testing::Environment {
 public:
  void SetUp() override {
    auto* channel = new std::shared_ptr<grpc::Channel>(  // never released, on purpose
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
    grpc::GenericStub stub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<void> done;
    stub.UnaryCall(&ctx, "/keep.Queue/Call", grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status) { done.set_value(); });
    done.get_future().wait();
  }
};
::testing::Environment* const kKeepCallbackQueue =
    ::testing::AddGlobalTestEnvironment(new KeepCallbackQueue);

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A page set serving `/pages` and `/pages/a`: records what the door handed over.
class FakePages : public ExtraPages {
 public:
  std::vector<std::string> Allowed(std::string_view path) const override {
    if (path == "/pages" || path == "/pages/a") return {"GET", "HEAD"};
    return {};
  }
  void Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) override {
    served.push_back(exchange->request().target);
    http::Response r;
    r.headers = std::move(request.headers);
    r.body = "page";
    exchange->Respond(std::move(r));
  }
  std::vector<std::string> served;
};

class RestAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    absl::StatusOr<RouteTable> routes = RouteTable::Build(*schema_);
    ASSERT_TRUE(routes.ok()) << routes.status();
    routes_ = std::make_unique<RouteTable>(*std::move(routes));
    absl::StatusOr<std::unique_ptr<Backends>> backends =
        Backends::Connect(*routes_, {{"passerelle.venues.v1", "127.0.0.1:1"},
                                     {"passerelle.referential.v1", "127.0.0.1:1"},
                                     {"passerelle.sync.v1", "127.0.0.1:1"},
                                     {"passerelle.notifications.v1", "127.0.0.1:1"},
                                     {"passerelle.indicators.v1", "127.0.0.1:1"},
                                     {"passerelle.gateway.v1", "127.0.0.1:1"}});
    ASSERT_TRUE(backends.ok()) << backends.status();
    backends_ = *std::move(backends);
    KeyRecord admin;
    admin.display_name = "admin";
    admin.scopes = {api::v1::ADMIN};
    absl::StatusOr<std::string> key = ring_.Issue(&admin);
    ASSERT_TRUE(key.ok());
    admin_key_ = *key;
    RestOptions options;
    options.rate_limits = *ParseRateLimits("public=1:3,admin=1:3");
    options.openapi_json = "{}";
    options.pages = {{"/pages", &pages_}};
    handler_ = std::make_unique<RestHandler>(*schema_, *routes_, *backends_, ring_, limiter_,
                                             std::move(options));
  }

  http::Response Call(std::string method, std::string target,
                      std::vector<http::Header> headers = {}, std::string peer = "192.0.2.1") {
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.headers = std::move(headers);
    req.peer = std::move(peer);
    http::BodyPlan plan = handler_->Plan(req);
    if (plan.kind == http::BodyPlan::kReject) return plan.rejection;
    auto exchange = std::make_shared<RecordingExchange>(req);
    handler_->Handle(exchange);
    EXPECT_EQ(exchange->responses.size(), 1u) << req.method << " " << req.target;
    return exchange->responses.empty() ? http::Response{} : exchange->responses.front();
  }

  FakePages pages_;
  FakeKeyStore store_;
  clocks::ManualClock clock_{absl::FromUnixSeconds(1800000000)};
  KeyRing ring_{store_, "pepper", clock_};
  RateLimiter limiter_{clock_};
  std::unique_ptr<ApiSchema> schema_;
  std::unique_ptr<RouteTable> routes_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<RestHandler> handler_;
  std::string admin_key_;
};

TEST_F(RestAdmissionTest, TwoCredentialsAreRefused) {
  http::Response r =
      Call("GET", "/v1/apiKeys",
           {{"authorization", "Bearer " + admin_key_}, {"authorization", "Bearer " + admin_key_}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("une seule clé"));
  r = Call("GET", "/v1/apiKeys",
           {{"authorization", "Bearer " + admin_key_}, {"x-api-key", admin_key_}}, "192.0.2.2");
  EXPECT_EQ(r.status, 400);
  // A write refused from its head (before its body is read) is refused the same way.
  r = Call("POST", "/v1/apiKeys", {{"x-api-key", admin_key_}, {"x-api-key", "psk_other"}},
           "192.0.2.3");
  EXPECT_EQ(r.status, 400);
}

TEST_F(RestAdmissionTest, BadKeysCostTheAddressATokenUntil429) {
  // Burst 3 for the address: three 401s, then a 429 with Retry-After, whatever the key tried.
  for (int i = 0; i < 3; ++i) {
    http::Response r = Call("GET", "/v1/apiKeys",
                            {{"authorization", "Bearer psk_aaaaaaaaaaaa_" + std::to_string(i)}});
    EXPECT_EQ(r.status, 401) << i;
    EXPECT_EQ(HeaderOf(r, "ratelimit-remaining"), std::to_string(2 - i));
  }
  http::Response r = Call("GET", "/v1/apiKeys", {{"authorization", "Bearer psk_guess"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(HeaderOf(r, "retry-after"), "1");
  // Writes refused from their head pay too.
  r = Call("POST", "/v1/apiKeys", {{"authorization", "Bearer psk_guess"}});
  EXPECT_EQ(r.status, 429);
  // Another address is not affected; after the advertised wait the first one is served again.
  EXPECT_EQ(Call("GET", "/v1/apiKeys", {{"authorization", "Bearer x"}}, "192.0.2.9").status, 401);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Call("GET", "/v1/apiKeys", {{"authorization", "Bearer x"}}).status, 401);
}

TEST_F(RestAdmissionTest, UnknownPathsAndMethodsCostAToken) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("GET", "/v1/nothing-here").status, 404);
  }
  EXPECT_EQ(Call("GET", "/v1/nothing-here").status, 429);
  EXPECT_EQ(Call("GET", "/v1/venues/1", {}).status, 429);
  // A key has its own bucket; the health probe takes none.
  std::vector<http::Header> admin = {{"authorization", "Bearer " + admin_key_}};
  EXPECT_EQ(Call("DELETE", "/v1/nothing-here", admin).status, 404);
  EXPECT_EQ(Call("PUT", "/v1/venues", admin).status, 405);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(RestAdmissionTest, OptionsAnswersOnlyForServedPaths) {
  http::Response r = Call("OPTIONS", "/v1/venues");
  EXPECT_EQ(r.status, 204);
  EXPECT_THAT(HeaderOf(r, "allow"), HasSubstr("GET"));
  EXPECT_THAT(HeaderOf(r, "allow"), HasSubstr("POST"));
  EXPECT_THAT(HeaderOf(r, "allow"), HasSubstr("OPTIONS"));
  r = Call("OPTIONS", "/v1/openapi.json");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(HeaderOf(r, "allow"), "GET, HEAD, OPTIONS");
  r = Call("OPTIONS", "/v1/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "NOT_FOUND");
  EXPECT_EQ(Call("OPTIONS", "/v1/venues/%00").status, 404);
}

TEST_F(RestAdmissionTest, PagesAnswerOnlyWhatTheyServeWithTheDoorsHeaders) {
  http::Response r = Call("OPTIONS", "/pages/a");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(HeaderOf(r, "allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(Call("OPTIONS", "/pages/elsewhere").status, 404);
  r = Call("POST", "/pages/a");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "allow"), "GET, HEAD, OPTIONS");
  r = Call("GET", "/pages/b");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(pages_.served.empty());
  // A page's answer carries the door's headers: the request id and the caller's rate.
  r = Call("GET", "/pages", {{"x-request-id", "page-1"}}, "192.0.2.7");
  EXPECT_EQ(r.body, "page");
  EXPECT_EQ(HeaderOf(r, "x-request-id"), "page-1");
  EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "3");
  EXPECT_EQ(HeaderOf(r, "ratelimit-remaining"), "2");
  EXPECT_EQ(pages_.served, std::vector<std::string>{"/pages"});
}

TEST_F(RestAdmissionTest, MethodNotAllowedListsOptions) {
  http::Response r = Call("PUT", "/v1/venues", {{"authorization", "Bearer " + admin_key_}});
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(HeaderOf(r, "allow"), HasSubstr("OPTIONS"));
  EXPECT_THAT(HeaderOf(r, "allow"), HasSubstr("POST"));
}

// The only field violation of a 400's google.rpc.BadRequest: {field, description}.
std::pair<std::string, std::string> Violation(const http::Response& r) {
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return {};
  for (const nlohmann::json& d : body["error"]["details"]) {
    if (d.value("@type", "") != "type.googleapis.com/google.rpc.BadRequest") continue;
    const nlohmann::json& v = d["fieldViolations"];
    if (v.size() != 1) return {};
    return {v[0].value("field", ""), v[0].value("description", "")};
  }
  return {};
}

// Query and path values the door cannot read are refused before any backend: each violation
// names the parameter, starts with the rule broken in brackets, and quotes the value received
// with its control characters replaced (a tab, %09, never reaches the answer as it is).
TEST_F(RestAdmissionTest, UnreadableParametersNameTheRuleAndQuoteTheValue) {
  struct Case {
    std::string target, field, rule, quoted;
  };
  const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  const std::vector<Case> cases = {
      {"/v1/breakdowns?dimension=AREA&year=abc", "year", "[number]", "reçu abc"},
      {"/v1/breakdowns?dimension=AREA&year=99999999999999999999", "year", "[range]",
       "reçu 99999999999999999999"},
      {"/v1/breakdowns?dimension=AREA&year=-1e3", "year", "[number]", "reçu -1e3"},
      {"/v1/breakdowns?dimension=NOPE", "dimension", "[enum]", "reçu NOPE"},
      {"/v1/breakdowns?dimension=AREA%09", "dimension", "[enum]", "reçu AREA" + kReplacement},
      {"/v1/breakdowns?dimension=AREA&year=%092026", "year", "[number]",
       "reçu " + kReplacement + "2026"},
      {"/v1/breakdowns?dimension=AREA&year=20%0A26", "year", "[number]",
       "reçu 20" + kReplacement + "26"},
      {"/v1/breakdowns?dimension=AREA&year=%FF", "year", "[utf8]", "reçu " + kReplacement},
      {"/v1/breakdowns?dimension=AREA&year=%G1", "year", "[encoding]", "reçu %G1"},
      {"/v1/breakdowns?dimension=AREA&year=2025&year=2026", "year", "[unique]", ""},
      {"/v1/breakdowns?dimension=AREA&yaer=2026", "yaer", "[unknown]", ""},
      {"/v1/breakdowns?dimension=AREA&ye%09ar=2026", "query", "[control]",
       "ye" + kReplacement + "ar"},
      {"/v1/venues?showWithdrawn=oui", "showWithdrawn", "[boolean]", "reçu oui"},
      {"/v1/venues:search?openAt=demain%09", "openAt", "[date]", "reçu demain" + kReplacement},
      {"/v1/venues:search?near.latitude=50,6", "near.latitude", "[number]", "reçu 50,6"},
      // Numbers as a JSON body writes them: no sign +, no surrounding space, no NaN.
      {"/v1/venues:search?near.latitude=%2B50.6", "near.latitude", "[number]", "reçu +50.6"},
      {"/v1/venues:search?near.latitude=%2050.6", "near.latitude", "[number]", "reçu  50.6"},
      {"/v1/venues:search?near.latitude=NaN", "near.latitude", "[number]", "reçu NaN"},
      {"/v1/venues:search?near.latitude=1e400", "near.latitude", "[range]", "reçu 1e400"},
      {"/v1/venues/a%09b", "path", "[control]", "/v1/venues/a%09b"},
      {"/v1/venues/a%4", "path", "[encoding]", "/v1/venues/a%4"},
  };
  int peer = 0;
  for (const Case& c : cases) {
    http::Response r = Call("GET", c.target, {}, "198.51.100." + std::to_string(++peer));
    EXPECT_EQ(r.status, 400) << c.target << " " << r.body;
    auto [field, description] = Violation(r);
    EXPECT_EQ(field, c.field) << c.target << " " << r.body;
    EXPECT_THAT(description, StartsWith(c.rule)) << c.target;
    EXPECT_THAT(description, HasSubstr(c.quoted)) << c.target;
    // No control character, raw or escaped by the JSON printer, anywhere in the answer.
    for (const char* raw : {"\t", "\n", "\\t", "\\n", "\\u0009"}) {
      EXPECT_THAT(r.body, ::testing::Not(HasSubstr(raw))) << c.target;
    }
  }
}

TEST_F(RestAdmissionTest, MalformedAuthorizationIsAChallenge) {
  http::Response r = Call("GET", "/v1/apiKeys", {{"authorization", "Basic dXNlcjpwYXNz"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "www-authenticate"), "Bearer");
  r = Call("GET", "/v1/apiKeys");
  EXPECT_EQ(r.status, 401);
}

// Public reads of a venue answered from the door's memory; the backends are unreachable here,
// so an answer from venues shows as 503.
class RestAnswerCacheTest : public RestAdmissionTest {
 protected:
  void SetUp() override {
    RestAdmissionTest::SetUp();
    cache_.SetLive(true, "test");
    RestOptions options;
    options.rate_limits = *ParseRateLimits("public=1000:1000,admin=1000:1000");
    options.answer_cache = &cache_;
    handler_ = std::make_unique<RestHandler>(*schema_, *routes_, *backends_, ring_, limiter_,
                                             std::move(options));
  }
  http::Response Get(std::string target, std::vector<http::Header> headers = {}) {
    http::Request req;
    req.method = "GET";
    req.target = std::move(target);
    req.headers = std::move(headers);
    req.peer = "192.0.2.1";
    auto exchange = std::make_shared<RecordingExchange>(req);
    handler_->Handle(exchange);
    EXPECT_TRUE(exchange->WaitForResponses(1, std::chrono::seconds(20))) << req.target;
    return exchange->responses.empty() ? http::Response{} : exchange->responses.front();
  }
  AnswerCache cache_{{}, clock_};
  const std::string name_ = "venues/0b4c6a52-5f1e-4b33-9a6e-2f7f1c3a9d10";
};

TEST_F(RestAnswerCacheTest, KeptVenueIsAnsweredWithItsEtagAndAge) {
  ASSERT_TRUE(cache_.Keep(name_, cache_.Ticket(), R"({"nom":"Médiathèque"})", "W/\"3\""));
  clock_.Advance(absl::Seconds(7));
  for (const std::vector<http::Header>& who :
       {std::vector<http::Header>{}, std::vector<http::Header>{{"x-api-key", admin_key_}}}) {
    http::Response r = Get("/v1/" + name_, who);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"nom":"Médiathèque"})");
    EXPECT_EQ(HeaderOf(r, "etag"), "W/\"3\"");
    EXPECT_EQ(HeaderOf(r, "age"), "7");
    EXPECT_EQ(HeaderOf(r, "cache-control"), "public, max-age=60");
    EXPECT_EQ(HeaderOf(r, "content-type"), "application/json");
    EXPECT_FALSE(HeaderOf(r, "x-request-id").empty());
    EXPECT_FALSE(HeaderOf(r, "ratelimit-remaining").empty()) << "admitted like any read";
  }
  http::Response r = Get("/v1/" + name_, {{"if-none-match", "\"x\", W/\"3\""}});
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  // The 304 carries what the 200 would (RFC 9110 15.4.5; tester 25).
  EXPECT_EQ(HeaderOf(r, "cache-control"), "public, max-age=60");
  EXPECT_EQ(HeaderOf(r, "etag"), "W/\"3\"");
}

TEST_F(RestAnswerCacheTest, RevalidationQueriesAndOtherRoutesGoToTheBackend) {
  ASSERT_TRUE(cache_.Keep(name_, cache_.Ticket(), "{}", "W/\"3\""));
  for (const http::Header& h : std::vector<http::Header>{
           {"cache-control", "no-cache"}, {"cache-control", "Max-Age=0"}, {"pragma", "no-cache"}}) {
    EXPECT_EQ(Get("/v1/" + name_, {h}).status, 503) << h.name << ": " << h.value;
  }
  // Directives read as a list: look-alikes, and Pragma beside a Cache-Control, keep the answer.
  for (const std::vector<http::Header>& headers : std::vector<std::vector<http::Header>>{
           {{"cache-control", "max-age=05"}},
           {{"cache-control", "x-no-cache-ext, s-maxage=0"}},
           {{"cache-control", "max-age=60"}, {"pragma", "no-cache"}}}) {
    EXPECT_EQ(Get("/v1/" + name_, headers).status, 200) << headers.front().value;
  }
  // A query makes another request (here one the backend would refuse): never the kept answer.
  EXPECT_NE(Get("/v1/" + name_ + "?readMask=nom").status, 200);
  // Another method on a resource of the same name is not served from memory.
  EXPECT_EQ(Get("/v1/" + name_ + "/openingSchedule").status, 503);
  cache_.SetLive(false, "disconnected");  // the event watch is down: nothing from memory
  http::Response down = Get("/v1/" + name_);
  EXPECT_EQ(down.status, 503);
  // The channel's own words name the backend's address: callers read a sentence instead.
  EXPECT_THAT(down.body, ::testing::HasSubstr("momentanément indisponible"));
  EXPECT_THAT(down.body, ::testing::Not(::testing::HasSubstr("127.0.0.1")));
  EXPECT_THAT(down.body, ::testing::Not(::testing::HasSubstr("ipv4")));
}

}  // namespace
}  // namespace passerelle::gateway
