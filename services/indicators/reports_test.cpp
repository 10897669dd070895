// The pure rules of the reports domain: a report that does not add up is refused with the cell
// that is wrong and both sums; dates, lists and bounds; the breakdown's groups, margins, shares
// and protection; the equality grid's checks and scores.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/indicators/perturbation.hpp"
#include "services/indicators/reports_breakdown.hpp"
#include "services/indicators/reports_equality.hpp"
#include "services/indicators/reports_validation.hpp"

namespace passerelle::indicators::reports {
namespace {

using ::testing::HasSubstr;

v1::SexSplit Split(int f, int h, int a = 0, int n = 0) {
  v1::SexSplit s;
  s.set_femme(f);
  s.set_homme(h);
  s.set_autre(a);
  s.set_non_communique(n);
  return s;
}

// A report whose every breakdown adds up: 12 women, 8 men, 1 other, 2 not given.
v1::ActivityReport Valid() {
  v1::ActivityReport r;
  r.set_organisation("centre-social-epeule");
  r.set_action("Ateliers « premiers pas sur smartphone »");
  r.set_period_start("2026-09-01");
  r.set_period_end("2026-11-30");
  r.add_venues("venues/0b5c5a0e-3a5c-4b8e-9a53-1d7a5e1c2f00");
  r.add_items("items/smartphone");
  r.set_sessions(24);
  *r.mutable_beneficiaries_total() = Split(12, 8, 1, 2);
  auto* a = r.add_beneficiaries_by_age();
  a->set_age_band("26_44");
  *a->mutable_count() = Split(5, 3, 1, 0);
  a = r.add_beneficiaries_by_age();
  a->set_age_band("45_64");
  *a->mutable_count() = Split(4, 4, 0, 1);
  a = r.add_beneficiaries_by_age();
  a->set_age_band("65_et_plus");
  *a->mutable_count() = Split(3, 1, 0, 1);
  *r.mutable_first_time() = Split(10, 5, 1, 2);
  *r.mutable_returning() = Split(2, 3, 0, 0);
  *r.mutable_qpv_residents() = Split(7, 4, 0, 1);
  *r.mutable_other_residents() = Split(5, 4, 1, 1);
  *r.mutable_completed() = Split(9, 5, 1, 1);
  auto* d = r.add_dropouts();
  d->set_reason("garde_enfants");
  *d->mutable_count() = Split(2, 0, 0, 0);
  d = r.add_dropouts();
  d->set_reason("emploi");
  *d->mutable_count() = Split(0, 2, 0, 0);
  *r.mutable_in_progress() = Split(1, 1, 0, 1);
  auto* o = r.add_outcomes();
  o->set_kind(v1::OutcomeCount::CERTIFICATION);
  o->set_detail("pix");
  o->set_min_competences(3);
  *o->mutable_count() = Split(4, 2, 0, 0);
  o = r.add_outcomes();
  o->set_kind(v1::OutcomeCount::JOB);
  *o->mutable_count() = Split(1, 2, 0, 0);
  *r.mutable_positive_outcome() = Split(5, 3, 0, 0);
  *r.mutable_satisfaction_respondents() = Split(11, 6, 1, 0);
  *r.mutable_satisfied() = Split(10, 5, 1, 0);
  auto* t = r.add_targets();
  t->set_description("certifiés Pix avec au moins 3 compétences");
  t->set_target(5);
  t->set_reached(6);
  return r;
}

const absl::CivilDay kToday(2026, 12, 1);

std::string Fields(const std::vector<api::FieldViolation>& bad) {
  std::string out;
  for (const auto& v : bad) out += v.field + ": " + v.description + "\n";
  return out;
}

TEST(ReportValidationTest, AValidReportPasses) {
  EXPECT_EQ(Fields(ValidateReport(Valid(), kToday, "activity_report")), "");
}

// The Must show: a report that does not add up is refused with the cell that is wrong.
TEST(ReportValidationTest, AgeBandsThatDoNotAddUpNameTheCellAndBothSums) {
  v1::ActivityReport r = Valid();
  r.mutable_beneficiaries_by_age(2)->mutable_count()->set_femme(5);  // 5 + 4 + 5 = 14 ≠ 12
  auto bad = ValidateReport(r, kToday, "activity_report");
  ASSERT_EQ(bad.size(), 1u) << Fields(bad);
  EXPECT_EQ(bad[0].field, "activity_report.beneficiaries_by_age[2].count.femme");
  EXPECT_THAT(bad[0].description, HasSubstr("14"));
  EXPECT_THAT(bad[0].description, HasSubstr("12"));
}

TEST(ReportValidationTest, EveryBreakdownIsCheckedSexBySex) {
  v1::ActivityReport r = Valid();
  r.mutable_returning()->set_homme(4);             // 5 + 4 ≠ 8
  r.mutable_other_residents()->set_autre(0);       // 0 + 0 ≠ 1
  r.mutable_in_progress()->set_non_communique(0);  // 1 + 0 + 0 ≠ 2
  r.mutable_satisfied()->set_femme(12);            // > 11 respondents
  auto bad = ValidateReport(r, kToday, "activity_report");
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  EXPECT_EQ(fields,
            (std::set<std::string>{
                "activity_report.returning.homme", "activity_report.other_residents.autre",
                "activity_report.in_progress.non_communique", "activity_report.satisfied.femme"}))
      << Fields(bad);
}

// Which cell of a pair is wrong cannot be known: the description names every part with its value,
// their sum and the total (the field stays the part where the sum goes wrong).
TEST(ReportValidationTest, ASumThatDoesNotAddUpNamesEveryPartAndTheTotal) {
  v1::ActivityReport r = Valid();
  r.mutable_first_time()->set_femme(11);  // 11 + 2 = 13 ≠ 12: first_time may be the wrong one
  auto bad = ValidateReport(r, kToday, "activity_report");
  ASSERT_EQ(bad.size(), 1u) << Fields(bad);
  EXPECT_EQ(bad[0].field, "activity_report.returning.femme");
  EXPECT_THAT(bad[0].description, HasSubstr("first_time.femme = 11"));
  EXPECT_THAT(bad[0].description, HasSubstr("returning.femme = 2"));
  EXPECT_THAT(bad[0].description, HasSubstr("font 13"));
  EXPECT_THAT(bad[0].description, HasSubstr("beneficiaries_total.femme vaut 12"));
  // Age bands: every band named.
  r = Valid();
  r.mutable_beneficiaries_by_age(0)->mutable_count()->set_homme(4);  // 4 + 4 + 1 = 9 ≠ 8
  bad = ValidateReport(r, kToday, "activity_report");
  ASSERT_EQ(bad.size(), 1u) << Fields(bad);
  for (const char* part :
       {"beneficiaries_by_age[0].count.homme = 4", "beneficiaries_by_age[1].count.homme = 4",
        "beneficiaries_by_age[2].count.homme = 1"}) {
    EXPECT_THAT(bad[0].description, HasSubstr(part));
  }
}

// A value out of range is refused once, with `[range]`; the sums it is in are not checked for
// that sex (they would only repeat it), the other sexes still are.
TEST(ReportValidationTest, AValueOutOfRangeIsNotBlamedAgainBySums) {
  v1::ActivityReport r = Valid();
  r.mutable_beneficiaries_total()->set_femme(-12);
  auto bad = ValidateReport(r, kToday, "activity_report");
  ASSERT_EQ(bad.size(), 1u) << Fields(bad);
  EXPECT_EQ(bad[0].field, "activity_report.beneficiaries_total.femme");
  EXPECT_THAT(bad[0].description, HasSubstr("[range]"));
  r = Valid();
  r.mutable_completed()->set_homme(-3);
  r.mutable_returning()->set_autre(5);  // another sex, still summed
  bad = ValidateReport(r, kToday, "activity_report");
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"activity_report.completed.homme",
                                           "activity_report.returning.autre"}))
      << Fields(bad);
  r = Valid();
  r.mutable_outcomes(0)->mutable_count()->set_femme(-4);
  bad = ValidateReport(r, kToday, "activity_report");
  ASSERT_EQ(bad.size(), 1u) << Fields(bad);
  EXPECT_THAT(bad[0].description, HasSubstr("[range]"));
}

