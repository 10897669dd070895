#include "services/gateway/keys.hpp"

#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/clock/clock.hpp"
#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/gateway/fake_key_store.hpp"
#include "services/gateway/key_service.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {
namespace {

using api::v1::Scope;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

class KeyRingTest : public ::testing::Test {
 protected:
  std::string Issue(std::vector<Scope> scopes, std::string organisation = "",
                    std::vector<std::string> sources = {},
                    std::optional<absl::Time> expire = std::nullopt) {
    KeyRecord r;
    r.display_name = "test";
    r.scopes = std::move(scopes);
    r.organisation = std::move(organisation);
    r.sources = std::move(sources);
    r.expire_time = expire;
    absl::StatusOr<std::string> key = ring.Issue(&r);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.value_or("");
  }
  FakeKeyStore store;
  clocks::ManualClock clock{absl::FromUnixSeconds(1800000000)};
  KeyRing ring{store, "pepper", clock};
};

TEST_F(KeyRingTest, KeysHaveTheirFormatAndOnlyAHashIsStored) {
  std::string key = Issue({api::v1::PARTNER});
  ASSERT_TRUE(KeyRing::Parse(key).has_value()) << key;
  EXPECT_EQ(key.substr(0, 4), "psk_");
  auto [id, secret] = *KeyRing::Parse(key);
  const KeyRecord& stored = store.keys.at(id);
  EXPECT_EQ(stored.secret_hash.size(), 32u);
  EXPECT_EQ(stored.secret_hash.find(secret), std::string::npos);
  EXPECT_NE(stored.secret_hash, secret);
  // Another pepper gives another hash: a database dump alone does not check keys.
  FakeKeyStore other_store;
  other_store.keys = store.keys;
  KeyRing other(other_store, "another pepper", clock);
  ASSERT_TRUE(other.Refresh().ok());
  EXPECT_FALSE(other.Authenticate(key).ok());
}

TEST_F(KeyRingTest, AValidKeyGivesItsCaller) {
  std::string key = Issue({api::v1::ORGANISATION_WRITE}, "centre-social", {"a"});
  absl::StatusOr<Caller> caller = ring.Authenticate(key);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_FALSE(caller->anonymous);
  EXPECT_EQ(caller->organisation, "centre-social");
  EXPECT_TRUE(caller->Has(api::v1::ORGANISATION_WRITE));
  EXPECT_FALSE(caller->Has(api::v1::ADMIN));
  ASSERT_TRUE(ring.FlushLastUse().ok());
  EXPECT_EQ(store.keys.at(caller->key_id).last_use_time, clock.Now());
}

TEST_F(KeyRingTest, EveryBadKeyGetsTheSameAnswer) {
  std::string key = Issue({api::v1::PARTNER});
  std::string wrong_secret = key;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  std::string unknown_id = key;
  unknown_id[5] = unknown_id[5] == 'a' ? 'b' : 'a';
  std::string message;
  for (const std::string& bad :
       {wrong_secret, unknown_id, std::string("psk_"), std::string(""), key + "x",
        key.substr(0, key.size() - 1), std::string("Bearer ") + key, std::string(key.size(), '\0'),
        std::string("psk_\xff\xfe")}) {
    absl::StatusOr<Caller> refused = ring.Authenticate(bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
    if (message.empty()) message = std::string(refused.status().message());
    EXPECT_EQ(refused.status().message(), message);
  }
}

TEST_F(KeyRingTest, ExpiredAndRevokedKeysStopWorking) {
  std::string expiring = Issue({api::v1::PARTNER}, "", {}, clock.Now() + absl::Hours(1));
  EXPECT_TRUE(ring.Authenticate(expiring).ok());
  clock.Advance(absl::Hours(1));
  EXPECT_FALSE(ring.Authenticate(expiring).ok());

  std::string revoked = Issue({api::v1::ADMIN});
  ASSERT_TRUE(ring.Revoke(KeyRing::Parse(revoked)->first).ok());
  EXPECT_FALSE(ring.Authenticate(revoked).ok());
  EXPECT_TRUE(absl::IsNotFound(ring.Revoke("nosuchkeyzzz").status()));
}

TEST_F(KeyRingTest, ABootstrapKeyIsMadeToExistOnce) {
  std::string whole = "psk_abcdefghijkl_" + std::string(43, 'x');
  KeyRecord admin;
  admin.scopes = {api::v1::ADMIN};
  ASSERT_TRUE(ring.Ensure(whole, admin).ok());
  ASSERT_TRUE(ring.Ensure(whole, admin).ok());
  EXPECT_EQ(store.keys.size(), 1u);
  EXPECT_TRUE(ring.Authenticate(whole).ok());
  EXPECT_FALSE(ring.Ensure("not-a-key", admin).ok());
}

class AuthorizeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    schema_ = ApiSchema::LoadEmbedded()->release();
    table_ = new RouteTable(*RouteTable::Build(*schema_));
  }
  static const Route& RouteOf(std::string_view method, std::string_view path) {
    const Route* r = table_->Find(method, *SplitRequestPath(path)).route;
    EXPECT_NE(r, nullptr) << path;
    return *r;
  }
  static Caller Key(std::vector<Scope> scopes, std::string organisation = "",
                    std::vector<std::string> sources = {}) {
    Caller c;
    c.anonymous = false;
    c.key_id = "k";
    c.scopes.insert(scopes.begin(), scopes.end());
    c.organisation = std::move(organisation);
    c.sources = std::move(sources);
    return c;
  }
  static absl::StatusCode Code(const Route& route, const Caller& caller,
                               nlohmann::json request = nlohmann::json::object()) {
    return Authorize(route, caller, &request).code();
  }
  static const ApiSchema* schema_;
  static const RouteTable* table_;
};
const ApiSchema* AuthorizeTest::schema_ = nullptr;
const RouteTable* AuthorizeTest::table_ = nullptr;

