// The passerelle-venues binary against hostile and careless clients (docs/reliability.md): each
// test sends through the public gRPC API what an outside review sent, and checks the precise
// error and that good data is neither lost nor corrupted.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/csv/csv.hpp"
#include "libs/testing/testing.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using namespace std::chrono_literals;
using itest::MissingPrecondition;
using itest::Reason;
using itest::Valid;
using itest::Violations;
using ::testing::HasSubstr;

class HardeningTest : public itest::VenuesServiceTest {
 protected:
  // Venues in the service's schema, read from PostgreSQL (not bounded by a page size).
  int Stored() {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    return tx.exec1("SELECT count(*) FROM \"" + binary_.schema() + "\".venues")[0].as<int>();
  }
  int Count() {
    v1::ListVenuesResponse resp;
    EXPECT_TRUE(List("", &resp, "", 1000).ok());
    return resp.venues_size();
  }
};

TEST_F(HardeningTest, NonFiniteAndOutOfRangeNumbersAreRefusedByName) {
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", {Valid("a")}, &b).ok());
  struct Case {
    std::function<void(v1::SearchVenuesRequest&)> set;
    std::string field;
  };
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  for (const Case& c : std::vector<Case>{
           {[&](auto& r) { r.mutable_within()->set_min_latitude(nan); }, "within.min_latitude"},
           {[&](auto& r) { r.mutable_within()->set_min_longitude(-1e10); }, "within.min_longitude"},
           {[&](auto& r) { r.mutable_within()->set_max_latitude(inf); }, "within.max_latitude"},
           {[&](auto& r) {
              r.mutable_near()->set_latitude(50.69);
              r.mutable_near()->set_longitude(3.17);
              r.mutable_near()->set_radius_meters(nan);
            },
            "near.radius_meters"},
           {[&](auto& r) {
              r.mutable_near()->set_latitude(nan);
              r.mutable_near()->set_longitude(3.17);
              r.mutable_near()->set_radius_meters(1000);
            },
            "near.latitude"},
           // A coordinate left out is refused, never read as 0 (tester 25, M3).
           {[&](auto& r) {
              r.mutable_near()->set_latitude(50.69);
              r.mutable_near()->set_radius_meters(5000);
            },
            "near.longitude"},
           {[&](auto& r) { r.mutable_near()->set_radius_meters(100000); }, "near.latitude"},
           // A box's edge left out alike: the box would reach the equator or Greenwich.
           {[&](auto& r) { r.mutable_within()->clear_min_longitude(); }, "within.min_longitude"},
           {[&](auto& r) { r.mutable_within()->clear_max_latitude(); }, "within.max_latitude"},
           {[&](auto& r) { r.add_publics(static_cast<v1::Public>(99)); }, "publics[0]"},
           {[&](auto& r) { r.mutable_open_at()->set_seconds(-5); }, "open_at"},
           {[&](auto& r) { r.set_query(std::string("a\0b", 3)); }, "query"},
           {[&](auto& r) {
              for (int i = 0; i < 101; ++i)
                r.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
            },
            "services"},
           {[&](auto& r) { r.add_areas("nope"); }, "areas[0]"},
           {[&](auto& r) { r.add_referential_items("nope"); }, "referential_items[0]"},
       }) {
    v1::SearchVenuesRequest req;
    if (c.field.starts_with("within")) {
      auto* w = req.mutable_within();
      w->set_min_latitude(50);
      w->set_max_latitude(51);
      w->set_min_longitude(3);
      w->set_max_longitude(4);
    }
    c.set(req);
    v1::SearchVenuesResponse resp;
    const auto started = std::chrono::steady_clock::now();
    grpc::Status st = Search(req, &resp);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << c.field;
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains(c.field)) << Violations(st).text;
  }
  // A venue whose coordinates are not numbers is a row error; nothing NaN is stored.
  v1::Venue v = Valid("nan");
  v.set_latitude(nan);
  ASSERT_TRUE(Batch("siilab", {v}, &b).ok());
  EXPECT_EQ(b.results(0).outcome(), v1::REJECTED);
  EXPECT_EQ(b.results(0).violations(0).field(), "latitude");
  // The whole world in one box is answered at once, and finds the venue.
  v1::SearchVenuesRequest world;
  world.mutable_within()->set_min_latitude(-90);
  world.mutable_within()->set_max_latitude(90);
  world.mutable_within()->set_min_longitude(-180);
  world.mutable_within()->set_max_longitude(180);
  v1::SearchVenuesResponse all;
  ASSERT_TRUE(Search(world, &all).ok());
  EXPECT_EQ(all.results_size(), 1);
}

