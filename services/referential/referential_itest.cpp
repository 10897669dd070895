// The passerelle-referential binary, started for real against the test PostgreSQL and NATS:
// configuration errors, health, the API, /metrics checked by promtool, the published event,
// a restart that loads nothing twice, and a clean stop on SIGTERM.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"
#include "passerelle/referential/v1/referential.grpc.pb.h"

namespace passerelle::referential {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string Binary() { return testing::BuildDir() + "/services/referential/passerelle-referential"; }

class ReferentialBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = testing::UniqueName("ref");
    prefix_ = testing::UniqueName("ref");
    grpc_port_ = testing::FreePort();
    metrics_port_ = testing::FreePort();
  }
  void TearDown() override {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::nontransaction tx(c);
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
  }
  std::map<std::string, std::string> Env() {
    return {{"PASSERELLE_DATABASE_URL", testing::DatabaseUrl()},
            {"PASSERELLE_DATABASE_SCHEMA", schema_},
            {"PASSERELLE_NATS_URL", testing::NatsUrl()},
            {"PASSERELLE_NATS_PREFIX", prefix_},
            {"PASSERELLE_GRPC_ADDRESS", "127.0.0.1:" + std::to_string(grpc_port_)},
            {"PASSERELLE_METRICS_ADDRESS", "127.0.0.1:" + std::to_string(metrics_port_)},
            {"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"}};
  }
  std::unique_ptr<testing::Process> StartReady() {
    auto p = testing::Process::Start({Binary()}, Env());
    bool ready = testing::WaitFor(
        [&] { return p->Output().find("\"message\":\"ready\"") != std::string::npos ||
                     p->Wait(0ms).has_value(); },
        20s);
    EXPECT_TRUE(ready && !p->Wait(0ms).has_value()) << p->Output();
    return p;
  }
  std::unique_ptr<v1::ReferentialService::Stub> Stub() {
    return v1::ReferentialService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  }

  std::string schema_, prefix_;
  int grpc_port_ = 0, metrics_port_ = 0;
};

TEST_F(ReferentialBinaryTest, BadConfigurationStopsWithAMessageNamingTheVariable) {
  auto env = Env();
  env["PASSERELLE_GRPC_ADDRESS"] = "no-port-here";
  env["PASSERELLE_DATABASE_POOL_SIZE"] = "lots";
  auto p = testing::Process::Start({Binary()}, env);
  auto code = p->Wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(p->Output(), HasSubstr("PASSERELLE_GRPC_ADDRESS: expected a host:port address such "
                                     "as 127.0.0.1:8080, got \"no-port-here\""));
  EXPECT_THAT(p->Output(), HasSubstr("PASSERELLE_DATABASE_POOL_SIZE: expected an integer between "
                                     "1 and 256, got \"lots\""));
}

TEST_F(ReferentialBinaryTest, HelpListsTheVariables) {
  auto p = testing::Process::Start({Binary(), "--help"}, Env());
  ASSERT_EQ(p->Wait(10s), 0);
  EXPECT_THAT(p->Output(), HasSubstr("PASSERELLE_DATABASE_URL"));
  EXPECT_THAT(p->Output(), HasSubstr("PASSERELLE_SEED_DIR"));
}

TEST_F(ReferentialBinaryTest, ServesTheSeedExposesValidMetricsAndStopsCleanly) {
  auto p = StartReady();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                     grpc::InsecureChannelCredentials());
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  auto stub = Stub();
  {
    grpc::ClientContext ctx;
    v1::GetVersionRequest req;
    req.set_name("nomenclatures/roubaix-aptic/versions/-");
    v1::Version v;
    ASSERT_TRUE(stub->GetVersion(&ctx, req, &v).ok());
    EXPECT_EQ(v.name(), "nomenclatures/roubaix-aptic/versions/2023-02-03");
    EXPECT_EQ(v.item_count(), 137);
    EXPECT_EQ(v.levels_size(), 4);
  }
  {
    grpc::ClientContext ctx;
    v1::GetVersionRequest req;
    req.set_name("versions/nope");
    v1::Version v;
    EXPECT_EQ(stub->GetVersion(&ctx, req, &v).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::SearchItemsRequest req;
    req.set_query("ecran tactile");
    v1::SearchItemsResponse resp;
    ASSERT_TRUE(stub->SearchItems(&ctx, req, &resp).ok());
    ASSERT_GT(resp.results_size(), 0);
    EXPECT_EQ(resp.results(0).item().name(), "items/it-77");
  }

  // promtool, the Prometheus project's own checker, must accept the exposition.
  auto body = testing::HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(body.has_value());
  EXPECT_THAT(*body, HasSubstr("passerelle_grpc_server_handled_total{code=\"OK\","
                               "method=\"GetVersion\""));
  EXPECT_THAT(*body, HasSubstr("code=\"INVALID_ARGUMENT\",method=\"GetVersion\""));
  EXPECT_THAT(*body, HasSubstr("process_cpu_seconds_total"));
  const std::string path = "/tmp/" + testing::UniqueName("metrics") + ".txt";
  std::ofstream(path) << *body;
  auto promtool = testing::Process::Start({"/bin/sh", "-c", "promtool check metrics < " + path});
  auto rc = promtool->Wait(30s);
  std::remove(path.c_str());
  EXPECT_EQ(rc, 0) << promtool->Output();

  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(15s), 0) << p->Output();
  EXPECT_THAT(p->Output(), HasSubstr("\"message\":\"shut down\""));
}

TEST_F(ReferentialBinaryTest, SeedIsAnnouncedOnceAcrossRestarts) {
  for (int run = 0; run < 2; ++run) {
    auto p = StartReady();
    p->Signal(SIGTERM);
    ASSERT_EQ(p->Wait(15s), 0) << p->Output();
    if (run == 1) {
      EXPECT_THAT(p->Output(), HasSubstr("seed version already present"));
    }
  }
  pqxx::connection c(testing::DatabaseUrl());
  pqxx::work tx(c);
  auto r = tx.exec1("SELECT count(*), count(sent_at) FROM \"" + schema_ +
                    "\".outbox WHERE event_type = 'referential.version.published'");
  EXPECT_EQ(r[0].as<int>(), 1);
  EXPECT_EQ(r[1].as<int>(), 1) << "the relay should have published it before stopping";
}

TEST_F(ReferentialBinaryTest, PortAlreadyTakenIsAClearFailure) {
  auto first = StartReady();
  auto env = Env();
  env["PASSERELLE_METRICS_ADDRESS"] = "127.0.0.1:" + std::to_string(testing::FreePort());
  auto second = testing::Process::Start({Binary()}, env);
  auto rc = second->Wait(20s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 1);
  EXPECT_THAT(second->Output(), HasSubstr("cannot listen on 127.0.0.1:" +
                                          std::to_string(grpc_port_)));
}

}  // namespace
}  // namespace passerelle::referential