TEST(ReportValidationTest, CountsAreBounded) {
  v1::ActivityReport r = Valid();
  r.set_sessions(-1);
  r.mutable_beneficiaries_total()->set_femme(2'000'000'000);
  r.mutable_targets(0)->set_target(1'000'001);
  auto bad = ValidateReport(r, kToday, "activity_report");
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  EXPECT_TRUE(fields.contains("activity_report.sessions")) << Fields(bad);
  EXPECT_TRUE(fields.contains("activity_report.beneficiaries_total.femme")) << Fields(bad);
  EXPECT_TRUE(fields.contains("activity_report.targets[0].target")) << Fields(bad);
}

TEST(ReportValidationTest, PeriodsAreSane) {
  auto period = [](std::string start, std::string end) {
    v1::ActivityReport r = Valid();
    r.set_period_start(start);
    r.set_period_end(end);
    return Fields(ValidateReport(r, kToday, "r"));
  };
  EXPECT_THAT(period("2026-02-30", "2026-03-01"), HasSubstr("r.period_start: [date]"));
  EXPECT_THAT(period("2026-9-01", "2026-10-01"), HasSubstr("r.period_start: [date]"));
  EXPECT_THAT(period("2026-09-01", "2026-12-02"), HasSubstr("r.period_end: [future]"));
  EXPECT_THAT(period("2026-09-01", "2026-08-31"), HasSubstr("r.period_end: [order]"));
  EXPECT_THAT(period("2025-01-01", "2026-01-03"), HasSubstr("r.period_end: [range]"));
  EXPECT_EQ(period("2025-01-01", "2026-01-02"), "");  // 366 days
  EXPECT_EQ(period("2026-12-01", "2026-12-01"), "");  // today
}

TEST(ReportValidationTest, ListsAndTextsFollowTheirRules) {
  v1::ActivityReport r = Valid();
  r.mutable_beneficiaries_by_age(0)->set_age_band("25_30");
  r.mutable_dropouts(1)->set_reason("garde_enfants");           // twice
  r.add_venues("venues/0b5c5a0e-3a5c-4b8e-9a53-1d7a5e1c2f00");  // twice
  r.add_items("lieux/x");
  r.set_action(std::string("a\0b", 3));
  r.mutable_outcomes(1)->set_kind(static_cast<v1::OutcomeCount::Kind>(42));
  auto bad = ValidateReport(r, kToday, "activity_report");
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  for (const char* f :
       {"activity_report.beneficiaries_by_age[0].age_band", "activity_report.dropouts[1].reason",
        "activity_report.venues[1]", "activity_report.items[1]", "activity_report.action",
        "activity_report.outcomes[1].kind"}) {
    EXPECT_TRUE(fields.contains(f)) << f << "\n" << Fields(bad);
  }
}

TEST(ReportValidationTest, PositiveOutcomeLiesBetweenTheLargestKindAndTheSum) {
  v1::ActivityReport r = Valid();
  r.mutable_positive_outcome()->set_femme(3);  // < 4 certified women
  r.mutable_positive_outcome()->set_homme(5);  // > 2 + 2
  auto bad = ValidateReport(r, kToday, "activity_report");
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"activity_report.positive_outcome.femme",
                                           "activity_report.positive_outcome.homme"}))
      << Fields(bad);
  r = Valid();
  r.clear_positive_outcome();
  EXPECT_THAT(Fields(ValidateReport(r, kToday, "a")), HasSubstr("a.positive_outcome: [required]"));
}

std::shared_ptr<const Figures> Report(std::string org, std::string start,
                                      std::vector<std::string> areas, BySex reached,
                                      BySex completed = {}) {
  auto f = std::make_shared<Figures>();
  f->id = org + start;
  f->organisation = org;
  f->organisation_label = "Label " + org;
  f->period_start = *ParseDay(start);
  f->period_end = f->period_start + 30;
  f->items = {"items/smartphone"};
  f->areas = std::move(areas);
  f->reached = reached;
  f->completed = completed;
  f->record_key = std::hash<std::string>()(f->id) * 0x9e3779b97f4a7c15ULL;
  return f;
}

// Pooling off: the tests of grouping and of the protection's pattern read every row.
constexpr BreakdownOptions kEveryRow{.k = 5, .min_reports = 1};

// A published count: its true value within the noise, never under k.
void ExpectPublished(const v1::Figure& f, int64_t truth) {
  ASSERT_TRUE(f.has_value()) << f.display();
  EXPECT_LE(std::abs(f.value() - truth), kNoiseBound) << truth;
  EXPECT_GE(f.value(), 5);
  EXPECT_EQ(f.display(), absl::StrCat(f.value()));
}

