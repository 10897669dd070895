// passerelle-indicators' CoverageService with the real passerelle-venues, PostgreSQL + PostGIS
// and NATS: the demo quartiers imported into venues, venues written there reach the coverage
// through events; needs imported from the demo file; gaps ranked and paged; exports read by
// ogrinfo; a second instance rebuilt from a snapshot gives the same figures; replayed events
// change nothing; poison events are parked and the next one applied; hostile requests refused.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"
#include "libs/testing/grpc_status.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/indicators/v1/indicators.grpc.pb.h"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/referential/v1/referential.grpc.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"

namespace passerelle::indicators {
namespace {

using testing::Violations;

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

venues::v1::Venue At(const std::string& id, double lat, double lon, std::vector<std::string> items,
                     const std::string& hours) {
  venues::v1::Venue v;
  v.set_id(id);
  v.set_pivot("21590512800017");
  v.set_nom("[EXEMPLE] Lieu " + id);
  v.set_commune("Roubaix");
  v.set_code_postal("59100");
  v.set_adresse("2 rue Pierre Motte");
  v.set_date_maj("2026-04-02");
  v.set_latitude(lat);
  v.set_longitude(lon);
  v.set_horaires(hours);
  v.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  v.add_frais_a_charge(venues::v1::FRAIS_GRATUIT);
  v.add_typologie("BIB");
  for (auto& i : items) v.add_referential_items(i);
  return v;
}

class CoverageTest : public ::testing::Test {
 protected:
  // The real referential instead of its event played by the test.
  virtual bool WithReferential() const { return false; }

