// A venue's opening hours read for the coming days (GetOpeningSchedule): what `horaires` says
// at one local instant, day by day, and when that changes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/standard/opening_hours.hpp"

namespace passerelle::venues {

/// One local day: its open and unknown stretches.
struct ScheduleDay {
  absl::CivilDay date;
  bool public_holiday = false;
  std::vector<standard::OpeningHours::Period> periods;  // comments point into the hours read
};

struct Schedule {
  bool understood = false;
  /// The hours in plain French, when they can be said without misleading.
  std::optional<std::string> description;
  standard::HoursState state = standard::HoursState::kUnknown;
  std::string comment;  // of the rule deciding `state`
  /// When not open now: the first minute it is open; when open: the first it is not.
  std::optional<absl::CivilMinute> next_open, next_close;
  std::vector<ScheduleDay> days;
};

/// The most days a schedule lists, and how far it looks for the next opening or closing.
inline constexpr int kScheduleMaxDays = 31;

/// The last local minute a schedule speaks of: past it, no timestamp can say when (the API's
/// timestamps end with year 9999).
inline constexpr absl::CivilMinute kLastScheduleMinute(9999, 12, 31, 0, 0);

/// `hours` (nullopt: not understood) read at the local minute `now`, for `days` days from its
/// day (1..kScheduleMaxDays), and the next opening or closing within kScheduleMaxDays days of
/// `now`; nothing after kLastScheduleMinute. The result's comments point into `hours`.
Schedule ScheduleOf(const std::optional<standard::OpeningHours>& hours, absl::CivilMinute now,
                    int days);

}  // namespace passerelle::venues