// A share of noisy counts: within `tolerance` points of the true one.
void ExpectShareNear(const v1::Share& s, double truth, double tolerance) {
  ASSERT_TRUE(s.has_percent());
  EXPECT_NEAR(s.percent(), truth, tolerance);
  EXPECT_LE(s.percent(), 100.0);
}

TEST(BreakdownTest, GroupsMarginsSharesAndProtection) {
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  v1::Breakdown b = ComputeBreakdown(q,
                                     {Report("a", "2026-01-01", {}, {20, 10, 0, 5}, {10, 5, 0, 0}),
                                      Report("a", "2026-04-01", {}, {10, 10, 0, 0}, {5, 5, 0, 0}),
                                      Report("b", "2026-01-01", {}, {30, 2, 0, 8}, {15, 0, 0, 0})},
                                     kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_EQ(b.rows(0).key(), "a");
  EXPECT_EQ(b.rows(0).label(), "Label a");
  EXPECT_EQ(b.rows(0).reports(), 2);
  ExpectPublished(b.rows(0).women(), 30);
  ExpectShareNear(b.rows(0).women_completed(), 50.0, 17.0);  // 15 of 30, each ± 3
  // Column « homme »: a's 20 and the total 22 would give b's 2: a's 20 is its complement, so
  // a's share of men and the gap are unset; its share of women (of everyone reached) is
  // published when its total is.
  EXPECT_FALSE(b.rows(0).men().has_value());
  EXPECT_EQ(b.rows(0).men().display(), "s");
  EXPECT_FALSE(b.rows(0).men_share().has_percent());
  EXPECT_EQ(b.rows(0).women_share().has_percent(), b.rows(0).total().has_value());
  if (b.rows(0).total().has_value()) {
    ExpectShareNear(b.rows(0).women_share(), 54.5, 10.0);  // 30 of 55
  }
  EXPECT_FALSE(b.rows(0).reached_gap().has_points());
  // b's 2 men: « < 5 », its men share and completion unset.
  EXPECT_FALSE(b.rows(1).men().has_value());
  EXPECT_EQ(b.rows(1).men().display(), "< 5");
  EXPECT_FALSE(b.rows(1).men_share().has_percent());
  EXPECT_EQ(b.rows(1).women_share().has_percent(), b.rows(1).total().has_value());
  if (b.rows(1).total().has_value()) {
    ExpectShareNear(b.rows(1).women_share(), 75.0, 15.0);  // 30 of 40
  }
  // Column « homme »: a's 20 and the total 22 would give b's 2: one of them is hidden too.
  EXPECT_TRUE(!b.rows(0).men().has_value() || !b.total().men().has_value());
  EXPECT_GE(b.suppressed_cells(), 4);
  EXPECT_EQ(b.total().reports(), 3);
}

// A share as published: round(1000 × part / whole) / 10, capped at 100, of the two counts
// each within the noise. Returns the lowest and highest it can be.
std::pair<double, double> ShareRange(int64_t part, int64_t whole) {
  double lo = 100, hi = 0;
  for (int a = -kNoiseBound; a <= kNoiseBound; ++a) {
    for (int b = -kNoiseBound; b <= kNoiseBound; ++b) {
      const double p = std::min(100.0, std::round(1000.0 * static_cast<double>(part + a) /
                                                  static_cast<double>(whole + b)) /
                                           10.0);
      lo = std::min(lo, p);
      hi = std::max(hi, p);
    }
  }
  return {lo, hi};
}

// The shares of women and of men among `whole` with `part` (true counts), and their gap: each
// the value computed by hand, moved at most by the noise of its counts.
void ExpectSharesAndGap(const v1::Share& women, const v1::Share& men, const v1::ShareGap& gap,
                        std::array<int64_t, 2> part, std::array<int64_t, 2> whole,
                        double women_by_hand, double men_by_hand, double gap_by_hand) {
  ASSERT_TRUE(women.has_percent());
  ASSERT_TRUE(men.has_percent());
  ASSERT_TRUE(gap.has_points());
  EXPECT_NEAR(100.0 * static_cast<double>(part[0]) / static_cast<double>(whole[0]), women_by_hand,
              0.05);
  EXPECT_NEAR(100.0 * static_cast<double>(part[1]) / static_cast<double>(whole[1]), men_by_hand,
              0.05);
  const auto [wlo, whi] = ShareRange(part[0], whole[0]);
  const auto [mlo, mhi] = ShareRange(part[1], whole[1]);
  EXPECT_GE(women.percent(), wlo);
  EXPECT_LE(women.percent(), whi);
  EXPECT_GE(men.percent(), mlo);
  EXPECT_LE(men.percent(), mhi);
  // The gap is women's published share minus men's, in points, to a tenth: the hand-computed
  // gap moved at most by the two shares' ranges.
  EXPECT_NEAR(gap.points(), std::round(10.0 * (women.percent() - men.percent())) / 10.0, 1e-9);
  EXPECT_NEAR(women_by_hand - men_by_hand, gap_by_hand, 0.05);
  EXPECT_GE(gap.points(), wlo - mhi - 0.05);
  EXPECT_LE(gap.points(), whi - mlo + 0.05);
}

// The shares of women and of men satisfied (of respondents), completing, dropping out and with a
// positive outcome (of those reached), and their gaps, against figures computed by hand on three
// crafted reports (counts large enough that nothing is small, so every share is published).
TEST(BreakdownTest, SharesOfWomenAndMenAndTheirGapsMatchTheHandComputation) {
  auto report = [](std::string org, std::string start, BySex reached, BySex respondents,
                   BySex satisfied, BySex completed, BySex dropped, BySex positive) {
    auto f = std::make_shared<Figures>();
    f->id = org + start;
    f->organisation = org;
    f->organisation_label = "Label " + org;
    f->period_start = *ParseDay(start);
    f->period_end = f->period_start + 30;
    f->items = {"items/smartphone"};
    f->reached = reached;
    f->respondents = respondents;
    f->satisfied = satisfied;
    f->completed = completed;
    f->dropped = dropped;
    f->positive = positive;
    f->record_key = std::hash<std::string>()(f->id) * 0x9e3779b97f4a7c15ULL;
    return std::shared_ptr<const Figures>(f);
  };
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  q.year = 2026;
  v1::Breakdown b = ComputeBreakdown(
      q,
      {report("a", "2026-01-01", {400, 200, 0, 0}, {300, 150, 0, 0}, {240, 90, 0, 0},
              {320, 120, 0, 0}, {40, 50, 0, 0}, {200, 60, 0, 0}),
       report("a", "2026-04-01", {100, 100, 0, 0}, {100, 50, 0, 0}, {60, 40, 0, 0}, {80, 70, 0, 0},
              {10, 20, 0, 0}, {50, 40, 0, 0}),
       report("b", "2026-02-01", {250, 300, 0, 0}, {200, 200, 0, 0}, {150, 100, 0, 0},
              {200, 200, 0, 0}, {25, 60, 0, 0}, {100, 90, 0, 0})},
      kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_EQ(b.suppressed_cells(), 0);
  // Row a (two reports): reached 500 women, 300 men.
  const v1::BreakdownRow& a = b.rows(0);
  ASSERT_EQ(a.key(), "a");
  ExpectSharesAndGap(a.women_satisfied(), a.men_satisfied(), a.satisfied_gap(), {300, 130},
                     {400, 200}, 75.0, 65.0, 10.0);
  ExpectSharesAndGap(a.women_completed(), a.men_completed(), a.completed_gap(), {400, 190},
                     {500, 300}, 80.0, 63.33, 16.67);
  ExpectSharesAndGap(a.women_dropped_out(), a.men_dropped_out(), a.dropped_out_gap(), {50, 70},
                     {500, 300}, 10.0, 23.33, -13.33);
  ExpectSharesAndGap(a.women_positive_outcome(), a.men_positive_outcome(), a.positive_outcome_gap(),
                     {250, 100}, {500, 300}, 50.0, 33.33, 16.67);
  // Row b: reached 250 women, 300 men.
  const v1::BreakdownRow& rb = b.rows(1);
  ASSERT_EQ(rb.key(), "b");
  ExpectSharesAndGap(rb.women_satisfied(), rb.men_satisfied(), rb.satisfied_gap(), {150, 100},
                     {200, 200}, 75.0, 50.0, 25.0);
  ExpectSharesAndGap(rb.women_completed(), rb.men_completed(), rb.completed_gap(), {200, 200},
                     {250, 300}, 80.0, 66.67, 13.33);
  ExpectSharesAndGap(rb.women_dropped_out(), rb.men_dropped_out(), rb.dropped_out_gap(), {25, 60},
                     {250, 300}, 10.0, 20.0, -10.0);
  ExpectSharesAndGap(rb.women_positive_outcome(), rb.men_positive_outcome(),
                     rb.positive_outcome_gap(), {100, 90}, {250, 300}, 40.0, 30.0, 10.0);
  // The total: reached 750 women, 600 men.
  const v1::BreakdownRow& t = b.total();
  ExpectSharesAndGap(t.women_satisfied(), t.men_satisfied(), t.satisfied_gap(), {450, 230},
                     {600, 400}, 75.0, 57.5, 17.5);
  ExpectSharesAndGap(t.women_completed(), t.men_completed(), t.completed_gap(), {600, 390},
                     {750, 600}, 80.0, 65.0, 15.0);
  ExpectSharesAndGap(t.women_dropped_out(), t.men_dropped_out(), t.dropped_out_gap(), {75, 130},
                     {750, 600}, 10.0, 21.67, -11.67);
  ExpectSharesAndGap(t.women_positive_outcome(), t.men_positive_outcome(), t.positive_outcome_gap(),
                     {350, 190}, {750, 600}, 46.67, 31.67, 15.0);
  // The CSV carries the same shares and gaps, column by column.
  const std::string csv = BreakdownCsv(b);
  EXPECT_THAT(csv, HasSubstr(absl::StrCat(",", t.women_satisfied().percent(), ",",
                                          t.men_satisfied().percent(), ",",
                                          t.women_completed().percent(), ",")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat(
                       ",", t.satisfied_gap().points(), ",", t.completed_gap().points(), ",",
                       t.dropped_out_gap().points(), ",", t.positive_outcome_gap().points(), ",")));
}

// The share of women and of men reached who live in a priority neighbourhood (QPV), collected
// with every report and published with the others, under the same protection: by hand on
// three crafted reports, then hidden with a small count.
TEST(BreakdownTest, SharesOfQpvResidentsMatchTheHandComputation) {
  auto report = [](std::string org, std::string start, BySex reached, BySex qpv) {
    auto f = std::make_shared<Figures>();
    f->id = org + start;
    f->organisation = org;
    f->organisation_label = "Label " + org;
    f->period_start = *ParseDay(start);
    f->period_end = f->period_start + 30;
    f->items = {"items/smartphone"};
    f->reached = reached;
    f->qpv = qpv;
    f->record_key = std::hash<std::string>()(f->id) * 0x9e3779b97f4a7c15ULL;
    return std::shared_ptr<const Figures>(f);
  };
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  v1::Breakdown b = ComputeBreakdown(q,
                                     {report("a", "2026-01-01", {400, 200, 0, 0}, {100, 80, 0, 0}),
                                      report("a", "2026-04-01", {100, 100, 0, 0}, {50, 20, 0, 0}),
                                      report("b", "2026-02-01", {250, 300, 0, 0}, {200, 90, 0, 0})},
                                     kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  const v1::BreakdownRow& a = b.rows(0);
  ExpectSharesAndGap(a.women_qpv_residents(), a.men_qpv_residents(), a.qpv_residents_gap(),
                     {150, 100}, {500, 300}, 30.0, 33.33, -3.33);
  const v1::BreakdownRow& rb = b.rows(1);
  ExpectSharesAndGap(rb.women_qpv_residents(), rb.men_qpv_residents(), rb.qpv_residents_gap(),
                     {200, 90}, {250, 300}, 80.0, 30.0, 50.0);
  const v1::BreakdownRow& t = b.total();
  ExpectSharesAndGap(t.women_qpv_residents(), t.men_qpv_residents(), t.qpv_residents_gap(),
                     {350, 190}, {750, 600}, 46.67, 31.67, 15.0);
  const std::string csv = BreakdownCsv(b);
  EXPECT_THAT(csv, HasSubstr(",ecart_sortie_positive,femmes_qpv,hommes_qpv,ecart_qpv\r\n"));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat(",", t.women_qpv_residents().percent(), ",",
                                          t.men_qpv_residents().percent(), ",",
                                          t.qpv_residents_gap().points(), "\r\n")));
  // Two men of b living in a QPV: a small count, never published, nor its share.
  b = ComputeBreakdown(q,
                       {report("a", "2026-01-01", {400, 200, 0, 0}, {100, 80, 0, 0}),
                        report("b", "2026-02-01", {250, 300, 0, 0}, {200, 2, 0, 0})},
                       kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_FALSE(b.rows(1).men_qpv_residents().has_percent());
  EXPECT_FALSE(b.rows(1).qpv_residents_gap().has_points());
  EXPECT_TRUE(b.rows(1).women_qpv_residents().has_percent());
  // The column's other cell is hidden with it (b's 2 = total − a's 80 otherwise).
  EXPECT_TRUE(!b.rows(0).men_qpv_residents().has_percent() ||
              !b.total().men_qpv_residents().has_percent());
}

// Every report counts in one row only, so the rows add up to the total the protection relies
// on: a report whose venues lie in two areas goes to « Plusieurs zones », one with none in the
// layer to « Hors zone ». The review took a hidden cell out of overlapping rows.
TEST(BreakdownTest, EveryReportCountsInOneRow) {
  BreakdownQuery q;
  q.dimension = v1::AREA;
  q.layer = "quartiers";
  auto r1 =
      Report("a", "2026-01-15", {"quartiers:epeule", "qpv:x", "quartiers:epeule"}, {10, 10, 0, 0});
  auto r2 = Report("b", "2026-05-01", {"quartiers:epeule", "quartiers:centre"}, {12, 10, 0, 0});
  auto r3 = Report("c", "2026-06-01", {"qpv:x"}, {7, 9, 0, 0});
  v1::Breakdown b = ComputeBreakdown(q, {r1, r2, r3}, kEveryRow);
  ASSERT_EQ(b.rows_size(), 3);
  EXPECT_EQ(b.rows(0).key(), "areaLayers/quartiers/areas/epeule");
  EXPECT_EQ(b.rows(0).reports(), 1);
  ExpectPublished(b.rows(0).women(), 10);
  EXPECT_EQ(b.rows(1).key(), "multiple");
  EXPECT_EQ(b.rows(1).label(), "Plusieurs zones");
  ExpectPublished(b.rows(1).women(), 12);
  EXPECT_EQ(b.rows(2).key(), "none");
  EXPECT_EQ(b.rows(2).label(), "Hors zone");
  ExpectPublished(b.total().women(), 29);  // 10 + 12 + 7: the rows' sum
  ExpectShareNear(b.rows(0).women_share(), 50.0, 27.0);
  EXPECT_TRUE(b.rows(0).reached_gap().has_points());
  q.dimension = v1::ITEM;
  q.layer.clear();
  auto r4 = std::make_shared<Figures>(*Report("d", "2026-06-01", {}, {8, 8, 0, 0}));
  r4->items = {"items/smartphone", "items/email"};
  b = ComputeBreakdown(q, {r1, r4}, kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_EQ(b.rows(0).key(), "items/smartphone");
  EXPECT_EQ(b.rows(1).key(), "multiple");
  EXPECT_EQ(b.rows(1).label(), "Plusieurs services");
  q.dimension = v1::PERIOD;
  b = ComputeBreakdown(q, {r1, r2}, kEveryRow);
  ASSERT_EQ(b.rows_size(), 2);
  EXPECT_EQ(b.rows(0).key(), "2026-Q1");
  EXPECT_EQ(b.rows(0).label(), "1er trimestre 2026");
  EXPECT_EQ(b.rows(1).key(), "2026-Q2");
}

// Every breakdown of a year shows the same total row, whatever its dimension: a cell hidden in
// one answer's total is hidden in every other's.
TEST(BreakdownTest, TheTotalRowIsTheSameInEveryDimension) {
  auto r1 = Report("a", "2026-01-15", {"quartiers:epeule"}, {10, 12, 3, 9});
  auto r2 = Report("b", "2026-05-01", {"quartiers:centre"}, {12, 10, 0, 6});
  auto r3 = Report("c", "2026-06-01", {"quartiers:centre"}, {7, 9, 0, 1});
  BreakdownQuery q;
  q.layer = "quartiers";
  std::vector<std::string> seen;
  for (v1::Dimension d : {v1::AREA, v1::ITEM, v1::ORGANISATION, v1::PERIOD}) {
    q.dimension = d;
    const v1::Breakdown b = ComputeBreakdown(q, {r1, r2, r3}, kEveryRow);
    const auto& t = b.total();
    seen.push_back(absl::StrCat(t.women().display(), "|", t.men().display(), "|",
                                t.other().display(), "|", t.not_given().display(), "|",
                                t.total().display()));
  }
  // 29 | 31 | 3 | 16 | 79, with their noise: the same in every dimension.
  EXPECT_THAT(seen[0], ::testing::MatchesRegex("[0-9]+\\|[0-9]+\\|< 5\\|s\\|[0-9]+"));
  for (const auto& s : seen) EXPECT_EQ(s, seen[0]);
}

// A row stands for at least three reports: smaller rows go to « Autres … », the smallest rows
// join a pool still too small, and a year of fewer reports shows no figure. The second review
// matched one-report rows across tables to isolate one report's figures.
TEST(BreakdownTest, RowsOfFewReportsArePooled) {
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  std::vector<std::shared_ptr<const Figures>> reports;
  auto add = [&](const std::string& org, int n, const std::string& month) {
    for (int i = 0; i < n; ++i) {
      reports.push_back(Report(org, absl::StrCat("2026-", month, "-0", i + 1), {}, {10, 10, 0, 0}));
    }
  };
  add("a", 3, "01");
  add("b", 1, "02");
  add("c", 1, "03");
  add("d", 4, "04");
  add("e", 5, "05");
  v1::Breakdown b = ComputeBreakdown(q, reports, BreakdownOptions{});
  EXPECT_EQ(b.min_reports(), 3);
  EXPECT_EQ(b.noise_bound(), kNoiseBound);
  // b and c (2 reports) are too few together: a, the smallest row, joins them.
  ASSERT_EQ(b.rows_size(), 3);
  EXPECT_EQ(b.rows(0).key(), "d");
  EXPECT_EQ(b.rows(1).key(), "e");
  EXPECT_EQ(b.rows(2).key(), "others");
  EXPECT_EQ(b.rows(2).label(), "Autres organisations");
  EXPECT_EQ(b.rows(2).reports(), 5);
  ExpectPublished(b.rows(2).women(), 50);
  EXPECT_EQ(b.total().reports(), 14);
  // Every dimension pools the same way, each with its own label.
  q.dimension = v1::PERIOD;
  b = ComputeBreakdown(q, reports, BreakdownOptions{});
  ASSERT_EQ(b.rows_size(), 2);  // Q1 (5 reports), Q2 (9)
  EXPECT_EQ(b.rows(0).key(), "2026-Q1");
  q.dimension = v1::AREA;
  q.layer = "quartiers";
  b = ComputeBreakdown(q, reports, BreakdownOptions{});
  ASSERT_EQ(b.rows_size(), 1);  // all « Hors zone »
  EXPECT_EQ(b.rows(0).key(), "none");
  // A pool of every report would only repeat the total: no row.
  q.dimension = v1::ORGANISATION;
  b = ComputeBreakdown(q, {reports[0], reports[3], reports[4]}, BreakdownOptions{});
  EXPECT_EQ(b.rows_size(), 0);
  ExpectPublished(b.total().women(), 30);
  // Two reports in the year: their count and nothing else.
  b = ComputeBreakdown(q, {reports[0], reports[3]}, BreakdownOptions{});
  EXPECT_EQ(b.rows_size(), 0);
  EXPECT_EQ(b.total().reports(), 2);
  for (const v1::Figure* f : {&b.total().women(), &b.total().men(), &b.total().other(),
                              &b.total().not_given(), &b.total().total()}) {
    EXPECT_FALSE(f->has_value());
    EXPECT_EQ(f->display(), "s");
  }
  EXPECT_FALSE(b.total().women_share().has_percent());
  EXPECT_THAT(BreakdownCsv(b), ::testing::Not(HasSubstr(",20,")));
}

// The noise: bounded, never under k, zero kept, with the distribution it claims, and drawn
// again when one cell key changes (independent per measure and column).
TEST(PerturbationTest, NoiseIsBoundedAndDistributedAsDocumented) {
  EXPECT_EQ(Perturbed(0, 12345, 5), 0);
  std::mt19937_64 random(7);
  std::array<int, 2 * kNoiseBound + 1> seen{};
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const uint64_t key = CellKey(random(), i % 6, i % 5);
    const int64_t v = Perturbed(100, key, 5);
    ASSERT_LE(std::abs(v - 100), kNoiseBound);
    ++seen[static_cast<size_t>(v - 100 + kNoiseBound)];
    ASSERT_GE(Perturbed(5, key, 5), 5);
    ASSERT_LE(Perturbed(5, key, 5), 5 + kNoiseBound);
    ASSERT_GE(Perturbed(6, key, 5), 5);
  }
  const double expected[] = {0.02, 0.08, 0.2, 0.4, 0.2, 0.08, 0.02};
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(seen[i]) / draws, expected[i], 0.01) << i;
  }
  // The same reports, the same key; another measure or column, another key.
  EXPECT_EQ(CellKey(42, 0, 0), CellKey(42, 0, 0));
  EXPECT_NE(CellKey(42, 0, 0), CellKey(42, 0, 1));
  EXPECT_NE(CellKey(42, 0, 0), CellKey(42, 1, 0));
}

