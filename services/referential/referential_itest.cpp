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

class ReferentialBinaryTest : public ::testing::Test {
 protected:
  ReferentialBinaryTest()
      : binary_("services/referential/passerelle-referential",
                {{"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"}}),
        schema_(binary_.schema()) {}
  std::map<std::string, std::string> Env() { return binary_.Env(); }
  std::unique_ptr<testing::Process> StartReady() { return binary_.Start(); }
  std::unique_ptr<v1::ReferentialService::Stub> Stub() {
    return v1::ReferentialService::NewStub(
        grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials()));
  }
  std::string Binary() { return binary_.path(); }

  testing::ServiceBinary binary_;
  std::string schema_;
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
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(binary_.grpc_port()),
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
  auto body = testing::HttpGet(binary_.metrics_port(), "/metrics");
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
                                          std::to_string(binary_.grpc_port())));
}

}  // namespace
}  // namespace passerelle::referential

namespace passerelle::referential {
namespace {

// The governance workflow through the real binary: the 43 workshop proposals are listed,
// discussed, amended with etags, all accepted, published; the new version, its diff, its event
// and its exports are checked (SKOS parsed by rdflib, a real RDF parser).
TEST_F(ReferentialBinaryTest, AcceptAllFortyThreeProposalsThenPublish) {
  auto p = StartReady();
  auto stub = Stub();
  // List all proposals, 10 per page.
  std::vector<v1::Proposal> proposals;
  std::string token;
  do {
    grpc::ClientContext ctx;
    v1::ListProposalsRequest req;
    req.set_parent("nomenclatures/roubaix-aptic");
    req.set_page_size(10);
    req.set_page_token(token);
    v1::ListProposalsResponse resp;
    ASSERT_TRUE(stub->ListProposals(&ctx, req, &resp).ok());
    for (const auto& pr : resp.proposals()) proposals.push_back(pr);
    token = resp.next_page_token();
  } while (!token.empty());
  ASSERT_EQ(proposals.size(), 43u);
  EXPECT_EQ(proposals[6].name(), "nomenclatures/roubaix-aptic/proposals/7");
  ASSERT_EQ(proposals[6].operations_size(), 1);
  EXPECT_EQ(proposals[6].operations(0).kind(), v1::RETIRE_ITEM);

  {  // A comment bumps the proposal; the etag read before becomes stale.
    grpc::ClientContext ctx;
    v1::CommentProposalRequest req;
    req.set_name(proposals[34].name());
    req.set_author("Table ronde 4");
    req.set_text("Doublon de la proposition 12 : même élément.");
    v1::Proposal out;
    ASSERT_TRUE(stub->CommentProposal(&ctx, req, &out).ok());
    ASSERT_EQ(out.comments_size(), 1);
  }
  {  // The etag read before the comment is stale now: a decision sent with it is refused.
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(proposals[34].name());
    req.set_reason("Validé en comité du réseau");
    req.set_etag(proposals[34].etag());
    v1::Proposal out;
    grpc::Status st = stub->AcceptProposal(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    v1::AmendProposalRequest req;
    req.set_name(proposals[0].name());
    *req.add_operations() = proposals[0].operations(0);
    req.set_etag("W/\"999\"");
    v1::Proposal out;
    grpc::Status st = stub->AmendProposal(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED) << st.error_message();
  }
  {  // An amendment naming a node that does not exist is refused with the reason.
    grpc::ClientContext ctx;
    v1::AmendProposalRequest req;
    req.set_name(proposals[0].name());
    auto* op = req.add_operations();
    op->set_kind(v1::RETIRE_ITEM);
    op->set_target("item:999");
    v1::Proposal out;
    grpc::Status st = stub->AmendProposal(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("item:999"));
  }
  for (const auto& pr : proposals) {
    grpc::ClientContext get_ctx;
    v1::GetProposalRequest get;
    get.set_name(pr.name());
    v1::Proposal fresh;
    ASSERT_TRUE(stub->GetProposal(&get_ctx, get, &fresh).ok());
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(pr.name());
    req.set_reason("Validé en comité du réseau");
    req.set_etag(fresh.etag());
    v1::Proposal out;
    ASSERT_TRUE(stub->AcceptProposal(&ctx, req, &out).ok()) << pr.name();
    EXPECT_EQ(out.state(), v1::ACCEPTED);
  }
  v1::PublishVersionResponse published;
  {
    grpc::ClientContext ctx;
    v1::PublishVersionRequest req;
    req.set_parent("nomenclatures/roubaix-aptic");
    req.set_version_id("2023-03-01");
    grpc::Status st = stub->PublishVersion(&ctx, req, &published);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(published.version().name(), "nomenclatures/roubaix-aptic/versions/2023-03-01");
  EXPECT_EQ(published.version().item_count(), 154);
  EXPECT_EQ(published.diff().items_added_size(), 19);
  EXPECT_EQ(published.diff().items_retired_size(), 2);
  EXPECT_EQ(published.diff().code_changes_size(), 137);
  {  // The current version is the new one; item 77 kept its id and moved to 1.2.
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_name("items/it-77");
    v1::Item item;
    ASSERT_TRUE(stub->GetItem(&ctx, req, &item).ok());
    EXPECT_EQ(item.category_code(), "1.2");
  }
  {  // Publishing again with the same id answers with the same version.
    grpc::ClientContext ctx;
    v1::PublishVersionRequest req;
    req.set_parent("nomenclatures/roubaix-aptic");
    req.set_version_id("2023-03-01");
    v1::PublishVersionResponse again;
    ASSERT_TRUE(stub->PublishVersion(&ctx, req, &again).ok());
    EXPECT_EQ(again.version().item_count(), 154);
  }
  {  // Applied proposals cannot be decided again.
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(proposals[0].name());
    v1::Proposal out;
    EXPECT_EQ(stub->RejectProposal(&ctx, req, &out).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  auto export_doc = [&](v1::ExportFormat format) {
    grpc::ClientContext ctx;
    v1::ExportVersionRequest req;
    req.set_name("nomenclatures/roubaix-aptic/versions/2023-03-01");
    req.set_format(format);
    auto reader = stub->ExportVersion(&ctx, req);
    std::string doc;
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) doc += chunk.data();
    EXPECT_TRUE(reader->Finish().ok());
    return doc;
  };
  const std::string csv = export_doc(v1::CSV);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 154 + 2);
  const std::string ttl = export_doc(v1::SKOS_TURTLE);
  const std::string path = "/tmp/" + testing::UniqueName("skos") + ".ttl";
  std::ofstream(path) << ttl;
  auto rdf = testing::Process::Start(
      {"/usr/bin/python3", "-c",
       "import sys, rdflib\n"
       "g = rdflib.Graph().parse(sys.argv[1], format='turtle')\n"
       "S = rdflib.Namespace('http://www.w3.org/2004/02/skos/core#')\n"
       "concepts = set(g.subjects(rdflib.RDF.type, S.Concept))\n"
       "print(len(concepts), len(set(g.subjects(S.topConceptOf, None))))\n",
       path});
  ASSERT_EQ(rdf->Wait(60s), 0) << rdf->Output();
  // 4 levels + 14 categories (12 + 0.4 + Hygiène) + 154 items + 2 retired; 4 top concepts.
  EXPECT_THAT(rdf->Output(), HasSubstr("174 4"));
  std::remove(path.c_str());

  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(15s), 0);
  pqxx::connection c(testing::DatabaseUrl());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM \"" + schema_ +
                     "\".outbox WHERE event_type = 'referential.version.published' "
                     "AND subject = 'nomenclatures/roubaix-aptic/versions/2023-03-01'")[0]
                .as<int>(),
            1);
}

}  // namespace
}  // namespace passerelle::referential
