// OpenStreetMap opening_hours: tokens, rules, and their evaluation as the reference does it.
#include "libs/standard/opening_hours.hpp"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "libs/text/utf8.hpp"

namespace passerelle::standard {
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

int WeekdayIndex(absl::CivilDay d) {
  return (static_cast<int>(absl::GetWeekday(d)) + 7) % 7;  // absl: Monday = 0
}

// ISO 8601 week number: the week of the year that holds its Thursday.
int IsoWeek(absl::CivilDay d) {
  const absl::CivilDay thursday = d - WeekdayIndex(d) + 3;
  const absl::CivilDay jan1(thursday.year(), 1, 1);
  return static_cast<int>((thursday - jan1) / 7) + 1;
}

int DaysInMonth(absl::CivilDay d) {
  const absl::CivilMonth m(d);
  return static_cast<int>(absl::CivilDay(m + 1) - absl::CivilDay(m));
}

enum class Tok {
  kWeekday,  // value 0..6, Monday first
  kHoliday,  // value 0 = PH, 1 = SH
  kMonth,    // value 1..12
  kNumber,   // value, digits
  kColon,
  kDash,
  kComma,
  kSemicolon,
  kFallback,  // ||
  kPlus,
  kOpenBracket,
  kCloseBracket,
  kSlash,
  kState,    // value 0 open, 1 closed/off, 2 unknown
  kComment,  // text
  kWeek,
  kEaster,
  kDays,    // day / days
  kAlways,  // 24/7
};

struct Token {
  Tok kind;
  int value = 0;
  int digits = 0;
  std::string_view text;  // comments
};

// Splits `text` into tokens; false for anything outside the understood vocabulary.
bool Tokenize(std::string_view text, std::vector<Token>* out) {
  static constexpr std::string_view kWeekdays[] = {"mo", "tu", "we", "th", "fr", "sa", "su"};
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  size_t i = 0;
  while (i < text.size()) {
    if (out->size() > OpeningHours::kMaxTokens) return false;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c == '"') {
      const size_t end = text.find('"', i + 1);
      if (end == std::string_view::npos) return false;
      const std::string_view body = text.substr(i + 1, end - i - 1);
      if (!text::IsValidUtf8(body) || text::FirstControl(body).has_value() ||
          body.find_first_of("\t\r\n") != std::string_view::npos) {
        return false;
      }
      out->push_back({Tok::kComment, 0, 0, body});
      i = end + 1;
      continue;
    }
    if (std::isdigit(c)) {
      if (text.substr(i, 4) == "24/7") {
        out->push_back({Tok::kAlways});
        i += 4;
        continue;
      }
      int value = 0, digits = 0;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (++digits > 4) return false;
        value = value * 10 + (text[i++] - '0');
      }
      out->push_back({Tok::kNumber, value, digits});
      continue;
    }
    if (std::isalpha(c)) {
      size_t j = i;
      while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
      const std::string word = absl::AsciiStrToLower(std::string(text.substr(i, j - i)));
      i = j;
      bool known = false;
      for (int d = 0; d < 7 && !known; ++d) {
        if (word == kWeekdays[d]) out->push_back({Tok::kWeekday, d}), known = true;
      }
      for (int m = 0; m < 12 && !known; ++m) {
        if (word == kMonths[m]) out->push_back({Tok::kMonth, m + 1}), known = true;
      }
      if (known) continue;
      if (word == "ph") {
        out->push_back({Tok::kHoliday, 0});
      } else if (word == "sh") {
        out->push_back({Tok::kHoliday, 1});
      } else if (word == "open") {
        out->push_back({Tok::kState, 0});
      } else if (word == "closed" || word == "off") {
        out->push_back({Tok::kState, 1});
      } else if (word == "unknown") {
        out->push_back({Tok::kState, 2});
      } else if (word == "week") {
        out->push_back({Tok::kWeek});
      } else if (word == "easter") {
        out->push_back({Tok::kEaster});
      } else if (word == "day" || word == "days") {
        out->push_back({Tok::kDays});
      } else {
        return false;  // sunrise, lundi, h, am...: not understood
      }
      continue;
    }
    if (c == '|' && text.substr(i, 2) == "||") {
      out->push_back({Tok::kFallback});
      i += 2;
      continue;
    }
    Tok kind;
    switch (c) {
      case ':':
        kind = Tok::kColon;
        break;
      case '-':
        kind = Tok::kDash;
        break;
      case ',':
        kind = Tok::kComma;
        break;
      case ';':
        kind = Tok::kSemicolon;
        break;
      case '+':
        kind = Tok::kPlus;
        break;
      case '[':
        kind = Tok::kOpenBracket;
        break;
      case ']':
        kind = Tok::kCloseBracket;
        break;
      case '/':
        kind = Tok::kSlash;
        break;
      default:
        return false;  // NUL, controls, other bytes and any non-ASCII outside comments
    }
    out->push_back({kind});
    ++i;
  }
  return true;
}

}  // namespace

