// Unit tests of opening_hours evaluation and French public holidays.
#include "services/venues/opening_hours.hpp"

#include "gtest/gtest.h"

namespace passerelle::venues {
namespace {

absl::CivilMinute At(int y, int mo, int d, int h, int mi) { return absl::CivilMinute(y, mo, d, h, mi); }

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
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 25, 10, 0)));    // Wednesday morning
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 25, 13, 0)));   // lunch
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
  EXPECT_TRUE(oh->IsOpen(At(2026, 11, 24, 10, 0)));    // Tuesday
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 25, 10, 0)));   // Wednesday: off
  EXPECT_FALSE(oh->IsOpen(At(2026, 11, 11, 10, 0)));   // Armistice, a Wednesday anyway
  EXPECT_FALSE(oh->IsOpen(At(2026, 5, 14, 10, 0)));    // Ascension, a Thursday: PH off
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

TEST(OpeningHoursTest, WhatIsNotUnderstoodDoesNotParse) {
  EXPECT_FALSE(OpeningHours::Parse("").has_value());
  EXPECT_FALSE(OpeningHours::Parse("Mo-Fr 9h-12h").has_value());
  EXPECT_FALSE(OpeningHours::Parse("SH off; Mo-Fr 09:00-12:00").has_value());
  EXPECT_FALSE(OpeningHours::Parse("Jan-Mar Mo 10:00-12:00").has_value());
  EXPECT_FALSE(OpeningHours::Parse("sur rendez-vous").has_value());
}

}  // namespace
}  // namespace passerelle::venues