TEST_F(AuthorizeTest, ScopesFormALattice) {
  const Route& get = RouteOf("GET", "/v1/venues/x");
  const Route& sources = RouteOf("GET", "/v1/sources");
  const Route& create = RouteOf("POST", "/v1/venues");
  const Route& keys = RouteOf("GET", "/v1/apiKeys");
  Caller anonymous;
  Caller partner = Key({api::v1::PARTNER});
  Caller org = Key({api::v1::ORGANISATION_WRITE}, "org-a");
  Caller admin = Key({api::v1::ADMIN});
  using C = absl::StatusCode;
  EXPECT_EQ(Code(get, anonymous), C::kOk);
  EXPECT_EQ(Code(get, org), C::kOk);
  EXPECT_EQ(Code(sources, anonymous), C::kUnauthenticated);
  EXPECT_EQ(Code(sources, org), C::kPermissionDenied);
  EXPECT_EQ(Code(sources, partner), C::kOk);
  EXPECT_EQ(Code(sources, admin), C::kOk);
  EXPECT_EQ(Code(create, anonymous), C::kUnauthenticated);
  EXPECT_EQ(Code(create, partner), C::kPermissionDenied);
  EXPECT_EQ(Code(create, org), C::kOk);
  EXPECT_EQ(Code(create, admin), C::kOk);
  EXPECT_EQ(Code(keys, partner), C::kPermissionDenied);
  EXPECT_EQ(Code(keys, org), C::kPermissionDenied);
  EXPECT_EQ(Code(keys, admin), C::kOk);
}

TEST_F(AuthorizeTest, AnOrganisationKeyWritesForItsOrganisationOnly) {
  const Route& create = RouteOf("POST", "/v1/venues");
  Caller org = Key({api::v1::ORGANISATION_WRITE}, "org-a");
  nlohmann::json empty = {{"venue", {{"nom", "x"}}}};
  ASSERT_TRUE(Authorize(create, org, &empty).ok());
  EXPECT_EQ(empty["venue"]["ownerOrganisation"], "org-a");
  nlohmann::json other = {{"venue", {{"owner_organisation", "org-b"}}}};
  absl::Status refused = Authorize(create, org, &other);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("org-b"));
  nlohmann::json same = {{"venue", {{"ownerOrganisation", "org-a"}}}};
  EXPECT_TRUE(Authorize(create, org, &same).ok());
  EXPECT_THAT(CallerMetadata(org), Contains(Pair("x-passerelle-organisation", "org-a")));
  EXPECT_THAT(CallerMetadata(Key({api::v1::ADMIN}, "org-a")),
              ::testing::Not(Contains(Pair("x-passerelle-organisation", "org-a"))));
  EXPECT_TRUE(CallerMetadata(Caller()).empty());
  // What backends sign and scope with: the key's id, display name (binary metadata: any text)
  // and organisation.
  Caller named = Key({api::v1::PARTNER}, "org-a");
  named.display_name = "Médiathèque — équipe SIG";
  EXPECT_THAT(CallerMetadata(named), Contains(Pair("x-passerelle-key-id", named.key_id)));
  EXPECT_THAT(CallerMetadata(named),
              Contains(Pair("x-passerelle-key-name-bin", "Médiathèque — équipe SIG")));
  EXPECT_THAT(CallerMetadata(named), Contains(Pair("x-passerelle-key-organisation", "org-a")));
}