// A typologie is searched as a write stores it, in any case (tester 25, M2: `bib` found
// nothing where the list filter's `typologie = bib` found the venue); a centre at 0 is a centre.
TEST_F(HardeningTest, SearchesNameATypologieInAnyCase) {
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", {Valid("typo")}, &b).ok());
  for (const char* typologie : {"BIB", "bib", "Bib"}) {
    v1::SearchVenuesRequest req;
    req.add_typologie(typologie);
    v1::SearchVenuesResponse resp;
    ASSERT_TRUE(Search(req, &resp).ok()) << typologie;
    EXPECT_EQ(resp.results_size(), 1) << typologie;
  }
  v1::SearchVenuesRequest zero;
  zero.mutable_near()->set_latitude(0);
  zero.mutable_near()->set_longitude(0);
  zero.mutable_near()->set_radius_meters(1000);
  v1::SearchVenuesResponse resp;
  EXPECT_TRUE(Search(zero, &resp).ok());
  EXPECT_EQ(resp.results_size(), 0);
}

TEST_F(HardeningTest, SearchesAcrossTheAntimeridian) {
  v1::Venue east = Valid("wallis-east"), west = Valid("wallis-west");
  east.set_latitude(-13.28);
  east.set_longitude(179.99);
  west.set_latitude(-13.28);
  west.set_longitude(-179.99);
  west.set_nom("Lieu de l'autre côté");
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", {east, west}, &b).ok());
  v1::SearchVenuesRequest near;
  near.mutable_near()->set_latitude(-13.28);
  near.mutable_near()->set_longitude(179.995);
  near.mutable_near()->set_radius_meters(3000);
  v1::SearchVenuesResponse resp;
  ASSERT_TRUE(Search(near, &resp).ok());
  std::set<std::string> ids;
  for (const auto& m : resp.results()) ids.insert(m.venue().id());
  EXPECT_EQ(ids, (std::set<std::string>{"wallis-east", "wallis-west"}));
  v1::SearchVenuesRequest box;  // west > east: the box across the antimeridian
  box.mutable_within()->set_min_latitude(-14);
  box.mutable_within()->set_max_latitude(-13);
  box.mutable_within()->set_min_longitude(179.5);
  box.mutable_within()->set_max_longitude(-179.5);
  resp.Clear();
  ASSERT_TRUE(Search(box, &resp).ok());
  EXPECT_EQ(resp.results_size(), 2);
}

TEST_F(HardeningTest, OneBadRowNeverTakesTheBatchDown) {
  v1::Venue nul = Valid("nul");
  nul.set_nom(std::string("Lieu\0caché", 11));
  v1::Venue huge = Valid("huge");
  huge.set_presentation_detail(std::string(5 << 20, 'x'));
  v1::Venue resume = Valid("resume");
  resume.set_presentation_resume(std::string(281, 'r'));
  v1::Venue items = Valid("items");
  items.add_referential_items("not an item");
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", {Valid("good1"), nul, huge, resume, items, Valid("good2")}, &b).ok());
  ASSERT_EQ(b.results_size(), 6);
  EXPECT_EQ(b.results(0).outcome(), v1::CREATED);
  EXPECT_EQ(b.results(5).outcome(), v1::CREATED);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"nom", "control"},
      {"presentation_detail", "maxLength"},
      {"presentation_resume", "maxLength"},
      {"referential_items[0]", "local"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& r = b.results(static_cast<int>(i) + 1);
    EXPECT_EQ(r.outcome(), v1::REJECTED) << expected[i].first;
    ASSERT_GE(r.violations_size(), 1);
    EXPECT_EQ(r.violations(0).field(), expected[i].first);
    EXPECT_EQ(r.violations(0).rule(), expected[i].second);
    EXPECT_LE(r.violations(0).value().size(), 1000u);  // quoted, never echoed whole
    EXPECT_TRUE(text::IsValidUtf8(r.violations(0).value()));
  }
  EXPECT_EQ(Count(), 2);
  // Long ids are stored whole: two that share their first 300 characters are two venues.
  const std::string stem(300, 'i');
  ASSERT_TRUE(Batch("siilab", {Valid(stem + "-a"), Valid(stem + "-b")}, &b).ok());
  EXPECT_EQ(b.results(0).outcome(), v1::CREATED);
  EXPECT_EQ(b.results(1).outcome(), v1::CREATED);
  EXPECT_EQ(b.results(1).source_id(), stem + "-b");
  EXPECT_EQ(Count(), 4);
  // Sources are ids, not free text.
  for (const std::string& source :
       std::vector<std::string>{"-abc", "passerelle", "Siilab", std::string(41, 'a'), ""}) {
    grpc::Status st = Batch(source, {Valid("x")}, &b);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << source;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("source"));
  }
}

