// passerelle-indicators' ReportService with the real passerelle-venues and
// passerelle-referential, PostgreSQL and NATS: reports submitted, read, listed, corrected and
// withdrawn with their events; a report that does not add up refused with the cell; items
// checked against the published referential; request ids; who reads what; breakdowns and their
// CSV under small-count protection; equality assessments and who reads their scores; hostile
// input on every method.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <cmath>
#include <map>
#include <set>
#include <thread>

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
#include "passerelle/indicators/v1/events.pb.h"
#include "passerelle/indicators/v1/indicators.grpc.pb.h"
#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/sample_venue.hpp"

namespace passerelle::indicators {
namespace {

using testing::Reason;
using testing::Violations;

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The violations of an INVALID_ARGUMENT as "field: description" lines, and the ErrorInfo reason.
// An item of the seeded referential (code 77) and its plain-language label.
constexpr char kItem[] = "items/it-77";
constexpr char kItemLabel[] = "Apprendre les gestes de l'écran tactile";

v1::SexSplit Split(int f, int h, int a = 0, int n = 0) {
  v1::SexSplit s;
  s.set_femme(f);
  s.set_homme(h);
  s.set_autre(a);
  s.set_non_communique(n);
  return s;
}

// A report that adds up: `women` and `men` reached, all in one age band, all first-timers,
// all completed, all satisfied.
v1::ActivityReport Report(const std::string& organisation, const std::vector<std::string>& venues,
                          int women, int men, const std::string& start = "2026-09-01") {
  v1::ActivityReport r;
  r.set_organisation(organisation);
  r.set_action("Ateliers « premiers pas sur smartphone »");
  r.set_period_start(start);
  r.set_period_end("2026-11-30");
  for (const auto& v : venues) r.add_venues(v);
  r.add_items(kItem);
  r.set_sessions(12);
  *r.mutable_beneficiaries_total() = Split(women, men);
  auto* band = r.add_beneficiaries_by_age();
  band->set_age_band("26_44");
  *band->mutable_count() = Split(women, men);
  *r.mutable_first_time() = Split(women, men);
  *r.mutable_returning() = Split(0, 0);
  *r.mutable_qpv_residents() = Split(women, men);
  *r.mutable_other_residents() = Split(0, 0);
  *r.mutable_completed() = Split(women, men);
  *r.mutable_in_progress() = Split(0, 0);
  *r.mutable_satisfaction_respondents() = Split(women, men);
  *r.mutable_satisfied() = Split(women, men);
  return r;
}

// A key of the gateway: id, scopes and organisation as metadata.
struct Key {
  std::string id;
  std::string scopes;
  std::string organisation;
  void Apply(grpc::ClientContext* ctx) const {
    if (id.empty()) return;
    ctx->AddMetadata("x-passerelle-key-id", id);
    ctx->AddMetadata("x-passerelle-scopes", scopes);
    if (!organisation.empty()) ctx->AddMetadata("x-passerelle-key-organisation", organisation);
  }
};
const Key kInternal{};
const Key kEpeule{"key-epeule", "organisation:write", "centre-social-epeule"};
const Key kMediatheque{"key-media", "organisation:write", "mediatheque-roubaix"};
const Key kPartner{"key-partner", "partner", ""};
const Key kAdmin{"key-admin", "admin", ""};

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    referential_ = std::make_unique<testing::ServiceBinary>(
        "services/referential/passerelle-referential",
        std::map<std::string, std::string>{
            {"PASSERELLE_NATS_PREFIX", prefix_},
            {"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"}});
    referential_process_ = referential_->Start();
    venues_ = std::make_unique<testing::ServiceBinary>(
        "services/venues/passerelle-venues",
        std::map<std::string, std::string>{{"PASSERELLE_NATS_PREFIX", prefix_}});
    venues_process_ = venues_->Start();
    auto venues_channel =
        grpc::CreateChannel(venues_->grpc_address(), grpc::InsecureChannelCredentials());
    venues_stub_ = venues::v1::VenueService::NewStub(venues_channel);
    organisations_ = venues::v1::OrganisationService::NewStub(venues_channel);
    indicators_ = std::make_unique<testing::ServiceBinary>(
        "services/indicators/passerelle-indicators",
        std::map<std::string, std::string>{
            {"PASSERELLE_NATS_PREFIX", prefix_},
            {"PASSERELLE_VENUES_ADDRESS", venues_->grpc_address()},
            {"PASSERELLE_REFERENTIAL_ADDRESS", referential_->grpc_address()},
            {"PASSERELLE_PAGE_TOKEN_KEY", "indicators-itest"},
            {"PASSERELLE_INDICATORS_MIN_COUNT", "5"},
            // Rows of one report, so that these tests read the protection's pattern; pooling
            // (3 by default) is tested in indicators_reports_test.
            {"PASSERELLE_INDICATORS_MIN_REPORTS", "1"},
            // Every revision at once (release dates: indicators_reports_pgtest).
            {"PASSERELLE_INDICATORS_RELEASE_INTERVAL", "0s"}});
    process_ = indicators_->Start();
    stub_ = v1::ReportService::NewStub(
        grpc::CreateChannel(indicators_->grpc_address(), grpc::InsecureChannelCredentials()));
    CreateOrganisation("centre-social-epeule");
    CreateOrganisation("mediatheque-roubaix");
    ImportQuartiers();
    epeule_venue_ = CreateVenue("lieu-epeule", 50.695, 3.165);
    centre_venue_ = CreateVenue("lieu-centre", 50.695, 3.175);
  }
  void TearDown() override {
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(20s), 0) << process_->Output();
    venues_process_->Signal(SIGTERM);
    EXPECT_EQ(venues_process_->Wait(20s), 0);
    if (referential_process_) {
      referential_process_->Signal(SIGTERM);
      EXPECT_EQ(referential_process_->Wait(20s), 0);
    }
  }

  void CreateOrganisation(const std::string& id) {
    grpc::ClientContext ctx;
    venues::v1::CreateOrganisationRequest req;
    req.set_organisation_id(id);
    req.mutable_organisation()->set_display_name("[EXEMPLE] " + id);
    venues::v1::Organisation out;
    grpc::Status st = organisations_->CreateOrganisation(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // Two quartiers side by side: epeule (3.16–3.17) and centre (3.17–3.18).
  void ImportQuartiers() {
    grpc::ClientContext ctx;
    venues::v1::ImportAreaLayerRequest req;
    req.set_layer("quartiers");
    req.set_title("Quartiers de Roubaix (exemple)");
    req.set_geojson(R"({"type": "FeatureCollection", "features": [
      {"type": "Feature", "properties": {"code": "epeule", "name": "Épeule"},
       "geometry": {"type": "Polygon", "coordinates": [[[3.16, 50.69], [3.17, 50.69],
                    [3.17, 50.70], [3.16, 50.70], [3.16, 50.69]]]}},
      {"type": "Feature", "properties": {"code": "centre", "name": "Centre"},
       "geometry": {"type": "Polygon", "coordinates": [[[3.17, 50.69], [3.18, 50.69],
                    [3.18, 50.70], [3.17, 50.70], [3.17, 50.69]]]}}]})");
    venues::v1::AreaLayer layer;
    grpc::Status st = venues_stub_->ImportAreaLayer(&ctx, req, &layer);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  std::string CreateVenue(const std::string& id, double lat, double lon) {
    grpc::ClientContext ctx;
    venues::v1::CreateVenueRequest req;
    *req.mutable_venue() = venues::itest::Valid(id, "Lieu « " + id + " »");
    req.mutable_venue()->set_latitude(lat);
    req.mutable_venue()->set_longitude(lon);
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->CreateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out.name();
  }

  grpc::Status Submit(const v1::ActivityReport& r, v1::ActivityReport* out,
                      const Key& key = kInternal, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::SubmitActivityReportRequest req;
    *req.mutable_activity_report() = r;
    req.set_request_id(request_id);
    return stub_->SubmitActivityReport(&ctx, req, out);
  }
  v1::ActivityReport MustSubmit(const v1::ActivityReport& r) {
    v1::ActivityReport out;
    grpc::Status st = Submit(r, &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << "\n" << Violations(st);
    return out;
  }
  grpc::Status Get(const std::string& name, int revision, v1::ActivityReport* out,
                   const Key& key = kInternal) {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::GetActivityReportRequest req;
    req.set_name(name);
    req.set_revision(revision);
    return stub_->GetActivityReport(&ctx, req, out);
  }
  grpc::Status Correct(const v1::ActivityReport& r, v1::ActivityReport* out,
                       const Key& key = kInternal, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::CorrectActivityReportRequest req;
    *req.mutable_activity_report() = r;
    req.set_request_id(request_id);
    return stub_->CorrectActivityReport(&ctx, req, out);
  }
  grpc::Status Withdraw(const std::string& name, const std::string& etag, v1::ActivityReport* out,
                        const Key& key = kInternal, const std::string& reason = "doublon") {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::WithdrawActivityReportRequest req;
    req.set_name(name);
    req.set_etag(etag);
    req.set_reason(reason);
    return stub_->WithdrawActivityReport(&ctx, req, out);
  }
  grpc::Status List(const v1::ListActivityReportsRequest& req, v1::ListActivityReportsResponse* out,
                    const Key& key = kInternal) {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    return stub_->ListActivityReports(&ctx, req, out);
  }
  grpc::Status Breakdown(const v1::GetBreakdownRequest& req, v1::Breakdown* out) {
    grpc::ClientContext ctx;
    return stub_->GetBreakdown(&ctx, req, out);
  }
  grpc::Status Export(const v1::GetBreakdownRequest& req, std::string* csv) {
    grpc::ClientContext ctx;
    auto reader = stub_->ExportBreakdown(&ctx, req);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) *csv += chunk.data();
    return reader->Finish();
  }

  grpc::Status ExportReports(const v1::ExportActivityReportsRequest& req, const Key& key,
                             std::string* csv, std::string* content_type = nullptr) {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    auto reader = stub_->ExportActivityReports(&ctx, req);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) {
      if (content_type && content_type->empty()) *content_type = chunk.content_type();
      *csv += chunk.data();
    }
    return reader->Finish();
  }
  grpc::Status ExportScores(const v1::ExportEqualityScoresRequest& req, const Key& key,
                            std::string* csv, std::string* content_type = nullptr) {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    auto reader = stub_->ExportEqualityScores(&ctx, req);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) {
      if (content_type && content_type->empty()) *content_type = chunk.content_type();
      *csv += chunk.data();
    }
    return reader->Finish();
  }

  // The events `indicators.report.submitted` on the stream, in order.
  std::vector<v1::ReportSubmitted> SubmittedEvents(size_t expected) {
    auto nats = events::NatsClient::Connect({.url = testing::NatsUrl()});
    EXPECT_TRUE(nats.ok()) << nats.status();
    if (!nats.ok()) return {};
    events::Topology topology{.subject_prefix = prefix_,
                              .events_stream = absl::AsciiStrToUpper(prefix_) + "_EVENTS",
                              .dead_letter_stream = absl::AsciiStrToUpper(prefix_) + "_DEADLETTER"};
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = topology.events_stream.c_str();
    jsErrCode jerr = jsErrCode(0);
    std::vector<v1::ReportSubmitted> out;
    if (js_PullSubscribe(&sub, (*nats)->jetstream(),
                         topology.EventSubject("indicators.report.submitted").c_str(), nullptr,
                         nullptr, &so, &jerr) != NATS_OK) {
      ADD_FAILURE() << "subscribe failed";
      return out;
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub, 10, 1000, &jerr) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        events::v1::Event e;
        if (e.ParseFromArray(natsMsg_GetData(list.Msgs[i]), natsMsg_GetDataLength(list.Msgs[i]))) {
          v1::ReportSubmitted p;
          if (e.payload().UnpackTo(&p)) out.push_back(p);
        }
        natsMsg_Ack(list.Msgs[i], nullptr);
      }
      natsMsgList_Destroy(&list);
    }
    natsSubscription_Destroy(sub);
    return out;
  }

  std::string prefix_ = testing::UniqueName("ind");
  std::unique_ptr<testing::ServiceBinary> referential_, venues_, indicators_;
  std::unique_ptr<testing::Process> referential_process_, venues_process_, process_;
  std::unique_ptr<venues::v1::VenueService::Stub> venues_stub_;
  std::unique_ptr<venues::v1::OrganisationService::Stub> organisations_;
  std::unique_ptr<v1::ReportService::Stub> stub_;
  std::string epeule_venue_, centre_venue_;
};