  void SetUp() override {
    if (WithReferential()) {
      referential_ = std::make_unique<testing::ServiceBinary>(
          "services/referential/passerelle-referential",
          std::map<std::string, std::string>{
              {"PASSERELLE_NATS_PREFIX", prefix_},
              {"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"}});
      referential_process_ = referential_->Start();
    }
    venues_ = std::make_unique<testing::ServiceBinary>(
        "services/venues/passerelle-venues",
        std::map<std::string, std::string>{{"PASSERELLE_NATS_PREFIX", prefix_}});
    venues_process_ = venues_->Start();
    venues_stub_ = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(venues_->grpc_address(), grpc::InsecureChannelCredentials()));
    auto nats = events::NatsClient::Connect({.url = testing::NatsUrl()});
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
    // The referential, played by its event: items a, b and c are in force (venues and
    // indicators both hear it); the referential's own gRPC is absent (labels wait for it).
    if (!WithReferential()) PublishVersion();
    // The demo quartiers, imported into venues before indicators starts.
    {
      grpc::ClientContext ctx;
      venues::v1::ImportAreaLayerRequest req;
      req.set_layer("quartiers");
      req.set_title("Quartiers de Roubaix (exemple)");
      req.set_geojson(
          ReadFile(testing::SourceDir() + "/services/venues/seed/quartiers-roubaix.geojson"));
      req.set_code_property("code");
      req.set_name_property("name");
      venues::v1::AreaLayer out;
      grpc::Status st = venues_stub_->ImportAreaLayer(&ctx, req, &out);
      ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
      ASSERT_EQ(out.area_count(), 12);
    }
    indicators_ = std::make_unique<testing::ServiceBinary>(
        "services/indicators/passerelle-indicators", Env());
    process_ = indicators_->Start();
    stub_ = v1::CoverageService::NewStub(
        grpc::CreateChannel(indicators_->grpc_address(), grpc::InsecureChannelCredentials()));
    // Ready: the layer read from venues and the version heard.
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          v1::GetCoverageRequest req;
          req.set_name("areaLayers/quartiers/coverage");
          req.set_page_size(1);
          v1::Coverage out;
          return Coverage(req, &out).ok() && !out.referential_version().empty();
        },
        30s))
        << process_->Output();
  }
  void PublishVersion() {
    referential::v1::VersionPublished vp;
    vp.set_version("nomenclatures/roubaix-aptic/versions/2023-02-03");
    for (std::string item : {"a", "b", "c"}) {
      auto* m = vp.add_code_mapping();
      m->set_old_code(item);
      m->set_item("items/" + item);
      m->set_new_code(item);
    }
    Publish(events::MakeEvent("referential.version.published", "referential", vp.version(), vp,
                              absl::Now()));
  }
  void TearDown() override {
    if (process_) {
      process_->Signal(SIGTERM);
      EXPECT_EQ(process_->Wait(20s), 0) << process_->Output();
    }
    if (venues_process_) {
      venues_process_->Signal(SIGTERM);
      EXPECT_EQ(venues_process_->Wait(20s), 0);
    }
    if (referential_process_) {
      referential_process_->Signal(SIGTERM);
      EXPECT_EQ(referential_process_->Wait(20s), 0);
    }
  }
  std::map<std::string, std::string> Env() {
    return {{"PASSERELLE_NATS_PREFIX", prefix_},
            {"PASSERELLE_VENUES_ADDRESS", venues_->grpc_address()},
            {"PASSERELLE_REFERENTIAL_ADDRESS",
             referential_ ? referential_->grpc_address() : "127.0.0.1:9"},
            {"PASSERELLE_INDICATORS_POLL", "50ms"},
            {"PASSERELLE_INDICATORS_UPSTREAM_TIMEOUT", "5s"},
            {"PASSERELLE_PAGE_TOKEN_KEY", "coverage-itest"}};
  }
  events::Topology Topology() const {
    return {.subject_prefix = prefix_,
            .events_stream = absl::AsciiStrToUpper(prefix_) + "_EVENTS",
            .dead_letter_stream = absl::AsciiStrToUpper(prefix_) + "_DEADLETTER"};
  }
  void Publish(const events::v1::Event& e) {
    ASSERT_TRUE(events::EnsureStreams(*nats_, Topology()).ok());
    ASSERT_TRUE(
        nats_->Publish(Topology().EventSubject(e.type()), e.SerializeAsString(), e.id()).ok());
  }
  venues::v1::Venue Create(const venues::v1::Venue& v) {
    grpc::ClientContext ctx;
    venues::v1::CreateVenueRequest req;
    *req.mutable_venue() = v;
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->CreateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
    return out;
  }
  grpc::Status Coverage(v1::GetCoverageRequest req, v1::Coverage* out,
                        v1::CoverageService::Stub* stub = nullptr) {
    grpc::ClientContext ctx;
    return (stub ? stub : stub_.get())->GetCoverage(&ctx, req, out);
  }
  // Every page, as one message (the areas of each page appended).
  v1::Coverage Coverage(const std::vector<std::string>& offers = {}) {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    req.set_page_size(500);
    for (const auto& o : offers) req.add_offers(o);
    v1::Coverage all;
    for (int page = 0; page < 100; ++page) {
      v1::Coverage out;
      grpc::Status st = Coverage(req, &out);
      EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
      if (!st.ok()) break;
      auto areas = std::move(*out.mutable_areas());
      const std::string token = out.next_page_token();
      if (page == 0) {
        all = out;
        all.clear_next_page_token();
      }
      for (auto& a : areas) *all.add_areas() = std::move(a);
      if (token.empty()) break;
      req.set_page_token(token);
    }
    return all;
  }
  int VenuesCounted() {
    int n = 0;
    const v1::Coverage c = Coverage({"services/aide-aux-demarches-administratives"});
    for (const auto& a : c.areas()) {
      n += a.venue_count();
    }
    return n;
  }
  std::string Export(v1::ExportCoverageRequest req, grpc::Status* status,
                     std::string* content_type = nullptr) {
    grpc::ClientContext ctx;
    auto reader = stub_->ExportCoverage(&ctx, req);
    v1::ExportChunk chunk;
    std::string out;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first && content_type) *content_type = chunk.content_type();
      first = false;
      out += chunk.data();
    }
    *status = reader->Finish();
    return out;
  }
  int DeadLetters(int at_least, std::chrono::milliseconds wait) {
    natsSubscription* dead = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = Topology().dead_letter_stream.c_str();
    jsErrCode jerr = jsErrCode(0);
    if (js_PullSubscribe(&dead, nats_->jetstream(), Topology().AllDeadLetters().c_str(), nullptr,
                         nullptr, &so, &jerr) != NATS_OK) {
      return -1;
    }
    int n = 0;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (n < at_least && std::chrono::steady_clock::now() < deadline) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, dead, 10, 1000, &jerr) == NATS_OK) {
        n += list.Count;
        natsMsgList_Destroy(&list);
      }
    }
    natsSubscription_Destroy(dead);
    return n;
  }

  // The number after `<name>{<labels>} ` in the indicators' /metrics (-1 when absent).
  double Metric(const std::string& series) {
    return testing::ScrapeMetric(indicators_->metrics_port(), series).value_or(-1);
  }
  double Rejected(const std::string& reason) {
    return Metric("passerelle_indicators_coverage_events_rejected_total{reason=\"" + reason +
                  "\"}");
  }
  // Area names where the coverage counts a venue offering `offer`, each once per venue.
  std::vector<std::string> AreasOffering(const std::string& offer) {
    std::vector<std::string> out;
    const v1::Coverage c = Coverage({offer});  // a temporary's areas would dangle
    for (const auto& a : c.areas()) {
      for (int i = 0; i < a.offers(0).venue_count(); ++i) out.push_back(a.area());
    }
    return out;
  }
  void PublishVenue(const std::string& type, const venues::v1::Venue& v) {
    if (type == "venue.created") {
      venues::v1::VenueCreated p;
      *p.mutable_venue() = v;
      Publish(events::MakeEvent(type, "venues", v.name(), p, absl::Now()));
    } else {
      venues::v1::VenueUpdated p;
      *p.mutable_venue() = v;
      Publish(events::MakeEvent(type, "venues", v.name(), p, absl::Now()));
    }
  }

  std::string prefix_ = testing::UniqueName("cov");
  std::unique_ptr<events::NatsClient> nats_;
  std::unique_ptr<testing::ServiceBinary> referential_, venues_, indicators_;
  std::unique_ptr<testing::Process> referential_process_, venues_process_, process_;
  std::unique_ptr<venues::v1::VenueService::Stub> venues_stub_;
  std::unique_ptr<v1::CoverageService::Stub> stub_;
};