// The second review's attack: read a table, add one's own report of known figures, read again,
// subtract. With the noise, what is left is the others' count within ±6, never the count itself
// for sure: across many draws of record keys it takes several values, each as often as the noise
// allows.
TEST(PerturbationTest, SubtractingOnesOwnReportLeavesTheNoise) {
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  std::mt19937_64 random(11);
  std::map<int64_t, int> derived;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<std::shared_ptr<const Figures>> reports;
    for (int i = 0; i < 4; ++i) {
      auto f = std::make_shared<Figures>(*Report("x", "2026-02-01", {}, {i == 0 ? 4 : 3, 9, 0, 0}));
      f->record_key = random();
      reports.push_back(f);
    }
    // Others: 13 women. Mine: 20 women.
    auto mine = std::make_shared<Figures>(*Report("me", "2026-03-01", {}, {20, 10, 0, 0}));
    mine->record_key = random();
    reports.push_back(mine);
    const v1::Breakdown after = ComputeBreakdown(q, reports, BreakdownOptions{});
    ASSERT_TRUE(after.total().women().has_value());
    ++derived[after.total().women().value() - 20];
  }
  for (const auto& [value, count] : derived) {
    EXPECT_LE(std::abs(value - 13), kNoiseBound) << value;
  }
  EXPECT_GE(derived.size(), 5u);
  EXPECT_LT(derived[13], 400 / 2);  // the true count: about 40 % of draws
}

