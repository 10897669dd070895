// The passerelle-venues binary against the real PostgreSQL + PostGIS and NATS: validation with
// one violation per problem, etags, masks, withdrawal, idempotent writes, batch upserts that
// keep good rows and write nothing for unchanged ones, and paging that stays exact while
// other clients write.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/db/pool.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/referential/v1/referential.grpc.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using namespace std::chrono_literals;
using itest::Valid;
using ::testing::HasSubstr;

class VenuesTest : public itest::VenuesServiceTest {
 protected:
  int Events(const std::string& type) {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    return tx
        .exec1("SELECT count(*) FROM \"" + binary_.schema() + "\".outbox WHERE event_type = '" +
               type + "'")[0]
        .as<int>();
  }
};

TEST_F(VenuesTest, CreateGetAndTheCreatedEvent) {
  v1::Venue created;
  ASSERT_TRUE(Create(Valid("mjl"), &created).ok());
  EXPECT_THAT(created.name(), ::testing::StartsWith("venues/"));
  EXPECT_EQ(created.state(), v1::ACTIVE);
  EXPECT_EQ(created.provenance().source(), "passerelle");
  grpc::ClientContext ctx;
  v1::GetVenueRequest req;
  req.set_name(created.name());
  v1::Venue got;
  ASSERT_TRUE(stub_->GetVenue(&ctx, req, &got).ok());
  EXPECT_EQ(got.nom(), "Médiathèque Jean Lévy");
  EXPECT_DOUBLE_EQ(got.latitude(), 50.6909);
  ASSERT_EQ(got.services_size(), 1);
  EXPECT_EQ(got.services(0), v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  EXPECT_EQ(Events("venue.created"), 1);
  v1::Venue dup;
  EXPECT_EQ(Create(Valid("mjl"), &dup).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

// GetVenue and SearchVenues record their own calls (no interceptor hooks on gRPC's thread): an
// operator reads their series as any other method's, refusals and store reads included.
TEST_F(VenuesTest, SearchAndGetAreCountedAsEveryOtherCall) {
  v1::Venue created;
  ASSERT_TRUE(Create(Valid("mjl"), &created).ok());
  auto get = [&](const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(name);
    v1::Venue got;
    return stub_->GetVenue(&ctx, req, &got).error_code();
  };
  EXPECT_EQ(get(created.name()), grpc::StatusCode::OK);  // from the index
  EXPECT_EQ(get(created.name()), grpc::StatusCode::OK);
  std::string unknown = created.name();
  unknown.back() = unknown.back() == '0' ? '1' : '0';
  EXPECT_EQ(get(unknown), grpc::StatusCode::NOT_FOUND);  // the store, on another thread
  v1::SearchVenuesRequest req;
  req.set_query("mediatheque");
  v1::SearchVenuesResponse resp;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Search(req, &resp).ok());
  req.set_page_size(-1);
  EXPECT_EQ(Search(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_page_size(0);
  req.set_page_token("forged");
  EXPECT_EQ(Search(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto metric = [&](const std::string& name, const std::string& labels) {
    return testing::ScrapeMetric(
               binary_.metrics_port(),
               absl::StrCat(name, "{", labels, "service=\"passerelle.venues.v1.VenueService\"}"))
        .value_or(-1);
  };
  EXPECT_EQ(metric("passerelle_grpc_server_started_total", "method=\"GetVenue\","), 3);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total", "code=\"OK\",method=\"GetVenue\","), 2);
  EXPECT_EQ(
      metric("passerelle_grpc_server_handled_total", "code=\"NOT_FOUND\",method=\"GetVenue\","), 1);
  EXPECT_EQ(metric("passerelle_grpc_server_handling_seconds_count", "method=\"GetVenue\","), 3);
  EXPECT_EQ(metric("passerelle_grpc_server_started_total", "method=\"SearchVenues\","), 5);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total", "code=\"OK\",method=\"SearchVenues\","),
            3);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total",
                   "code=\"INVALID_ARGUMENT\",method=\"SearchVenues\","),
            2);
  EXPECT_EQ(metric("passerelle_grpc_server_handling_seconds_count", "method=\"SearchVenues\","), 5);
  // The methods gRPC intercepts are counted as before.
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total", "code=\"OK\",method=\"CreateVenue\","),
            1);
}

TEST_F(VenuesTest, InvalidVenueGetsOneFieldViolationPerProblem) {
  v1::Venue v = Valid("bad");
  v.set_code_postal("591");
  v.set_telephone("12");
  v.clear_nom();
  v.set_latitude(123);
  v1::Venue out;
  grpc::Status st = Create(v, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(st.error_details()));
  google::rpc::BadRequest br;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&br));
  std::set<std::string> fields;
  for (const auto& f : br.field_violations()) fields.insert(f.field());
  EXPECT_EQ(fields, (std::set<std::string>{"venue.code_postal", "venue.telephone", "venue.nom",
                                           "venue.latitude"}));
  EXPECT_EQ(Events("venue.created"), 0);
}