// Point 16: a batch names a source that exists; nobody writes into a namespace by naming it.
TEST_F(HardeningTest, WritesNameARegisteredSource) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("nobody-registered");
  *req.add_venues() = Valid("x");
  v1::BatchUpsertVenuesResponse b;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->BatchUpsertVenues(&ctx, req, &b);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(st.error_message(), HasSubstr("CreateSource"));
    EXPECT_EQ(Reason(st), "SOURCE_NOT_FOUND");
    EXPECT_EQ(MissingPrecondition(st), "SOURCE sources/nobody-registered");
  }
  EXPECT_EQ(Stored(), 0);

  auto create = [&](const std::string& id, const std::string& display, v1::Source* out) {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest r;
    r.set_source_id(id);
    r.mutable_source()->set_display_name(display);
    return stub_->CreateSource(&ctx, r, out);
  };
  v1::Source source;
  ASSERT_TRUE(create("nobody-registered", "Plateforme partenaire", &source).ok());
  EXPECT_EQ(source.name(), "sources/nobody-registered");
  EXPECT_EQ(source.display_name(), "Plateforme partenaire");
  EXPECT_GT(source.create_time().seconds(), 0);
  EXPECT_EQ(create("nobody-registered", "", &source).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  for (const std::string& bad :
       {std::string("passerelle"), std::string("-abc"), std::string(41, 'a'), std::string("a b")}) {
    grpc::Status st = create(bad, "", &source);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("source_id")) << bad;
  }
  EXPECT_EQ(create("ok-name", std::string(201, 'x'), &source).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->BatchUpsertVenues(&ctx, req, &b);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(b.results(0).outcome(), v1::CREATED);
  }

  auto get = [&](const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetSourceRequest r;
    r.set_name(name);
    v1::Source out;
    return stub_->GetSource(&ctx, r, &out);
  };
  EXPECT_TRUE(get("sources/nobody-registered").ok());
  EXPECT_TRUE(get("sources/passerelle").ok());
  EXPECT_EQ(get("sources/unknown").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get("sources/Nobody-registered").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get("venues/x").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext ctx;
  v1::ListSourcesRequest list;
  list.set_page_size(1);
  v1::ListSourcesResponse page;
  ASSERT_TRUE(stub_->ListSources(&ctx, list, &page).ok());
  ASSERT_EQ(page.sources_size(), 1);
  EXPECT_FALSE(page.next_page_token().empty());
  grpc::ClientContext ctx2;
  list.set_page_token(page.next_page_token() + "x");
  EXPECT_EQ(stub_->ListSources(&ctx2, list, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx3;
  list.set_page_token("");
  list.set_page_size(-1);
  EXPECT_EQ(stub_->ListSources(&ctx3, list, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Invalid UTF-8 in a proto3 string cannot be sent by a well-behaved client library: a raw
// client sends the bytes itself.
TEST_F(HardeningTest, InvalidUtf8InARequestStringIsAnInvalidArgument) {
  v1::BatchUpsertVenuesRequest req;
  req.set_source("siilab");
  *req.add_venues() = Valid("raw", "Lieu @@@@");
  std::string bytes = req.SerializeAsString();
  bytes.replace(bytes.find("@@@@"), 4, "\xFF\xFE\xFD\xFC");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::GenericStub generic(
      grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/passerelle.venues.v1.VenueService/BatchUpsertVenues",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status st) { done.set_value(st); });
  grpc::Status st = done.get_future().get();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(Count(), 0);
}

TEST_F(HardeningTest, ImportKeepsGoodRowsAndAnswersInValidUtf8) {
  std::string file =
      "id,pivot,nom,commune,code_postal,adresse,date_maj,latitude,longitude,services,"
      "presentation_resume\r\n";
  auto row = [](const std::string& id, const std::string& nom, const std::string& services,
                const std::string& lat) {
    return csv::Line({id, "21590512800017", nom, "Roubaix", "59100", "1 rue", "2024-01-01", lat,
                      "3.17", services, "Résumé"});
  };
  file += row("ok1", "Centre social", "Aide aux démarches administratives", "50.69");
  file += row("bad-text", "Caf\xE9 num\xE9rique", "Aide aux démarches administratives", "50.69");
  file += row("bad-enum", "Lieu", "Aide aux d\xE9marches", "50.69");
  file += row("nul", std::string("Lieu\0", 5), "Aide aux démarches administratives", "50.69");
  file += row("nan", "Lieu", "Aide aux démarches administratives", "nan");
  file += row("hex", "Lieu", "Aide aux démarches administratives", "0x10");
  file += row("ok2", "Médiathèque", "Aide aux démarches administratives", "50,70");
  v1::ImportVenuesResponse resp;
  grpc::Status st = Import("siilab", file, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();  // the response decodes: it is valid UTF-8
  EXPECT_EQ(resp.rows(), 7);
  EXPECT_EQ(resp.created(), 2);
  std::map<std::string, std::string> rule_of;
  for (const auto& r : resp.rejected()) {
    ASSERT_GE(r.violations_size(), 1);
    rule_of[r.source_id()] = r.violations(0).rule();
  }
  EXPECT_EQ(rule_of, (std::map<std::string, std::string>{{"bad-text", "utf8"},
                                                         {"bad-enum", "utf8"},
                                                         {"nul", "control"},
                                                         {"nan", "number"},
                                                         {"hex", "number"}}));
}

TEST_F(HardeningTest, ExportsSurviveEveryStoredValueAndNeutraliseFormulas) {
  v1::Venue formula = Valid("formula", "=HYPERLINK(\"http://exemple.invalid\",\"clic\")");
  // 280 characters, most of them two bytes: a byte cut at 277 would split one.
  std::string resume;
  for (int i = 0; i < 280; ++i) resume += "é";
  formula.set_presentation_resume(resume);
  formula.set_complement_adresse("@SUM(1+1)");
  formula.set_structure_parente("\t=1+1");
  formula.set_telephone("+33320123456");
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", {formula}, &b).ok());
  ASSERT_EQ(b.results(0).outcome(), v1::CREATED) << b.DebugString();
  std::string csv_doc;
  ASSERT_TRUE(Export(v1::NATIONAL_CSV, &csv_doc).ok());
  EXPECT_THAT(csv_doc, HasSubstr("\"'=HYPERLINK("));
  EXPECT_THAT(csv_doc, HasSubstr("\"'@SUM(1+1)\""));
  EXPECT_THAT(csv_doc, HasSubstr("\"'=1+1\""));         // the tab went with the trimming
  EXPECT_THAT(csv_doc, HasSubstr("\"+33320123456\""));  // the standard's form, untouched
  for (auto format : {v1::DATA_INCLUSION_STRUCTURES, v1::DATA_INCLUSION_SERVICES, v1::GEOJSON}) {
    std::string doc;
    ASSERT_TRUE(Export(format, &doc).ok()) << format;
    EXPECT_TRUE(text::IsValidUtf8(doc)) << format;
  }
  // Our own export reads back unchanged: the apostrophes are not data.
  v1::ImportVenuesResponse again;
  ASSERT_TRUE(Import("siilab", csv_doc, &again).ok());
  EXPECT_EQ(again.unchanged(), 1) << again.DebugString();
  // An unknown format is refused, not defaulted.
  grpc::ClientContext ctx;
  v1::ExportVenuesRequest req;
  req.set_format(static_cast<v1::VenueExportFormat>(99));
  auto reader = stub_->ExportVenues(&ctx, req);
  v1::ExportVenuesChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(HardeningTest, RequestIdsAreBoundToTheirRequest) {
  auto create = [&](const v1::Venue& v, const std::string& id, v1::Venue* out) {
    grpc::ClientContext ctx;
    v1::CreateVenueRequest req;
    *req.mutable_venue() = v;
    req.set_request_id(id);
    return stub_->CreateVenue(&ctx, req, out);
  };
  v1::Venue first, retry, other;
  ASSERT_TRUE(create(Valid("one"), "req-1", &first).ok());
  ASSERT_TRUE(create(Valid("one"), "req-1", &retry).ok());  // a true retry: the first result
  EXPECT_EQ(retry.name(), first.name());
  grpc::Status st = create(Valid("two"), "req-1", &other);  // same id, other content
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st).fields, ::testing::Contains("request_id"));
  v1::Venue second;
  ASSERT_TRUE(create(Valid("two"), "req-2", &second).ok());
  // Reused on another venue's update: refused, and the target is left as it was.
  auto update = [&](const std::string& name, const std::string& tel, const std::string& id,
                    v1::Venue* out) {
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(name);
    req.mutable_venue()->set_telephone(tel);
    req.mutable_update_mask()->add_paths("telephone");
    req.set_request_id(id);
    return stub_->UpdateVenue(&ctx, req, out);
  };
  v1::Venue updated, misused;
  ASSERT_TRUE(update(first.name(), "03 20 00 00 01", "upd-1", &updated).ok());
  st = update(second.name(), "03 20 00 00 02", "upd-1", &misused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext get_ctx;
  v1::GetVenueRequest get;
  get.set_name(second.name());
  v1::Venue unchanged;
  ASSERT_TRUE(stub_->GetVenue(&get_ctx, get, &unchanged).ok());
  EXPECT_EQ(unchanged.telephone(), "");
  // A retried withdrawal returns its first result, though the etag it sent is now stale.
  auto withdraw = [&](v1::Venue* out) {
    grpc::ClientContext ctx;
    v1::WithdrawVenueRequest req;
    req.set_name(first.name());
    req.set_reason("fermé");
    req.set_etag(updated.etag());
    req.set_request_id("wd-1");
    return stub_->WithdrawVenue(&ctx, req, out);
  };
  v1::Venue w1, w2;
  ASSERT_TRUE(withdraw(&w1).ok());
  grpc::Status again = withdraw(&w2);
  ASSERT_TRUE(again.ok()) << again.error_message();
  EXPECT_EQ(w2.etag(), w1.etag());
  // An id is bounded text.
  st = create(Valid("three"), std::string(100000, 'k'), &other);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);  // no 100 KB echo
}

TEST_F(HardeningTest, ManyViolationsStillReachTheClientAsInvalidArgument) {
  v1::Venue v = Valid("many");
  for (int i = 0; i < 100; ++i) v.add_referential_items("bad " + std::to_string(i));
  grpc::ClientContext ctx;
  v1::CreateVenueRequest req;
  *req.mutable_venue() = v;
  v1::Venue out;
  grpc::Status st = stub_->CreateVenue(&ctx, req, &out);  // was RESOURCE_EXHAUSTED client-side
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(Violations(st).fields, ::testing::Contains("(more)"));
  v1::BatchUpsertVenuesResponse b;  // one row with everything wrong: a bounded report
  ASSERT_TRUE(Batch("siilab", {v}, &b).ok());
  EXPECT_LE(b.results(0).violations_size(), 31);
}

TEST_F(HardeningTest, ConcurrentTrueRetriesAllGetTheFirstResult) {
  std::vector<std::thread> threads;
  std::vector<grpc::Status> statuses(12);
  std::vector<v1::Venue> answers(12);
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      grpc::ClientContext ctx;
      v1::CreateVenueRequest req;
      *req.mutable_venue() = Valid("race");
      req.set_request_id("race-1");
      statuses[t] = stub_->CreateVenue(&ctx, req, &answers[t]);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 12; ++t) {
    EXPECT_TRUE(statuses[t].ok()) << statuses[t].error_message();
    EXPECT_EQ(answers[t].name(), answers[0].name());
  }
  EXPECT_EQ(Count(), 1);
}

TEST_F(HardeningTest, ListFiltersFollowTheGrammarAndTokensAreSealed) {
  std::vector<v1::Venue> venues;
  for (int i = 0; i < 5; ++i) venues.push_back(Valid("l" + std::to_string(i)));
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("siilab", venues, &b).ok());
  v1::ListVenuesResponse resp;
  ASSERT_TRUE(List("commune:\"Roubaix\"", &resp).ok());  // leaked SQL error 42809 before
  EXPECT_EQ(resp.venues_size(), 5);
  // A filter value is read as a write would store it: it finds what it names.
  ASSERT_TRUE(List("typologie = bib AND code_postal = \"59100\"", &resp).ok());
  EXPECT_EQ(resp.venues_size(), 5);
  // An enumeration as the API names it everywhere else (tester 25, M9), or as the standard does.
  for (const char* filter : {"services = SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES",
                             "services : \"Aide aux démarches administratives\""}) {
    ASSERT_TRUE(List(filter, &resp).ok()) << filter;
    EXPECT_EQ(resp.venues_size(), 5) << filter;
  }
  for (const auto& [filter, says] : std::vector<std::pair<std::string, std::string>>{
           {"commune = \"Roubaix\" OR commune = \"Lille\"",
            "[filter] position 21 : OR n'est pas pris en charge"},
           {"commune = \"Roubaix\" and state = active", "en majuscules : AND"},
           {"commune = ", "valeur manquante"},
           {"state=\"FOO\"", "[enum] position 1 : state vaut active ou withdrawn"},
           {"services = \"Cuisine\"",
            "[enum] position 1 : « Cuisine » n'est pas une valeur de services ; les valeurs : « "
            "Aide "
            "aux démarches administratives »"},
           {"services = SERVICE_CUISINE", "ou leurs noms dans l'API (SERVICE_"},
           {"commune = Roubaix AND code_postal = \"ABC\"",
            "[format] position 23 : « ABC » n'est pas une valeur de code_postal"},
           {"source = \"-x\"", "[pattern] position 1 : « -x » n'est pas un identifiant de source"},
           {"owner_organisation = CCAS",
            "[pattern] position 1 : « CCAS » n'est pas un identifiant d'organisation"},
           {"couleur = bleu", "[field] position 1 : pas de filtre sur « couleur »"},
           {std::string("nom = \"a\0b\"", 11), "à l'octet 8"},
           {"referential_items : \"bad\"",
            "[pattern] position 1 : referential_items vaut items/{item}"}}) {
    grpc::Status st = List(filter, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << filter;
    EXPECT_THAT(Violations(st).text, HasSubstr(says)) << filter;
    EXPECT_THAT(st.error_message() + Violations(st).text, Not(HasSubstr("SQL")));
  }
  // Page tokens: opaque, bound to the filter, refused when forged, cut or reused elsewhere.
  resp.Clear();
  ASSERT_TRUE(List("commune = Roubaix", &resp, "", 2).ok());
  const std::string token = resp.next_page_token();
  ASSERT_FALSE(token.empty());
  EXPECT_THAT(token, Not(HasSubstr("Roubaix")));
  std::set<std::string> seen;
  std::string next = token;
  for (const auto& v : resp.venues()) seen.insert(v.id());
  while (!next.empty()) {
    v1::ListVenuesResponse page;
    ASSERT_TRUE(List("commune = Roubaix", &page, next, 2).ok());
    for (const auto& v : page.venues()) EXPECT_TRUE(seen.insert(v.id()).second) << v.id();
    next = page.next_page_token();
  }
  EXPECT_EQ(seen.size(), 5u);
  for (const std::string& bad :
       {std::string("garbage"), std::string("NQ"), token.substr(0, token.size() - 3)}) {
    grpc::Status st = List("commune = Roubaix", &resp, bad, 2);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("page_token"));
  }
  EXPECT_EQ(List("", &resp, token, 2).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Above the maximum page size is capped, not refused (AIP-158).
  EXPECT_TRUE(List("", &resp, "", 5000).ok());
}

TEST_F(HardeningTest, EachResourceHasOneName) {
  v1::Venue created;
  ASSERT_TRUE(Create(Valid("one-name"), &created).ok());
  std::string upper = created.name();
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7, ::toupper);
  for (const std::string& alias :
       {upper, created.name() + " ", created.name() + "/", "venues//" + created.name().substr(7),
        "VENUES/" + created.name().substr(7), "venues/" + created.name().substr(7, 8)}) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(alias);
    v1::Venue out;
    grpc::Status st = stub_->GetVenue(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << alias;
    EXPECT_THAT(Violations(st).text, HasSubstr("venues/{venue}")) << alias;
  }
  // A parent is quoted, never echoed whole.
  grpc::ClientContext ctx;
  v1::ListAreasRequest req;
  req.set_parent("areaLayers/" + std::string(100000, 'x') + "\xff");
  v1::ListAreasResponse out;
  grpc::Status st = stub_->ListAreas(&ctx, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
}

TEST_F(HardeningTest, ValuesThatWouldMisleadReadersAreRefusedPerRow) {
  std::vector<v1::Venue> rows(6, Valid("x"));
  for (size_t k = 0; k < rows.size(); ++k) rows[k].set_id("mislead-" + std::to_string(k));
  rows[0].set_nom("\u200B\u200B");
  rows[1].set_adresse("2 rue \u202Eettom\u202C");
  rows[2].add_site_web("javascript:alert(1)");
  rows[3].set_date_maj("0000-01-01");
  rows[4].set_latitude(-0.0);
  rows[4].add_site_web("www.exemple.fr");
  v1::BatchUpsertVenuesResponse b;
  ASSERT_TRUE(Batch("careless", rows, &b).ok());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"nom", "required"}, {"adresse", "bidi"}, {"site_web", "url"}, {"date_maj", "range"}};
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(b.results(k).outcome(), v1::REJECTED) << k;
    ASSERT_GT(b.results(k).violations_size(), 0) << k;
    EXPECT_EQ(b.results(k).violations(0).field(), expected[k].first) << k;
    EXPECT_EQ(b.results(k).violations(0).rule(), expected[k].second) << k;
  }
  EXPECT_EQ(b.results(4).outcome(), v1::CREATED);
  EXPECT_EQ(b.results(5).outcome(), v1::CREATED);
  std::string csv;
  ASSERT_TRUE(Export(v1::NATIONAL_CSV, &csv).ok());
  EXPECT_THAT(csv, HasSubstr("https://www.exemple.fr"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr(",-0,")));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr("javascript:")));

  // A header alone is refused, not "0 rows imported".
  v1::ImportVenuesResponse imported;
  grpc::Status st =
      Import("careless", "id,pivot,nom,commune,code_postal,adresse,date_maj\n", &imported);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st).text, HasSubstr("aucune ligne"));

  // A timestamp's nanos are checked like its seconds.
  v1::SearchVenuesRequest search;
  search.mutable_open_at()->set_seconds(1'800'000'000);
  search.mutable_open_at()->set_nanos(-1);
  v1::SearchVenuesResponse found;
  st = Search(search, &found);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st).fields, ::testing::Contains("open_at"));
}