// The third review's probe: raise one's own count in a cell (a correction keeps the report's
// key, so the noise stays) until « < 5 » turns into something else, and read the others' count
// off the step. Smallness follows count + noise, so the step tells that sum, not the count.
TEST(PerturbationTest, TheThresholdFollowsTheNoise) {
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  std::mt19937_64 random(5);
  std::map<int64_t, int> derived;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::shared_ptr<const Figures>> reports;
    for (int i = 0; i < 3; ++i) {
      // Others: 2 « autre » in all.
      auto f = std::make_shared<Figures>(*Report("x", "2026-02-01", {}, {10, 10, i < 2, 0}));
      f->record_key = random();
      reports.push_back(f);
    }
    const uint64_t mine = random();
    int flip = -1;
    for (int m = 0; m <= 10 && flip < 0; ++m) {
      auto own = std::make_shared<Figures>(*Report("me", "2026-03-01", {}, {10, 10, m, 0}));
      own->record_key = mine;
      std::vector<std::shared_ptr<const Figures>> all = reports;
      all.push_back(own);
      const v1::Breakdown b = ComputeBreakdown(q, all, BreakdownOptions{});
      if (b.total().other().display() != "< 5") flip = m;
    }
    ASSERT_GE(flip, 0);
    ++derived[5 - flip];  // what the prober takes for the others' count
  }
  for (const auto& [value, count] : derived) {
    EXPECT_LE(std::abs(value - 2), kNoiseBound) << value;
  }
  EXPECT_GE(derived.size(), 4u);
  EXPECT_LT(derived[2], 300 / 2);
}