TEST_F(VenuesTest, UpdateWithMaskAndEtagThenWithdraw) {
  v1::Venue created;
  ASSERT_TRUE(Create(Valid("upd"), &created).ok());
  v1::Venue change;
  change.set_name(created.name());
  change.set_etag(created.etag());
  change.set_telephone("03 20 66 45 00");
  change.set_nom("ignored: not in the mask");
  v1::Venue updated;
  {
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    *req.mutable_venue() = change;
    req.mutable_update_mask()->add_paths("telephone");
    ASSERT_TRUE(stub_->UpdateVenue(&ctx, req, &updated).ok());
  }
  EXPECT_EQ(updated.telephone(), "+33320664500");
  EXPECT_EQ(updated.nom(), "Médiathèque Jean Lévy");
  EXPECT_NE(updated.etag(), created.etag());
  {  // The etag read before the update is stale now.
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    *req.mutable_venue() = change;
    req.mutable_update_mask()->add_paths("telephone");
    v1::Venue out;
    EXPECT_EQ(stub_->UpdateVenue(&ctx, req, &out).error_code(), grpc::StatusCode::ABORTED);
  }
  EXPECT_EQ(Events("venue.updated"), 1);
  {  // The event carries the venue before and after, so a notification can say what changed.
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    auto row = tx.exec1("SELECT encode(event, 'hex') FROM \"" + binary_.schema() +
                        "\".outbox WHERE event_type = 'venue.updated'");
    std::string bytes;
    ASSERT_TRUE(db::FromHex(row[0].as<std::string>(), &bytes));
    events::v1::Event event;
    ASSERT_TRUE(event.ParseFromString(bytes));
    v1::VenueUpdated p;
    ASSERT_TRUE(event.payload().UnpackTo(&p));
    EXPECT_EQ(p.venue().telephone(), "+33320664500");
    EXPECT_EQ(p.previous_venue().telephone(), created.telephone());
    EXPECT_NE(p.previous_venue().telephone(), p.venue().telephone());
    EXPECT_EQ(p.previous_venue().nom(), "Médiathèque Jean Lévy");
    EXPECT_THAT(p.changed_fields(), ::testing::ElementsAre("telephone"));
  }
  {
    grpc::ClientContext ctx;
    v1::WithdrawVenueRequest req;
    req.set_name(created.name());
    req.set_reason("Fermé définitivement");
    req.set_etag(updated.etag());
    v1::Venue out;
    ASSERT_TRUE(stub_->WithdrawVenue(&ctx, req, &out).ok());
    EXPECT_EQ(out.state(), v1::WITHDRAWN);
  }
  EXPECT_EQ(Events("venue.withdrawn"), 1);
  {
    // The withdrawal event names the venue (the e-mail says « <nom> (venues/…) »).
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    auto row = tx.exec1("SELECT encode(event, 'hex') FROM \"" + binary_.schema() +
                        "\".outbox WHERE event_type = 'venue.withdrawn'");
    std::string bytes;
    ASSERT_TRUE(db::FromHex(row[0].as<std::string>(), &bytes));
    events::v1::Event event;
    ASSERT_TRUE(event.ParseFromString(bytes));
    v1::VenueWithdrawn p;
    ASSERT_TRUE(event.payload().UnpackTo(&p));
    EXPECT_EQ(p.name(), created.name());
    EXPECT_EQ(p.nom(), "Médiathèque Jean Lévy");
    EXPECT_EQ(p.reason(), "Fermé définitivement");
  }
  grpc::ClientContext ctx;
  v1::ListVenuesRequest req;
  v1::ListVenuesResponse resp;
  ASSERT_TRUE(stub_->ListVenues(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.venues_size(), 0) << "withdrawn venues are hidden by default";
}

TEST_F(VenuesTest, RequestIdMakesCreateIdempotent) {
  v1::Venue a, b;
  ASSERT_TRUE(Create(Valid("idem"), &a, "req-1").ok());
  ASSERT_TRUE(Create(Valid("idem"), &b, "req-1").ok()) << "a retry must not fail";
  EXPECT_EQ(a.name(), b.name());
  EXPECT_EQ(Events("venue.created"), 1);
}

TEST_F(VenuesTest, BatchUpsertKeepsGoodRowsAndSkipsUnchangedOnes) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  *req.add_venues() = Valid("r1", "Centre social Alma");
  v1::Venue bad = Valid("r2");
  bad.set_code_postal("ABCDE");
  bad.add_services(static_cast<v1::Service>(42));
  *req.add_venues() = bad;
  *req.add_venues() = Valid("r3", "France Services Roubaix");
  *req.add_venues() = Valid("r1", "duplicate id in the batch");
  v1::BatchUpsertVenuesResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).outcome(), v1::CREATED);
  EXPECT_EQ(resp.results(1).outcome(), v1::REJECTED);
  std::map<std::string, std::string> rules;
  for (const auto& v : resp.results(1).violations()) rules[v.field()] = v.rule();
  EXPECT_EQ(rules["code_postal"], "pattern");
  EXPECT_EQ(rules["services"], "enum");
  EXPECT_EQ(resp.results(2).outcome(), v1::CREATED);
  EXPECT_EQ(resp.results(3).outcome(), v1::REJECTED);
  EXPECT_EQ(Events("venue.created"), 2);

  // The same rows again: nothing changes, nothing is written, no event.
  req.mutable_venues()->DeleteSubrange(3, 1);
  req.mutable_venues(2)->set_telephone("03 20 00 00 00");
  v1::BatchUpsertVenuesResponse again;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &again).ok());
  }
  EXPECT_EQ(again.results(0).outcome(), v1::UNCHANGED);
  EXPECT_EQ(again.results(2).outcome(), v1::UPDATED);
  EXPECT_THAT(again.results(2).changed_fields(), ::testing::ElementsAre("telephone"));
  EXPECT_EQ(Events("venue.created"), 2);
  EXPECT_EQ(Events("venue.updated"), 1);

  // What an operator sees on /metrics: the rows by outcome, the rules that rejected rows, the
  // index's size and when it last caught up.
  auto metric = [&](const std::string& series) {
    return testing::ScrapeMetric(binary_.metrics_port(), series).value_or(-1);
  };
  EXPECT_EQ(metric("passerelle_venues_rows_total{outcome=\"created\"}"), 2);
  EXPECT_EQ(metric("passerelle_venues_rows_total{outcome=\"rejected\"}"), 3);
  EXPECT_EQ(metric("passerelle_venues_rows_total{outcome=\"unchanged\"}"), 1);
  EXPECT_EQ(metric("passerelle_venues_rows_total{outcome=\"updated\"}"), 1);
  EXPECT_EQ(metric("passerelle_venues_violations_total{rule=\"pattern\"}"), 2);
  EXPECT_EQ(metric("passerelle_venues_violations_total{rule=\"unique\"}"), 1);
  EXPECT_TRUE(
      testing::WaitFor([&] { return metric("passerelle_venues_search_index_venues") == 2; }, 3s));
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(metric("passerelle_venues_search_index_refreshed_timestamp_seconds"), now, 5);
}

TEST_F(VenuesTest, OwnersNameExistingOrganisations) {
  ASSERT_TRUE(CreateOrganisation("centre-social-epeule").ok());
  auto owner_violation = [](const grpc::Status& st) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return itest::Violations(st).text;
  };
  v1::Venue v = Valid("owned");
  v.set_owner_organisation("mediatheque-inconnue");
  v1::Venue out;
  EXPECT_THAT(owner_violation(Create(v, &out)),
              HasSubstr("venue.owner_organisation: [exists] aucune organisation"));
  v.set_owner_organisation("Centre social de l'Épeule");
  EXPECT_THAT(owner_violation(Create(v, &out)), HasSubstr("venue.owner_organisation: [pattern]"));
  v.set_owner_organisation("centre-social-epeule");
  v1::Venue owned;
  ASSERT_TRUE(Create(v, &owned).ok());
  EXPECT_EQ(owned.owner_organisation(), "centre-social-epeule");
  v1::Venue unowned;
  ASSERT_TRUE(Create(Valid("unowned"), &unowned).ok()) << "no owner stays allowed";

  {
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(unowned.name());
    req.mutable_venue()->set_owner_organisation("mediatheque-inconnue");
    req.mutable_update_mask()->add_paths("owner_organisation");
    EXPECT_THAT(owner_violation(stub_->UpdateVenue(&ctx, req, &out)), HasSubstr("[exists]"));
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(unowned.name());
    req.mutable_venue()->set_owner_organisation("centre-social-epeule");
    req.mutable_update_mask()->add_paths("owner_organisation");
    ASSERT_TRUE(stub_->UpdateVenue(&ctx, req, &out).ok());
    EXPECT_EQ(out.owner_organisation(), "centre-social-epeule");
  }

  std::vector<v1::Venue> rows = {Valid("b1"), Valid("b2"), Valid("b3")};
  rows[0].set_owner_organisation("centre-social-epeule");
  rows[1].set_owner_organisation("mediatheque-inconnue");
  v1::BatchUpsertVenuesResponse batch;
  ASSERT_TRUE(Batch("partenaire", rows, &batch).ok());
  EXPECT_EQ(batch.results(0).outcome(), v1::CREATED);
  ASSERT_EQ(batch.results(1).outcome(), v1::REJECTED);
  EXPECT_EQ(batch.results(1).violations(0).field(), "owner_organisation");
  EXPECT_EQ(batch.results(1).violations(0).rule(), "exists");
  EXPECT_EQ(batch.results(2).outcome(), v1::CREATED);

  v1::ListVenuesResponse listed;
  ASSERT_TRUE(List("owner_organisation = \"centre-social-epeule\"", &listed).ok());
  EXPECT_EQ(listed.venues_size(), 3);

  // A producer that names no owner (the regional source) keeps the one set here.
  rows = {Valid("b1", "Renommé par la source")};
  ASSERT_TRUE(Batch("partenaire", rows, &batch).ok());
  ASSERT_EQ(batch.results(0).outcome(), v1::UPDATED);
  EXPECT_THAT(batch.results(0).changed_fields(), ::testing::ElementsAre("nom"));
  grpc::ClientContext ctx;
  v1::GetVenueRequest get;
  get.set_name(batch.results(0).name());
  ASSERT_TRUE(stub_->GetVenue(&ctx, get, &out).ok());
  EXPECT_EQ(out.owner_organisation(), "centre-social-epeule");
}