// Reports follow the same owner rule: a list naming another organisation is refused (403
// NOT_OWNER, as for venues), an empty one is filled with the key's.
TEST_F(AuthorizeTest, AnOrganisationKeyListsItsOwnReportsOnly) {
  const Route& list = RouteOf("GET", "/v1/activityReports");
  Caller org = Key({api::v1::ORGANISATION_WRITE}, "org-a");
  nlohmann::json other = {{"organisation", "org-b"}};
  absl::Status refused = Authorize(list, org, &other);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("org-b"));
  nlohmann::json empty = nlohmann::json::object();
  ASSERT_TRUE(Authorize(list, org, &empty).ok());
  EXPECT_EQ(empty["organisation"], "org-a");
  nlohmann::json any = {{"organisation", "org-b"}};
  EXPECT_TRUE(Authorize(list, Key({api::v1::ADMIN}), &any).ok());
}

// Equality scores: partner keys (the network's tallies) and organisation keys (their own actions'
// scores, narrowed by the service) may ask; anonymous callers may not.
TEST_F(AuthorizeTest, OrganisationKeysMayAlsoReadEqualityScores) {
  const Route& scores = RouteOf("GET", "/v1/equalityScores");
  using C = absl::StatusCode;
  EXPECT_EQ(Code(scores, Key({api::v1::ORGANISATION_WRITE}, "org-a")), C::kOk);
  EXPECT_EQ(Code(scores, Key({api::v1::PARTNER})), C::kOk);
  EXPECT_EQ(Code(scores, Key({api::v1::ADMIN})), C::kOk);
  EXPECT_EQ(Code(scores, Caller()), C::kUnauthenticated);
  // Other partner reads stay closed to organisation keys.
  EXPECT_EQ(Code(RouteOf("GET", "/v1/sources"), Key({api::v1::ORGANISATION_WRITE}, "org-a")),
            C::kPermissionDenied);
}

TEST_F(AuthorizeTest, APartnerKeyWritesOnlyItsSources) {
  const Route& batch = RouteOf("POST", "/v1/sources/a/venues:batchUpsert");
  Caller partner = Key({api::v1::PARTNER}, "", {"a"});
  EXPECT_EQ(Code(batch, partner, {{"source", "a"}}), absl::StatusCode::kOk);
  EXPECT_EQ(Code(batch, partner, {{"source", "b"}}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(batch, partner, nlohmann::json::object()), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(batch, Key({api::v1::ADMIN}), {{"source", "b"}}), absl::StatusCode::kOk);
}

TEST_F(AuthorizeTest, RaisedFieldScopesApplyWhenTheFieldIsSet) {
  const Route& list = RouteOf("GET", "/v1/venues");
  EXPECT_EQ(Code(list, Caller(), {{"showWithdrawn", false}}), absl::StatusCode::kOk);
  EXPECT_EQ(Code(list, Caller(), {{"showWithdrawn", true}}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(list, Key({api::v1::ORGANISATION_WRITE}, "o"), {{"show_withdrawn", true}}),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(list, Key({api::v1::PARTNER}), {{"showWithdrawn", true}}), absl::StatusCode::kOk);
}

// Venues as the key service asks it: which organisations and sources exist.
class FakeOrganisations final : public venues::v1::OrganisationService::Service {
 public:
  grpc::Status GetOrganisation(grpc::ServerContext*, const venues::v1::GetOrganisationRequest* req,
                               venues::v1::Organisation* out) override {
    if (req->name() != "organisations/epeule") return {grpc::StatusCode::NOT_FOUND, req->name()};
    out->set_name(req->name());
    return grpc::Status::OK;
  }
};
class FakeSources final : public venues::v1::VenueService::Service {
 public:
  grpc::Status GetSource(grpc::ServerContext*, const venues::v1::GetSourceRequest* req,
                         venues::v1::Source* out) override {
    if (req->name() != "sources/siilab") return {grpc::StatusCode::NOT_FOUND, req->name()};
    out->set_name(req->name());
    return grpc::Status::OK;
  }
};

// CreateApiKey through gRPC, venues faked behind the gateway's own backends: a key's
// organisation and sources must exist; nothing is stored otherwise, nor when venues is down.
class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = ApiSchema::LoadEmbedded();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    schema_ = *std::move(loaded);
    routes_ = std::make_unique<RouteTable>(*RouteTable::Build(*schema_));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&organisations_);
    builder.RegisterService(&sources_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    const std::string address = absl::StrCat("127.0.0.1:", port);
    venues_ = Connect(address);
    down_ = Connect("127.0.0.1:1");  // nothing listens there
    up_refs_ = std::make_unique<BackendKeyReferences>(*routes_, *venues_);
    down_refs_ = std::make_unique<BackendKeyReferences>(*routes_, *down_, absl::Seconds(1));
    service_.SetReferences(up_refs_.get());
    stub_ = v1::ApiKeyService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }
  std::unique_ptr<Backends> Connect(const std::string& venues) {
    auto b = Backends::Connect(*routes_, {{"passerelle.venues.v1", venues},
                                          {"passerelle.referential.v1", "127.0.0.1:1"},
                                          {"passerelle.sync.v1", "127.0.0.1:1"},
                                          {"passerelle.notifications.v1", "127.0.0.1:1"},
                                          {"passerelle.indicators.v1", "127.0.0.1:1"},
                                          {"passerelle.gateway.v1", "127.0.0.1:1"}});
    EXPECT_TRUE(b.ok()) << b.status();
    return *std::move(b);
  }
  grpc::Status Create(const std::string& organisation, const std::vector<std::string>& sources,
                      v1::CreateApiKeyResponse* out) {
    grpc::ClientContext ctx;
    v1::CreateApiKeyRequest req;
    req.mutable_api_key()->set_display_name("Centre social de l'Épeule");
    req.mutable_api_key()->set_organisation(organisation);
    req.mutable_api_key()->add_scopes(sources.empty() ? api::v1::ORGANISATION_WRITE
                                                      : api::v1::PARTNER);
    for (const auto& s : sources) req.mutable_api_key()->add_sources(s);
    return stub_->CreateApiKey(&ctx, req, out);
  }
  static std::string Reason(const grpc::Status& st) {
    google::rpc::Status details;
    if (!details.ParseFromString(st.error_details())) return "";
    for (const auto& d : details.details()) {
      google::rpc::ErrorInfo info;
      if (d.UnpackTo(&info)) return info.reason();
    }
    return "";
  }
  // "type subject" of the PreconditionFailure's violation.
  static std::string Missing(const grpc::Status& st) {
    google::rpc::Status details;
    if (!details.ParseFromString(st.error_details())) return "";
    for (const auto& d : details.details()) {
      google::rpc::PreconditionFailure failure;
      if (d.UnpackTo(&failure) && failure.violations_size() == 1) {
        return failure.violations(0).type() + " " + failure.violations(0).subject();
      }
    }
    return "";
  }

  FakeKeyStore store_;
  clocks::ManualClock clock_{absl::FromUnixSeconds(1800000000)};
  KeyRing ring_{store_, "pepper", clock_};
  api::PageTokens tokens_{"0123456789abcdef0123456789abcdef"};
  KeyService service_{ring_, tokens_};
  FakeOrganisations organisations_;
  FakeSources sources_;
  std::unique_ptr<ApiSchema> schema_;
  std::unique_ptr<RouteTable> routes_;
  std::unique_ptr<Backends> venues_, down_;
  std::unique_ptr<BackendKeyReferences> up_refs_, down_refs_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ApiKeyService::Stub> stub_;
};