TEST_F(HardeningTest, AnImportReportStaysReadableAndWideFilesAreRefused) {
  // 30,000 refused rows and one good one: the report fits a default 4 MB client and says how
  // many rows it leaves out.
  std::string file = "id,pivot,nom,commune,code_postal,adresse,date_maj\r\n";
  for (int i = 0; i < 30000; ++i) {
    file += csv::Line({"old-" + std::to_string(i), "21590512800017", "Lieu ancien", "Roubaix",
                       "59100", "1 rue", "1989-01-01"});
  }
  file += csv::Line({"good", "21590512800017", "Lieu", "Roubaix", "59100", "1 rue", "2024-01-01"});
  v1::ImportVenuesResponse report;
  grpc::Status st = Import("siilab", file, &report, 1 << 20);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(report.created(), 1);
  EXPECT_EQ(report.rejected_total(), 30000);
  EXPECT_GT(report.rejected_size(), 0);
  EXPECT_LT(report.rejected_size(), 30000);
  EXPECT_LT(report.ByteSizeLong(), 4u << 20);

  // A header of thousands of columns is refused before it costs memory.
  const std::string wide =
      "id,pivot,nom,commune,code_postal,adresse,date_maj" + std::string(100000, ',') + "\nx\n";
  st = Import("siilab", wide, &report);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("1000"));
}