TEST_F(VenuesTest, BatchUpsertReinstatesWithdrawnVenuesOnlyWhenAsked) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  *req.add_venues() = Valid("back-1", "Centre social Pile");
  v1::BatchUpsertVenuesResponse created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &created).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::WithdrawVenueRequest w;
    w.set_name(created.results(0).name());
    w.set_reason("fermé pour travaux");
    v1::Venue out;
    ASSERT_TRUE(stub_->WithdrawVenue(&ctx, w, &out).ok());
  }
  auto state = [&] {
    grpc::ClientContext ctx;
    v1::GetVenueRequest get;
    get.set_name(created.results(0).name());
    v1::Venue v;
    EXPECT_TRUE(stub_->GetVenue(&ctx, get, &v).ok());
    return v.state();
  };
  // A changed row without reinstate: fields change, the venue stays withdrawn.
  req.mutable_venues(0)->set_telephone("03 20 00 00 09");
  v1::BatchUpsertVenuesResponse changed;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &changed).ok());
  }
  EXPECT_EQ(changed.results(0).outcome(), v1::UPDATED);
  EXPECT_EQ(state(), v1::WITHDRAWN);
  // The same row with reinstate: active again, `state` among the changed fields.
  req.set_reinstate_withdrawn(true);
  v1::BatchUpsertVenuesResponse back;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &back).ok());
  }
  EXPECT_EQ(back.results(0).outcome(), v1::UPDATED);
  EXPECT_THAT(back.results(0).changed_fields(), ::testing::ElementsAre("state"));
  EXPECT_EQ(state(), v1::ACTIVE);
}

TEST_F(VenuesTest, PagingSeesEveryVenueOnceWhileOthersWrite) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  for (int i = 0; i < 120; ++i)
    *req.add_venues() = Valid("p" + std::to_string(i), "Lieu " + std::to_string(i));
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0}, failures{0};
  std::thread writer([&] {  // creates new venues and updates existing ones meanwhile
    for (int i = 0; !stop && i < 200; ++i) {
      v1::Venue v;
      if (!Create(Valid("w" + std::to_string(i)), &v).ok()) ++failures;
      v1::BatchUpsertVenuesRequest up;
      up.set_source("siilab");
      *up.add_venues() = Valid("p" + std::to_string(i % 120), "Renommé " + std::to_string(i));
      grpc::ClientContext ctx;
      v1::BatchUpsertVenuesResponse r;
      if (!stub_->BatchUpsertVenues(&ctx, up, &r).ok() || r.results(0).outcome() != v1::UPDATED) {
        ++failures;
      }
      ++writes;
    }
  });
  std::map<std::string, int> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListVenuesRequest list;
    list.set_page_size(7);
    list.set_page_token(token);
    list.set_filter("source = \"siilab\"");
    v1::ListVenuesResponse resp;
    ASSERT_TRUE(stub_->ListVenues(&ctx, list, &resp).ok());
    for (const auto& v : resp.venues()) ++seen[v.provenance().source_id()];
    token = resp.next_page_token();
    ++pages;
    // The writes interleave with the pages: before the next page, the writer has committed at
    // least one more create and one more update than before this one.
    ASSERT_TRUE(testing::WaitFor([&] { return writes.load() >= pages; }, 10s));
  } while (!token.empty());
  const int writes_while_paging = writes.load();
  stop = true;
  writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(writes_while_paging, pages);  // overlap proven, not hoped for
  EXPECT_EQ(seen.size(), 120u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_GE(pages, 18);
}