TEST_F(ReportsTest, SubmitReadCorrectWithdrawKeepsRevisionsAndPublishesEvents) {
  v1::ActivityReport first = MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 12, 8));
  EXPECT_THAT(first.name(), ::testing::StartsWith("activityReports/"));
  EXPECT_EQ(first.revision(), 1);
  EXPECT_EQ(first.state(), v1::ActivityReport::SUBMITTED);
  EXPECT_THAT(first.venue_areas(), ::testing::ElementsAre("quartiers:epeule"));
  EXPECT_EQ(first.etag(), "W/\"1\"");

  // A correction: a new revision, the first kept.
  v1::ActivityReport fix = Report("centre-social-epeule", {epeule_venue_, centre_venue_}, 13, 8);
  fix.set_name(first.name());
  fix.set_etag(first.etag());
  v1::ActivityReport second;
  grpc::Status st = Correct(fix, &second);
  ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  EXPECT_EQ(second.revision(), 2);
  EXPECT_EQ(second.beneficiaries_total().femme(), 13);
  EXPECT_THAT(second.venue_areas(), ::testing::ElementsAre("quartiers:centre", "quartiers:epeule"));
  v1::ActivityReport old;
  ASSERT_TRUE(Get(first.name(), 1, &old).ok());
  EXPECT_EQ(old.beneficiaries_total().femme(), 12);
  EXPECT_EQ(old.revision(), 1);

  // A stale etag: ABORTED with its reason; nothing written.
  v1::ActivityReport stale;
  st = Correct(fix, &stale);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Reason(st), "ETAG_MISMATCH");
  st = Withdraw(first.name(), first.etag(), &stale);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);

  // Withdrawn: readable, listed only on request, no longer correctable.
  v1::ActivityReport withdrawn;
  st = Withdraw(first.name(), second.etag(), &withdrawn);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(withdrawn.state(), v1::ActivityReport::WITHDRAWN);
  EXPECT_EQ(withdrawn.revision(), 3);
  EXPECT_EQ(withdrawn.withdrawal_reason(), "doublon");
  fix.set_etag(withdrawn.etag());
  st = Correct(fix, &stale);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(st), "REPORT_WITHDRAWN");
  st = Withdraw(first.name(), "", &stale);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ListActivityReportsRequest list;
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List(list, &page).ok());
  EXPECT_EQ(page.activity_reports_size(), 0);
  list.set_show_withdrawn(true);
  ASSERT_TRUE(List(list, &page).ok());
  ASSERT_EQ(page.activity_reports_size(), 1);
  EXPECT_EQ(page.activity_reports(0).revision(), 3);

  // One event per write, in order, without figures.
  auto events = SubmittedEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].name(), first.name());
  EXPECT_EQ(events[0].revision(), 1);
  EXPECT_FALSE(events[0].withdrawn());
  EXPECT_EQ(events[1].venues_size(), 2);
  EXPECT_EQ(events[2].revision(), 3);
  EXPECT_TRUE(events[2].withdrawn());
  EXPECT_EQ(events[2].organisation(), "centre-social-epeule");

  // Unknown and malformed names.
  EXPECT_EQ(Get("activityReports/00000000-0000-4000-8000-000000000000", 0, &old).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(first.name(), 9, &old).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(first.name(), -1, &old).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("activityReports/ABC", 0, &old).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Withdraw("activityReports/x/y", "", &old).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Withdraw(first.name(), "W/\"nope", &old).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  fix.set_name("activityReports/00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(Correct(fix, &old).error_code(), grpc::StatusCode::NOT_FOUND);
}

// The Must show: a report that does not add up is refused with the cell that is wrong.
TEST_F(ReportsTest, AReportThatDoesNotAddUpIsRefusedWithTheCell) {
  v1::ActivityReport r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  auto* band = r.add_beneficiaries_by_age();
  band->set_age_band("45_64");
  *band->mutable_count() = Split(0, 0);
  band = r.add_beneficiaries_by_age();
  band->set_age_band("65_et_plus");
  *band->mutable_count() = Split(2, 0);  // 12 + 0 + 2 = 14 women ≠ 12
  v1::ActivityReport out;
  grpc::Status st = Submit(r, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st),
              HasSubstr("activity_report.beneficiaries_by_age[2].count.femme: [sum]"));
  EXPECT_THAT(Violations(st), HasSubstr("14"));
  EXPECT_THAT(Violations(st), HasSubstr("beneficiaries_total.femme vaut 12"));

  // Unknown venue and organisation, each named.
  r = Report("inconnue", {"venues/00000000-0000-4000-8000-000000000000", epeule_venue_}, 12, 8);
  st = Submit(r, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.organisation: [exists]"));
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.venues[0]: [exists]"));
  EXPECT_THAT(Violations(st), ::testing::Not(HasSubstr("venues[1]")));
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List({}, &page).ok());
  EXPECT_EQ(page.total_size(), 0);
}

