// OpenStreetMap `opening_hours` (the standard's `horaires`), the part French venues publish, read
// as the reference implementation (opening_hours.js, country `fr`) reads it, and French public
// holidays for `PH`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"

namespace passerelle::standard {

/// French public holidays (the national list; Alsace-Moselle adds Good Friday and 26 December).
bool IsFrenchPublicHoliday(absl::CivilDay day);

/// What a schedule says of one instant: the reference's three answers. `kUnknown` is a rule with
/// a comment and no `open`/`off` (`Mo 14:00-17:00 "sur rendez-vous"`), an `unknown` rule, an open
/// end (`18:00+`), or a schedule that is not understood at all.
enum class HoursState { kClosed, kOpen, kUnknown };

/// The answer at one instant, with the comment of the rule that decided it (empty if none).
struct HoursAnswer {
  HoursState state = HoursState::kUnknown;
  std::string_view comment;
};

/// A parsed schedule. Understood (docs/venues.md "Opening hours"): rules joined by `;`, `||`
/// (fallback) and `,` (additional); weekdays, ranges and lists, case-insensitive (`Mo-Fr`,
/// `sa,su`, `Sa-Mo`), nth weekday of the month (`Mo[1]`, `Sa[-1]`, `Th[1,3]`); `PH` alone (an
/// intersection with the other selectors: `PH Mo-Fr`) or in a weekday list (a union: `Su,PH`);
/// months and month-day ranges (`Jul-Aug`, `Dec 24-Jan 02`, `Jan 01-05`), `easter` with a day
/// offset; ISO week numbers (`week 1-53/2`); times `9:00`, `09:00-12:00,14:00-18:30`, spans past
/// midnight, open ends `18:00+`, `24/7`; states `open`, `off`, `closed`, `unknown` in any case;
/// comments `"sur rendez-vous"`. Evaluation follows the reference's rule (a rule with a date
/// selector that opens replaces earlier rules for the days it selects; `off` closes what it
/// selects; a fallback rule applies only where nothing before says open or unknown).
/// Not understood (Parse returns nullopt, every instant is unknown): `SH` (no French school
/// holiday calendar in the reference), years, sunrise/sunset, periods, 12-hour clocks,
/// `9h`-style times, and anything beyond the bounds below.
class OpeningHours {
 public:
  /// Longer texts, or texts with more rules or tokens, are not understood (bounded work).
  static constexpr size_t kMaxBytes = 2000;
  static constexpr size_t kMaxTokens = 1000;
  static constexpr size_t kMaxRules = 200;

  static std::optional<OpeningHours> Parse(std::string_view text);
  /// The state at that local (Europe/Paris) minute.
  HoursAnswer At(absl::CivilMinute local) const;
  /// Whether it is known to be open at that local minute.
  bool IsOpen(absl::CivilMinute local) const { return At(local).state == HoursState::kOpen; }
  /// One stretch of a day that the schedule says is open or unknown.
  struct Period {
    int from = 0, to = 0;  // minutes since local midnight, from < to <= 1440
    HoursState state = HoursState::kOpen;
    std::string_view comment;  // of the rule that decided it (empty if none)
  };
  /// The local day's open and unknown stretches, in order (closed time is not listed); touching
  /// stretches with the same state and comment are one. A schedule's state changes only at the
  /// times its rules name and at midnight, so this is exact to the minute.
  std::vector<Period> DayPeriods(absl::CivilDay day) const;
  /// What the schedule says of the local minutes [from, until): kOpen if it is known open at one
  /// of them, else kUnknown if it is unknown at one, else kClosed (also for an empty span).
  HoursState During(absl::CivilMinute from, absl::CivilMinute until) const;
  /// The first local minute in [from, until) at which being known open differs from being known
  /// open at `from` (when it opens if closed or unknown then, when it stops being open if open
  /// then), or nullopt if it does not change before `until`.
  std::optional<absl::CivilMinute> NextChange(absl::CivilMinute from,
                                              absl::CivilMinute until) const;
  /// The schedule's comments, in order (`"sur rendez-vous"` without its quotes).
  const std::vector<std::string>& comments() const { return comments_; }
  /// The schedule in plain French for people ("du lundi au vendredi 9 h – 12 h et 14 h – 17 h ;
  /// samedi 9 h 30 – 12 h ; les jours fériés fermé"), or nullopt when it uses a form whose words
  /// could mislead (months, dates, weeks, nth weekdays, fallbacks, spans past midnight, `off`
  /// with times, a rule without days after the first, weekdays after a `PH` rule, `unknown`
  /// without a comment or with times, a day both unknown and open): the caller then shows the
  /// schedule as written, never wrong words. Days with equal hours are grouped; days no rule
  /// names are left out; comments follow their hours in brackets, and the state of a rule
  /// without times: `We unknown "à confirmer"` and `Mo "sur rendez-vous"` say « horaires
  /// inconnus (…) », never « 24 h sur 24 »; `Sa off "sur rendez-vous"` says « fermé (…) ».
  std::optional<std::string> InFrench() const;

  /// One date selector (internal; public for the parser's helpers).
  struct DateSelector {
    enum Kind : uint8_t {
      kWeekdays,
      kNthWeekday,
      kPublicHoliday,
      kMonths,
      kDates,
      kEaster,
      kWeeks
    };
    Kind kind = kWeekdays;
    uint8_t weekdays = 0;  // kWeekdays: bit 0 = Monday
    int8_t weekday = 0;    // kNthWeekday: 0 = Monday
    int8_t nth = 0;        // kNthWeekday: 1..5 from the start, -1..-5 from the end
    int from = 0, to = 0;  // kMonths: 1..12; kDates: month*100+day; kWeeks: 1..53
    int period = 1;        // kWeeks
    int offset = 0;        // kEaster: days
    bool Matches(absl::CivilDay day) const;
  };
  struct TimeRange {
    int from = 0, to = 0;  // minutes since midnight, to <= 1440 (parts past midnight are split)
    bool open_end = false;
  };
  struct Rule {
    // Selector groups by type (weekday, holiday, month, date, week): a day matches a group if it
    // matches one of its selectors, and a rule if it matches every group.
    std::vector<std::vector<DateSelector>> groups;
    std::vector<TimeRange> times;  // empty: the whole day
    bool open = true, unknown = false;
    bool unknown_keyword = false;  // `unknown` written (not a comment without a state)
    bool wrapped = false;     // the parts past midnight of the rule before: selectors see yesterday
    bool additional = false;  // joined by `,`: never replaces earlier rules
    bool fallback = false;    // after `||`: only where earlier rules say closed
    int comment = -1;         // index in comments_
  };

 private:
  std::vector<Rule> rules_;
  std::vector<std::string> comments_;
  friend class HoursParser;
};

/// The warning a write reports, rule `horaires`, for a non-empty `horaires` that is not
/// understood (the row is stored all the same); nullopt for an empty or understood one.
std::optional<std::string> HoursNotUnderstood(std::string_view horaires);

/// The state of `hours` at `local`: unknown when the schedule was not understood.
inline HoursState HoursStateAt(const std::optional<OpeningHours>& hours, absl::CivilMinute local) {
  return hours ? hours->At(local).state : HoursState::kUnknown;
}

}  // namespace passerelle::standard