TEST_F(VenuesTest, ListFiltersAndRejectsUnknownOnes) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  v1::Venue a = Valid("f1");
  a.set_commune("Tourcoing");
  a.set_code_postal("59200");
  *req.add_venues() = a;
  v1::Venue b = Valid("f2");
  b.add_services(v1::SERVICE_LOISIRS_ET_CREATIONS_NUMERIQUES);
  *req.add_venues() = b;
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
  }
  auto list = [&](const std::string& filter, v1::ListVenuesResponse* resp) {
    grpc::ClientContext ctx;
    v1::ListVenuesRequest r;
    r.set_filter(filter);
    return stub_->ListVenues(&ctx, r, resp);
  };
  v1::ListVenuesResponse resp;
  ASSERT_TRUE(list("commune = \"Tourcoing\"", &resp).ok());
  ASSERT_EQ(resp.venues_size(), 1);
  EXPECT_EQ(resp.venues(0).id(), "f1");
  resp.Clear();
  ASSERT_TRUE(list("services : \"Loisirs et créations numériques\"", &resp).ok());
  ASSERT_EQ(resp.venues_size(), 1);
  EXPECT_EQ(resp.venues(0).id(), "f2");
  resp.Clear();
  EXPECT_EQ(list("couleur = \"bleu\"", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

v1::Venue At(const std::string& id, const std::string& nom, double lat, double lon) {
  v1::Venue v = Valid(id, nom);
  v.set_latitude(lat);
  v.set_longitude(lon);
  return v;
}

TEST_F(VenuesTest, SearchAroundAPointInABoxAndByText) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  *req.add_venues() = At("s1", "Médiathèque La Grand-Plage", 50.6905, 3.1817);  // Roubaix centre
  v1::Venue alma = At("s2", "Centre social de l'Alma", 50.6980, 3.1640);
  alma.clear_services();
  alma.add_services(v1::SERVICE_LOISIRS_ET_CREATIONS_NUMERIQUES);
  *req.add_venues() = alma;
  *req.add_venues() = At("s3", "France Services Tourcoing", 50.7236, 3.1609);     // ~4 km
  *req.add_venues() = At("s4", "Maison France Services Lille", 50.6292, 3.0573);  // ~11 km
  *req.add_venues() = At("s5", "Médiathèque de Reims", 49.2583, 4.0317);          // far away
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
  }
  auto search = [&](const v1::SearchVenuesRequest& r) {
    grpc::ClientContext ctx;
    v1::SearchVenuesResponse resp;
    grpc::Status st = stub_->SearchVenues(&ctx, r, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  v1::SearchVenuesRequest near;
  near.mutable_near()->set_latitude(50.6905);
  near.mutable_near()->set_longitude(3.1817);
  near.mutable_near()->set_radius_meters(5000);
  near.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  auto r = search(near);
  ASSERT_EQ(r.results_size(), 2);  // s1 and s3; s2 lacks the service, s4 and s5 too far
  EXPECT_EQ(r.results(0).venue().id(), "s1");
  EXPECT_NEAR(r.results(0).distance_meters(), 0, 1);
  EXPECT_EQ(r.results(1).venue().id(), "s3");
  EXPECT_NEAR(r.results(1).distance_meters(), 4000, 500);

  v1::SearchVenuesRequest text;
  text.set_query("mediatheque");
  r = search(text);
  ASSERT_EQ(r.results_size(), 2);
  EXPECT_EQ(r.total_size(), 2);

  v1::SearchVenuesRequest box;
  box.mutable_within()->set_min_latitude(50.6);
  box.mutable_within()->set_min_longitude(3.0);
  box.mutable_within()->set_max_latitude(50.75);
  box.mutable_within()->set_max_longitude(3.2);
  box.set_query("france services");
  r = search(box);
  ASSERT_EQ(r.results_size(), 2);
  EXPECT_EQ(r.results(0).venue().id(), "s3");  // by name: "france services tourcoing" first
  EXPECT_EQ(r.results(1).venue().id(), "s4");

  // Paging through a search: one by one, every match once, the view changing between pages
  // (BASIC: exactly the list's fields of what GetVenue returns; FULL: all of it).
  v1::SearchVenuesRequest all;
  all.mutable_near()->set_latitude(50.6905);
  all.mutable_near()->set_longitude(3.1817);
  all.mutable_near()->set_radius_meters(20000);
  all.set_page_size(1);
  std::vector<std::string> order;
  google::protobuf::FieldMask basic_fields;  // as the proto's VenueView names them
  for (const char* f : {"name", "id", "nom", "adresse", "code_postal", "commune", "latitude",
                        "longitude", "typologie", "services", "frais_a_charge", "source",
                        "provenance.source", "date_maj", "accepts_aptic_pass", "etag"}) {
    basic_fields.add_paths(f);
  }
  do {
    all.set_view(order.size() % 2 == 0 ? v1::VENUE_VIEW_BASIC : v1::VENUE_VIEW_FULL);
    r = search(all);
    for (const auto& m : r.results()) {
      order.push_back(m.venue().id());
      grpc::ClientContext ctx;
      v1::GetVenueRequest get;
      get.set_name(m.venue().name());
      v1::Venue stored;
      ASSERT_TRUE(stub_->GetVenue(&ctx, get, &stored).ok());
      ASSERT_TRUE(stored.has_provenance());
      v1::Venue expected = stored;
      if (all.view() == v1::VENUE_VIEW_BASIC) {
        expected.Clear();
        google::protobuf::util::FieldMaskUtil::MergeMessageTo(stored, basic_fields, {}, &expected);
      }
      EXPECT_EQ(m.venue().SerializeAsString(), expected.SerializeAsString()) << m.venue().id();
    }
    all.set_page_token(r.next_page_token());
  } while (!all.page_token().empty());
  EXPECT_EQ(order, (std::vector<std::string>{"s1", "s2", "s3", "s4"}));

  v1::SearchVenuesRequest bad;
  bad.mutable_near()->set_latitude(95);
  bad.mutable_near()->set_radius_meters(-1);
  grpc::ClientContext ctx;
  v1::SearchVenuesResponse resp;
  EXPECT_EQ(stub_->SearchVenues(&ctx, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A view no version of the API has is refused, naming the field and the value.
  v1::SearchVenuesRequest unknown_view = near;
  unknown_view.set_view(static_cast<v1::VenueView>(7));
  grpc::ClientContext view_ctx;
  const grpc::Status refused = stub_->SearchVenues(&view_ctx, unknown_view, &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_details(),
              HasSubstr("[enum] VENUE_VIEW_BASIC ou VENUE_VIEW_FULL, reçu 7"));
}

TEST_F(VenuesTest, OpenAtFollowsHoursAndFrenchPublicHolidays) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  Register("siilab");
  v1::Venue week = At("h1", "Permanence en semaine", 50.69, 3.18);
  week.set_horaires("Mo-Fr 09:00-12:00; PH off");
  v1::Venue saturday = At("h2", "Atelier du samedi", 50.69, 3.18);
  saturday.set_horaires("Sa 10:00-12:00");
  v1::Venue unknown = At("h3", "Horaires libres", 50.69, 3.18);
  unknown.set_horaires("sur rendez-vous");
  *req.add_venues() = week;
  *req.add_venues() = saturday;
  *req.add_venues() = unknown;
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
  }
  auto open_at = [&](int64_t unix_seconds) {
    v1::SearchVenuesRequest q;
    q.mutable_open_at()->set_seconds(unix_seconds);
    grpc::ClientContext ctx;
    v1::SearchVenuesResponse resp;
    EXPECT_TRUE(stub_->SearchVenues(&ctx, q, &resp).ok());
    std::vector<std::string> ids;
    for (const auto& m : resp.results()) ids.push_back(m.venue().id());
    return ids;
  };
  // Wednesday 25 November 2026, 10:00 in Paris (09:00 UTC).
  EXPECT_EQ(open_at(1795597200), std::vector<std::string>{"h1"});
  // Saturday 28 November 2026, 11:00 in Paris (10:00 UTC).
  EXPECT_EQ(open_at(1795860000), std::vector<std::string>{"h2"});
  // Wednesday 11 November 2026, Armistice, 10:00 in Paris: a public holiday, PH off.
  EXPECT_TRUE(open_at(1794387600).empty());
  // Wednesday 1 July 2026, 10:00 in Paris is 08:00 UTC (summer time).
  EXPECT_EQ(open_at(1782892800), std::vector<std::string>{"h1"});
}

// Issue 12 (the map): "open on Saturday" is a span, and a venue's page reads its week from the
// schedule, in Paris time, without an opening_hours parser of its own.
TEST_F(VenuesTest, OpenDuringASpanAndTheOpeningScheduleReadTheWeek) {
  Register("siilab");
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  for (auto [id, hours] : std::vector<std::pair<std::string, std::string>>{
           {"w1", "Mo-Fr 09:00-12:00; PH off"},
           {"w2", "Sa 10:00-12:00"},
           {"w3", "Sa 14:00-17:00 \"sur rendez-vous\""},
           {"w4", "sur rendez-vous"},
           {"w5", "Mo-Fr 09:00-12:00; Aug off"}}) {
    v1::Venue v = At(id, "Lieu " + id, 50.69, 3.18);
    v.set_horaires(hours);
    *req.add_venues() = v;
  }
  std::map<std::string, std::string> names;
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub_->BatchUpsertVenues(&ctx, req, &resp).ok());
    for (const auto& r : resp.results()) names[r.source_id()] = r.name();
    ASSERT_EQ(names.size(), 5u);
  }
  auto during = [&](int64_t start, int64_t end, int32_t* unknown = nullptr) {
    v1::SearchVenuesRequest q;
    q.mutable_open_during()->mutable_start_time()->set_seconds(start);
    q.mutable_open_during()->mutable_end_time()->set_seconds(end);
    grpc::ClientContext ctx;
    v1::SearchVenuesResponse resp;
    EXPECT_TRUE(stub_->SearchVenues(&ctx, q, &resp).ok());
    if (unknown != nullptr) *unknown = resp.unknown_hours_size();
    std::vector<std::string> ids;
    for (const auto& m : resp.results()) ids.push_back(m.venue().id());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  // Saturday 28 November 2026 in Paris: 27 Nov 23:00 UTC to 28 Nov 23:00 UTC.
  const int64_t saturday = 1795820400;
  int32_t unknown = 0;
  EXPECT_EQ(during(saturday, saturday + 86400, &unknown), std::vector<std::string>{"w2"});
  EXPECT_EQ(unknown, 2);  // by appointment that afternoon; hours not understood
  // Saturday 12:00 to 14:00: nobody; the appointment starts at 14:00 (the end is exclusive).
  EXPECT_TRUE(during(saturday + 12 * 3600, saturday + 14 * 3600, &unknown).empty());
  EXPECT_EQ(unknown, 1);
  // Friday 11:59:30 to Saturday 10:00:30 Paris: Friday's last minute and Saturday's first.
  EXPECT_EQ(during(saturday - 12 * 3600 - 30, saturday + 10 * 3600 + 30),
            (std::vector<std::string>{"w1", "w2", "w5"}));

  auto refused = [&](auto edit, const std::string& field) {
    v1::SearchVenuesRequest q;
    q.mutable_open_during()->mutable_start_time()->set_seconds(saturday);
    q.mutable_open_during()->mutable_end_time()->set_seconds(saturday + 3600);
    edit(q);
    grpc::ClientContext ctx;
    v1::SearchVenuesResponse resp;
    grpc::Status st = stub_->SearchVenues(&ctx, q, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(itest::Violations(st).fields, ::testing::Contains(field));
  };
  refused([](auto& q) { q.mutable_open_during()->clear_end_time(); }, "open_during.end_time");
  refused([](auto& q) { q.mutable_open_during()->mutable_end_time()->set_seconds(1); },
          "open_during.end_time");
  refused([&](auto& q) { q.mutable_open_during()->mutable_end_time()->set_seconds(saturday); },
          "open_during.end_time");
  refused(
      [&](auto& q) {
        q.mutable_open_during()->mutable_end_time()->set_seconds(saturday + 32 * 86400);
      },
      "open_during");
  refused([](auto& q) { q.mutable_open_during()->mutable_start_time()->set_nanos(-1); },
          "open_during.start_time");
  refused([](auto& q) { q.mutable_open_during()->mutable_start_time()->set_seconds(-5); },
          "open_during.start_time");
  refused([](auto& q) { q.mutable_open_at()->set_seconds(1795597200); }, "open_during");

  auto schedule = [&](const std::string& id, int64_t time, int32_t days, v1::OpeningSchedule* out) {
    v1::GetOpeningScheduleRequest q;
    q.set_name(names[id] + "/openingSchedule");
    if (time != 0) q.mutable_time()->set_seconds(time);
    q.set_days(days);
    grpc::ClientContext ctx;
    return stub_->GetOpeningSchedule(&ctx, q, out);
  };
  // Wednesday 25 November 2026, 10:00 in Paris: open until noon.
  v1::OpeningSchedule s;
  ASSERT_TRUE(schedule("w1", 1795597200, 0, &s).ok());
  EXPECT_EQ(s.name(), names["w1"] + "/openingSchedule");
  EXPECT_TRUE(s.understood());
  EXPECT_EQ(s.time_zone(), "Europe/Paris");
  EXPECT_EQ(s.horaires(), "Mo-Fr 09:00-12:00; PH off");
  EXPECT_THAT(s.description(), ::testing::HasSubstr("du lundi au vendredi"));
  EXPECT_EQ(s.current_state(), v1::HOURS_STATE_OPEN);
  EXPECT_EQ(s.next_close_time().seconds(), 1795597200 + 2 * 3600);
  EXPECT_FALSE(s.has_next_open_time());
  ASSERT_EQ(s.days_size(), 7);
  EXPECT_EQ(s.days(0).date(), "2026-11-25");
  ASSERT_EQ(s.days(0).periods_size(), 1);
  EXPECT_EQ(s.days(0).periods(0).start(), "09:00");
  EXPECT_EQ(s.days(0).periods(0).end(), "12:00");
  EXPECT_EQ(s.days(0).periods(0).state(), v1::HOURS_STATE_OPEN);
  EXPECT_EQ(s.days(3).date(), "2026-11-28");
  EXPECT_EQ(s.days(3).periods_size(), 0);  // Saturday
  // At 12:30 it is closed and opens on Thursday at 9:00 (08:00 UTC).
  ASSERT_TRUE(schedule("w1", 1795597200 + 9000, 1, &s).ok());
  EXPECT_EQ(s.current_state(), v1::HOURS_STATE_CLOSED);
  EXPECT_EQ(s.next_open_time().seconds(), 1795597200 + 23 * 3600);
  EXPECT_EQ(s.days_size(), 1);
  // 10 to 12 November: Armistice day is a holiday, closed (PH off).
  ASSERT_TRUE(schedule("w1", 1794387600 - 86400, 3, &s).ok());
  EXPECT_EQ(s.days(1).date(), "2026-11-11");
  EXPECT_TRUE(s.days(1).public_holiday());
  EXPECT_EQ(s.days(1).periods_size(), 0);
  EXPECT_EQ(s.days(2).periods_size(), 1);
  // By appointment on Saturday afternoon: unknown, with its comment, never "open".
  ASSERT_TRUE(schedule("w3", saturday + 15 * 3600, 1, &s).ok());
  EXPECT_EQ(s.current_state(), v1::HOURS_STATE_UNKNOWN);
  EXPECT_EQ(s.current_comment(), "sur rendez-vous");
  EXPECT_FALSE(s.has_next_open_time());
  ASSERT_EQ(s.days(0).periods_size(), 1);
  EXPECT_EQ(s.days(0).periods(0).state(), v1::HOURS_STATE_UNKNOWN);
  EXPECT_EQ(s.days(0).periods(0).comment(), "sur rendez-vous");
  // Hours not understood: said so, shown as written, no period invented.
  ASSERT_TRUE(schedule("w4", 0, 0, &s).ok());
  EXPECT_FALSE(s.understood());
  EXPECT_EQ(s.horaires(), "sur rendez-vous");
  EXPECT_EQ(s.description(), "");
  EXPECT_EQ(s.current_state(), v1::HOURS_STATE_UNKNOWN);
  ASSERT_EQ(s.days_size(), 7);
  for (const auto& d : s.days()) EXPECT_EQ(d.periods_size(), 0);
  // Closed in August: on Saturday 1 August at noon it opens again on Tuesday 1 September at
  // 9:00 (07:00 UTC), 30 days and 21 hours later: within the 31 days from the instant asked
  // (tester 17, F7).
  ASSERT_TRUE(schedule("w5", 1785578400, 1, &s).ok());
  EXPECT_EQ(s.current_state(), v1::HOURS_STATE_CLOSED);
  EXPECT_EQ(s.next_open_time().seconds(), 1788246000);
  // The last hours of year 9999: no day, opening or closing a timestamp cannot say (F1).
  ASSERT_TRUE(schedule("w1", 253402293600, 31, &s).ok());
  EXPECT_EQ(s.days_size(), 1);
  EXPECT_EQ(s.days(0).date(), "9999-12-31");
  EXPECT_FALSE(s.has_next_open_time());
  EXPECT_FALSE(s.has_next_close_time());
  // Refusals: a name that is not a schedule, an unknown venue, days or time out of range.
  auto status_of = [&](const std::string& name, int64_t seconds, int32_t nanos, int32_t days) {
    v1::GetOpeningScheduleRequest q;
    q.set_name(name);
    q.mutable_time()->set_seconds(seconds);
    q.mutable_time()->set_nanos(nanos);
    q.set_days(days);
    grpc::ClientContext ctx;
    v1::OpeningSchedule out;
    return stub_->GetOpeningSchedule(&ctx, q, &out);
  };
  const std::string w1 = names["w1"] + "/openingSchedule";
  EXPECT_EQ(status_of(names["w1"], 0, 0, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_of("venues/nope/openingSchedule", 0, 0, 0).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // not a venue id
  EXPECT_EQ(status_of("venues/00000000-0000-4000-8000-000000000000/openingSchedule", 0, 0, 0)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status_of(w1, 0, 0, 32).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_of(w1, 0, 0, -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_of(w1, 0, -1, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_of(w1, 253402300800, 0, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_of(w1, 0, 0, 31).error_code(), grpc::StatusCode::OK);
  for (const std::string& id : itest::HostileNames("")) {
    const grpc::Status st = status_of("venues/" + id + "/openingSchedule", 0, 0, 0);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id.substr(0, 40);
    EXPECT_EQ(itest::Violations(st).fields, itest::Named(id, "name")) << st.error_message();
    EXPECT_LT(st.error_message().size() + st.error_details().size(), 4000u);
  }
}

// Issue 10: only venues known to be open are shown; those whose hours are unknown then are
// counted; writes warn about hours not understood, and the resource says whether they were.
TEST_F(VenuesTest, OpenAtKeepsKnownOpenVenuesAndCountsTheUnknown) {
  v1::Venue open = At("k1", "Permanence en semaine", 50.69, 3.18);
  open.set_horaires("Mo-Fr 09:00-12:00; PH off");
  v1::Venue appointment = At("k2", "Sur rendez-vous", 50.69, 3.18);
  appointment.set_horaires("Mo-Fr 09:00-12:00 \"sur rendez-vous\"");
  v1::Venue free_text = At("k3", "Horaires en texte", 50.69, 3.18);
  free_text.set_horaires("du lundi au vendredi de 9h à 12h");
  v1::Venue none = At("k4", "Sans horaires", 50.69, 3.18);
  v1::Venue closed = At("k5", "Le samedi", 50.69, 3.18);
  closed.set_horaires("Sa 10:00-12:00");
  v1::BatchUpsertVenuesResponse batch;
  ASSERT_TRUE(Batch("heures", {open, appointment, free_text, none, closed}, &batch).ok());
  ASSERT_EQ(batch.results_size(), 5);
  // The row not understood lands, with a warning naming the field and the rule.
  EXPECT_EQ(batch.results(2).outcome(), v1::CREATED);
  ASSERT_EQ(batch.results(2).warnings_size(), 1);
  EXPECT_EQ(batch.results(2).warnings(0).field(), "horaires");
  EXPECT_EQ(batch.results(2).warnings(0).rule(), "horaires");
  EXPECT_THAT(batch.results(2).warnings(0).description(),
              ::testing::HasSubstr("horaires non compris"));
  for (int i : {0, 1, 3, 4}) EXPECT_EQ(batch.results(i).warnings_size(), 0) << i;

  auto get = [&](int i) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(batch.results(i).name());
    v1::Venue v;
    EXPECT_TRUE(stub_->GetVenue(&ctx, req, &v).ok());
    return v;
  };
  EXPECT_TRUE(get(0).hours_understood());
  EXPECT_TRUE(get(1).hours_understood());  // understood: unknown during its hours
  EXPECT_FALSE(get(2).hours_understood());
  EXPECT_FALSE(get(3).hours_understood());

  v1::SearchVenuesRequest q;
  q.mutable_open_at()->set_seconds(1795597200);  // Wednesday 25 November 2026, 10:00 in Paris
  v1::SearchVenuesResponse found;
  ASSERT_TRUE(Search(q, &found).ok());
  ASSERT_EQ(found.results_size(), 1);
  EXPECT_EQ(found.results(0).venue().id(), "k1");
  EXPECT_TRUE(found.results(0).venue().hours_understood());
  EXPECT_EQ(found.total_size(), 1);
  EXPECT_EQ(found.unknown_hours_size(), 3);  // k2 (appointment), k3 (not understood), k4 (none)
  // Other criteria first: what they leave out is not counted.
  q.set_query("rendez");
  ASSERT_TRUE(Search(q, &found).ok());
  EXPECT_EQ(found.results_size(), 0);
  EXPECT_EQ(found.unknown_hours_size(), 1);
  // Without open_at nothing is left out.
  v1::SearchVenuesRequest all;
  ASSERT_TRUE(Search(all, &found).ok());
  EXPECT_EQ(found.unknown_hours_size(), 0);
}

TEST_F(VenuesTest, ImportWarnsAboutHoursNotUnderstoodAndStoresTheRow) {
  const std::string csv =
      "id,pivot,nom,commune,code_postal,adresse,latitude,longitude,horaires,source,date_maj,"
      "services\n"
      "i1,21590512800016,Lieu compris,Roubaix,59100,1 rue de l'Alma,50.69,3.18,"
      "\"Mo-Fr 09:00-12:00; PH off\",test,2026-11-01,Aide aux démarches administratives\n"
      "i2,21590512800016,Lieu en texte libre,Roubaix,59100,2 rue de l'Alma,50.69,3.18,"
      "lundi 9h-12h,test,2026-11-01,Aide aux démarches administratives\n";
  v1::ImportVenuesResponse report;
  ASSERT_TRUE(Import("heures-import", csv, &report).ok());
  EXPECT_EQ(report.created(), 2) << report.DebugString();
  ASSERT_EQ(report.warnings_total(), 1) << report.DebugString();
  ASSERT_EQ(report.warnings_size(), 1);
  EXPECT_EQ(report.warnings(0).line(), 3);
  EXPECT_EQ(report.warnings(0).source_id(), "i2");
  EXPECT_EQ(report.warnings(0).issue().field(), "horaires");
  EXPECT_EQ(report.warnings(0).issue().rule(), "horaires");
  EXPECT_THAT(report.warnings(0).issue().description(),
              ::testing::HasSubstr("horaires non compris"));
}

TEST_F(VenuesTest, AreaLayersGiveVenuesTheirAreas) {
  v1::Venue inside, outside;
  ASSERT_TRUE(Create(At("in", "Lieu dans le quartier", 50.695, 3.165), &inside).ok());
  ASSERT_TRUE(Create(At("out", "Lieu hors du quartier", 50.60, 3.00), &outside).ok());
  // A square around (50.695, 3.165), and a multipolygon far away.
  const std::string layer = R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"code": "QN05912M", "name": "Alma-Gare"},
     "geometry": {"type": "Polygon", "coordinates": [[[3.16, 50.69], [3.17, 50.69], [3.17, 50.70],
                                                      [3.16, 50.70], [3.16, 50.69]]]}},
    {"type": "Feature", "properties": {"code": "QN05999X", "name": "Ailleurs"},
     "geometry": {"type": "MultiPolygon", "coordinates": [[[[4.0, 49.0], [4.1, 49.0], [4.1, 49.1],
                                                            [4.0, 49.0]]]]}}]})";
  v1::AreaLayer result;
  {
    grpc::ClientContext ctx;
    v1::ImportAreaLayerRequest req;
    req.set_layer("qpv");
    req.set_title("Quartiers prioritaires (exemple)");
    req.set_geojson(layer);
    ASSERT_TRUE(stub_->ImportAreaLayer(&ctx, req, &result).ok());
  }
  EXPECT_EQ(result.area_count(), 2);
  EXPECT_EQ(result.venues_updated(), 1);
  auto get = [&](const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(name);
    v1::Venue v;
    EXPECT_TRUE(stub_->GetVenue(&ctx, req, &v).ok());
    return v;
  };
  EXPECT_THAT(get(inside.name()).areas(), ::testing::ElementsAre("qpv:QN05912M"));
  EXPECT_TRUE(get(outside.name()).areas().empty());
  // A venue written afterwards gets its areas at once, and search filters on them.
  v1::Venue later;
  ASSERT_TRUE(Create(At("later", "Nouveau lieu", 50.698, 3.168), &later).ok());
  EXPECT_THAT(later.areas(), ::testing::ElementsAre("qpv:QN05912M"));
  {
    grpc::ClientContext ctx;
    v1::SearchVenuesRequest q;
    q.add_areas("qpv:QN05912M");
    v1::SearchVenuesResponse resp;
    ASSERT_TRUE(stub_->SearchVenues(&ctx, q, &resp).ok());
    EXPECT_EQ(resp.results_size(), 2);
  }
  auto search_areas = [&](const std::vector<std::string>& areas, v1::SearchVenuesResponse* resp) {
    grpc::ClientContext ctx;
    v1::SearchVenuesRequest q;
    for (const auto& a : areas) q.add_areas(a);
    return stub_->SearchVenues(&ctx, q, resp);
  };
  {  // An area without venues is no mistake; a code or layer nobody imported is one, named.
    v1::SearchVenuesResponse resp;
    ASSERT_TRUE(search_areas({"qpv:QN05999X"}, &resp).ok());
    EXPECT_EQ(resp.results_size(), 0);
    grpc::Status st = search_areas({"qpv:QN05912M", "qpv:QN0591ZZ", "quartiers:QN05912M"}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    auto bad = itest::Violations(st);
    EXPECT_EQ(bad.fields, (std::set<std::string>{"areas[1]", "areas[2]"})) << bad.text;
    EXPECT_THAT(bad.text, ::testing::HasSubstr("[exists] aucune zone « qpv:QN0591ZZ »"));
    EXPECT_THAT(bad.text, ::testing::HasSubstr("/v1/areaLayers/quartiers/areas"));
    // A layer no layer id could be is a pattern mistake: no address is built from it.
    st = search_areas({"../..:x", "q?x:y"}, &resp);
    EXPECT_EQ(itest::Violations(st).fields, (std::set<std::string>{"areas[0]", "areas[1]"}));
    EXPECT_THAT(itest::Violations(st).text, ::testing::HasSubstr("[pattern]"));
    EXPECT_THAT(itest::Violations(st).text, ::testing::Not(::testing::HasSubstr("[exists]")));
  }
  {
    grpc::ClientContext ctx;
    v1::ListAreasRequest req;
    req.set_parent("areaLayers/qpv");
    v1::ListAreasResponse resp;
    ASSERT_TRUE(stub_->ListAreas(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.areas_size(), 2);
    EXPECT_EQ(resp.areas(0).label(), "Alma-Gare");
    EXPECT_EQ(resp.areas(0).venue_count(), 2);
  }
  // Replacing the layer recomputes: the perimeter moved away, so nobody is inside any more.
  {
    grpc::ClientContext ctx;
    v1::ImportAreaLayerRequest req;
    req.set_layer("qpv");
    req.set_geojson(R"({"type": "FeatureCollection", "features": [
      {"type": "Feature", "properties": {"code": "QN05912M", "name": "Alma-Gare"},
       "geometry": {"type": "Polygon", "coordinates": [[[2.0, 48.0], [2.1, 48.0], [2.1, 48.1],
                                                        [2.0, 48.0]]]}}]})");
    ASSERT_TRUE(stub_->ImportAreaLayer(&ctx, req, &result).ok());
    EXPECT_EQ(result.venues_updated(), 2);
  }
  EXPECT_TRUE(get(inside.name()).areas().empty());
  {  // The replaced layer no longer has QN05999X, which a search found before.
    v1::SearchVenuesResponse resp;
    grpc::Status st = search_areas({"qpv:QN05999X"}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(itest::Violations(st).fields, std::set<std::string>{"areas[0]"});
  }
  EXPECT_EQ(Events("venue.updated"), 3);
  {  // A bad layer names each bad feature.
    grpc::ClientContext ctx;
    v1::ImportAreaLayerRequest req;
    req.set_layer("quartiers");
    req.set_geojson(R"({"type": "FeatureCollection", "features": [
      {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [3, 50]}}]})");
    v1::AreaLayer out;
    grpc::Status st = stub_->ImportAreaLayer(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(VenuesTest, AnotherReplicasWritesReachTheSearchIndex) {
  itest::Replica other(binary_.schema());
  auto other_stub = v1::VenueService::NewStub(other.channel());
  {
    grpc::ClientContext ctx;
    v1::CreateVenueRequest req;
    *req.mutable_venue() = At("elsewhere", "Espace numérique de l'Épeule", 50.6880, 3.1650);
    v1::Venue out;
    ASSERT_TRUE(other_stub->CreateVenue(&ctx, req, &out).ok());
  }
  v1::SearchVenuesRequest q;
  q.set_query("epeule");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::SearchVenuesResponse resp;
        return stub_->SearchVenues(&ctx, q, &resp).ok() && resp.results_size() == 1;
      },
      5s));
}