TEST_F(HardeningTest, AreaLayersRefuseWhatIsNotAPolygonLayer) {
  auto square = [](double lat) {
    return "[[[3.1," + std::to_string(lat) + "],[3.2," + std::to_string(lat) + "],[3.2," +
           std::to_string(lat + 0.1) + "],[3.1," + std::to_string(lat) + "]]]";
  };
  auto layer = [&](const std::string& code, const std::string& coords) {
    return "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
           "{\"code\":\"" +
           code + "\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":" + coords + "}}]}";
  };
  v1::AreaLayer out;
  for (const auto& [geojson, says] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "FeatureCollection"},
           {std::string(100000, '[') + std::string(100000, ']'), "[depth] imbriqué sur plus de"},
           {layer("a\\u0000b", square(50.6)), "[control]"},
           {layer("q1", square(95)), "latitude"},
           {layer("q1", "[[[3.1,50.6],[3.2,50.6]]]"), "[geometry] un anneau est un tableau fermé"},
           {"{\"type\":\"FeatureCollection\",\"features\":[1]}", "[type] un objet Feature attendu"},
           {"{not json", "[json] JSON invalide"}}) {
    grpc::Status st = AreaLayer(geojson, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << geojson.substr(0, 80);
    EXPECT_THAT(Violations(st).text, HasSubstr(says)) << geojson.substr(0, 80);
  }
  ASSERT_TRUE(AreaLayer(layer("q1", square(50.6)), &out).ok());
  EXPECT_EQ(out.area_count(), 1);
  // The title and the property names are text like any other: a NUL, a control or bidi
  // character, 3 MB are refused on their field, and the layer keeps its former title.
  for (const auto& [field, value, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"title", std::string("a\0b", 3), "[control]"},
           {"title",
            "a\x07"
            "b",
            "[control]"},
           {"title", "\u202Eab", "[bidi]"},
           {"title", std::string(3000000, 't'), "[length]"},
           {"code_property", std::string("co\0de", 6), "[control]"},
           {"name_property", std::string(1000, 'n'), "[length]"}}) {
    grpc::ClientContext ctx;
    v1::ImportAreaLayerRequest req;
    req.set_layer("qpv");
    req.set_geojson(layer("q1", square(50.6)));
    const auto* f = req.GetDescriptor()->FindFieldByName(field);
    req.GetReflection()->SetString(&req, f, value);
    grpc::Status st = stub_->ImportAreaLayer(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains(field)) << field;
    EXPECT_THAT(Violations(st).text, HasSubstr(says)) << field;
    EXPECT_LT(st.error_message().size() + st.error_details().size(), 4000u) << field;
  }
  grpc::ClientContext ctx;
  v1::GetAreaLayerRequest get;
  get.set_name("areaLayers/qpv");
  ASSERT_TRUE(stub_->GetAreaLayer(&ctx, get, &out).ok());
  EXPECT_EQ(out.title(), "qpv");
}

