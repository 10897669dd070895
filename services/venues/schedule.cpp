#include "services/venues/schedule.hpp"

#include <algorithm>

namespace passerelle::venues {

Schedule ScheduleOf(const std::optional<standard::OpeningHours>& hours, absl::CivilMinute now,
                    int days) {
  Schedule s;
  const absl::CivilDay first(now);
  for (int i = 0; i < days && first + i <= absl::CivilDay(kLastScheduleMinute); ++i) {
    ScheduleDay day;
    day.date = first + i;
    day.public_holiday = standard::IsFrenchPublicHoliday(day.date);
    if (hours) day.periods = hours->DayPeriods(day.date);
    s.days.push_back(std::move(day));
  }
  if (!hours) return s;
  s.understood = true;
  s.description = hours->InFrench();
  const standard::HoursAnswer answer = hours->At(now);
  s.state = answer.state;
  s.comment = std::string(answer.comment);
  const std::optional<absl::CivilMinute> change =
      hours->NextChange(now, std::min(now + kScheduleMaxDays * 24 * 60, kLastScheduleMinute));
  (answer.state == standard::HoursState::kOpen ? s.next_close : s.next_open) = change;
  return s;
}

}  // namespace passerelle::venues