// PostgreSQL cuts every connection of the service (as a restart or a failover does): writes,
// the index refresh and the outbox relay carry on by themselves, and nothing is lost.
TEST_F(VenuesTest, CutDatabaseConnectionsAreRecoveredFrom) {
  v1::Venue first;
  ASSERT_TRUE(Create(At("before-cut", "Médiathèque avant coupure", 50.69, 3.17), &first).ok());
  auto cut = [&] {
    pqxx::connection admin(testing::DatabaseUrl());
    pqxx::nontransaction tx(admin);
    return tx
        .exec1(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
            "application_name = 'passerelle-venues:" +
            binary_.schema() + "'")[0]
        .as<int>();
  };
  EXPECT_GT(cut(), 0) << "the service's connections are named after it and its schema";
  v1::Venue second;
  grpc::Status st = Create(At("after-cut", "Médiathèque après coupure", 50.69, 3.17), &second);
  EXPECT_TRUE(st.ok()) << st.error_message();
  cut();
  v1::SearchVenuesRequest q;
  q.set_query("coupure");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::SearchVenuesResponse resp;
        return stub_->SearchVenues(&ctx, q, &resp).ok() && resp.results_size() == 2;
      },
      5s));
  // Both creations were published by the relay despite the cuts.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        pqxx::connection c(testing::DatabaseUrl());
        pqxx::work tx(c);
        return tx.exec1("SELECT count(*) FROM \"" + binary_.schema() +
                        "\".outbox WHERE event_type = 'venue.created' AND sent_at IS NOT "
                        "NULL")[0]
                   .as<int>() == 2;
      },
      10s));
  grpc::ClientContext ctx;
  v1::GetVenueRequest get;
  get.set_name(second.name());
  v1::Venue got;
  EXPECT_TRUE(stub_->GetVenue(&ctx, get, &got).ok());
}

