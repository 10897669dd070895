// Unit tests of opening_hours evaluation and French public holidays.
#include "libs/standard/opening_hours.hpp"

#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::standard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::CivilMinute At(int y, int mo, int d, int h, int mi) {
  return absl::CivilMinute(y, mo, d, h, mi);
}

TEST(PublicHolidaysTest, FixedAndMovableFrenchHolidays) {
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 1, 1)));
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 7, 14)));
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 11, 11)));
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 4, 6)));   // Easter Monday 2026
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 5, 14)));  // Ascension 2026
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2026, 5, 25)));  // Whit Monday 2026
  EXPECT_TRUE(IsFrenchPublicHoliday(absl::CivilDay(2024, 4, 1)));   // Easter Monday 2024
  EXPECT_FALSE(IsFrenchPublicHoliday(absl::CivilDay(2026, 4, 5)));  // Easter Sunday: a Sunday
  EXPECT_FALSE(IsFrenchPublicHoliday(absl::CivilDay(2026, 11, 25)));
}

TEST(OpeningHoursTest, TheStandardsExample) {
  auto oh = OpeningHours::Parse("Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00");
  ASSERT_TRUE(oh.has_value());
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 25, 10, 0)));   // Wednesday morning
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 25, 13, 0)));  // lunch
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 25, 18, 29)));
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 25, 18, 30)));  // closing time is exclusive
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 28, 9, 0)));     // Saturday
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 29, 10, 0)));   // Sunday
  // No PH rule: a holiday follows its weekday.
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 11, 10, 0)));
}

TEST(OpeningHoursTest, PublicHolidaysOffAndLaterRulesOverride) {
  auto oh = OpeningHours::Parse("Mo-Fr 09:00-17:00; We off; PH off");
  ASSERT_TRUE(oh.has_value());
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 24, 10, 0)));   // Tuesday
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 25, 10, 0)));  // Wednesday: off
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 11, 10, 0)));  // Armistice, a Wednesday anyway
  EXPECT_FALSE(oh->IsOpen(At(2026, 5, 14, 10, 0)));   // Ascension, a Thursday: PH off
  auto ph = OpeningHours::Parse("Mo-Sa 10:00-18:00; PH 10:00-12:00");
  ASSERT_TRUE(ph.has_value());
  EXPECT_TRUE(ph->IsOpen(At(2026, 7, 14, 11, 0)));
  EXPECT_FALSE(ph->IsOpen(At(2026, 7, 14, 15, 0)));
}

TEST(OpeningHoursTest, ListsWrapsMidnightAnd247) {
  auto oh = OpeningHours::Parse("Mo,We,Fr 14:00-18:00 || Sa-Mo 20:00-02:00");
  ASSERT_TRUE(oh.has_value());
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 27, 15, 0)));   // Friday
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 26, 15, 0)));  // Thursday
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 29, 1, 0)));    // Sunday 01:00, from Saturday evening
  EXPECT_TRUE(OpeningHours::Parse("24/7")->IsOpen(At(2026, 12, 25, 3, 0)));
}

HoursState StateAt(std::string_view text, absl::CivilMinute at) {
  return HoursStateAt(OpeningHours::Parse(text), at);
}
constexpr HoursState kOpen = HoursState::kOpen, kClosed = HoursState::kClosed,
                     kUnknown = HoursState::kUnknown;