TEST_F(CoverageTest, VenuesNeedsGapsExportsAndARebuildThatAgrees) {
  // Alma (north-west), Centre, and one in Pile open on Saturday mornings.
  auto alma = Create(At("alma", 50.700, 3.150, {"items/a", "items/b"}, "Mo-Fr 09:00-12:00"));
  auto centre = Create(At("centre", 50.690, 3.170, {"items/a"}, "Mo-Fr 14:00-19:00"));
  auto pile = Create(At("pile", 50.685, 3.195, {"items/b"}, "Sa 09:00-12:00"));
  ASSERT_TRUE(testing::WaitFor([&] { return VenuesCounted() == 3; }, 30s)) << process_->Output();
  v1::Coverage c = Coverage();
  EXPECT_EQ(c.total_size(), 12);
  EXPECT_EQ(c.centre(), v1::POINT_ON_SURFACE);
  EXPECT_EQ(c.reach_meters(), 1500);
  EXPECT_EQ(c.referential_version(), "nomenclatures/roubaix-aptic/versions/2023-02-03");
  EXPECT_TRUE(c.has_as_of_time());
  ASSERT_EQ(c.areas_size(), 12);
  // Offers: the version's items, then the nine national services.
  ASSERT_EQ(c.areas(0).offers_size(), 3 + 9);
  EXPECT_EQ(c.areas(0).offers(0).offer(), "items/a");
  EXPECT_EQ(c.areas(0).offers(3).label(), "Aide aux démarches administratives");
  const std::string alma_area = "areaLayers/quartiers/areas/" + alma.areas(0).substr(10);
  for (const auto& a : c.areas()) {
    if (a.area() != alma_area) continue;
    EXPECT_EQ(a.venue_count(), 1);
    EXPECT_EQ(a.offers(0).venue_count(), 1);
    EXPECT_EQ(a.offers(0).nearest_distance_meters(), 0);
    EXPECT_EQ(a.offers(2).venue_count(), 0);  // items/c: nobody offers it
    EXPECT_FALSE(a.offers(2).has_nearest_distance_meters());
  }

  // Needs from the demo file (a layer's areas by code); then gaps ranked by need.
  {
    grpc::ClientContext ctx;
    v1::ImportNeedsRequest req;
    req.set_parent("areaLayers/quartiers");
    req.set_csv(ReadFile(testing::SourceDir() + "/services/indicators/seed/needs-quartiers.csv"));
    v1::ImportNeedsResponse out;
    grpc::Status st = stub_->ImportNeeds(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
    EXPECT_EQ(out.areas_imported(), 12);
    EXPECT_EQ(out.errors_size(), 0);
  }
  std::vector<v1::Gap> gaps;
  std::string token;
  int pages = 0, total = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListGapsRequest req;
    req.set_parent("areaLayers/quartiers");
    req.add_offers("items/a");
    req.add_offers("items/b");
    req.add_offers("items/c");
    req.set_page_size(5);
    req.set_page_token(token);
    v1::ListGapsResponse out;
    grpc::Status st = stub_->ListGaps(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
    gaps.insert(gaps.end(), out.gaps().begin(), out.gaps().end());
    total = out.total_size();
    token = out.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 20);
  EXPECT_EQ(static_cast<int>(gaps.size()), total);
  EXPECT_GT(pages, 2);
  ASSERT_GE(gaps.size(), 12u);  // items/c is missing everywhere
  for (size_t i = 1; i < gaps.size(); ++i) {
    EXPECT_GE(gaps[i - 1].need_score(), gaps[i].need_score());
  }
  // The demo file's greatest need: Cul-de-Four, 13,390 inhabitants × 140.7.
  EXPECT_EQ(gaps[0].area(), "areaLayers/quartiers/areas/CULDEFOUR");
  EXPECT_NEAR(gaps[0].need_score(), 13390 * 140.7 / 100, 1e-6);
  EXPECT_EQ(gaps[0].needs().fragility_components().at("acces_information"), 126.2);

  // Hours within reach: Pile's Saturday mornings reach the Pile quartier.
  v1::GetCoverageRequest one;
  one.set_name("areaLayers/quartiers/coverage");
  one.add_offers("items/b");
  one.set_reach_meters(3000);
  one.set_page_size(500);
  v1::Coverage b;
  ASSERT_TRUE(Coverage(one, &b).ok());
  const std::string pile_area = "areaLayers/quartiers/areas/" + pile.areas(0).substr(10);
  bool seen = false;
  for (const auto& a : b.areas()) {
    if (a.area() != pile_area) continue;
    seen = true;
    EXPECT_EQ(a.offers(0).open_within_reach().saturday_hours(), 3);
    EXPECT_EQ(a.offers(0).open_within_reach().evening_hours(), 0);  // Alma closes at noon
  }
  EXPECT_TRUE(seen);
  // Evening hours: Centre's Mo-Fr 14:00-19:00 gives its quartier 18:00-19:00 of each weekday
  // for items/a (Alma, the only other venue offering it, closes at noon).
  one.clear_offers();
  one.add_offers("items/a");
  one.set_reach_meters(0);
  ASSERT_TRUE(Coverage(one, &b).ok());
  const std::string centre_area = "areaLayers/quartiers/areas/" + centre.areas(0).substr(10);
  seen = false;
  for (const auto& a : b.areas()) {
    if (a.area() != centre_area) continue;
    seen = true;
    const v1::WeeklyHours& week = a.offers(0).open_within_reach();
    EXPECT_EQ(week.evening_hours(), 5);
    EXPECT_EQ(week.saturday_hours(), 0);
    for (int day = 0; day < 5; ++day) {
      EXPECT_THAT(week.hours(), ::testing::Contains(day * 24 + 18)) << day;
      EXPECT_THAT(week.hours(), ::testing::Not(::testing::Contains(day * 24 + 19))) << day;
    }
  }
  EXPECT_TRUE(seen);

  // Exports: GeoJSON that ogrinfo reads, and CSV.
  grpc::Status st;
  std::string type;
  v1::ExportCoverageRequest ex;
  ex.set_name("areaLayers/quartiers/coverage");
  const std::string geojson = Export(ex, &st, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "application/geo+json");
  auto doc = nlohmann::json::parse(geojson);
  ASSERT_EQ(doc["features"].size(), 12u);
  const std::string path = "/tmp/" + testing::UniqueName("coverage") + ".geojson";
  std::ofstream(path) << geojson;
  auto ogr = testing::Process::Start({"/usr/bin/ogrinfo", "-ro", "-so", "-al", path});
  ASSERT_EQ(ogr->Wait(60s), 0) << ogr->Output();
  EXPECT_THAT(ogr->Output(), HasSubstr("Feature Count: 12"));
  EXPECT_THAT(ogr->Output(), HasSubstr("Geometry: Multi Polygon"));
  EXPECT_THAT(ogr->Output(), HasSubstr("need_score: Real"));
  std::remove(path.c_str());
  ex.set_format(v1::CSV);
  ex.set_table(v1::GAPS);
  ex.add_offers("items/c");
  const std::string gaps_csv = Export(ex, &st, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "text/csv; charset=utf-8");
  EXPECT_EQ(std::count(gaps_csv.begin(), gaps_csv.end(), '\n'), 13);
  EXPECT_THAT(gaps_csv, HasSubstr("\r\n1,CULDEFOUR,Cul-de-Four,items/c,items/c,,13390,140.7,"));
  EXPECT_THAT(gaps_csv, HasSubstr("\r\n2,NOUVEAUROUBAIX,Nouveau Roubaix,items/c,"));
  // The coverage table: one line per area × offer, the figures GetCoverage gives.
  ex.clear_offers();
  ex.add_offers("items/a");
  ex.set_table(v1::COVERAGE);
  const std::string coverage_csv = Export(ex, &st, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "text/csv; charset=utf-8");
  EXPECT_EQ(std::count(coverage_csv.begin(), coverage_csv.end(), '\n'), 13);
  EXPECT_THAT(coverage_csv,
              HasSubstr("area_code,area_name,population,fragility_score,offer,offer_label,"
                        "venue_count,nearest_distance_meters,nearest_venue,"
                        "hours_open_within_reach,evening_hours,saturday_hours\r\n"));
  EXPECT_THAT(coverage_csv, HasSubstr(absl::StrCat("\r\n", alma.areas(0).substr(10), ",")));
  EXPECT_THAT(coverage_csv, HasSubstr(absl::StrCat(",items/a,items/a,1,0,", alma.name(), ",")));
  // The needs table: every area of the layer with the imported figures and components.
  ex.clear_offers();
  ex.set_table(v1::NEEDS);
  const std::string needs_csv = Export(ex, &st, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "text/csv; charset=utf-8");
  EXPECT_EQ(std::count(needs_csv.begin(), needs_csv.end(), '\n'), 13);
  EXPECT_THAT(needs_csv, ::testing::StartsWith(
                             "area_code,area_name,population,fragility_score,"
                             "acces_interfaces_numeriques,acces_information,"
                             "competences_administratives,competences_numeriques_scolaires\r\n"));
  EXPECT_THAT(needs_csv, HasSubstr("\r\nALMA,Alma,9610,117.6,88.4,145.8,146.6,89.5\r\n"));
  EXPECT_THAT(needs_csv,
              HasSubstr("\r\nCULDEFOUR,Cul-de-Four,13390,140.7,146.9,126.2,160.3,129.2\r\n"));
  ex.set_format(v1::EXPORT_FORMAT_UNSPECIFIED);  // CSV by default, as for gaps
  EXPECT_EQ(Export(ex, &st, &type), needs_csv);
  EXPECT_EQ(type, "text/csv; charset=utf-8");

  // An old event replayed (a new id, the venue as it was before): no figure moves.
  const v1::Coverage before = Coverage();
  {
    venues::v1::VenueUpdated p;
    *p.mutable_venue() = pile;
    p.mutable_venue()->set_latitude(50.70);
    p.mutable_venue()->set_longitude(3.15);
    p.mutable_venue()->mutable_update_time()->set_seconds(pile.update_time().seconds() - 60);
    Publish(
        events::MakeEvent("venue.updated", "venues", pile.name(), p, absl::Now() + absl::Hours(1)));
  }
  // Applied when as_of moved to that event's time.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Coverage().as_of_time().seconds() > before.as_of_time().seconds() + 1800; },
      30s));
  v1::Coverage after = Coverage();
  after.clear_as_of_time();
  v1::Coverage expected = before;
  expected.clear_as_of_time();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(after, expected));

  // Poison: bytes that are no event, an event whose payload is not what its type says. Both go
  // to the dead letters at their first delivery (a retry would take 36 s); the next real event
  // is applied without waiting for them.
  ASSERT_TRUE(nats_
                  ->Publish(Topology().EventSubject("venue.created"),
                            std::string("\xff\x00garbage", 9), "poison-1")
                  .ok());
  {
    events::v1::Event e = events::MakeEvent("venue.created", "venues", "venues/x",
                                            venues::v1::VenueCreated(), absl::Now());
    e.mutable_payload()->set_value(std::string("\xff\xff\xff", 3));
    Publish(e);
  }
  Create(At("epeule", 50.685, 3.150, {"items/c"}, ""));
  ASSERT_TRUE(testing::WaitFor([&] { return VenuesCounted() == 4; }, 20s)) << process_->Output();
  EXPECT_EQ(DeadLetters(2, 10s), 2);
  EXPECT_FALSE(process_->Wait(0ms).has_value()) << "the service died";

  // A withdrawn venue leaves every figure.
  {
    grpc::ClientContext ctx;
    venues::v1::WithdrawVenueRequest req;
    req.set_name(pile.name());
    req.set_reason("fermé");
    venues::v1::Venue out;
    ASSERT_TRUE(venues_stub_->WithdrawVenue(&ctx, req, &out).ok());
  }
  ASSERT_TRUE(testing::WaitFor([&] { return VenuesCounted() == 3; }, 20s));

  // Computations are timed for operators.
  auto metrics = testing::HttpGet(indicators_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_THAT(*metrics, HasSubstr("passerelle_indicators_coverage_compute_seconds_count"));

  // A second instance on an empty schema rebuilds from scratch (venues' snapshot, then the
  // whole stream replayed through its own durable consumer): the same figures.
  testing::ServiceBinary second("services/indicators/passerelle-indicators", Env());
  auto second_process = second.Start();
  auto second_stub = v1::CoverageService::NewStub(
      grpc::CreateChannel(second.grpc_address(), grpc::InsecureChannelCredentials()));
  v1::Coverage kept = Coverage();
  kept.clear_as_of_time();
  v1::GetCoverageRequest all;
  all.set_name("areaLayers/quartiers/coverage");
  all.set_page_size(500);
  v1::Coverage rebuilt;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        rebuilt.Clear();
        if (!Coverage(all, &rebuilt, second_stub.get()).ok()) return false;
        rebuilt.clear_as_of_time();
        // Needs are not the venues' to give: imported again below.
        for (auto& a : *kept.mutable_areas()) a.clear_needs();
        return google::protobuf::util::MessageDifferencer::Equals(rebuilt, kept);
      },
      30s))
      << rebuilt.ShortDebugString().substr(0, 2000) << "\n---\n"
      << kept.ShortDebugString().substr(0, 2000) << second_process->Output();
  second_process->Signal(SIGTERM);
  EXPECT_EQ(second_process->Wait(20s), 0) << second_process->Output();
}