// Two real services on one NATS topology: publishing a referential version that retires an item
// removes it from the venues offering it, through the event, the consumer and the inbox.
TEST(ReferentialToVenuesTest, RetiredItemsLeaveVenues) {
  const std::string prefix = testing::UniqueName("x");
  testing::ServiceBinary ref(
      "services/referential/passerelle-referential",
      {{"PASSERELLE_NATS_PREFIX", prefix},
       {"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"}});
  testing::ServiceBinary ven("services/venues/passerelle-venues",
                             {{"PASSERELLE_NATS_PREFIX", prefix}});
  auto ven_process = ven.Start();
  auto stub = v1::VenueService::NewStub(
      grpc::CreateChannel(ven.grpc_address(), grpc::InsecureChannelCredentials()));
  v1::Venue created;
  {
    grpc::ClientContext ctx;
    v1::CreateVenueRequest req;
    *req.mutable_venue() = Valid("with-items");
    req.mutable_venue()->add_referential_items("items/it-18");
    req.mutable_venue()->add_referential_items("items/it-77");
    ASSERT_TRUE(stub->CreateVenue(&ctx, req, &created).ok());
  }
  auto ref_process = ref.Start();  // announces 2023-02-03 (nothing retired)
  {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    // Accept proposal 7 (retire item 18) the way the committee would, then publish.
    tx.exec0("UPDATE \"" + ref.schema() + "\".proposals SET state = 'accepted' WHERE number = 7");
    tx.commit();
  }
  {
    auto ref_stub = referential::v1::ReferentialService::NewStub(
        grpc::CreateChannel(ref.grpc_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    referential::v1::PublishVersionRequest req;
    req.set_parent("nomenclatures/roubaix-aptic");
    req.set_version_id("2023-03-01");
    referential::v1::PublishVersionResponse resp;
    grpc::Status st = ref_stub->PublishVersion(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.diff().items_retired_size(), 1);
  }
  // The event travels: outbox -> relay -> JetStream -> venues' durable consumer.
  auto items = [&] {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(created.name());
    v1::Venue v;
    EXPECT_TRUE(stub->GetVenue(&ctx, req, &v).ok());
    return std::vector<std::string>(v.referential_items().begin(), v.referential_items().end());
  };
  EXPECT_TRUE(testing::WaitFor([&] { return items().size() == 1; }, 20s)) << ven_process->Output();
  EXPECT_EQ(items(), std::vector<std::string>{"items/it-77"});
  // From now on venues may only name items the published version offers.
  for (const std::string& item : {std::string("items/it-18"), std::string("items/it-99999")}) {
    grpc::ClientContext ctx;
    v1::CreateVenueRequest req;
    *req.mutable_venue() = Valid("item-" + item.substr(9));
    req.mutable_venue()->add_referential_items(item);
    v1::Venue out;
    grpc::Status st = stub->CreateVenue(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << item;
  }
  {
    grpc::ClientContext ctx;
    v1::BatchUpsertVenuesRequest req;
    req.set_source("siilab");
    itest::RegisterSource(*stub, "siilab");
    *req.add_venues() = Valid("known");
    req.mutable_venues(0)->add_referential_items("items/it-77");
    *req.add_venues() = Valid("unknown");
    req.mutable_venues(1)->add_referential_items("items/it-99999");
    v1::BatchUpsertVenuesResponse resp;
    ASSERT_TRUE(stub->BatchUpsertVenues(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.results(0).outcome(), v1::CREATED);
    EXPECT_EQ(resp.results(1).outcome(), v1::REJECTED);
    ASSERT_GE(resp.results(1).violations_size(), 1);
    EXPECT_EQ(resp.results(1).violations(0).rule(), "referential");
  }
  {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM \"" + ven.schema() +
                       "\".outbox WHERE event_type = 'venue.updated'")[0]
                  .as<int>(),
              1);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM \"" + ven.schema() +
                       "\".inbox WHERE consumer = 'venues-referential'")[0]
                  .as<int>(),
              2)
        << "the seed version and the published one";
  }
  ref_process->Signal(SIGTERM);
  ref_process->Wait(15s);
  ven_process->Signal(SIGTERM);
  ven_process->Wait(15s);
}

}  // namespace
}  // namespace passerelle::venues