bool IsFrenchPublicHoliday(absl::CivilDay day) {
  const int y = static_cast<int>(day.year()), m = day.month(), d = day.day();
  if ((m == 1 && d == 1) || (m == 5 && (d == 1 || d == 8)) || (m == 7 && d == 14) ||
      (m == 8 && d == 15) || (m == 11 && (d == 1 || d == 11)) || (m == 12 && d == 25)) {
    return true;
  }
  const absl::CivilDay easter = EasterSunday(y);
  return day == easter + 1 || day == easter + 39 ||
         day == easter + 50;  // Monday, Ascension, Whit Monday
}

bool OpeningHours::DateSelector::Matches(absl::CivilDay day) const {
  switch (kind) {
    case kWeekdays:
      return (weekdays >> WeekdayIndex(day)) & 1;
    case kNthWeekday: {
      if (WeekdayIndex(day) != weekday) return false;
      const int d = day.day();
      return nth > 0 ? (d - 1) / 7 + 1 == nth : (DaysInMonth(day) - d) / 7 + 1 == -nth;
    }
    case kPublicHoliday:
      return IsFrenchPublicHoliday(day);
    case kMonths:
      return from <= to ? day.month() >= from && day.month() <= to
                        : day.month() >= from || day.month() <= to;
    case kDates: {
      const int md = day.month() * 100 + day.day();
      return from <= to ? md >= from && md <= to : md >= from || md <= to;
    }
    case kEaster:
      return day == EasterSunday(static_cast<int>(day.year())) + offset;
    case kWeeks: {
      const int w = IsoWeek(day);
      return w >= from && w <= to && (w - from) % period == 0;
    }
  }
  return false;
}

// A recursive-descent reading of the token list, rule by rule. Every loop consumes a token, so
// the work is linear in the (bounded) number of tokens; nothing recurses.
class HoursParser {
 public:
  explicit HoursParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  std::optional<OpeningHours> Run() {
    // Top-level rules: separated by `;` (normal) and `||` (the next one is a fallback).
    size_t begin = 0;
    bool fallback = false;
    for (size_t i = 0; i <= t_.size(); ++i) {
      if (i < t_.size() && t_[i].kind != Tok::kSemicolon && t_[i].kind != Tok::kFallback) continue;
      // `|| open` or `Mo 10:00-12:00; || open`: the reference refuses a fallback after nothing.
      if (i == begin && i < t_.size() && t_[i].kind == Tok::kFallback) return std::nullopt;
      if (i > begin && !ParseGroup(begin, i, fallback)) return std::nullopt;
      if (i < t_.size()) fallback = t_[i].kind == Tok::kFallback;
      begin = i + 1;
      if (oh_.rules_.size() > OpeningHours::kMaxRules) return std::nullopt;
    }
    if (oh_.rules_.empty()) return std::nullopt;
    return std::move(oh_);
  }

 private:
  using Rule = OpeningHours::Rule;
  using Sel = OpeningHours::DateSelector;
  enum Group { kWeekdayGroup, kHolidayGroup, kMonthGroup, kDateGroup, kWeekGroup, kGroups };

  bool Is(size_t at, Tok kind) const { return at < end_ && t_[at].kind == kind; }
  bool IsTime(size_t at) const {
    return Is(at, Tok::kNumber) && Is(at + 1, Tok::kColon) && Is(at + 2, Tok::kNumber);
  }