TEST_F(CoverageTest, ForgedVenueEventsAreRefusedAndRealOnesStillApply) {
  auto alma = Create(At("alma", 50.700, 3.150, {"items/a"}, "Mo-Fr 09:00-12:00"));
  const std::string alma_area = "areaLayers/quartiers/areas/" + alma.areas(0).substr(10);
  ASSERT_TRUE(testing::WaitFor([&] { return AreasOffering("items/a").size() == 1; }, 30s))
      << process_->Output();
  EXPECT_EQ(Rejected("unknown_venue"), 0);

  // Published straight on NATS, as anyone on the network could: a venue venues does not know
  // (created, then updated); the real venue with 20,000 unknown items; the real venue with an
  // update_time in 2099, moved to Pile. None of them may change the coverage.
  venues::v1::Venue ghost = alma;
  ghost.set_name("venues/fantome-inconnu");
  PublishVenue("venue.created", ghost);
  ghost.mutable_update_time()->set_seconds(alma.update_time().seconds() + 10);
  PublishVenue("venue.updated", ghost);
  venues::v1::Venue stuffed = alma;
  stuffed.mutable_update_time()->set_seconds(alma.update_time().seconds() + 1);
  for (int i = 0; i < 20000; ++i) stuffed.add_referential_items(absl::StrCat("items/z", i));
  PublishVenue("venue.updated", stuffed);
  venues::v1::Venue frozen = alma;
  frozen.mutable_update_time()->set_seconds(4102444800);  // 2100-01-01
  frozen.set_latitude(50.685);
  frozen.set_longitude(3.195);
  frozen.clear_areas();
  PublishVenue("venue.updated", frozen);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Rejected("unknown_venue") == 2 && Rejected("too_many_offers") == 1 &&
               Rejected("future_update_time") == 1;
      },
      30s))
      << process_->Output();
  EXPECT_EQ(AreasOffering("items/a"), std::vector<std::string>{alma_area});
  EXPECT_EQ(VenuesCounted(), 1);

  // The real venue tagged with an unknown item besides items/b (an event venues would not
  // write): items/b counts, the unknown item is dropped and counted.
  venues::v1::Venue tagged = alma;
  // A microsecond after the venue's own time: older than the real update below.
  const int64_t at = alma.update_time().seconds() * 1000000000 + alma.update_time().nanos() + 1000;
  tagged.mutable_update_time()->set_seconds(at / 1000000000);
  tagged.mutable_update_time()->set_nanos(static_cast<int32_t>(at % 1000000000));
  tagged.clear_referential_items();
  tagged.add_referential_items("items/b");
  tagged.add_referential_items("items/inconnu");
  PublishVenue("venue.updated", tagged);
  ASSERT_TRUE(testing::WaitFor([&] { return AreasOffering("items/b").size() == 1; }, 30s));
  EXPECT_EQ(Rejected("unknown_offers"), 1);

  // A real move, written in venues, is applied: the 2099 event froze nothing.
  venues::v1::Venue moved;
  {
    grpc::ClientContext ctx;
    venues::v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(alma.name());
    req.mutable_venue()->set_latitude(50.685);
    req.mutable_venue()->set_longitude(3.195);
    req.mutable_venue()->add_referential_items("items/a");
    req.mutable_update_mask()->add_paths("latitude");
    req.mutable_update_mask()->add_paths("longitude");
    req.mutable_update_mask()->add_paths("referential_items");
    grpc::Status st = venues_stub_->UpdateVenue(&ctx, req, &moved);
    ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  }
  ASSERT_FALSE(moved.areas().empty());
  const std::string pile_area = "areaLayers/quartiers/areas/" + moved.areas(0).substr(10);
  ASSERT_NE(pile_area, alma_area);
  EXPECT_TRUE(testing::WaitFor(
      [&] { return AreasOffering("items/a") == std::vector<std::string>{pile_area}; }, 30s))
      << process_->Output();
  EXPECT_EQ(VenuesCounted(), 1);
  EXPECT_FALSE(process_->Wait(0ms).has_value()) << "the service died";
}