TEST_F(HardeningTest, AnImportStopsAtItsDeadline) {
  std::string file = "id,pivot,nom,commune,code_postal,adresse,date_maj\r\n";
  for (int i = 0; i < 20000; ++i) {
    file += csv::Line({"imp-" + std::to_string(i), "21590512800017", "Lieu", "Roubaix", "59100",
                       "1 rue", "2024-01-01"});
  }
  Register("siilab");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 1s);
  v1::ImportVenuesResponse resp;
  auto writer = stub_->ImportVenues(&ctx, &resp);
  v1::ImportVenuesChunk chunk;
  chunk.set_source("siilab");
  chunk.set_data(file);
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (st.ok()) {  // finished within its deadline: then everything is there
    EXPECT_EQ(resp.created(), 20000);
    EXPECT_EQ(Stored(), 20000);
    return;
  }
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Once the server has answered (its metrics count the call), nothing more is written.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto body = testing::HttpGet(binary_.metrics_port(), "/metrics");
        return body && body->find("code=\"DEADLINE_EXCEEDED\",method=\"ImportVenues\"") !=
                           std::string::npos;
      },
      60s));
  const int after_answer = Stored();
  EXPECT_LT(after_answer, 20000);
  std::this_thread::sleep_for(2s);  // a runaway import would keep adding rows meanwhile
  EXPECT_EQ(Stored(), after_answer);
}