  // One `;`/`||` rule: one or more rules joined by additional commas.
  bool ParseGroup(size_t begin, size_t end, bool fallback) {
    end_ = end;
    size_t at = begin;
    bool additional = false;
    while (at < end_) {
      std::array<std::vector<Sel>, kGroups> groups;
      Rule rule;
      rule.fallback = fallback;
      rule.additional = additional;
      bool modifier = false, more = false, after_time = false;
      const size_t first = at;
      while (at < end_ && !more) {
        const Token& tok = t_[at];
        const bool was_time = after_time;
        after_time = false;
        if (tok.kind == Tok::kColon) {
          // `Mo-Fr: 09:00-12:00`: a colon after selectors is only for readability. Not first,
          // not last, and not after a time, as in the reference.
          if (at == first || at + 1 == end_ || was_time) return false;
          ++at;
        } else if (tok.kind == Tok::kWeekday) {
          if (!Weekdays(&at, &groups[kWeekdayGroup])) return false;
        } else if (tok.kind == Tok::kHoliday) {
          if (tok.value != 0) return false;  // SH: no French calendar in the reference
          if (Is(at + 1, Tok::kPlus) || Is(at + 1, Tok::kDash)) return false;  // PH +1 day
          if (Is(at + 1, Tok::kComma)) {
            if (!Weekdays(&at, &groups[kWeekdayGroup])) return false;
          } else {
            groups[kHolidayGroup].push_back({Sel::kPublicHoliday});
            ++at;
          }
        } else if (tok.kind == Tok::kMonth) {
          if (Is(at + 1, Tok::kNumber) && !Is(at + 2, Tok::kColon)) {
            if (!Dates(&at, &groups[kDateGroup])) return false;
          } else if (!Months(&at, &groups[kMonthGroup])) {
            return false;
          }
        } else if (tok.kind == Tok::kEaster) {
          if (!Easter(&at, &groups[kDateGroup])) return false;
        } else if (tok.kind == Tok::kWeek) {
          if (!Weeks(&at, &groups[kWeekGroup])) return false;
        } else if (tok.kind == Tok::kAlways) {
          rule.times.push_back({0, 1440, false});
          ++at;
        } else if (IsTime(at)) {
          if (!Times(&at, &rule, &more)) return false;
          after_time = true;
        } else if (tok.kind == Tok::kState || tok.kind == Tok::kComment) {
          if (tok.kind == Tok::kState) {
            if (modifier) return false;  // `open off`, `"x" open`: refused rather than guessed
            rule.open = tok.value == 0;
            rule.unknown = tok.value == 2;
            rule.unknown_keyword = rule.unknown;
          } else {
            if (rule.comment >= 0) return false;
            if (!modifier) rule.open = false, rule.unknown = true;
            rule.comment = static_cast<int>(oh_.comments_.size());
            oh_.comments_.emplace_back(tok.text);
          }
          modifier = true;
          ++at;
          if (Is(at, Tok::kComma)) ++at, more = true;
        } else {
          return false;
        }
      }
      for (auto& g : groups) {
        if (!g.empty()) rule.groups.push_back(std::move(g));
      }
      Push(std::move(rule));
      additional = true;  // `Mo 10:00-12:00,` with nothing after: an empty rule, as the reference
    }
    return true;
  }

  // A rule, then the parts of its times past midnight as a rule of their own whose selectors
  // look at the day before, as the reference stores them.
  void Push(Rule rule) {
    Rule wrapped;
    for (auto& r : rule.times) {
      if (r.to > 1440) {
        wrapped.times.push_back({0, r.to - 1440, r.open_end});
        r.to = 1440;
      }
    }
    const bool wraps = !wrapped.times.empty();
    if (wraps) {
      wrapped.groups = rule.groups;
      wrapped.open = rule.open;
      wrapped.unknown = rule.unknown;
      wrapped.comment = rule.comment;
      wrapped.wrapped = true;
    }
    oh_.rules_.push_back(std::move(rule));
    if (wraps) oh_.rules_.push_back(std::move(wrapped));
  }

