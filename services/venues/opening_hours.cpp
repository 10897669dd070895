// OpenStreetMap opening_hours evaluation.
#include "services/venues/opening_hours.hpp"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace passerelle::venues {
namespace {

absl::CivilDay EasterSunday(int year) {
  // Anonymous Gregorian computus.
  const int a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4;
  const int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, month, day);
}

int DayIndex(std::string_view d) {
  static constexpr std::string_view kDays[] = {"Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"};
  for (int i = 0; i < 7; ++i) {
    if (d == kDays[i]) return i;
  }
  return d == "PH" ? 7 : -1;
}

std::optional<int> Minutes(std::string_view hhmm) {
  if (hhmm.size() != 5 || hhmm[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(hhmm[i]))) return std::nullopt;
  }
  const int h = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
  const int m = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
  if (h > 24 || m > 59) return std::nullopt;
  return h * 60 + m;
}

}  // namespace

bool IsFrenchPublicHoliday(absl::CivilDay day) {
  const int y = static_cast<int>(day.year()), m = day.month(), d = day.day();
  if ((m == 1 && d == 1) || (m == 5 && (d == 1 || d == 8)) || (m == 7 && d == 14) ||
      (m == 8 && d == 15) || (m == 11 && (d == 1 || d == 11)) || (m == 12 && d == 25)) {
    return true;
  }
  const absl::CivilDay easter = EasterSunday(y);
  return day == easter + 1 || day == easter + 39 || day == easter + 50;  // Monday, Ascension, Whit Monday
}

std::optional<OpeningHours> OpeningHours::Parse(std::string_view text) {
  OpeningHours oh;
  std::string normalized(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  if (normalized.empty()) return std::nullopt;
  if (normalized == "24/7") {
    for (int i = 0; i < 7; ++i) oh.days_[i] = std::vector<Interval>{{0, 1440}};
    return oh;
  }
  // "||" (fallback rules) is read as ";": each rule then overrides the days it names.
  std::vector<absl::string_view> rules;
  for (absl::string_view group : absl::StrSplit(normalized, "||")) {
    for (absl::string_view r : absl::StrSplit(group, ';', absl::SkipWhitespace())) rules.push_back(r);
  }
  for (absl::string_view rule : rules) {
    rule = absl::StripAsciiWhitespace(rule);
    // Selector: up to the first token that starts with a digit or is off/closed.
    std::vector<absl::string_view> tokens = absl::StrSplit(rule, ' ', absl::SkipEmpty());
    if (tokens.empty()) continue;
    std::array<bool, 8> selected{};
    size_t t = 0;
    bool any_selector = false;
    for (; t < tokens.size(); ++t) {
      absl::string_view tok = tokens[t];
      if (std::isdigit(static_cast<unsigned char>(tok[0])) || tok == "off" || tok == "closed") break;
      for (absl::string_view part : absl::StrSplit(tok, ',', absl::SkipEmpty())) {
        std::vector<absl::string_view> range = absl::StrSplit(part, '-');
        if (range.size() == 1) {
          const int d = DayIndex(std::string_view(range[0].data(), range[0].size()));
          if (d < 0) return std::nullopt;  // SH, months, weeks...: not understood
          selected[d] = true;
        } else if (range.size() == 2) {
          const int a = DayIndex(std::string_view(range[0].data(), range[0].size()));
          const int b = DayIndex(std::string_view(range[1].data(), range[1].size()));
          if (a < 0 || b < 0 || a == 7 || b == 7) return std::nullopt;
          for (int d = a;; d = (d + 1) % 7) {  // "Sa-Mo" wraps over Sunday
            selected[d] = true;
            if (d == b) break;
          }
        } else {
          return std::nullopt;
        }
        any_selector = true;
      }
    }
    if (!any_selector) selected.fill(true), selected[7] = false;  // "09:00-18:00": every day
    std::vector<Interval> intervals;
    bool off = false;
    for (; t < tokens.size(); ++t) {
      absl::string_view tok = tokens[t];
      if (tok == "off" || tok == "closed") {
        off = true;
        continue;
      }
      for (absl::string_view span : absl::StrSplit(tok, ',', absl::SkipEmpty())) {
        std::vector<absl::string_view> ft = absl::StrSplit(span, '-');
        if (ft.size() != 2) return std::nullopt;
        auto from = Minutes(std::string_view(ft[0].data(), ft[0].size()));
        auto to = Minutes(std::string_view(ft[1].data(), ft[1].size()));
        if (!from || !to) return std::nullopt;
        intervals.push_back({*from, *to <= *from ? *to + 1440 : *to});
      }
    }
    if (!off && intervals.empty()) return std::nullopt;
    for (int d = 0; d < 8; ++d) {
      if (selected[d]) oh.days_[d] = off ? std::vector<Interval>{} : intervals;
    }
  }
  return oh;
}

bool OpeningHours::IsOpen(absl::CivilMinute local) const {
  const absl::CivilDay day(local);
  const int minute = local.hour() * 60 + local.minute();
  auto weekday_index = [](absl::CivilDay d) {
    return (static_cast<int>(absl::GetWeekday(d)) + 7) % 7;  // absl: Monday = 0
  };
  auto rules_for = [&](absl::CivilDay d) -> const std::optional<std::vector<Interval>>& {
    if (days_[7].has_value() && IsFrenchPublicHoliday(d)) return days_[7];
    return days_[weekday_index(d)];
  };
  if (const auto& today = rules_for(day)) {
    for (const auto& i : *today) {
      if (minute >= i.from && minute < i.to) return true;
    }
  }
  // Spans past midnight from the day before ("Fr 20:00-02:00").
  if (const auto& yesterday = rules_for(day - 1)) {
    for (const auto& i : *yesterday) {
      if (i.to > 1440 && minute + 1440 < i.to) return true;
    }
  }
  return false;
}

}  // namespace passerelle::venues
