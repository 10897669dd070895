// When digests close: a local time (Europe/Paris, daylight saving included) every day, or every
// week on a given day. Pure functions of the schedule and an instant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace passerelle::notifications {

struct DigestSchedule {
  bool weekly = false;
  int hour = 8;
  int minute = 0;
  int weekday = 1;  // 1 = Monday … 7 = Sunday (weekly only)
};

/// `HH:MM` on 24 hours (`8:30` too), or nullopt. Empty gives 08:00.
std::optional<DigestSchedule> ParseDigestTime(std::string_view hh_mm);

/// The canonical `HH:MM` of a schedule.
std::string DigestTimeText(const DigestSchedule& schedule);

/// The first closing strictly after `after`. A local time that does not exist that day (the
/// spring change, 02:00–03:00) closes at the change; one that occurs twice (the autumn change)
/// closes at its first occurrence.
absl::Time NextDigest(const DigestSchedule& schedule, absl::Time after);

/// The closing before `closing` (a day or a week earlier, at the same local time): the start
/// of the period `closing` ends.
absl::Time PreviousDigest(const DigestSchedule& schedule, absl::Time closing);

/// Europe/Paris (from the system's tzdata; UTC+1 without daylight saving if it is missing).
const absl::TimeZone& Paris();

}  // namespace passerelle::notifications