  // `Mo-Fr`, `Sa-Mo`, `Mo,We`, `Mo[1]`, `Sa[-1]`, `Th[1,3]`, `PH,Su`: one union.
  bool Weekdays(size_t* at, std::vector<Sel>* group) {
    while (true) {
      if (Is(*at, Tok::kHoliday)) {
        if (t_[*at].value != 0 || Is(*at + 1, Tok::kPlus) || Is(*at + 1, Tok::kDash)) return false;
        group->push_back({Sel::kPublicHoliday});
        ++*at;
      } else if (Is(*at, Tok::kWeekday) && Is(*at + 1, Tok::kOpenBracket)) {
        const int wd = t_[*at].value;
        *at += 2;
        while (true) {
          int sign = 1;
          if (Is(*at, Tok::kDash)) sign = -1, ++*at;
          if (!Is(*at, Tok::kNumber)) return false;
          const int from = sign * t_[*at].value;
          int to = from;
          ++*at;
          if (Is(*at, Tok::kDash) && Is(*at + 1, Tok::kNumber)) {
            to = t_[*at + 1].value;
            *at += 2;
          }
          if (from == 0 || from < -5 || from > 5 || to < from || to > 5 || (from < 0 && to > 0)) {
            return false;
          }
          for (int n = from; n <= to; ++n) {
            Sel s{Sel::kNthWeekday};
            s.weekday = static_cast<int8_t>(wd);
            s.nth = static_cast<int8_t>(n);
            group->push_back(s);
          }
          if (Is(*at, Tok::kComma) && (Is(*at + 1, Tok::kNumber) || Is(*at + 1, Tok::kDash))) {
            ++*at;
            continue;
          }
          break;
        }
        if (!Is(*at, Tok::kCloseBracket)) return false;
        ++*at;
        if (Is(*at, Tok::kPlus) || (Is(*at, Tok::kDash) && !Is(*at + 1, Tok::kWeekday))) {
          return false;  // Mo[1] +2 days
        }
      } else if (Is(*at, Tok::kWeekday)) {
        const int from = t_[*at].value;
        int to = from;
        ++*at;
        if (Is(*at, Tok::kDash)) {
          if (!Is(*at + 1, Tok::kWeekday)) return false;
          to = t_[*at + 1].value;
          *at += 2;
        }
        Sel s{Sel::kWeekdays};
        for (int d = from;; d = (d + 1) % 7) {
          s.weekdays |= static_cast<uint8_t>(1 << d);
          if (d == to) break;
        }
        group->push_back(s);
      } else {
        return false;
      }
      if (!Is(*at, Tok::kComma)) return true;
      if (!Is(*at + 1, Tok::kWeekday) && !Is(*at + 1, Tok::kHoliday)) return false;
      ++*at;
    }
  }

  // `Jul-Aug`, `Dec-Feb`, `Jan,Mar`.
  bool Months(size_t* at, std::vector<Sel>* group) {
    while (true) {
      if (!Is(*at, Tok::kMonth)) return false;
      Sel s{Sel::kMonths};
      s.from = s.to = t_[*at].value;
      ++*at;
      if (Is(*at, Tok::kDash)) {
        if (!Is(*at + 1, Tok::kMonth) || Is(*at + 2, Tok::kNumber)) return false;
        s.to = t_[*at + 1].value;
        *at += 2;
      }
      group->push_back(s);
      if (!Is(*at, Tok::kComma)) return true;
      if (!Is(*at + 1, Tok::kMonth) || Is(*at + 2, Tok::kNumber)) return false;
      ++*at;
    }
  }

  bool Day(int month, const Token& day) const {
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return day.digits <= 2 && day.value >= 1 && day.value <= kDays[month - 1];
  }

  // `Dec 25`, `Dec 24-Jan 02`, `Jan 01-05`, lists of them.
  bool Dates(size_t* at, std::vector<Sel>* group) {
    while (true) {
      if (!Is(*at, Tok::kMonth) || !Is(*at + 1, Tok::kNumber)) return false;
      const int month = t_[*at].value;
      if (!Day(month, t_[*at + 1])) return false;
      Sel s{Sel::kDates};
      s.from = s.to = month * 100 + t_[*at + 1].value;
      *at += 2;
      if (Is(*at, Tok::kDash)) {
        if (Is(*at + 1, Tok::kMonth) && Is(*at + 2, Tok::kNumber) && !Is(*at + 3, Tok::kColon)) {
          const int to_month = t_[*at + 1].value;
          if (!Day(to_month, t_[*at + 2])) return false;
          s.to = to_month * 100 + t_[*at + 2].value;
          *at += 3;
        } else if (Is(*at + 1, Tok::kNumber) && !Is(*at + 2, Tok::kColon)) {
          if (!Day(month, t_[*at + 1]) || t_[*at + 1].value < s.from % 100) return false;
          s.to = month * 100 + t_[*at + 1].value;
          *at += 2;
        } else {
          return false;
        }
      }
      if (Is(*at, Tok::kSlash) || Is(*at, Tok::kPlus)) return false;
      group->push_back(s);
      if (!Is(*at, Tok::kComma)) return true;
      if (!Is(*at + 1, Tok::kMonth) || !Is(*at + 2, Tok::kNumber) || Is(*at + 3, Tok::kColon)) {
        return false;
      }
      ++*at;
    }
  }