// The four misreads of issue 10, each as the reference (opening_hours.js) answers.
TEST(OpeningHoursTest, PublicHolidayWithWeekdaysIsAnIntersection) {
  // `PH Mo-Fr`: a public holiday that falls on a weekday; `Su,PH`: a Sunday or a holiday.
  const std::string_view text = "Mo-Sa 09:00-18:00; PH Mo-Fr off";
  EXPECT_EQ(StateAt(text, At(2026, 7, 14, 10, 0)), kClosed);  // Tuesday 14 July
  EXPECT_EQ(StateAt(text, At(2026, 7, 15, 10, 0)), kOpen);    // an ordinary Wednesday
  EXPECT_EQ(StateAt(text, At(2026, 8, 15, 10, 0)), kOpen);    // 15 August 2026 is a Saturday
  EXPECT_EQ(StateAt("Mo-Sa 09:00-18:00; Sa,PH off", At(2026, 7, 14, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("Mo-Sa 09:00-18:00; Sa,PH off", At(2026, 7, 18, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("Mo-Sa 09:00-18:00; Sa,PH off", At(2026, 7, 17, 10, 0)), kOpen);
}

TEST(OpeningHoursTest, FallbackRulesApplyOnlyWhereEarlierRulesSayClosed) {
  const std::string_view both = "Mo-Fr 10:00-12:00 || Mo-Fr 14:00-16:00";
  EXPECT_EQ(StateAt(both, At(2026, 11, 25, 11, 0)), kOpen);  // the morning is kept
  EXPECT_EQ(StateAt(both, At(2026, 11, 25, 15, 0)), kOpen);
  EXPECT_EQ(StateAt(both, At(2026, 11, 25, 13, 0)), kClosed);
  // A fallback `PH off` never closes what the first rule opens, holidays included.
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00 || PH off", At(2026, 7, 14, 10, 0)), kOpen);
}

TEST(OpeningHoursTest, LaterDayRulesReplaceAnEarlierPublicHolidayOff) {
  EXPECT_EQ(StateAt("PH off; Mo-Fr 09:00-17:00", At(2026, 7, 14, 10, 0)), kOpen);
  EXPECT_EQ(StateAt("Su,PH off; Mo-Sa 09:00-18:00", At(2026, 7, 14, 10, 0)), kOpen);
  EXPECT_EQ(StateAt("Su,PH off; Mo-Sa 09:00-18:00", At(2026, 11, 29, 10, 0)), kClosed);
  // Placed last, it closes.
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; PH off", At(2026, 7, 14, 10, 0)), kClosed);
}

TEST(OpeningHoursTest, ALaterOffClosesTheSpillOverPastMidnight) {
  EXPECT_EQ(StateAt("Sa 22:00-02:00; Su off", At(2026, 11, 29, 1, 0)), kClosed);
  EXPECT_EQ(StateAt("Sa 22:00-02:00; Su off", At(2026, 11, 28, 23, 0)), kOpen);
  EXPECT_EQ(StateAt("Sa 22:00-02:00", At(2026, 11, 29, 1, 0)), kOpen);
  EXPECT_EQ(StateAt("Sa 22:00-02:00", At(2026, 11, 29, 2, 0)), kClosed);
}

TEST(OpeningHoursTest, GrammarFrenchVenuesPublish) {
  const auto wed = At(2026, 11, 25, 10, 0);
  EXPECT_EQ(StateAt("mo-fr 9:00 - 12:00", wed), kOpen);
  EXPECT_EQ(StateAt("MO-FR 09:00-12:00", wed), kOpen);
  EXPECT_EQ(StateAt("Mo-Sa 09:00-19:00; Su OFF", At(2026, 11, 29, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("open", At(2026, 12, 25, 3, 0)), kOpen);
  EXPECT_EQ(StateAt("24/7; PH off", At(2026, 12, 25, 3, 0)), kClosed);
  EXPECT_EQ(StateAt("24/7; PH off", At(2026, 12, 24, 3, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; Jul-Aug off", At(2026, 7, 15, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; Jul-Aug off", At(2026, 9, 1, 10, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; Dec 24-Jan 02 off", At(2026, 12, 31, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; Dec 24-Jan 02 off", At(2027, 1, 4, 10, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-17:00; easter +1 day off", At(2026, 4, 6, 10, 0)), kClosed);
  EXPECT_EQ(StateAt("Mo[1] 14:00-17:00", At(2026, 11, 2, 15, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo[1] 14:00-17:00", At(2026, 11, 9, 15, 0)), kClosed);
  EXPECT_EQ(StateAt("Sa[-1] 10:00-12:00", At(2026, 11, 28, 11, 0)), kOpen);
  EXPECT_EQ(StateAt("Sa[-1] 10:00-12:00", At(2026, 11, 21, 11, 0)), kClosed);
  // ISO weeks: 23 November 2026 is in week 48, the 30th in week 49.
  EXPECT_EQ(StateAt("week 1-53/2 Mo 10:00-12:00", At(2026, 11, 23, 11, 0)), kClosed);
  EXPECT_EQ(StateAt("week 1-53/2 Mo 10:00-12:00", At(2026, 11, 30, 11, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-12:00, Sa 10:00-12:00", At(2026, 11, 28, 11, 0)), kOpen);
  EXPECT_EQ(StateAt("Mo-Fr 09:00-12:00, Sa 10:00-12:00", wed), kOpen);
}

TEST(OpeningHoursTest, CommentsAndOpenEndsAreUnknownAndCommentsAreKept) {
  const auto oh = OpeningHours::Parse("Mo-Fr 14:00-17:00 \"sur rendez-vous\"; PH off");
  ASSERT_TRUE(oh.has_value());
  EXPECT_EQ(oh->At(At(2026, 11, 25, 15, 0)).state, kUnknown);
  EXPECT_EQ(oh->At(At(2026, 11, 25, 15, 0)).comment, "sur rendez-vous");
  EXPECT_EQ(oh->At(At(2026, 11, 25, 10, 0)).state, kClosed);
  EXPECT_EQ(oh->comments(), std::vector<std::string>{"sur rendez-vous"});
  EXPECT_EQ(StateAt("Mo-Fr 14:00-17:00 open \"accueil libre\"", At(2026, 11, 25, 15, 0)), kOpen);
  EXPECT_EQ(StateAt("Fr 18:00+", At(2026, 11, 27, 23, 0)), kUnknown);
  EXPECT_EQ(StateAt("Fr 18:00+", At(2026, 11, 28, 3, 0)), kUnknown);  // guessed: ten hours
  EXPECT_EQ(StateAt("Fr 18:00+", At(2026, 11, 27, 17, 0)), kClosed);
}

TEST(OpeningHoursTest, WhatIsNotUnderstoodIsUnknownEverywhere) {
  for (const std::string_view text :
       {"", " ", "Mo-Fr 9h-12h", "SH off; Mo-Fr 09:00-12:00", "sur rendez-vous",
        "2026 Mo 10:00-12:00", "Mo-Fr sunrise-sunset", "Mo-Fr 09:00-12:00/01:00", "Mo-Fr 10am-12pm",
        "lundi 09:00-12:00", "Mo 25:00-26:00", "Mo 10:60-12:00", "\"unclosed", "Mo-Fr 09:00–12:00",
        "Mo-Fr 09:00"}) {
    EXPECT_FALSE(OpeningHours::Parse(text).has_value()) << text;
    EXPECT_EQ(StateAt(text, At(2026, 11, 25, 10, 0)), kUnknown) << text;
  }
}

// docs/robustness.md: hostile text stays bounded and is refused, never misread.
TEST(OpeningHoursTest, HostileTextIsBoundedAndRefused) {
  EXPECT_FALSE(OpeningHours::Parse(std::string("Mo 10:00-12:00\0; Tu 10:00-12:00", 30)));
  EXPECT_FALSE(OpeningHours::Parse("Mo 10:00-12:00 \"\xff\xfe\""));
  EXPECT_FALSE(OpeningHours::Parse("Mo 10:00-12:00 \"\xc3\""));  // a cut multi-byte sequence
  EXPECT_TRUE(OpeningHours::Parse("Mo 10:00-12:00 \"fermé l\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\""));
  EXPECT_FALSE(OpeningHours::Parse("Mo 10:00-12:00 \"a\x01b\""));
  std::string huge;
  while (huge.size() < 5'000'000) huge += "Mo 10:00-12:00; ";
  EXPECT_FALSE(OpeningHours::Parse(huge));  // past kMaxBytes: not even tokenized
  std::string many;
  while (many.size() < OpeningHours::kMaxBytes - 20) many += "Mo,";
  many += "Tu 10:00-12:00";
  EXPECT_FALSE(OpeningHours::Parse(many));  // more tokens than kMaxTokens
  std::string rules;
  for (int i = 0; i < 250; ++i) rules += "Mo;";
  ASSERT_LE(rules.size(), OpeningHours::kMaxBytes);
  EXPECT_FALSE(OpeningHours::Parse(rules));  // more rules than kMaxRules
  EXPECT_FALSE(OpeningHours::Parse(std::string(1500, '[')));
  EXPECT_FALSE(OpeningHours::Parse(std::string(1500, '"')));
  std::string list = "Mo 00:00-00:01";
  for (int m = 2; m < 200; m += 2)
    list += absl::StrFormat(",%02d:%02d-%02d:%02d", m / 60, m % 60, m / 60, m % 60 + 1);
  const auto long_list = OpeningHours::Parse(list);
  ASSERT_TRUE(long_list.has_value());
  EXPECT_TRUE(long_list->IsOpen(At(2026, 11, 23, 3, 0)));
  EXPECT_FALSE(long_list->IsOpen(At(2026, 11, 23, 3, 1)));
}

std::string French(std::string_view osm) {
  auto oh = OpeningHours::Parse(osm);
  if (!oh) return "(not parsed)";
  return oh->InFrench().value_or("(not said)");
}

TEST(OpeningHoursTest, ADayIsItsOpenAndUnknownStretches) {
  auto oh = OpeningHours::Parse(
      "Mo-Fr 09:00-12:00,14:00-17:00; We 14:00-17:00 \"sur rendez-vous\"; Sa 09:00-12:00; PH off");
  ASSERT_TRUE(oh.has_value());
  auto day = oh->DayPeriods(absl::CivilDay(2026, 11, 30));  // a Monday
  ASSERT_EQ(day.size(), 2u);
  EXPECT_EQ(day[0].from, 9 * 60);
  EXPECT_EQ(day[0].to, 12 * 60);
  EXPECT_EQ(day[0].state, HoursState::kOpen);
  EXPECT_EQ(day[1].from, 14 * 60);
  EXPECT_EQ(day[1].to, 17 * 60);
  // Wednesday afternoon is by appointment: unknown, with its comment; the morning is gone (a
  // later rule with days replaces the earlier one for them).
  day = oh->DayPeriods(absl::CivilDay(2026, 12, 2));
  ASSERT_EQ(day.size(), 1u);
  EXPECT_EQ(day[0].state, HoursState::kUnknown);
  EXPECT_EQ(day[0].comment, "sur rendez-vous");
  EXPECT_TRUE(oh->DayPeriods(absl::CivilDay(2026, 12, 6)).empty());   // Sunday
  EXPECT_TRUE(oh->DayPeriods(absl::CivilDay(2026, 12, 25)).empty());  // Christmas, a Friday
}

TEST(OpeningHoursTest, TouchingStretchesAreOneAndSpansPastMidnightAreSplit) {
  auto oh = OpeningHours::Parse("Mo 09:00-12:00,12:00-14:00; Fr 22:00-02:00");
  ASSERT_TRUE(oh.has_value());
  auto monday = oh->DayPeriods(absl::CivilDay(2026, 11, 30));
  ASSERT_EQ(monday.size(), 1u);
  EXPECT_EQ(monday[0].from, 9 * 60);
  EXPECT_EQ(monday[0].to, 14 * 60);
  auto friday = oh->DayPeriods(absl::CivilDay(2026, 12, 4));
  ASSERT_EQ(friday.size(), 1u);
  EXPECT_EQ(friday[0].from, 22 * 60);
  EXPECT_EQ(friday[0].to, 1440);
  auto saturday = oh->DayPeriods(absl::CivilDay(2026, 12, 5));
  ASSERT_EQ(saturday.size(), 1u);
  EXPECT_EQ(saturday[0].from, 0);
  EXPECT_EQ(saturday[0].to, 2 * 60);
  auto always = OpeningHours::Parse("24/7");
  ASSERT_TRUE(always.has_value());
  ASSERT_EQ(always->DayPeriods(absl::CivilDay(2026, 12, 5)).size(), 1u);
  EXPECT_EQ(always->DayPeriods(absl::CivilDay(2026, 12, 5))[0].to, 1440);
}

TEST(OpeningHoursTest, DuringASpanOpenWinsOverUnknownOverClosed) {
  auto oh = OpeningHours::Parse("Mo-Fr 09:00-12:00; Sa 10:00-12:00 \"sur rendez-vous\"");
  ASSERT_TRUE(oh.has_value());
  // A Saturday: only the appointment stretch.
  EXPECT_EQ(oh->During(At(2026, 12, 5, 0, 0), At(2026, 12, 6, 0, 0)), HoursState::kUnknown);
  // Sunday: closed all day; Sunday to Monday 09:01 catches Monday's first minute.
  EXPECT_EQ(oh->During(At(2026, 12, 6, 0, 0), At(2026, 12, 7, 0, 0)), HoursState::kClosed);
  EXPECT_EQ(oh->During(At(2026, 12, 6, 0, 0), At(2026, 12, 7, 9, 0)), HoursState::kClosed);
  EXPECT_EQ(oh->During(At(2026, 12, 6, 0, 0), At(2026, 12, 7, 9, 1)), HoursState::kOpen);
  // The span's end is exclusive, its start inclusive.
  EXPECT_EQ(oh->During(At(2026, 12, 7, 11, 59), At(2026, 12, 7, 12, 0)), HoursState::kOpen);
  EXPECT_EQ(oh->During(At(2026, 12, 7, 12, 0), At(2026, 12, 7, 18, 0)), HoursState::kClosed);
  EXPECT_EQ(oh->During(At(2026, 12, 7, 12, 0), At(2026, 12, 7, 12, 0)), HoursState::kClosed);
  // The same as At for a one-minute span.
  EXPECT_EQ(oh->During(At(2026, 12, 5, 10, 0), At(2026, 12, 5, 10, 1)),
            oh->At(At(2026, 12, 5, 10, 0)).state);
}

TEST(OpeningHoursTest, NextChangeIsWhenItOpensOrWhenItStopsBeingOpen) {
  auto oh = OpeningHours::Parse("Mo-Fr 09:00-12:00,14:00-17:00; Sa 22:00-02:00");
  ASSERT_TRUE(oh.has_value());
  const absl::CivilMinute week_end = At(2026, 12, 14, 0, 0);
  // Closed on Monday at 8:00: opens at 9:00. Open at 10:00: closes at noon.
  EXPECT_EQ(oh->NextChange(At(2026, 12, 7, 8, 0), week_end), At(2026, 12, 7, 9, 0));
  EXPECT_EQ(oh->NextChange(At(2026, 12, 7, 10, 0), week_end), At(2026, 12, 7, 12, 0));
  // Friday evening: next open on Saturday 22:00, which then closes on Sunday 02:00.
  EXPECT_EQ(oh->NextChange(At(2026, 12, 11, 18, 0), week_end), At(2026, 12, 12, 22, 0));
  EXPECT_EQ(oh->NextChange(At(2026, 12, 12, 23, 0), week_end), At(2026, 12, 13, 2, 0));
  // Nothing before the bound.
  EXPECT_EQ(oh->NextChange(At(2026, 12, 7, 8, 0), At(2026, 12, 7, 9, 0)), std::nullopt);
  auto always = OpeningHours::Parse("24/7");
  ASSERT_TRUE(always.has_value());
  EXPECT_EQ(always->NextChange(At(2026, 12, 7, 8, 0), week_end), std::nullopt);
}

TEST(HoursInFrenchTest, DaysGroupedAndHoursInWords) {
  EXPECT_EQ(French("Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00"),
            "du lundi au vendredi 9 h – 12 h et 14 h – 17 h ; samedi 9 h – 12 h");
  EXPECT_EQ(French("Mo 09:30-12:00"), "lundi 9 h 30 – 12 h");
  EXPECT_EQ(French("Tu 08:05-09:00"), "mardi 8 h 05 – 9 h");
  EXPECT_EQ(French("Mo,We,Fr 10:00-12:00"), "lundi, mercredi et vendredi 10 h – 12 h");
  EXPECT_EQ(French("Mo-We,Fr 10:00-12:00"), "du lundi au mercredi et vendredi 10 h – 12 h");
  EXPECT_EQ(French("Mo,Tu 10:00-12:00; Th 10:00-12:00"), "lundi, mardi et jeudi 10 h – 12 h");
  EXPECT_EQ(French("24/7"), "tous les jours 24 h sur 24");
  EXPECT_EQ(French("Mo-Su 09:00-10:00,11:00-12:00,14:00-15:00"),
            "tous les jours 9 h – 10 h, 11 h – 12 h et 14 h – 15 h");
  EXPECT_EQ(French("Sa-Mo 10:00-12:00"), "lundi, samedi et dimanche 10 h – 12 h");
  EXPECT_EQ(French("Mo 14:00+"), "lundi à partir de 14 h");
}

TEST(HoursInFrenchTest, LaterRulesReplaceOffClosesAndCommentsFollow) {
  // We is replaced by the later rule, as the evaluation reads it.
  EXPECT_EQ(French("Mo-Fr 09:00-17:00; We 14:00-17:00"),
            "lundi, mardi, jeudi et vendredi 9 h – 17 h ; mercredi 14 h – 17 h");
  EXPECT_EQ(French("Mo-Fr 09:00-17:00; We off; PH off"),
            "lundi, mardi, jeudi et vendredi 9 h – 17 h ; mercredi et les jours fériés fermé");
  EXPECT_EQ(French(R"(Mo-Fr 09:00-12:00; Tu 14:00-17:00 "sur rendez-vous")"),
            "lundi et du mercredi au vendredi 9 h – 12 h ; mardi 14 h – 17 h (sur rendez-vous)");
  // An additional rule adds hours to the day.
  EXPECT_EQ(French(R"(Mo 09:00-12:00, Mo 14:00-16:00 "atelier")"),
            "lundi 9 h – 12 h et 14 h – 16 h (atelier)");
}

// Review finding F4: `unknown` was said « 24 h sur 24 » or as open hours, an `off` rule's
// comment was dropped.
TEST(HoursInFrenchTest, UnknownDaysSayHoursUnknownAndOffKeepsItsComment) {
  EXPECT_EQ(French(R"(Mo unknown "appeler avant")"), "lundi horaires inconnus (appeler avant)");
  EXPECT_EQ(
      French(R"(Mo-Fr 09:00-17:00; We unknown "à confirmer")"),
      "lundi, mardi, jeudi et vendredi 9 h – 17 h ; mercredi horaires inconnus (à confirmer)");
  // A comment without a state makes the day unknown too, as the evaluation reads it.
  EXPECT_EQ(French(R"(Mo "sur rendez-vous")"), "lundi horaires inconnus (sur rendez-vous)");
  EXPECT_EQ(French(R"(Sa off "ouvert sur rendez-vous")"), "samedi fermé (ouvert sur rendez-vous)");
  EXPECT_EQ(French(R"(Mo-Fr 09:00-12:00; Sa off "sur rendez-vous"; Su off)"),
            "du lundi au vendredi 9 h – 12 h ; samedi fermé (sur rendez-vous) ; dimanche fermé");
  // A later rule that opens the day replaces the closing and its comment.
  EXPECT_EQ(French(R"(Sa off "travaux"; Sa 10:00-12:00)"), "samedi 10 h – 12 h");
  // Nothing says « 24 h sur 24 » or an hour of a day whose hours are unknown.
  for (const char* osm : {R"(Mo unknown "appeler avant")", R"(We unknown "à confirmer")",
                          R"(Mo "sur rendez-vous")"}) {
    EXPECT_THAT(French(osm), Not(HasSubstr("24 h sur 24"))) << osm;
  }
}

TEST(HoursInFrenchTest, UnknownWithHoursOrMixedWithHoursIsNotSaid) {
  for (const char* osm :
       {R"(Mo-Fr 09:00-12:00 unknown "peut-être")", R"(Mo 09:00-12:00, Mo unknown "appeler")",
        R"(Mo unknown "appeler", Mo 14:00-16:00)"}) {
    auto oh = OpeningHours::Parse(osm);
    ASSERT_TRUE(oh.has_value()) << osm;
    EXPECT_FALSE(oh->InFrench().has_value()) << osm << " -> " << *oh->InFrench();
  }
}

TEST(HoursInFrenchTest, FormsThatCouldMisleadAreNotSaid) {
  for (const char* osm :
       {"Mo[1] 09:00-12:00", "Jul-Aug Mo-Fr 10:00-12:00", "Dec 25 off; Mo-Su 09:00-12:00",
        "week 1-53/2 Mo 10:00-12:00", "Fr 22:00-02:00", "Mo-Fr 09:00-17:00 || unknown",
        "Mo-Fr 09:00-17:00; Mo 12:00-13:00 off", "PH off; Mo-Fr 09:00-12:00",
        "PH Mo-Fr 10:00-12:00", "Mo unknown", "easter off; Mo 10:00-12:00"}) {
    auto oh = OpeningHours::Parse(osm);
    ASSERT_TRUE(oh.has_value()) << osm;
    EXPECT_FALSE(oh->InFrench().has_value()) << osm << " -> " << *oh->InFrench();
  }
}

}  // namespace
}  // namespace passerelle::standard