TEST_F(HardeningTest, NothingIsCommittedAfterTheDeadline) {
  std::vector<v1::Venue> rows;
  for (int i = 0; i < 2000; ++i) rows.push_back(Valid("d" + std::to_string(i)));
  v1::BatchUpsertVenuesResponse b;
  grpc::Status st = Batch("siilab", rows, &b, 150ms);
  // Either it finished in time and everything is there, or the caller was told it failed and
  // nothing is: never "DEADLINE_EXCEEDED yet everything written".
  if (st.ok()) {
    EXPECT_EQ(Count(), 1000);  // the listing's largest page
  } else {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    // The server may still be working when the client gives up: wait until it has answered
    // (its metrics count the call), then nothing may have been written.
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          auto body = testing::HttpGet(binary_.metrics_port(), "/metrics");
          return body && body->find("method=\"BatchUpsertVenues\"") != std::string::npos &&
                 body->find(
                     "passerelle_grpc_server_handled_total{code=\"DEADLINE_EXCEEDED\","
                     "method=\"BatchUpsertVenues\"") != std::string::npos;
        },
        30s));
    EXPECT_EQ(Count(), 0);
  }
  // Too many rows in one call are refused as a whole.
  rows.push_back(Valid("one-too-many"));
  EXPECT_EQ(Batch("siilab", rows, &b).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace passerelle::venues