  // `easter`, `easter +1 day`, `easter -2 days`.
  bool Easter(size_t* at, std::vector<Sel>* group) {
    Sel s{Sel::kEaster};
    ++*at;
    if ((Is(*at, Tok::kPlus) || Is(*at, Tok::kDash)) && Is(*at + 1, Tok::kNumber) &&
        Is(*at + 2, Tok::kDays)) {
      if (t_[*at + 1].value > 365) return false;
      s.offset = (t_[*at].kind == Tok::kDash ? -1 : 1) * t_[*at + 1].value;
      *at += 3;
    }
    if (Is(*at, Tok::kDash) || Is(*at, Tok::kComma) || Is(*at, Tok::kPlus)) return false;
    group->push_back(s);
    return true;
  }

  // `week 1-53/2`, `week 10,12`.
  bool Weeks(size_t* at, std::vector<Sel>* group) {
    ++*at;
    while (true) {
      if (!Is(*at, Tok::kNumber)) return false;
      Sel s{Sel::kWeeks};
      s.from = s.to = t_[*at].value;
      ++*at;
      if (Is(*at, Tok::kDash)) {
        if (!Is(*at + 1, Tok::kNumber)) return false;
        s.to = t_[*at + 1].value;
        *at += 2;
        if (Is(*at, Tok::kSlash)) {
          if (!Is(*at + 1, Tok::kNumber)) return false;
          s.period = t_[*at + 1].value;
          if (s.period < 2 || s.period > 26) return false;
          *at += 2;
        }
      }
      if (s.from < 1 || s.to > 53 || s.from > s.to) return false;
      group->push_back(s);
      if (!Is(*at, Tok::kComma) || !Is(*at + 1, Tok::kNumber)) return true;
      ++*at;
    }
  }

  std::optional<int> Clock(size_t at) const {
    if (t_[at].digits > 2 || t_[at + 2].digits > 2 || t_[at + 2].value > 59) return std::nullopt;
    return t_[at].value * 60 + t_[at + 2].value;
  }

  // `09:00-12:00,14:00-18:30`, `22:00-02:00`, `18:00+`. A comma followed by something else than
  // a time starts an additional rule (`*more`).
  bool Times(size_t* at, Rule* rule, bool* more) {
    while (true) {
      if (!IsTime(*at)) return false;
      const auto from = Clock(*at);
      if (!from || *from >= 1440) return false;
      *at += 3;
      OpeningHours::TimeRange r{*from, 0, false};
      if (Is(*at, Tok::kPlus)) {
        r.open_end = true;
        r.to = *from >= 22 * 60 ? *from + 8 * 60 : *from >= 17 * 60 ? *from + 10 * 60 : 1440;
        ++*at;
      } else if (Is(*at, Tok::kDash) && IsTime(*at + 1)) {
        const auto to = Clock(*at + 1);
        if (!to) return false;
        r.to = *to <= *from ? *to + 1440 : *to;
        if (r.to > 2880) return false;
        *at += 4;
        if (Is(*at, Tok::kPlus) || Is(*at, Tok::kSlash)) return false;  // 10:00-12:00+, periods
      } else {
        return false;  // a point in time
      }
      for (const auto& earlier : rule->times) {
        if (earlier.open_end) return false;  // `07:00+,12:00-16:00`: the reference guesses
      }
      rule->times.push_back(r);
      if (!Is(*at, Tok::kComma)) return true;
      ++*at;
      if (!IsTime(*at)) {
        *more = true;
        return true;
      }
    }
  }

  std::vector<Token> t_;
  size_t end_ = 0;
  OpeningHours oh_;
};

std::optional<OpeningHours> OpeningHours::Parse(std::string_view text) {
  if (text.size() > kMaxBytes) return std::nullopt;
  std::vector<Token> tokens;
  if (!Tokenize(text, &tokens) || tokens.empty()) return std::nullopt;
  return HoursParser(std::move(tokens)).Run();
}

std::optional<std::string> HoursNotUnderstood(std::string_view horaires) {
  if (horaires.empty() || OpeningHours::Parse(horaires).has_value()) return std::nullopt;
  return "horaires non compris : le lieu est enregistré, mais il ne sera jamais indiqué ouvert "
         "dans les recherches « ouvert à » ; écrire les horaires au format OpenStreetMap "
         "opening_hours, par exemple « Mo-Fr 09:00-12:00,14:00-17:00; PH off »";
}