// The fourth review drew the same count twice in one release: a row beside rows of exact zeros
// (« Plusieurs services » beside items whose « autre » is 0) and the total, or a row with and
// without one's own report that adds 0 to the column. A cell's key sums the reports that count
// someone in it, so both show the same value.
TEST(PerturbationTest, ReportsThatAddNothingToACellLeaveItsNoise) {
  std::mt19937_64 random(17);
  auto make = [&](std::vector<std::string> items, BySex reached) {
    auto f = std::make_shared<Figures>(*Report("x", "2026-02-01", {}, reached));
    f->items = std::move(items);
    f->record_key = random();
    return std::shared_ptr<const Figures>(f);
  };
  std::vector<std::shared_ptr<const Figures>> reports = {
      make({"items/a"}, {20, 20, 0, 0}), make({"items/b"}, {20, 20, 0, 0}),
      make({"items/a", "items/b"}, {20, 20, 3, 0}), make({"items/a", "items/b"}, {20, 20, 4, 0})};
  BreakdownQuery q;
  q.dimension = v1::ITEM;
  const BreakdownOptions every{.k = 5, .min_reports = 1};
  v1::Breakdown b = ComputeBreakdown(q, reports, every);
  ASSERT_EQ(b.rows_size(), 3);
  ASSERT_EQ(b.rows(2).key(), "multiple");
  ASSERT_TRUE(b.rows(2).other().has_value());
  EXPECT_EQ(b.rows(2).other().value(), b.total().other().value());
  EXPECT_NEAR(b.total().other().value(), 7, kNoiseBound);
  // One's own report with no « autre »: that column does not move; the others draw anew.
  const int64_t before = b.total().other().value();
  reports.push_back(make({"items/a"}, {20, 20, 0, 0}));
  b = ComputeBreakdown(q, reports, every);
  EXPECT_EQ(b.total().other().value(), before);
}