// C1/M2 through the real consumer: the same event (same envelope id) delivered twice by
// JetStream, stored twice in the stream under two Nats-Msg-Ids so that the stream's duplicate
// window does not drop the copy. The inbox takes the second as a duplicate and no figure moves.
TEST_F(CoverageTest, TheSameEventDeliveredTwiceThroughJetStreamChangesNoFigure) {
  auto pile = Create(At("pile", 50.685, 3.195, {"items/b"}, "Sa 09:00-12:00"));
  ASSERT_TRUE(testing::WaitFor([&] { return VenuesCounted() == 1; }, 30s)) << process_->Output();
  // The consumer's deliveries by outcome (its durable is named after the test's schema).
  auto consumed = [&](const std::string& outcome) {
    auto metrics = testing::HttpGet(indicators_->metrics_port(), "/metrics");
    double sum = 0;
    if (!metrics.has_value()) return -1.0;
    std::istringstream lines(*metrics);
    const std::string want = "outcome=\"" + outcome + "\"";
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("passerelle_events_consumed_total{", 0) == 0 &&
          line.find("consumer=\"indicators-coverage") != std::string::npos &&
          line.find(want) != std::string::npos) {
        sum += std::atof(line.c_str() + line.rfind(' ') + 1);
      }
    }
    return sum;
  };
  const double duplicates_before = consumed("duplicate");
  ASSERT_GE(duplicates_before, 0);
  // Pile stops offering items/b and offers items/a: figures that move once.
  venues::v1::VenueUpdated p;
  *p.mutable_venue() = pile;
  p.mutable_venue()->clear_referential_items();
  p.mutable_venue()->add_referential_items("items/a");
  p.mutable_venue()->mutable_update_time()->set_seconds(pile.update_time().seconds() + 60);
  const events::v1::Event moved =
      events::MakeEvent("venue.updated", "venues", pile.name(), p, absl::Now() + absl::Hours(2));
  const std::vector<std::string> areas_before = AreasOffering("items/b");
  ASSERT_TRUE(events::EnsureStreams(*nats_, Topology()).ok());
  const std::string subject = Topology().EventSubject(moved.type());
  ASSERT_TRUE(nats_->Publish(subject, moved.SerializeAsString(), moved.id() + "-first").ok());
  ASSERT_FALSE(areas_before.empty());
  ASSERT_TRUE(testing::WaitFor([&] { return AreasOffering("items/b").empty(); }, 30s));
  EXPECT_EQ(AreasOffering("items/a"), areas_before);
  const v1::Coverage once = Coverage();
  // The same event again, as a redelivery would bring it.
  bool dropped_by_stream = true;
  ASSERT_TRUE(nats_
                  ->Publish(subject, moved.SerializeAsString(), moved.id() + "-second", {},
                            &dropped_by_stream)
                  .ok());
  EXPECT_FALSE(dropped_by_stream);  // the stream holds two copies
  ASSERT_TRUE(testing::WaitFor([&] { return consumed("duplicate") == duplicates_before + 1; }, 30s))
      << consumed("duplicate");
  const v1::Coverage twice = Coverage();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(once, twice))
      << once.ShortDebugString() << "\n"
      << twice.ShortDebugString();
}

