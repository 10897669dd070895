// The reports store (and the domain over it) against the real PostgreSQL the test command
// started, venues and the referential faked: every revision kept and readable, request ids
// remembered in the write's transaction (retries, races, reuse), stale etags refused with nothing
// written, withdrawal taking a report out of the figures' changes.
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/clock/clock.hpp"
#include "libs/db/migrations.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/indicators/v1/events.pb.h"
#include "services/indicators/perturbation.hpp"
#include "services/indicators/reports_service.hpp"
#include "services/indicators/reports_store.hpp"
#include "services/indicators/reports_wiring.hpp"

namespace passerelle::indicators::reports {
namespace {

using ::testing::HasSubstr;

class FakeDirectory final : public Directory {
 public:
  absl::StatusOr<std::vector<std::string>> VenueAreas(const std::string& name) override {
    if (name != "venues/11111111-1111-4111-8111-111111111111") {
      return absl::NotFoundError("no venue");
    }
    return std::vector<std::string>{"quartiers:epeule"};
  }
  absl::StatusOr<std::string> OrganisationLabel(const std::string& id) override {
    if (id != "centre-social-epeule") return absl::NotFoundError("no organisation");
    return std::string("Centre social de l'Épeule");
  }
  absl::StatusOr<std::map<std::string, std::string>> AreaLabels(const std::string&) override {
    return std::map<std::string, std::string>{{"epeule", "Épeule"}};
  }
  absl::StatusOr<std::map<std::string, std::string>> PublishedItems() override {
    return std::map<std::string, std::string>{{"items/it-77", "Écran tactile"}};
  }
};

v1::SexSplit Split(int f, int h) {
  v1::SexSplit s;
  s.set_femme(f);
  s.set_homme(h);
  return s;
}

// A report that adds up, as a member sends it.
v1::ActivityReport Sent(int women, int men) {
  v1::ActivityReport r;
  r.set_organisation("centre-social-epeule");
  r.set_action("Ateliers smartphone");
  r.set_period_start("2026-09-01");
  r.set_period_end("2026-11-30");
  r.add_venues("venues/11111111-1111-4111-8111-111111111111");
  r.add_items("items/it-77");
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
  return r;
}

// The same with the output fields a first revision has.
v1::ActivityReport Stored(const std::string& id, int women, int men) {
  v1::ActivityReport r = Sent(women, men);
  r.set_name("activityReports/" + id);
  r.set_state(v1::ActivityReport::SUBMITTED);
  r.set_revision(1);
  r.mutable_create_time()->set_seconds(1796000000);
  r.set_etag(api::WeakETag(1));
  return r;
}

class ReportsPgTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MigrateSchema({outbox::OutboxComponent(), {"reports", Migrations()}}).ok());
    store_ = std::make_unique<ReportStore>(pool(), topology_, clock_, [this] { ++commits_; });
  }
  events::v1::Event Event(const std::string& name) {
    v1::ReportSubmitted p;
    p.set_name(name);
    return events::MakeEvent("indicators.report.submitted", "indicators", name, p, clock_.Now());
  }
  // Revision `latest + 1` of a report with `women` women.
  absl::StatusOr<v1::ActivityReport> Revise(const std::string& id, int women,
                                            const RememberedRequest& request = {}) {
    return store_->Revise(
        id,
        [&](const v1::ActivityReport& latest) -> absl::StatusOr<v1::ActivityReport> {
          ++makes_;
          v1::ActivityReport next = Stored(id, women, 8);
          next.set_revision(latest.revision() + 1);
          next.set_etag(api::WeakETag(next.revision()));
          return next;
        },
        "", [&](const v1::ActivityReport& r) { return Event(r.name()); }, request);
  }
  // The domain over the store, venues and the referential faked; one row per report, no pooling.
  std::unique_ptr<Reports> MakeReports(absl::Duration release_interval) {
    auto grid = EqualityGrid::Parse(EqualityGridJson());
    EXPECT_TRUE(grid.ok()) << grid.status();
    return std::make_unique<Reports>(*store_, directory_, tokens_, clock_, *std::move(grid),
                                     ReportsOptions{.min_count = 5,
                                                    .min_reports = 1,
                                                    .breakdown_max_age = absl::ZeroDuration(),
                                                    .release_interval = release_interval});
  }
  int64_t OutboxRows() {
    int64_t n = -1;
    EXPECT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                  n = tx.exec1("SELECT count(*) FROM outbox")[0].as<int64_t>();
                  return absl::OkStatus();
                }).ok());
    return n;
  }

  events::Topology topology_{.subject_prefix = "pgtest",
                             .events_stream = "PGTEST_EVENTS",
                             .dead_letter_stream = "PGTEST_DEADLETTER"};
  clocks::ManualClock clock_{absl::FromCivil(absl::CivilDay(2026, 12, 1), absl::UTCTimeZone())};
  std::unique_ptr<ReportStore> store_;
  FakeDirectory directory_;
  api::PageTokens tokens_{"reports-pgtest"};
  int commits_ = 0;
  std::atomic<int> makes_ = 0;
};

