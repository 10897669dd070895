// Digest closings in Europe/Paris time.
#include "services/notifications/digest.hpp"

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "libs/logging/logging.hpp"

namespace passerelle::notifications {
namespace {

// ISO weekday (1 = Monday) of a civil day.
int IsoWeekday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 1;
    case absl::Weekday::tuesday:
      return 2;
    case absl::Weekday::wednesday:
      return 3;
    case absl::Weekday::thursday:
      return 4;
    case absl::Weekday::friday:
      return 5;
    case absl::Weekday::saturday:
      return 6;
    case absl::Weekday::sunday:
      return 7;
  }
  return 1;
}

// The instant of a local time on a day: the change itself for a skipped time, the first
// occurrence of a repeated one.
absl::Time At(const DigestSchedule& s, absl::CivilDay day) {
  const absl::TimeZone::TimeInfo info =
      Paris().At(absl::CivilSecond(day.year(), day.month(), day.day(), s.hour, s.minute, 0));
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

}  // namespace

const absl::TimeZone& Paris() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/Paris", z)) {
      logging::Warn("tzdata has no Europe/Paris: digests use UTC+1 without daylight saving");
      *z = absl::FixedTimeZone(3600);
    }
    return z;
  }();
  return *zone;
}

std::optional<DigestSchedule> ParseDigestTime(std::string_view t) {
  DigestSchedule s;
  if (t.empty()) return s;
  const size_t colon = t.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || t.size() - colon != 3) {
    return std::nullopt;
  }
  for (char c : t) {
    if (c != ':' && (c < '0' || c > '9')) return std::nullopt;
  }
  int h = 0, m = 0;
  if (!absl::SimpleAtoi(std::string(t.substr(0, colon)), &h) ||
      !absl::SimpleAtoi(std::string(t.substr(colon + 1)), &m) || h > 23 || m > 59) {
    return std::nullopt;
  }
  s.hour = h;
  s.minute = m;
  return s;
}

std::string DigestTimeText(const DigestSchedule& s) {
  return absl::StrFormat("%02d:%02d", s.hour, s.minute);
}

absl::Time NextDigest(const DigestSchedule& s, absl::Time after) {
  absl::CivilDay day = absl::ToCivilDay(after, Paris());
  // At most 8 days ahead finds the weekday (and the day after a skipped time).
  for (int i = 0; i < 9; ++i, ++day) {
    if (s.weekly && IsoWeekday(day) != s.weekday) continue;
    const absl::Time t = At(s, day);
    if (t > after) return t;
  }
  return after + absl::Hours(24 * 7);  // unreachable: a week always holds the day
}

absl::Time PreviousDigest(const DigestSchedule& s, absl::Time closing) {
  const absl::CivilDay day = absl::ToCivilDay(closing, Paris()) - (s.weekly ? 7 : 1);
  return At(s, day);
}

}  // namespace passerelle::notifications