TEST_F(ReportsTest, HostileInputIsRefusedPrecisely) {
  v1::ActivityReport out;
  auto refused = [&](const v1::ActivityReport& r) {
    grpc::Status st = Submit(r, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    return Violations(st);
  };
  v1::ActivityReport r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  // Overflow: sums in 64 bits, cells bounded.
  r.mutable_beneficiaries_total()->set_femme(2147483647);
  r.mutable_beneficiaries_by_age(0)->mutable_count()->set_femme(2147483647);
  EXPECT_THAT(refused(r), HasSubstr("activity_report.beneficiaries_total.femme: [range]"));
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  r.mutable_completed()->set_homme(-3);
  EXPECT_THAT(refused(r), HasSubstr("activity_report.completed.homme: [range]"));
  // NUL, control characters and invalid UTF-8.
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  r.set_action(std::string("Atelier\0caché", 14));
  EXPECT_THAT(refused(r), HasSubstr("activity_report.action"));
  r.set_action("Atelier \xff\xfe");
  {
    grpc::Status st = Submit(r, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  r.set_action(std::string(100'000, 'a'));
  EXPECT_THAT(refused(r), HasSubstr("activity_report.action"));
  // Huge repeated fields.
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  for (int i = 0; i < 100'000; ++i) r.add_items(absl::StrCat("items/x", i));
  EXPECT_THAT(refused(r), HasSubstr("activity_report.items: [size]"));
  r = Report("centre-social-epeule", {}, 12, 8);
  for (int i = 0; i < 60; ++i) r.add_venues(epeule_venue_);
  EXPECT_THAT(refused(r), HasSubstr("activity_report.venues: [size]"));
  // Dates.
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8, "2026-02-30");
  EXPECT_THAT(refused(r), HasSubstr("activity_report.period_start: [date]"));
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  r.set_period_end("2999-01-01");
  EXPECT_THAT(refused(r), HasSubstr("activity_report.period_end: [future]"));
  // Unknown enum values.
  r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  auto* o = r.add_outcomes();
  o->set_kind(static_cast<v1::OutcomeCount::Kind>(99));
  *r.mutable_positive_outcome() = Split(0, 0);
  EXPECT_THAT(refused(r), HasSubstr("activity_report.outcomes[0].kind: [enum]"));
  // Forged page tokens.
  v1::ListActivityReportsRequest list;
  list.set_page_token("Zm9yZ2Vk");
  v1::ListActivityReportsResponse page;
  grpc::Status st = List(list, &page);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  list.set_page_token("");
  list.set_page_size(-1);
  EXPECT_EQ(List(list, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A deadline shorter than the work.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1ms);
    v1::SubmitActivityReportRequest req;
    *req.mutable_activity_report() = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
    EXPECT_EQ(stub_->SubmitActivityReport(&ctx, req, &out).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  EXPECT_FALSE(process_->Wait(0ms).has_value()) << "the service died";
}

TEST_F(ReportsTest, RequestIdsMakeRetriesSafe) {
  const std::string id = "3f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
  v1::ActivityReport r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  v1::ActivityReport a, b;
  ASSERT_TRUE(Submit(r, &a, kInternal, id).ok());
  ASSERT_TRUE(Submit(r, &b, kInternal, id).ok());
  EXPECT_EQ(a.name(), b.name());
  r.set_sessions(13);
  grpc::Status st = Submit(r, &b, kInternal, id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("request_id: [reused]"));
  // Another caller's id space.
  ASSERT_TRUE(Submit(r, &b, kEpeule, id).ok());
  EXPECT_NE(a.name(), b.name());
  EXPECT_EQ(Submit(r, &b, kInternal, "pas-un-uuid").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Concurrent retries of one request: one report, every caller told its name.
  const std::string raced = "7a1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
  std::vector<std::string> names(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) {
    threads.emplace_back([&, i] {
      v1::ActivityReport out;
      grpc::Status st = Submit(r, &out, kInternal, raced);
      names[i] = st.ok() ? out.name() : st.error_message();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(names, ::testing::Each(names[0]));
  EXPECT_THAT(names[0], ::testing::StartsWith("activityReports/"));
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List({}, &page).ok());
  EXPECT_EQ(page.total_size(), 3);
}

// Without the venues service, nothing can be checked: UNAVAILABLE (a retry with the same request
// id is safe), nothing stored, and the service keeps serving what it has.
TEST_F(ReportsTest, WithoutTheVenuesServiceSubmissionsFailUnavailable) {
  MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 12, 8));
  venues_process_->Signal(SIGTERM);
  ASSERT_EQ(venues_process_->Wait(20s), 0);
  v1::ActivityReport out;
  grpc::Status st = Submit(Report("centre-social-epeule", {epeule_venue_}, 13, 8), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List({}, &page).ok());
  EXPECT_EQ(page.total_size(), 1);
  v1::GetBreakdownRequest req;
  req.set_dimension(v1::ORGANISATION);
  v1::Breakdown b;
  ASSERT_TRUE(Breakdown(req, &b).ok());
  EXPECT_NEAR(b.total().women().value(), 12, 3);
}

TEST_F(ReportsTest, AnOrganisationReadsAndCorrectsItsOwnReportsOnly) {
  v1::ActivityReport mine;
  // The organisation is forced to the key's.
  ASSERT_TRUE(Submit(Report("mediatheque-roubaix", {epeule_venue_}, 12, 8), &mine, kEpeule).ok());
  EXPECT_EQ(mine.organisation(), "centre-social-epeule");
  v1::ActivityReport theirs;
  ASSERT_TRUE(
      Submit(Report("mediatheque-roubaix", {centre_venue_}, 10, 10), &theirs, kMediatheque).ok());
  v1::ActivityReport out;
  EXPECT_TRUE(Get(mine.name(), 0, &out, kEpeule).ok());
  EXPECT_EQ(Get(theirs.name(), 0, &out, kEpeule).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get(theirs.name(), 0, &out, kAdmin).ok());
  v1::ActivityReport fix = Report("mediatheque-roubaix", {centre_venue_}, 11, 10);
  fix.set_name(theirs.name());
  fix.set_etag(theirs.etag());
  EXPECT_EQ(Correct(fix, &out, kEpeule).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Withdraw(theirs.name(), "", &out, kEpeule).error_code(), grpc::StatusCode::NOT_FOUND);
  // Changing a report's organisation is refused.
  fix.set_organisation("centre-social-epeule");
  grpc::Status st = Correct(fix, &out, kAdmin);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.organisation: [immutable]"));
  // Lists: own only, whatever is asked.
  v1::ListActivityReportsRequest list;
  list.set_organisation("mediatheque-roubaix");
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List(list, &page, kEpeule).ok());
  ASSERT_EQ(page.activity_reports_size(), 1);
  EXPECT_EQ(page.activity_reports(0).name(), mine.name());
  ASSERT_TRUE(List({}, &page, kAdmin).ok());
  EXPECT_EQ(page.total_size(), 2);
  // A key of no organisation reads no raw report.
  EXPECT_EQ(Get(mine.name(), 0, &out, kPartner).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(List({}, &page, kPartner).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ReportsTest, ListPagesWithSealedTokens) {
  for (int i = 0; i < 5; ++i) {
    MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 10 + i, 8,
                      absl::StrCat("2026-0", i + 1, "-01")));
  }
  std::vector<std::string> starts;
  v1::ListActivityReportsRequest list;
  list.set_page_size(2);
  std::string first_token;
  do {
    v1::ListActivityReportsResponse page;
    grpc::Status st = List(list, &page);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(page.total_size(), 5);
    for (const auto& r : page.activity_reports()) starts.push_back(r.period_start());
    if (first_token.empty()) first_token = page.next_page_token();
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  EXPECT_THAT(starts, ::testing::ElementsAre("2026-05-01", "2026-04-01", "2026-03-01", "2026-02-01",
                                             "2026-01-01"));
  // A token replayed with other parameters, or cut, is refused.
  list.set_page_token(first_token);
  list.set_organisation("mediatheque-roubaix");
  v1::ListActivityReportsResponse page;
  EXPECT_EQ(List(list, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  list.clear_organisation();
  list.set_page_token(first_token.substr(0, first_token.size() / 2));
  EXPECT_EQ(List(list, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReportsTest, BreakdownsCountTheLatestRevisionUnderProtection) {
  // Épeule: 30 women and 20 men, then 8 women and 1 man more in the same quartier.
  MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 30, 20));
  v1::ActivityReport few = MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 8, 1));
  // Centre: one report, corrected from 8 to 9 women (only the latest revision counts), and one
  // withdrawn (never counts).
  v1::ActivityReport centre = MustSubmit(Report("mediatheque-roubaix", {centre_venue_}, 8, 8));
  v1::ActivityReport fix = Report("mediatheque-roubaix", {centre_venue_}, 9, 8);
  fix.set_name(centre.name());
  fix.set_etag(centre.etag());
  v1::ActivityReport out;
  ASSERT_TRUE(Correct(fix, &out).ok());
  v1::ActivityReport gone = MustSubmit(Report("mediatheque-roubaix", {centre_venue_}, 40, 40));
  ASSERT_TRUE(Withdraw(gone.name(), "", &out).ok());

  v1::GetBreakdownRequest req;
  req.set_dimension(v1::AREA);
  req.set_layer("quartiers");
  v1::Breakdown b;
  grpc::Status st = Breakdown(req, &b);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(b.threshold(), 5);
  EXPECT_EQ(b.min_reports(), 1);
  EXPECT_EQ(b.noise_bound(), 3);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_EQ(b.rows(0).key(), "areaLayers/quartiers/areas/centre");
  EXPECT_EQ(b.rows(0).label(), "Centre");
  EXPECT_EQ(b.rows(1).label(), "Épeule");
  // Published counts carry their noise (± 3, never under 5); shares are those of the published
  // counts.
  EXPECT_NEAR(b.rows(0).women().value(), 9, 3);
  EXPECT_NEAR(b.rows(0).men().value(), 8, 3);
  EXPECT_GE(b.rows(0).men().value(), 5);
  EXPECT_EQ(b.rows(0).reports(), 1);
  EXPECT_DOUBLE_EQ(
      b.rows(0).women_share().percent(),
      std::round(1000.0 * b.rows(0).women().value() / b.rows(0).total().value()) / 10.0);
  EXPECT_TRUE(b.rows(0).reached_gap().has_points());
  EXPECT_NEAR(b.rows(1).women().value(), 38, 3);
  EXPECT_NEAR(b.rows(1).men().value(), 21, 3);
  // Every Épeule beneficiary lives in a QPV: the share is 100 % within the two counts' noise
  // ((38 − 3) / (38 + 3) for women, (21 − 3) / (21 + 3) for men), and so is the gap's.
  ASSERT_TRUE(b.rows(1).women_qpv_residents().has_percent());
  EXPECT_GE(b.rows(1).women_qpv_residents().percent(), 85.3);
  EXPECT_LE(b.rows(1).women_qpv_residents().percent(), 100.0);
  ASSERT_TRUE(b.rows(1).men_qpv_residents().has_percent());
  EXPECT_GE(b.rows(1).men_qpv_residents().percent(), 75.0);
  EXPECT_DOUBLE_EQ(b.rows(1).qpv_residents_gap().points(),
                   std::round(10.0 * (b.rows(1).women_qpv_residents().percent() -
                                      b.rows(1).men_qpv_residents().percent())) /
                       10.0);
  EXPECT_EQ(b.total().reports(), 3);
  EXPECT_NEAR(b.total().total().value(), 76, 3);
  // Asking again gives the same figures: the noise is fixed by the reports.
  v1::Breakdown again;
  ASSERT_TRUE(Breakdown(req, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), b.SerializeAsString());

  // By organisation.
  req.set_dimension(v1::ORGANISATION);
  req.clear_layer();
  ASSERT_TRUE(Breakdown(req, &b).ok());
  ASSERT_EQ(b.rows_size(), 2);
  // Withdrawing the big report leaves Épeule's small one: its 1 man is « < 5 » (1 + a noise of at
  // most 3), and a second cell is hidden in its row and its column, so neither can be derived.
  v1::ListActivityReportsRequest list;
  list.set_organisation("centre-social-epeule");
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List(list, &page).ok());
  for (const auto& r : page.activity_reports()) {
    if (r.name() != few.name()) {
      ASSERT_TRUE(Withdraw(r.name(), "", &out).ok());
    }
  }
  ASSERT_TRUE(Breakdown(req, &b).ok());
  ASSERT_EQ(b.rows_size(), 2);
  const v1::BreakdownRow& epeule = b.rows(0);
  EXPECT_EQ(epeule.key(), "centre-social-epeule");
  EXPECT_EQ(epeule.label(), "[EXEMPLE] centre-social-epeule");
  EXPECT_FALSE(epeule.men().has_value());
  EXPECT_EQ(epeule.men().display(), "< 5");
  EXPECT_FALSE(epeule.men_share().has_percent());
  EXPECT_FALSE(epeule.men_qpv_residents().has_percent());  // its 1 man living in a QPV too
  EXPECT_FALSE(epeule.qpv_residents_gap().has_points());
  int hidden_in_row = !epeule.women().has_value() + !epeule.men().has_value() +
                      !epeule.other().has_value() + !epeule.not_given().has_value() +
                      !epeule.total().has_value();
  EXPECT_GE(hidden_in_row, 2);
  EXPECT_TRUE(!b.rows(1).men().has_value() || !b.total().men().has_value());
  EXPECT_GE(b.suppressed_cells(), 4);

  // The CSV carries the same protection.
  std::string csv;
  st = Export(req, &csv);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(csv, ::testing::StartsWith("cle,libelle,rapports,femmes,hommes"));
  EXPECT_THAT(csv, HasSubstr("centre-social-epeule,[EXEMPLE] centre-social-epeule,1,s,< 5,0,0,"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr(",8,1,")));

  // Error paths.
  v1::GetBreakdownRequest bad;
  EXPECT_EQ(Breakdown(bad, &b).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_dimension(static_cast<v1::Dimension>(42));
  EXPECT_EQ(Breakdown(bad, &b).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_dimension(v1::AREA);
  st = Breakdown(bad, &b);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("layer: [required]"));
  // A layer the venues service does not know.
  bad.set_layer("inconnue");
  st = Breakdown(bad, &b);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("layer: [unknown]"));
  bad.set_layer("quartiers");
  bad.set_year(-2026);
  std::string ignored;
  EXPECT_EQ(Export(bad, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

v1::EqualityAssessment Assessment(int noes, int score, const std::string& date) {
  static const char* const kQuestions[] = {"diagnostic-1",
                                           "diagnostic-2",
                                           "projet-1",
                                           "projet-2",
                                           "projet-3",
                                           "projet-4",
                                           "projet-5",
                                           "projet-6",
                                           "projet-7",
                                           "projet-8",
                                           "projet-9",
                                           "projet-10",
                                           "projet-11",
                                           "projet-12",
                                           "projet-13",
                                           "indicateurs_de_suivi-1",
                                           "indicateurs_de_suivi-2",
                                           "budget-1",
                                           "budget-2",
                                           "communication-1",
                                           "communication-2"};
  static const char* const kSteps[] = {"theme",
                                       "nom",
                                       "diagnostic",
                                       "objectifs",
                                       "contenu",
                                       "mobilisation_du_public",
                                       "indicateurs_d_evaluation",
                                       "suivi"};
  v1::EqualityAssessment a;
  a.set_organisation("centre-social-epeule");
  a.set_action("Ateliers smartphone");
  a.set_assess_date(date);
  for (int i = 0; i < 21; ++i) {
    auto* ans = a.add_answers();
    ans->set_question(kQuestions[i]);
    ans->set_answer(i < noes ? v1::QuestionAnswer::NO : v1::QuestionAnswer::YES);
  }
  for (const char* s : kSteps) {
    auto* st = a.add_steps();
    st->set_step(s);
    st->set_score(score);
  }
  return a;
}

TEST_F(ReportsTest, EqualityAssessmentsScoreAndCompare) {
  auto submit = [&](const v1::EqualityAssessment& a, v1::EqualityAssessment* out,
                    const Key& key = kInternal, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::SubmitEqualityAssessmentRequest req;
    *req.mutable_equality_assessment() = a;
    req.set_request_id(request_id);
    return stub_->SubmitEqualityAssessment(&ctx, req, out);
  };
  v1::EqualityAssessment first, second, again;
  ASSERT_TRUE(submit(Assessment(10, 1, "2026-03-01"), &first).ok());
  EXPECT_EQ(first.step_total(), 8);
  const std::string id = "6f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
  ASSERT_TRUE(submit(Assessment(3, 2, "2026-10-01"), &second, kEpeule, id).ok());
  ASSERT_TRUE(submit(Assessment(3, 2, "2026-10-01"), &again, kEpeule, id).ok());
  EXPECT_EQ(second.name(), again.name());

  grpc::ClientContext ctx;
  v1::GetEqualityScoresRequest req;
  req.set_top(2);
  v1::EqualityScores scores;
  grpc::Status st = stub_->GetEqualityScores(&ctx, req, &scores);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(scores.actions_size(), 1);
  EXPECT_EQ(scores.actions(0).latest().name(), second.name());
  EXPECT_EQ(scores.actions(0).previous().name(), first.name());
  EXPECT_EQ(scores.actions(0).step_total_change(), 8);
  ASSERT_EQ(scores.most_no_size(), 2);
  EXPECT_EQ(scores.most_no(0).question(), "diagnostic-1");
  EXPECT_THAT(scores.most_no(0).text(), HasSubstr("diagnostic genré"));

  // Error paths: a missing answer, a score out of range, an unknown organisation, a bad top.
  v1::EqualityAssessment bad = Assessment(0, 1, "2026-10-01");
  bad.mutable_answers()->RemoveLast();
  bad.mutable_steps(2)->set_score(7);
  bad.set_organisation("inconnue");
  st = submit(bad, &again);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("equality_assessment.answers: [required]"));
  EXPECT_THAT(Violations(st), HasSubstr("equality_assessment.steps[2].score: [range]"));
  EXPECT_THAT(Violations(st), HasSubstr("equality_assessment.organisation: [exists]"));
  grpc::ClientContext ctx2;
  req.set_top(22);
  EXPECT_EQ(stub_->GetEqualityScores(&ctx2, req, &scores).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx3;
  req.set_top(0);
  req.set_organisation("Pas Un Id");
  EXPECT_EQ(stub_->GetEqualityScores(&ctx3, req, &scores).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Items are checked against the referential's current published version: an unknown one is
// refused on submission and on correction, never shown as an ITEM row; ITEM rows carry the
// referential's plain-language label.
TEST_F(ReportsTest, UnknownItemsAreRefusedAndItemRowsCarryTheReferentialsLabels) {
  v1::ActivityReport r = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  r.add_items("items/inconnu");
  v1::ActivityReport out;
  grpc::Status st = Submit(r, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.items[1]: [exists] aucun élément « "
                                        "items/inconnu » dans la version publiée du référentiel"));
  EXPECT_THAT(Violations(st), ::testing::Not(HasSubstr("items[0]")));

  v1::ActivityReport first = MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 12, 8));
  v1::ActivityReport fix = Report("centre-social-epeule", {epeule_venue_}, 12, 8);
  fix.set_name(first.name());
  fix.set_etag(first.etag());
  fix.add_items("items/it-999999");
  st = Correct(fix, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.items[1]: [exists]"));

  v1::GetBreakdownRequest req;
  req.set_dimension(v1::ITEM);
  v1::Breakdown b;
  st = Breakdown(req, &b);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(b.rows_size(), 1);
  EXPECT_EQ(b.rows(0).key(), kItem);
  EXPECT_EQ(b.rows(0).label(), kItemLabel);

  // Without the referential, nothing naming items is accepted.
  referential_process_->Signal(SIGTERM);
  ASSERT_EQ(referential_process_->Wait(20s), 0);
  referential_process_.reset();
  st = Submit(Report("centre-social-epeule", {epeule_venue_}, 13, 8), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("le référentiel ne répond pas"));
  EXPECT_THAT(st.error_message(), ::testing::Not(HasSubstr("GetVersion")));  // French only
  fix.mutable_items()->RemoveLast();
  EXPECT_EQ(Correct(fix, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::ListActivityReportsResponse page;
  ASSERT_TRUE(List({}, &page).ok());
  EXPECT_EQ(page.total_size(), 1);
  EXPECT_EQ(page.activity_reports(0).revision(), 1);
}

// A correction replaces the whole report: it names the revision it corrects (etag required), and
// its request id makes a retry safe.
TEST_F(ReportsTest, ACorrectionNeedsItsEtagAndItsRequestIdMakesRetriesSafe) {
  v1::ActivityReport first = MustSubmit(Report("centre-social-epeule", {epeule_venue_}, 12, 8));
  v1::ActivityReport fix = Report("centre-social-epeule", {epeule_venue_}, 13, 8);
  fix.set_name(first.name());
  v1::ActivityReport out;
  grpc::Status st = Correct(fix, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("activity_report.etag: [required]"));

  const std::string id = "9b1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
  fix.set_etag(first.etag());
  v1::ActivityReport a, b;
  st = Correct(fix, &a, kInternal, id);
  ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  EXPECT_EQ(a.revision(), 2);
  // The retry (its etag now stale) gets the same revision; nothing more is written.
  st = Correct(fix, &b, kInternal, id);
  ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  EXPECT_EQ(b.revision(), 2);
  EXPECT_EQ(b.etag(), a.etag());
  EXPECT_EQ(b.beneficiaries_total().femme(), 13);
  // The same id with another correction is refused.
  fix.set_sessions(99);
  st = Correct(fix, &b, kInternal, id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("request_id: [reused]"));
  EXPECT_EQ(Correct(fix, &b, kInternal, "pas-un-uuid").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Get(first.name(), 0, &b).ok());
  EXPECT_EQ(b.revision(), 2);
  // Concurrent retries of one correction: one revision, every caller told it.
  fix.set_etag(a.etag());
  const std::string raced = "5c1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
  std::vector<std::string> etags(5);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < etags.size(); ++i) {
    threads.emplace_back([&, i] {
      v1::ActivityReport written;
      grpc::Status s = Correct(fix, &written, kInternal, raced);
      etags[i] = s.ok() ? written.etag() : s.error_message();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(etags, ::testing::Each("W/\"3\""));
  // A request id of a submission is not one of a correction.
  EXPECT_EQ(Correct(fix, &b, kInternal, raced).error_code(), grpc::StatusCode::OK);
  v1::ActivityReport other;
  st = Submit(Report("centre-social-epeule", {epeule_venue_}, 12, 8), &other, kInternal, raced);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// An organisation reads its own actions' scores; a partner key only the network's tallies; no
// key reads another organisation's per-action scores.
TEST_F(ReportsTest, EqualityScoresPerActionAreTheirOrganisationsOnly) {
  auto submit = [&](v1::EqualityAssessment a) {
    grpc::ClientContext ctx;
    v1::SubmitEqualityAssessmentRequest req;
    *req.mutable_equality_assessment() = std::move(a);
    v1::EqualityAssessment out;
    grpc::Status st = stub_->SubmitEqualityAssessment(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
  };
  submit(Assessment(10, 1, "2026-03-01"));
  v1::EqualityAssessment theirs = Assessment(2, 2, "2026-04-01");
  theirs.set_organisation("mediatheque-roubaix");
  submit(theirs);
  auto scores = [&](const Key& key, const std::string& organisation, v1::EqualityScores* out) {
    grpc::ClientContext ctx;
    key.Apply(&ctx);
    v1::GetEqualityScoresRequest req;
    req.set_organisation(organisation);
    return stub_->GetEqualityScores(&ctx, req, out);
  };
  v1::EqualityScores s;
  ASSERT_TRUE(scores(kAdmin, "", &s).ok());
  EXPECT_EQ(s.actions_size(), 2);
  ASSERT_TRUE(scores(kEpeule, "", &s).ok());
  ASSERT_EQ(s.actions_size(), 1);
  EXPECT_EQ(s.actions(0).organisation(), "centre-social-epeule");
  // The network's tallies, published under the small-count rule (two assessments: « < 5 »).
  ASSERT_FALSE(s.most_no().empty());
  EXPECT_EQ(s.threshold(), 5);
  EXPECT_EQ(s.most_no(0).applicable().display(), "< 5");
  EXPECT_FALSE(s.most_no(0).applicable().has_value());
  EXPECT_EQ(s.most_no(0).applicable_count(), 0);  // the exact count is the administrators'
  ASSERT_TRUE(scores(kPartner, "", &s).ok());
  EXPECT_EQ(s.actions_size(), 0);
  ASSERT_FALSE(s.most_no().empty());
  EXPECT_EQ(s.most_no(0).question(), "diagnostic-1");
  EXPECT_EQ(s.most_no(0).no().display(), "< 5");
  EXPECT_EQ(s.most_no(0).no_count(), 0);
  ASSERT_TRUE(scores(kAdmin, "", &s).ok());
  EXPECT_EQ(s.most_no(0).no_count(), 2);
  EXPECT_EQ(s.most_no(0).no().display(), "< 5");
  grpc::Status st = scores(kPartner, "mediatheque-roubaix", &s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(st), "NOT_OWNER");
  EXPECT_EQ(scores(kEpeule, "mediatheque-roubaix", &s).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(scores(kEpeule, "centre-social-epeule", &s).ok());
  EXPECT_EQ(s.actions_size(), 1);
}

// The network's tallies follow the small-count rule: « non » of 1 to 4 is « < 5 », and the
// count it applies to is « s » when « oui » (applicable − non) is 1 to 4; the order of the
// hidden ones is the grid's. Both tables export as CSV with the same figures.
TEST_F(ReportsTest, EqualityTalliesAreProtectedAndExportedAsCsv) {
  auto submit = [&](v1::EqualityAssessment a, const std::string& action) {
    grpc::ClientContext ctx;
    a.set_action(action);
    v1::SubmitEqualityAssessmentRequest req;
    *req.mutable_equality_assessment() = std::move(a);
    v1::EqualityAssessment out;
    grpc::Status st = stub_->SubmitEqualityAssessment(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
  };
  // Latest assessments: 7 of the Epeule's actions (2, 2, 2, 2, 2, 1, 1 « non ») and 1 of the
  // Médiathèque (3 « non »): diagnostic-1 is « non » 8 times of 8, diagnostic-2 6 of 8 (« oui »
  // 2: small), projet-1 once of 8 (small).
  submit(Assessment(10, 1, "2026-01-10"), "Action 0");  // an earlier one, compared
  const int noes[] = {2, 2, 2, 2, 2, 1, 1};
  for (int i = 0; i < 7; ++i)
    submit(Assessment(noes[i], 2, "2026-03-01"), absl::StrCat("Action ", i));
  v1::EqualityAssessment theirs = Assessment(3, 2, "2026-04-01");
  theirs.set_organisation("mediatheque-roubaix");
  submit(theirs, "=SOMME(A1:A9)");

  grpc::ClientContext ctx;
  kPartner.Apply(&ctx);
  v1::GetEqualityScoresRequest req;
  req.set_top(21);
  v1::EqualityScores s;
  ASSERT_TRUE(stub_->GetEqualityScores(&ctx, req, &s).ok());
  ASSERT_EQ(s.most_no_size(), 3);
  EXPECT_EQ(s.most_no(0).question(), "diagnostic-1");
  EXPECT_EQ(s.most_no(0).no().value(), 8);
  EXPECT_EQ(s.most_no(0).applicable().display(), "8");
  EXPECT_EQ(s.most_no(1).question(), "diagnostic-2");
  EXPECT_EQ(s.most_no(1).no().display(), "6");
  EXPECT_EQ(s.most_no(1).applicable().display(), "s");  // 8 − 6 = 2 « oui » would show
  EXPECT_FALSE(s.most_no(1).applicable().has_value());
  EXPECT_EQ(s.most_no(2).question(), "projet-1");
  EXPECT_EQ(s.most_no(2).no().display(), "< 5");
  EXPECT_FALSE(s.most_no(2).no().has_value());
  EXPECT_EQ(s.most_no(2).applicable().display(), "8");

  // MOST_NO as CSV: the same published figures, for any reader of the scores.
  v1::ExportEqualityScoresRequest ex;
  ex.set_table(v1::MOST_NO);
  ex.set_top(21);
  std::string csv, type;
  grpc::Status st = ExportScores(ex, kPartner, &csv, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "text/csv; charset=utf-8");
  EXPECT_THAT(csv, ::testing::StartsWith("question,texte,non,applicable\r\ndiagnostic-1,"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_THAT(csv, HasSubstr(",8,8\r\ndiagnostic-2,"));
  EXPECT_THAT(csv, HasSubstr(",6,s\r\nprojet-1,"));
  EXPECT_THAT(csv, ::testing::EndsWith(",< 5,8\r\n"));
  // ACTIONS: an organisation's own actions only, the change against the previous assessment.
  ex.set_table(v1::ACTIONS);
  csv.clear();
  ASSERT_TRUE(ExportScores(ex, kEpeule, &csv).ok());
  EXPECT_THAT(csv, ::testing::StartsWith(
                       "organisation,action,date,total_etapes,part_oui,date_precedente,"
                       "total_etapes_precedent,part_oui_precedente,evolution_total_etapes,"
                       "evolution_part_oui\r\n"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 8);
  EXPECT_THAT(csv, HasSubstr("\r\ncentre-social-epeule,Action 0,2026-03-01,16,90.5,2026-01-10,8,"
                             "52.4,8,38.1\r\n"));
  EXPECT_THAT(csv, HasSubstr("\r\ncentre-social-epeule,Action 6,2026-03-01,16,95.2,,,,,\r\n"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr("mediatheque")));
  csv.clear();
  ASSERT_TRUE(ExportScores(ex, kPartner, &csv).ok());  // a partner: no action
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1);
  csv.clear();
  ASSERT_TRUE(ExportScores(ex, kAdmin, &csv).ok());
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 9);
  EXPECT_THAT(csv, HasSubstr("\r\nmediatheque-roubaix,'=SOMME(A1:A9),2026-04-01,"));

  // Hostile requests: an unknown table, NUL and invalid UTF-8 in the organisation, a huge top,
  // another organisation: a precise error and no chunk.
  auto refused = [&](const v1::ExportEqualityScoresRequest& r, const Key& key) {
    std::string doc;
    grpc::Status status = ExportScores(r, key, &doc);
    EXPECT_TRUE(doc.empty());
    return status;
  };
  v1::ExportEqualityScoresRequest bad;
  bad.set_table(static_cast<v1::EqualityTable>(9));
  st = refused(bad, kAdmin);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("table: [enum]"));
  bad.set_table(v1::ACTIONS);
  bad.set_organisation(std::string("centre\0social", 13));
  st = refused(bad, kAdmin);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("organisation: [pattern]"));
  // Invalid UTF-8 in a string field does not parse: INVALID_ARGUMENT from gRPC itself.
  bad.set_organisation("centre-\xff\xfe");
  st = refused(bad, kAdmin);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_organisation("");
  bad.set_top(1 << 30);
  st = refused(bad, kPartner);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st), HasSubstr("top: [range]"));
  bad.set_top(0);
  bad.set_organisation("mediatheque-roubaix");
  st = refused(bad, kEpeule);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(st), "NOT_OWNER");
}

// Raw reports export as CSV: an organisation its own only, every measure by sex; an
// administrator all; a partner none.
TEST_F(ReportsTest, ActivityReportsExportAsCsvToTheirOrganisationOnly) {
  v1::ActivityReport r = Report("centre-social-epeule", {epeule_venue_}, 7, 5);
  r.set_action("=HYPERLINK(\"x\")");
  auto* dropout = r.add_dropouts();
  dropout->set_reason("emploi");
  *dropout->mutable_count() = Split(1, 0);
  *r.mutable_completed() = Split(6, 5);
  auto* outcome = r.add_outcomes();
  outcome->set_kind(v1::OutcomeCount::CERTIFICATION);
  outcome->set_detail("pix");
  outcome->set_min_competences(3);
  *outcome->mutable_count() = Split(4, 2);
  *r.mutable_positive_outcome() = Split(4, 2);
  auto* target = r.add_targets();
  target->set_description("certifiés Pix avec au moins 3 compétences");
  target->set_target(5);
  target->set_reached(6);
  v1::ActivityReport mine;
  grpc::Status st = Submit(r, &mine, kEpeule);
  ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  v1::ActivityReport theirs;
  ASSERT_TRUE(
      Submit(Report("mediatheque-roubaix", {centre_venue_}, 10, 10), &theirs, kMediatheque).ok());
  v1::ActivityReport withdrawn;
  ASSERT_TRUE(Submit(Report("centre-social-epeule", {epeule_venue_}, 3, 3), &withdrawn).ok());
  ASSERT_TRUE(Withdraw(withdrawn.name(), "", &withdrawn, kEpeule).ok());

  std::string csv, type;
  v1::ExportActivityReportsRequest req;
  req.set_organisation("mediatheque-roubaix");  // forced to the key's own
  st = ExportReports(req, kEpeule, &csv, &type);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(type, "text/csv; charset=utf-8");
  EXPECT_THAT(csv, ::testing::StartsWith(
                       "rapport,revision,etat,organisation,action,debut,fin,lieux,services,"
                       "seances,actions_correctives,mesure,categorie,detail,competences_min,"
                       "femme,homme,autre,non_communique,cible,atteint\r\n"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr(theirs.name())));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr(withdrawn.name())));
  const std::string head = absl::StrCat(mine.name(), ",1,soumis,centre-social-epeule,",
                                        "\"'=HYPERLINK(\"\"x\"\")\",2026-09-01,2026-11-30,",
                                        epeule_venue_, ",", kItem, ",12,0,");
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", head, "beneficiaires,,,,7,5,0,0,,\r\n")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", head, "age,26_44,,,7,5,0,0,,\r\n")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", head, "abandon,emploi,,,1,0,0,0,,\r\n")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", head, "residents_qpv,,,,7,5,0,0,,\r\n")));
  EXPECT_THAT(csv,
              HasSubstr(absl::StrCat("\r\n", head, "sortie,certification,pix,3,4,2,0,0,,\r\n")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", head,
                                          "objectif,certifiés Pix avec au moins 3 compétences,"
                                          ",,,,,,5,6\r\n")));
  // The header, ten measures by sex, one age band, one dropout reason, one outcome, one target.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 15);
  // Withdrawn ones on request; an administrator reads every organisation's.
  csv.clear();
  req.set_show_withdrawn(true);
  ASSERT_TRUE(ExportReports(req, kEpeule, &csv).ok());
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("\r\n", withdrawn.name(), ",2,retire,")));
  csv.clear();
  ASSERT_TRUE(ExportReports({}, kAdmin, &csv).ok());
  EXPECT_THAT(csv, HasSubstr(theirs.name()));
  EXPECT_THAT(csv, HasSubstr(mine.name()));
  // A key of no organisation reads no raw report; hostile organisations are refused precisely.
  csv.clear();
  st = ExportReports({}, kPartner, &csv);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(csv.empty());
  for (const std::string& hostile :
       {std::string("centre\0social", 13), std::string("\xff\xfe"), std::string(100000, 'a')}) {
    v1::ExportActivityReportsRequest bad;
    bad.set_organisation(hostile);
    csv.clear();
    st = ExportReports(bad, kAdmin, &csv);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // Invalid UTF-8 does not parse (gRPC's own INVALID_ARGUMENT); the others break the rule.
    if (hostile != "\xff\xfe") {
      EXPECT_THAT(Violations(st), HasSubstr("organisation: [pattern]"));
    }
    EXPECT_TRUE(csv.empty());
  }
}

}  // namespace
}  // namespace passerelle::indicators
