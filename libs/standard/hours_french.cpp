// OpeningHours::InFrench (opening_hours.hpp): the parsed schedule folded into one schedule per
// weekday (and one for public holidays) with the evaluation's rules (a later rule replaces the
// days it names, `off` closes them, an additional rule adds hours), then written in French with
// equal days grouped. Forms whose French would need more care than a list of days and hours are
// refused, so a reader never gets wrong words.
#include <algorithm>
#include <array>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/standard/opening_hours.hpp"

namespace passerelle::standard {
namespace {

constexpr std::array<const char*, 7> kDayNames = {"lundi",    "mardi",  "mercredi", "jeudi",
                                                  "vendredi", "samedi", "dimanche"};
constexpr int kHoliday = 7;  // the public holidays' slot after the seven weekdays

struct Span {
  int from = 0, to = 0;
  bool open_end = false;
  bool unknown = false;  // the whole day's hours are not known (`We unknown "à confirmer"`)
  int comment = -1;
  auto Key() const { return std::tie(from, to, open_end, unknown, comment); }
  bool operator<(const Span& o) const { return Key() < o.Key(); }
  bool operator==(const Span& o) const { return Key() == o.Key(); }
};

struct Day {
  bool named = false;
  bool closed = false;
  int closed_comment = -1;  // the comment of the `off` rule that closed the day
  std::vector<Span> spans;
  bool operator==(const Day& o) const {
    return closed == o.closed && closed_comment == o.closed_comment && spans == o.spans;
  }
};

// `9 h`, `9 h 30`, `24 h`.
std::string Clock(int minutes) {
  const int h = minutes / 60, m = minutes % 60;
  return m == 0 ? absl::StrCat(h, " h") : absl::StrCat(h, " h ", m < 10 ? "0" : "", m);
}

// `a`, `a et b`, `a, b et c`.
std::string List(const std::vector<std::string>& items) {
  if (items.size() <= 1) return items.empty() ? "" : items[0];
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "), " et ", items.back());
}

// `du lundi au vendredi`, `lundi, mercredi et vendredi`, `tous les jours et les jours fériés`.
std::string Days(const std::vector<int>& slots) {
  std::vector<std::string> items;
  std::vector<int> weekdays;
  for (int s : slots) {
    if (s < kHoliday) weekdays.push_back(s);
  }
  if (weekdays.size() == 7) {
    items.push_back("tous les jours");
  } else {
    for (size_t i = 0; i < weekdays.size();) {
      size_t j = i;
      while (j + 1 < weekdays.size() && weekdays[j + 1] == weekdays[j] + 1) ++j;
      if (j - i >= 2) {
        items.push_back(
            absl::StrCat("du ", kDayNames[weekdays[i]], " au ", kDayNames[weekdays[j]]));
      } else {
        for (size_t k = i; k <= j; ++k) items.push_back(kDayNames[weekdays[k]]);
      }
      i = j + 1;
    }
  }
  if (slots.back() == kHoliday) items.push_back("les jours fériés");
  return List(items);
}

}  // namespace

std::optional<std::string> OpeningHours::InFrench() const {
  std::array<Day, 8> days;
  bool saw_holiday = false;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (r.fallback || r.wrapped) return std::nullopt;
    const bool off = !r.open && !r.unknown;
    if (off && !r.times.empty()) return std::nullopt;
    if (r.unknown && r.comment < 0) return std::nullopt;
    // `Mo-Fr 09:00-12:00 unknown "peut-être"`: hours said as hours would be believed.
    if (r.unknown_keyword && !r.times.empty()) return std::nullopt;
    // A whole day unknown added to a day's hours: the evaluation makes the day unknown.
    if (r.unknown && r.times.empty() && r.additional) return std::nullopt;
    std::array<bool, 8> selected{};
    if (r.groups.empty()) {
      // Without days, only a first rule reads simply (every day); later ones depend on the
      // reference's finer rules.
      if (i != 0) return std::nullopt;
      for (int d = 0; d < 7; ++d) selected[d] = true;
    } else {
      if (r.groups.size() != 1) return std::nullopt;  // `PH Mo-Fr`, months, weeks…
      for (const DateSelector& s : r.groups[0]) {
        if (s.kind == DateSelector::kPublicHoliday) {
          selected[kHoliday] = true;
        } else if (s.kind == DateSelector::kWeekdays) {
          for (int d = 0; d < 7; ++d) selected[d] = selected[d] || ((s.weekdays >> d) & 1) != 0;
        } else {
          return std::nullopt;  // `Mo[1]`, dates, easter
        }
      }
    }
    const bool names_weekday =
        std::find(selected.begin(), selected.begin() + 7, true) != selected.begin() + 7;
    // A weekday rule after a holiday rule would override it on a holiday falling that day:
    // "les jours fériés fermé" would then be wrong.
    if (saw_holiday && names_weekday) return std::nullopt;
    saw_holiday = saw_holiday || selected[kHoliday];
    std::vector<Span> spans;
    for (const TimeRange& t : r.times)
      spans.push_back({t.from, t.to, t.open_end, false, r.comment});
    // A rule without times names the whole day: open all day, or (`unknown`, or a comment
    // without a state) hours not known that day.
    if (spans.empty()) spans.push_back({0, 1440, false, r.unknown, r.comment});
    for (int d = 0; d < 8; ++d) {
      if (!selected[d]) continue;
      Day& day = days[d];
      day.named = true;
      if (off) {
        day.closed = true;
        day.closed_comment = r.comment;
        day.spans.clear();
      } else if (r.additional) {
        day.closed = false;
        day.closed_comment = -1;
        day.spans.insert(day.spans.end(), spans.begin(), spans.end());
      } else {
        day.closed = false;
        day.closed_comment = -1;
        day.spans = spans;
      }
      std::sort(day.spans.begin(), day.spans.end());
    }
  }
  // Hours added to a day whose hours are unknown: the words would need the evaluation's care.
  for (const Day& day : days) {
    const bool unknown =
        std::any_of(day.spans.begin(), day.spans.end(), [](const Span& s) { return s.unknown; });
    if (unknown && day.spans.size() > 1) return std::nullopt;
  }
  // Equal days together, groups in the order of their first day.
  std::vector<std::vector<int>> groups;
  for (int d = 0; d < 8; ++d) {
    if (!days[d].named) continue;
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const std::vector<int>& g) { return days[g[0]] == days[d]; });
    if (same == groups.end()) {
      groups.push_back({d});
    } else {
      same->push_back(d);
    }
  }
  if (groups.empty()) return std::nullopt;
  std::vector<std::string> parts;
  for (const auto& g : groups) {
    const Day& day = days[g[0]];
    std::string hours;
    if (day.closed) {
      hours = "fermé";
      if (day.closed_comment >= 0)
        absl::StrAppend(&hours, " (", comments_[day.closed_comment], ")");
    } else if (day.spans.size() == 1 && day.spans[0].unknown) {
      hours = absl::StrCat("horaires inconnus (", comments_[day.spans[0].comment], ")");
    } else {
      std::vector<std::string> spans;
      for (const Span& s : day.spans) {
        std::string one = s.open_end                    ? "à partir de " + Clock(s.from)
                          : s.from == 0 && s.to == 1440 ? std::string("24 h sur 24")
                                                        : Clock(s.from) + " – " + Clock(s.to);
        if (s.comment >= 0) absl::StrAppend(&one, " (", comments_[s.comment], ")");
        spans.push_back(std::move(one));
      }
      hours = List(spans);
    }
    parts.push_back(absl::StrCat(Days(g), " ", hours));
  }
  return absl::StrJoin(parts, " ; ");
}

}  // namespace passerelle::standard
