// OpenStreetMap `opening_hours` (the standard's `horaires`), the subset French venues use, and
// French public holidays for `PH`.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"

namespace passerelle::venues {

/// French public holidays (the national list; Alsace-Moselle adds Good Friday and 26 December).
bool IsFrenchPublicHoliday(absl::CivilDay day);

/// A parsed schedule. Supported: `24/7`; rules separated by `;` (or `||`), each with weekday
/// selectors (`Mo-Fr`, `Mo,We,Fr`, `Sa`, `PH`, combinations such as `Mo-Fr,PH`) and times
/// (`09:00-12:00,14:00-18:30`, `off`, `closed`); a later rule replaces earlier ones for the days
/// it selects, as in OSM. Rules on school holidays (`SH`), months or weeks are not understood:
/// such a schedule does not parse and the venue is left out of "open at" searches rather than
/// shown open by mistake.
class OpeningHours {
 public:
  static std::optional<OpeningHours> Parse(std::string_view text);
  /// Whether the place is open at that local minute.
  bool IsOpen(absl::CivilMinute local) const;

 private:
  struct Interval {
    int from, to;  // minutes since midnight; `to` may exceed 1440 for spans past midnight
  };
  // Index 0..6 = Monday..Sunday, 7 = public holiday (when a rule names PH).
  std::array<std::optional<std::vector<Interval>>, 8> days_;
};

}  // namespace passerelle::venues