// Identical sets of reports get identical noise wherever they appear (asking again, or another
// dimension, tells nothing new); every published count stays within the noise of its truth.
TEST(PerturbationTest, TheSameReportsShowTheSameFiguresEverywhere) {
  std::mt19937_64 random(3);
  std::vector<std::shared_ptr<const Figures>> reports;
  for (int i = 0; i < 6; ++i) {
    // Three organisations of two reports each, each organisation in its own quartier.
    const std::string org(1, static_cast<char>('a' + i / 2));
    auto f = std::make_shared<Figures>(*Report(org, absl::StrCat("2026-0", 1 + i, "-01"),
                                               {"quartiers:" + org}, {11 + i, 7 + i, 0, 0}));
    f->record_key = random();
    reports.push_back(f);
  }
  BreakdownQuery q;
  q.layer = "quartiers";
  q.dimension = v1::AREA;
  const BreakdownOptions two{.k = 5, .min_reports = 2};
  const v1::Breakdown by_area = ComputeBreakdown(q, reports, two);
  q.dimension = v1::ORGANISATION;
  const v1::Breakdown by_org = ComputeBreakdown(q, reports, two);
  ASSERT_EQ(by_area.rows_size(), 3);
  ASSERT_EQ(by_org.rows_size(), 3);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(by_area.rows(r).women().value(), by_org.rows(r).women().value());
    EXPECT_EQ(by_area.rows(r).men().value(), by_org.rows(r).men().value());
    EXPECT_EQ(by_area.rows(r).total().value(), by_org.rows(r).total().value());
    ExpectPublished(by_org.rows(r).women(), 11 + 2 * r + 11 + 2 * r + 1);
  }
  EXPECT_EQ(ComputeBreakdown(q, reports, two).DebugString(), by_org.DebugString());
}

TEST(BreakdownTest, RequestsAreChecked) {
  const absl::CivilDay today(2026, 12, 1);
  v1::GetBreakdownRequest req;
  EXPECT_EQ(ParseBreakdownRequest(req, today).status().code(), absl::StatusCode::kInvalidArgument);
  req.set_dimension(v1::AREA);
  auto bad = api::Violations(ParseBreakdownRequest(req, today).status());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "layer");
  req.set_layer("quartiers");
  auto q = ParseBreakdownRequest(req, today);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->year, 2026);  // the current year by default
  req.set_year(2027);
  bad = api::Violations(ParseBreakdownRequest(req, today).status());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "year");
  EXPECT_THAT(bad[0].description, HasSubstr("[range]"));
  req.set_year(1999);
  EXPECT_EQ(api::Violations(ParseBreakdownRequest(req, today).status()).size(), 1u);
  req.set_year(2025);
  q = ParseBreakdownRequest(req, today);
  ASSERT_TRUE(q.ok());
  // A filter an old client still sends is refused by name, not ignored.
  req.GetReflection()->MutableUnknownFields(&req)->AddLengthDelimited(6, "items/smartphone");
  bad = api::Violations(ParseBreakdownRequest(req, today).status());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "item");
  EXPECT_THAT(bad[0].description, HasSubstr("[removed]"));
  req.GetReflection()->MutableUnknownFields(&req)->Clear();
  // A report counts in the year its period starts in.
  EXPECT_TRUE(Selected(*q, *Report("a", "2025-12-20", {}, {1, 1, 0, 0})));
  EXPECT_FALSE(Selected(*q, *Report("a", "2026-01-02", {}, {1, 1, 0, 0})));
}

TEST(BreakdownTest, CsvNeutralisesAndKeepsTheProtection) {
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  auto r = Report("a", "2026-01-01", {}, {20, 3, 0, 5});
  auto f = std::make_shared<Figures>(*r);
  f->organisation_label = "=HYPERLINK(\"x\")";
  const std::string csv = BreakdownCsv(ComputeBreakdown(q, {f}, kEveryRow));
  EXPECT_THAT(csv, HasSubstr("'=HYPERLINK"));
  EXPECT_THAT(csv, HasSubstr("< 5"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr(",3,")));
}

v1::EqualityAssessment Assessment(const EqualityGrid& grid, int noes, int score) {
  v1::EqualityAssessment a;
  a.set_organisation("centre-social-epeule");
  a.set_action("Ateliers");
  a.set_assess_date("2026-10-01");
  for (size_t i = 0; i < grid.questions.size(); ++i) {
    auto* ans = a.add_answers();
    ans->set_question(grid.questions[i].id);
    ans->set_answer(static_cast<int>(i) < noes ? v1::QuestionAnswer::NO : v1::QuestionAnswer::YES);
  }
  for (const auto& s : grid.steps) {
    auto* st = a.add_steps();
    st->set_step(s);
    st->set_score(score);
  }
  return a;
}

TEST(EqualityTest, GridChecksAndScores) {
  auto grid = EqualityGrid::Parse(EqualityGridJson());
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->questions.size(), 21u);
  EXPECT_EQ(grid->steps.size(), 8u);
  EXPECT_EQ(grid->questions[2].id, "projet-1");
  v1::EqualityAssessment a = Assessment(*grid, 7, 2);
  EXPECT_EQ(Fields(grid->Validate(a, kToday, "e")), "");
  EqualityGrid::Score(&a);
  EXPECT_EQ(a.step_total(), 16);
  EXPECT_DOUBLE_EQ(a.yes_share(), 66.7);  // 14 of 21

  v1::EqualityAssessment bad = a;
  bad.mutable_answers(3)->set_question("diagnostic-1");  // twice, projet-2 missing
  bad.mutable_steps(0)->set_score(4);
  bad.mutable_answers(0)->set_answer(v1::QuestionAnswer::ANSWER_UNSPECIFIED);
  const std::string fields = Fields(grid->Validate(bad, kToday, "e"));
  EXPECT_THAT(fields, HasSubstr("e.answers[3].question: [unique]"));
  EXPECT_THAT(fields, HasSubstr("e.answers: [required] la question projet-2"));
  EXPECT_THAT(fields, HasSubstr("e.steps[0].score: [range]"));
  EXPECT_THAT(fields, HasSubstr("e.answers[0].answer: [enum]"));
}