constexpr char kId[] = "3f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";

TEST_F(ReportsPgTest, EveryRevisionIsKeptAndChangesComeInOrder) {
  auto name = store_->InsertReport(Stored(kId, 12, 8), "Épeule", {}, Event("x"));
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, absl::StrCat("activityReports/", kId));
  ASSERT_TRUE(Revise(kId, 13).ok());
  auto third = Revise(kId, 14);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->revision(), 3);
  for (int revision : {1, 2, 3}) {
    auto r = store_->Get(kId, revision);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->beneficiaries_total().femme(), 11 + revision);
  }
  EXPECT_EQ(store_->Get(kId, 0)->revision(), 3);
  EXPECT_EQ(store_->Get(kId, 4).status().code(), absl::StatusCode::kNotFound);
  auto changes = store_->ChangesSince(0);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_LT((*changes)[0].seq, (*changes)[1].seq);
  EXPECT_EQ((*changes)[2].figures.reached[0], 14);
  EXPECT_EQ((*changes)[0].figures.organisation_label, "Épeule");
  EXPECT_EQ((*changes)[2].figures.organisation_label, "Épeule");  // kept when not given
  EXPECT_EQ(store_->ChangesSince((*changes)[1].seq)->size(), 1u);
  EXPECT_EQ(OutboxRows(), 3);
  EXPECT_EQ(commits_, 3);
}

// Each revision keeps its QPV residents by sex for the breakdowns' shares; a revision written
// before the column existed (NULL there) gives them from its body.
TEST_F(ReportsPgTest, QpvResidentsAreKeptAndReadFromTheBodyOfOlderRevisions) {
  ASSERT_TRUE(store_->InsertReport(Stored(kId, 12, 8), "Épeule", {}, Event("x")).ok());
  ASSERT_TRUE(Revise(kId, 13).ok());
  auto changes = store_->ChangesSince(0);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].figures.qpv, (BySex{12, 8, 0, 0}));
  EXPECT_EQ((*changes)[1].figures.qpv, (BySex{13, 8, 0, 0}));
  ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                tx.exec("UPDATE report_revisions SET qpv = NULL WHERE revision = 1");
                return absl::OkStatus();
              }).ok());
  changes = store_->ChangesSince(0);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ((*changes)[0].figures.qpv, (BySex{12, 8, 0, 0}));
  EXPECT_EQ((*changes)[1].figures.qpv, (BySex{13, 8, 0, 0}));
}

TEST_F(ReportsPgTest, RequestIdsAreRememberedWithWhatTheyWrote) {
  const RememberedRequest submit{"key-a", "7a1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", "digest-1"};
  ASSERT_TRUE(store_->InsertReport(Stored(kId, 12, 8), "", submit, Event("x")).ok());
  auto seen = store_->FindRequest(submit);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->value_or(""), absl::StrCat("activityReports/", kId));
  // A race lost: the first report's name, nothing more stored.
  auto again = store_->InsertReport(Stored("00000000-0000-4000-8000-000000000001", 12, 8), "",
                                    submit, Event("y"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, absl::StrCat("activityReports/", kId));
  // Another content, or another caller's scope.
  RememberedRequest reused = submit;
  reused.digest = "digest-2";
  EXPECT_THAT(api::Violations(store_->FindRequest(reused).status()),
              ::testing::Contains(::testing::Field(&api::FieldViolation::field, "request_id")));
  RememberedRequest elsewhere = submit;
  elsewhere.scope = "key-b";
  EXPECT_FALSE(store_->FindRequest(elsewhere)->has_value());

  // A revision's request id: its retry returns the revision it wrote, writing nothing.
  const RememberedRequest correct{"key-a", "8a1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", "digest-3"};
  auto second = Revise(kId, 13, correct);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(store_->FindRequest(correct)->value_or(""),
            absl::StrCat("activityReports/", kId, "@2"));
  makes_ = 0;
  auto retried = Revise(kId, 99, correct);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->revision(), 2);
  EXPECT_EQ(retried->beneficiaries_total().femme(), 13);
  EXPECT_EQ(makes_, 0);
  EXPECT_EQ(store_->Get(kId, 0)->revision(), 2);
  RememberedRequest other = correct;
  other.digest = "digest-4";
  EXPECT_EQ(Revise(kId, 14, other).status().code(), absl::StatusCode::kInvalidArgument);
  // Concurrent retries of one correction: one revision.
  const RememberedRequest raced{"key-a", "9a1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", "digest-5"};
  std::vector<int> revisions(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < revisions.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = Revise(kId, 20, raced);
      revisions[i] = r.ok() ? r->revision() : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(revisions, ::testing::Each(3));
  EXPECT_EQ(store_->Get(kId, 0)->revision(), 3);
  EXPECT_EQ(store_->ChangesSince(0)->size(), 3u);
}