TEST_F(KeyServiceTest, AKeysOrganisationAndSourcesMustExist) {
  v1::CreateApiKeyResponse out;
  grpc::Status st = Create("inconnue", {}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_EQ(Reason(st), "ORGANISATION_NOT_FOUND");
  EXPECT_EQ(Missing(st), "ORGANISATION organisations/inconnue");
  EXPECT_THAT(st.error_message(), HasSubstr("api_key.organisation"));
  st = Create("", {"siilab", "inconnue"}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_EQ(Reason(st), "SOURCE_NOT_FOUND");
  EXPECT_EQ(Missing(st), "SOURCE sources/inconnue");
  EXPECT_THAT(st.error_message(), HasSubstr("api_key.sources[1]"));
  EXPECT_TRUE(store_.keys.empty()) << "nothing stored";
  EXPECT_TRUE(ring_.Snapshot().empty());

  ASSERT_TRUE(Create("epeule", {}, &out).ok());
  ASSERT_TRUE(Create("", {"siilab"}, &out).ok());
  EXPECT_EQ(store_.keys.size(), 2u);
}

TEST_F(KeyServiceTest, DisplayNamesAreOneLineThatReadsAsItDisplays) {
  for (const char* name : {"Clé\u2028B", "Clé\u2029B", "Clé\u202eB", "Clé\u2066B", "Clé\nB"}) {
    grpc::ClientContext ctx;
    v1::CreateApiKeyRequest req;
    req.mutable_api_key()->set_display_name(name);
    req.mutable_api_key()->add_scopes(api::v1::PARTNER);
    v1::CreateApiKeyResponse out;
    grpc::Status st = stub_->CreateApiKey(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_THAT(st.error_message() + st.error_details(), HasSubstr("display_name")) << name;
  }
  EXPECT_TRUE(store_.keys.empty());
}

TEST_F(KeyServiceTest, NoKeyIsStoredWhileVenuesCannotSay) {
  service_.SetReferences(down_refs_.get());
  v1::CreateApiKeyResponse out;
  grpc::Status st = Create("epeule", {}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  st = Create("", {"siilab"}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_TRUE(store_.keys.empty());
  EXPECT_EQ(out.secret(), "");
}

}  // namespace
}  // namespace passerelle::gateway