TEST_F(CoverageTest, HostileRequestsAreRefusedPrecisely) {
  auto code = [](const grpc::Status& s) { return s.error_code(); };
  // Names: wrong pattern, unknown layer, invalid UTF-8, NUL, huge.
  for (const std::string& name :
       {std::string("quartiers/coverage"), std::string("areaLayers/quartiers"),
        std::string("areaLayers/a b/coverage"), std::string("areaLayers/\0x/coverage", 22),
        std::string("areaLayers/\xff\xfe/coverage"),
        "areaLayers/" + std::string(100000, 'x') + "/coverage"}) {
    v1::GetCoverageRequest req;
    req.set_name(name);
    v1::Coverage out;
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT) << name.size();
  }
  {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/inconnue/coverage");
    v1::Coverage out;
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::NOT_FOUND);
  }
  // A layer no layer can be named (upper case, too long) is a malformed name, not an unknown
  // one: the same rule as the venues service's.
  for (const std::string& layer : {std::string("QUARTIERS"), std::string(41, 'q')}) {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/" + layer + "/coverage");
    v1::Coverage out;
    grpc::Status st = Coverage(req, &out);
    EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT) << layer;
    EXPECT_THAT(Violations(st), HasSubstr("[pattern] areaLayers/{layer}/coverage, la couche en 1"))
        << layer;
    grpc::ClientContext ctx;
    v1::ImportNeedsRequest needs;
    needs.set_parent("areaLayers/" + layer);
    needs.set_csv("code,besoin\nALMA,1\n");
    v1::ImportNeedsResponse imported;
    st = stub_->ImportNeeds(&ctx, needs, &imported);
    EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT) << layer;
    EXPECT_THAT(Violations(st), HasSubstr("[pattern] areaLayers/{layer}, la couche en 1")) << layer;
  }
  // Numbers: NaN, infinities, negative, past the bound; negative page sizes.
  for (double reach :
       {std::nan(""), std::numeric_limits<double>::infinity(), -1.0, 0.5, 100001.0, 1e308}) {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    req.set_reach_meters(reach);
    v1::Coverage out;
    grpc::Status st = Coverage(req, &out);
    EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT) << reach;
    EXPECT_THAT(Violations(st), HasSubstr("reach_meters")) << reach;
  }
  {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    req.set_page_size(-1);
    v1::Coverage out;
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Offers: unknown, duplicated, too many.
  {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    req.add_offers("items/inconnu");
    req.add_offers("services/aide-aux-demarches-administratives");
    req.add_offers("services/aide-aux-demarches-administratives");
    v1::Coverage out;
    grpc::Status st = Coverage(req, &out);
    EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(Violations(st), HasSubstr("offers[0]"));
    EXPECT_THAT(Violations(st), HasSubstr("offers[2]"));
    for (int i = 0; i < 201; ++i) req.add_offers("items/" + std::to_string(i));
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Page tokens: forged, truncated, replayed with other parameters.
  {
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    req.set_page_size(5);
    v1::Coverage first;
    ASSERT_TRUE(Coverage(req, &first).ok());
    ASSERT_FALSE(first.next_page_token().empty());
    v1::Coverage out;
    req.set_page_token(first.next_page_token());
    ASSERT_TRUE(Coverage(req, &out).ok());
    EXPECT_EQ(out.areas(0).area() > first.areas(4).area(), true);
    req.set_page_token(first.next_page_token().substr(0, 10));
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
    req.set_page_token("Zm9yZ2Vk");
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
    req.set_page_token(first.next_page_token());
    req.set_reach_meters(2000);
    EXPECT_EQ(code(Coverage(req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
    grpc::ClientContext ctx;
    v1::ListGapsRequest gaps;
    gaps.set_parent("areaLayers/quartiers");
    gaps.set_page_token(first.next_page_token());  // another list's token
    v1::ListGapsResponse gaps_out;
    EXPECT_EQ(code(stub_->ListGaps(&ctx, gaps, &gaps_out)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ListGapsRequest req;
    req.set_parent("areaLayers/inconnue");
    v1::ListGapsResponse out;
    EXPECT_EQ(code(stub_->ListGaps(&ctx, req, &out)), grpc::StatusCode::NOT_FOUND);
    grpc::ClientContext ctx2;
    req.set_parent("areaLayers/quartiers");
    req.set_page_size(-5);
    EXPECT_EQ(code(stub_->ListGaps(&ctx2, req, &out)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Exports: unknown enum values, GeoJSON gaps, a bad name: an error and no chunk.
  for (int format : {0, 1, 2, 99}) {
    for (int table : {0, 1, 2, 3, 77}) {
      v1::ExportCoverageRequest req;
      req.set_name("areaLayers/quartiers/coverage");
      req.set_format(static_cast<v1::ExportFormat>(format));
      req.set_table(static_cast<v1::CoverageTable>(table));
      grpc::Status st;
      const std::string doc = Export(req, &st);
      const bool valid = format <= 2 && table <= 3 && !(table >= 2 && format == 1);
      EXPECT_EQ(st.ok(), valid) << format << " " << table << st.error_message();
      if (!valid) {
        EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT);
        EXPECT_TRUE(doc.empty());
      }
    }
  }
  {
    v1::ExportCoverageRequest req;
    req.set_name("areaLayers/inconnue/coverage");
    grpc::Status st;
    Export(req, &st);
    EXPECT_EQ(code(st), grpc::StatusCode::NOT_FOUND);
  }
  // Needs: a file that is no needs file, row errors, an unknown layer, a huge file.
  auto import = [&](const std::string& parent, const std::string& csv, v1::ImportNeedsResponse* out,
                    bool validate_only = false) {
    grpc::ClientContext ctx;
    v1::ImportNeedsRequest req;
    req.set_parent(parent);
    req.set_csv(csv);
    req.set_validate_only(validate_only);
    return stub_->ImportNeeds(&ctx, req, out);
  };
  v1::ImportNeedsResponse out;
  grpc::Status st = import("areaLayers/quartiers", "<html>non</html>", &out);
  EXPECT_EQ(code(st), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("csv"));
  EXPECT_EQ(code(import("areaLayers/inconnue", "code,population,score_global\n", &out)),
            grpc::StatusCode::NOT_FOUND);
  // Past 16 MiB gRPC itself refuses the message; just under, the file is read and refused.
  EXPECT_EQ(code(import("areaLayers/quartiers", std::string(17 << 20, 'x'), &out)),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code(import("areaLayers/quartiers", std::string(15 << 20, 'x'), &out)),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(import("areaLayers/quartiers",
                     "code;population;score_global\nALMA;7200;131,5\nLUNE;1;1\nALMA;1;1\n"
                     "PILE;NaN;1\nCENTRE;-3;1\nEPEULE;12;1e3\n",
                     &out, /*validate_only=*/true)
                  .ok());
  EXPECT_EQ(out.areas_imported(), 1);
  ASSERT_EQ(out.errors_size(), 5);
  EXPECT_EQ(out.errors(0).row(), 3);
  EXPECT_EQ(out.errors(0).rule(), "exists");
  EXPECT_EQ(out.errors(1).rule(), "unique");
  EXPECT_EQ(out.errors(2).field(), "population");
  EXPECT_EQ(out.errors(2).rule(), "number");
  EXPECT_EQ(out.errors(3).rule(), "range");
  EXPECT_EQ(out.errors(4).field(), "score_global");
  // score_global is optional: without it, a row's need is its population alone.
  ASSERT_TRUE(import("areaLayers/quartiers", "code,population\nALMA,7200\n", &out,
                     /*validate_only=*/true)
                  .ok());
  EXPECT_EQ(out.areas_imported(), 1);
  EXPECT_EQ(out.errors_size(), 0);
  // validate_only stored nothing.
  const v1::Coverage stored = Coverage({"items/a"});
  for (const auto& a : stored.areas()) EXPECT_FALSE(a.has_needs()) << a.area();
  EXPECT_FALSE(process_->Wait(0ms).has_value()) << "the service died";
}

class WithReferentialTest : public CoverageTest {
 protected:
  bool WithReferential() const override { return true; }
};

TEST_F(WithReferentialTest, OffersAreThePublishedVersionsItemsWithTheirLabels) {
  // What the referential says is in force, read the way any client reads it.
  auto referential = referential::v1::ReferentialService::NewStub(
      grpc::CreateChannel(referential_->grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  referential::v1::GetVersionRequest req;
  req.set_name("nomenclatures/roubaix-aptic/versions/-");
  referential::v1::Version version;
  ASSERT_TRUE(referential->GetVersion(&ctx, req, &version).ok());
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& l : version.levels()) {
    for (const auto& c : l.categories()) {
      for (const auto& i : c.items()) {
        if (!i.retired()) items.emplace_back(i.name(), i.label());
      }
    }
  }
  ASSERT_GT(items.size(), 100u);
  // The coverage's offers: those items in the tree's order with their labels (fetched from the
  // referential's gRPC after its event), then the national services.
  v1::Coverage c;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        v1::GetCoverageRequest get;
        get.set_name("areaLayers/quartiers/coverage");
        get.set_page_size(1);
        c.Clear();
        return Coverage(get, &c).ok() && c.areas_size() == 1 &&
               c.areas(0).offers_size() == static_cast<int>(items.size()) + 9 &&
               c.areas(0).offers(0).label() == items[0].second;
      },
      30s))
      << c.ShortDebugString().substr(0, 1000) << process_->Output();
  EXPECT_EQ(c.referential_version(), version.name());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(c.areas(0).offers(static_cast<int>(i)).offer(), items[i].first);
    EXPECT_EQ(c.areas(0).offers(static_cast<int>(i)).label(), items[i].second);
  }
  // A venue offering a real item counts for it.
  auto v = Create(At("mediatheque", 50.690, 3.170, {items[5].first}, "Sa 10:00-18:00"));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const v1::Coverage one = Coverage({items[5].first});
        int n = 0;
        for (const auto& a : one.areas()) n += a.offers(0).venue_count();
        return n == 1;
      },
      30s));
}

}  // namespace
}  // namespace passerelle::indicators