// Through the domain: a stale etag is ABORTED and writes nothing; a missing one is refused; a
// withdrawn report leaves the figures and takes no correction.
TEST_F(ReportsPgTest, StaleEtagsAndWithdrawalAgainstTheStore) {
  const std::unique_ptr<Reports> domain = MakeReports(absl::ZeroDuration());
  Reports& reports = *domain;
  Access access;
  v1::SubmitActivityReportRequest submit;
  *submit.mutable_activity_report() = Sent(12, 8);
  auto first = reports.Submit(submit, access);
  ASSERT_TRUE(first.ok()) << first.status();

  v1::CorrectActivityReportRequest correct;
  *correct.mutable_activity_report() = Sent(13, 8);
  correct.mutable_activity_report()->set_name(first->name());
  auto missing = reports.Correct(correct, access);
  EXPECT_THAT(
      api::Violations(missing.status()),
      ::testing::Contains(::testing::Field(&api::FieldViolation::field, "activity_report.etag")));
  correct.mutable_activity_report()->set_etag(first->etag());
  auto second = reports.Correct(correct, access);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->revision(), 2);
  // The same etag again: someone corrected it since.
  *correct.mutable_activity_report() = Sent(14, 8);
  correct.mutable_activity_report()->set_name(first->name());
  correct.mutable_activity_report()->set_etag(first->etag());
  auto stale = reports.Correct(correct, access);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(), HasSubstr("révision 2, etag reçu pour la révision 1"));
  EXPECT_EQ(store_->Get(IdOf(first->name()), 0)->beneficiaries_total().femme(), 13);

  v1::GetBreakdownRequest by_org;
  by_org.set_dimension(v1::ORGANISATION);
  auto before = reports.GetBreakdown(by_org);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_NEAR(before->total().women().value(), 13, kNoiseBound);

  v1::WithdrawActivityReportRequest withdraw;
  withdraw.set_name(first->name());
  withdraw.set_etag(first->etag());
  EXPECT_EQ(reports.Withdraw(withdraw, access).status().code(), absl::StatusCode::kAborted);
  withdraw.set_etag(second->etag());
  withdraw.set_reason("doublon");
  auto gone = reports.Withdraw(withdraw, access);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->state(), v1::ActivityReport::WITHDRAWN);
  EXPECT_EQ(gone->revision(), 3);
  auto changes = store_->ChangesSince(0);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_TRUE(changes->back().withdrawn);
  // The report's record key, drawn once: every revision carries the same.
  EXPECT_NE(changes->front().figures.record_key, 0u);
  for (const Change& c : *changes) {
    EXPECT_EQ(c.figures.record_key, changes->front().figures.record_key);
  }
  auto after = reports.GetBreakdown(by_org);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->total().reports(), 0);
  correct.mutable_activity_report()->set_etag(gone->etag());
  auto late = reports.Correct(correct, access);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("retiré"));
  // Withdrawn reports are listed only on request.
  v1::ListActivityReportsRequest list;
  EXPECT_EQ(reports.List(list, access)->total_size(), 0);
  list.set_show_withdrawn(true);
  EXPECT_EQ(reports.List(list, access)->total_size(), 1);
}

// Breakdowns are released at fixed dates: a report (or its correction, or its withdrawal) shows
// from the first release after it was written, so a member sees one new noise per release however
// many reports it files meanwhile.
TEST_F(ReportsPgTest, BreakdownsShowTheReportsOfTheLastRelease) {
  const std::unique_ptr<Reports> domain = MakeReports(absl::Hours(24));
  Reports& reports = *domain;
  Access access;
  v1::GetBreakdownRequest by_org;
  by_org.set_dimension(v1::ORGANISATION);
  auto reports_shown = [&]() {
    auto b = reports.GetBreakdown(by_org);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? b->total().reports() : -1;
  };
  clock_.Advance(absl::Hours(9));
  v1::SubmitActivityReportRequest submit;
  *submit.mutable_activity_report() = Sent(12, 8);
  auto first = reports.Submit(submit, access);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(reports_shown(), 0);  // written after today's release
  clock_.Advance(absl::Hours(14));
  EXPECT_EQ(reports_shown(), 0);  // 23:00: still today's
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(reports_shown(), 1);  // midnight UTC: released
  auto released = reports.GetBreakdown(by_org);
  ASSERT_TRUE(released.ok());
  EXPECT_NEAR(released->total().women().value(), 12, kNoiseBound);
  // A correction and a second report wait for the next release; the released table stays.
  v1::CorrectActivityReportRequest correct;
  *correct.mutable_activity_report() = Sent(30, 8);
  correct.mutable_activity_report()->set_name(first->name());
  correct.mutable_activity_report()->set_etag(first->etag());
  ASSERT_TRUE(reports.Correct(correct, access).ok());
  ASSERT_TRUE(reports.Submit(submit, access).ok());
  auto same = reports.GetBreakdown(by_org);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->SerializeAsString(), released->SerializeAsString());
  clock_.Advance(absl::Hours(24));
  auto next = reports.GetBreakdown(by_org);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->total().reports(), 2);
  EXPECT_NEAR(next->total().women().value(), 42, kNoiseBound);
}

}  // namespace
}  // namespace passerelle::indicators::reports