TEST(EqualityTest, ChangeBetweenTheLatestTwoAndMostNo) {
  auto grid = *EqualityGrid::Parse(EqualityGridJson());
  v1::EqualityAssessment first = Assessment(grid, 10, 1), second = Assessment(grid, 2, 2);
  first.set_assess_date("2026-01-10");
  second.set_assess_date("2026-06-10");
  EqualityGrid::Score(&first);
  EqualityGrid::Score(&second);
  v1::EqualityAssessment other = Assessment(grid, 1, 0);
  other.set_organisation("mediatheque-roubaix");
  EqualityGrid::Score(&other);
  v1::EqualityScores s = ComputeScores(grid, {first, other, second}, 3, /*k=*/2);
  ASSERT_EQ(s.actions_size(), 2);
  EXPECT_EQ(s.actions(0).latest().assess_date(), "2026-06-10");
  EXPECT_EQ(s.actions(0).step_total_change(), 8);
  EXPECT_GT(s.actions(0).yes_share_change(), 0);
  EXPECT_FALSE(s.actions(1).has_previous());
  ASSERT_EQ(s.most_no_size(), 2);  // diagnostic-1 (2 latest « non »), diagnostic-2 (1)
  EXPECT_EQ(s.most_no(0).question(), "diagnostic-1");
  EXPECT_EQ(s.most_no(0).no_count(), 2);
  EXPECT_EQ(s.most_no(0).applicable_count(), 2);
  EXPECT_FALSE(s.most_no(0).text().empty());
  // Published with k = 2: 2 « non » of 2 show; diagnostic-2's single « non » is « < 2 ».
  EXPECT_EQ(s.threshold(), 2);
  EXPECT_EQ(s.most_no(0).no().display(), "2");
  EXPECT_EQ(s.most_no(0).applicable().display(), "2");
  EXPECT_EQ(s.most_no(1).no().display(), "< 2");
  EXPECT_FALSE(s.most_no(1).no().has_value());
}

// The small-count rule on one tally (non, applicable; « oui » is their difference).
TEST(EqualityTest, TalliesHideSmallCountsAndTheirComplement) {
  auto tally = [](int no, int applicable) {
    v1::QuestionTally t;
    t.set_no_count(no);
    t.set_applicable_count(applicable);
    ProtectTally(5, &t);
    return std::make_pair(t.no().display(), t.applicable().display());
  };
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(tally(0, 9), P("0", "9"));
  EXPECT_EQ(tally(0, 3), P("0", "< 5"));  // « oui » 3 as well
  EXPECT_EQ(tally(3, 3), P("< 5", "< 5"));
  EXPECT_EQ(tally(4, 12), P("< 5", "12"));  // « oui » 8..11: nothing pinned
  EXPECT_EQ(tally(9, 12), P("9", "s"));     // « oui » 3 = 12 − 9 would show
  EXPECT_EQ(tally(9, 9), P("9", "9"));      // « oui » 0
  EXPECT_EQ(tally(5, 10), P("5", "10"));
  v1::QuestionTally t;
  t.set_no_count(2);
  t.set_applicable_count(8);
  ProtectTally(5, &t);
  EXPECT_FALSE(t.no().has_value());
  EXPECT_EQ(t.applicable().value(), 8);
}

// The demo data `up` loads: every report and assessment passes the rules, and a breakdown of
// them publishes some cells and suppresses others.
TEST(DemoSeedTest, ReportsAddUpAndShowBothPublishedAndSuppressedCells) {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) +
                   "/services/indicators/seed/reports-demo.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str());
  auto grid = *EqualityGrid::Parse(EqualityGridJson());
  std::vector<std::shared_ptr<const Figures>> figures;
  int n = 0;
  for (const auto& entry : doc["activity_reports"]) {
    v1::SubmitActivityReportRequest req;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(entry["request"].dump(), &req).ok());
    v1::ActivityReport r = req.activity_report();
    // The loader replaces standard ids by venue names.
    for (auto& v : *r.mutable_venues()) v = "venues/" + v;
    EXPECT_EQ(Fields(ValidateReport(r, kToday, "activity_report")), "") << r.action();
    // The year docs/indicators.md's example and `up`'s banner ask for (`year=2026`): a report
    // counts in the year its period starts in.
    EXPECT_EQ(r.period_start().substr(0, 5), "2026-") << r.action();
    figures.push_back(std::make_shared<Figures>(FiguresOf(std::to_string(n++), "", r)));
  }
  // « fifteen invented reports and four equality assessments » (docs/indicators.md, README).
  EXPECT_EQ(figures.size(), 15u);
  EXPECT_EQ(doc["equality_assessments"].size(), 4u);
  EXPECT_THAT(doc["about"].get<std::string>(), HasSubstr("tools/indicators_demo.py"));
  for (const auto& entry : doc["equality_assessments"]) {
    v1::SubmitEqualityAssessmentRequest req;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(entry["request"].dump(), &req).ok());
    EXPECT_EQ(Fields(grid.Validate(req.equality_assessment(), kToday, "e")), "");
  }
  BreakdownQuery q;
  q.dimension = v1::ORGANISATION;
  v1::Breakdown b = ComputeBreakdown(q, figures, BreakdownOptions{});
  EXPECT_EQ(b.rows_size(), 3);
  for (const auto& row : b.rows()) EXPECT_GE(row.reports(), 3) << row.key();
  EXPECT_TRUE(b.rows(0).women().has_value()) << BreakdownCsv(b);
  // By quarter, the first one's few « autre » are hidden.
  q.dimension = v1::PERIOD;
  b = ComputeBreakdown(q, figures, BreakdownOptions{});
  EXPECT_EQ(b.rows_size(), 3);
  EXPECT_GT(b.suppressed_cells(), 0);
}

}  // namespace
}  // namespace passerelle::indicators::reports