HoursAnswer OpeningHours::At(absl::CivilMinute local) const {
  const absl::CivilDay today(local);
  const int minute = local.hour() * 60 + local.minute();
  // The rules whose dates select this instant; a normal rule that opens (or is unknown) with
  // dates of its own starts the list again: it replaces the rules before it for its days.
  std::vector<size_t> matching;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    const absl::CivilDay day = r.wrapped ? today - 1 : today;
    bool selected = true;
    for (const auto& group : r.groups) {
      bool any = false;
      for (const auto& s : group) {
        if (s.Matches(day)) {
          any = true;
          break;
        }
      }
      if (!any) {
        selected = false;
        break;
      }
    }
    if (!selected) continue;
    const bool dated = !r.groups.empty() || (i > 0 && r.open && rules_[i - 1].groups.empty());
    if (dated && (r.open || r.unknown) && !r.wrapped && !r.additional && !r.fallback) {
      matching.clear();
    }
    matching.push_back(i);
  }
  bool open = false, unknown = false;
  int decided = -1;
  for (const size_t i : matching) {
    const Rule& r = rules_[i];
    auto apply = [&](bool open_end) {
      if (r.fallback && (open || unknown)) return;
      open = r.open;
      unknown = r.unknown;
      decided = static_cast<int>(i);
      if (open_end && (open || unknown)) open = false, unknown = true;
    };
    if (r.times.empty()) apply(false);
    for (const auto& t : r.times) {
      if (minute >= t.from && minute < t.to) apply(t.open_end);
    }
  }
  HoursAnswer answer;
  answer.state = unknown ? HoursState::kUnknown : open ? HoursState::kOpen : HoursState::kClosed;
  if (decided >= 0 && rules_[decided].comment >= 0)
    answer.comment = comments_[rules_[decided].comment];
  return answer;
}

std::vector<OpeningHours::Period> OpeningHours::DayPeriods(absl::CivilDay day) const {
  // The minutes at which the state may change: midnight and every time a rule names.
  std::vector<int> starts = {0};
  for (const Rule& r : rules_) {
    for (const TimeRange& t : r.times) {
      if (t.from > 0 && t.from < 1440) starts.push_back(t.from);
      if (t.to > 0 && t.to < 1440) starts.push_back(t.to);
    }
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  std::vector<Period> periods;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int end = i + 1 < starts.size() ? starts[i + 1] : 1440;
    const HoursAnswer a = At(absl::CivilMinute(day) + starts[i]);
    if (a.state == HoursState::kClosed) continue;
    if (!periods.empty() && periods.back().to == starts[i] && periods.back().state == a.state &&
        periods.back().comment == a.comment) {
      periods.back().to = end;
    } else {
      periods.push_back({starts[i], end, a.state, a.comment});
    }
  }
  return periods;
}

HoursState OpeningHours::During(absl::CivilMinute from, absl::CivilMinute until) const {
  bool unknown = false;
  for (absl::CivilDay day(from); from < until && absl::CivilMinute(day) < until; ++day) {
    const absl::CivilMinute midnight(day);
    for (const Period& p : DayPeriods(day)) {
      if (midnight + p.to <= from || midnight + p.from >= until) continue;
      if (p.state == HoursState::kOpen) return HoursState::kOpen;
      unknown = true;
    }
  }
  return unknown ? HoursState::kUnknown : HoursState::kClosed;
}

std::optional<absl::CivilMinute> OpeningHours::NextChange(absl::CivilMinute from,
                                                          absl::CivilMinute until) const {
  const bool open_at_start = IsOpen(from);
  absl::CivilMinute at = from;  // the first minute not yet known to keep the starting state
  for (absl::CivilDay day(from); at < until && absl::CivilMinute(day) < until; ++day) {
    const absl::CivilMinute midnight(day);
    for (const Period& p : DayPeriods(day)) {
      if (p.state != HoursState::kOpen || midnight + p.to <= at) continue;
      const absl::CivilMinute start = midnight + p.from;
      if (!open_at_start) return start < until ? std::optional(std::max(start, at)) : std::nullopt;
      if (start > at) break;  // closed between the open stretch `at` was in and this one
      at = midnight + p.to;
    }
    if (open_at_start && at < midnight + 1440) return at < until ? std::optional(at) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace passerelle::standard
