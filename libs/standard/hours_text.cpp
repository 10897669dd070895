// The free-text opening-hours converter (hours_text.hpp): a small tokenizer over a folded form
// of the text (lower case, no accents, one kind of dash and space), a recursive-descent parser
// of the forms docs/sync.md "Free-text hours" lists, and the OSM writer that merges equal days.
#include "libs/standard/hours_text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "libs/standard/opening_hours.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::standard {
namespace {

// Bounds: a cell longer than this, a text longer than kMaxTextBytes, more cells or more
// intervals in a day are not understood (bounded work; no producer writes that much).
constexpr size_t kMaxCellBytes = 300;
constexpr size_t kMaxTextBytes = 2000;
constexpr size_t kMaxCells = 64;
constexpr size_t kMaxIntervalsPerDay = 12;
constexpr size_t kMaxValueCodePoints = 200;

constexpr std::array<const char*, 7> kOsmDays = {"Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"};
constexpr std::array<const char*, 7> kFrenchDays = {"lundi",    "mardi",  "mercredi", "jeudi",
                                                    "vendredi", "samedi", "dimanche"};

// ---------------------------------------------------------------------------------------------
// Folding: valid UTF-8 without control characters (tabs and line breaks aside) becomes lower-case
// ASCII; accented French letters lose their accent, the dashes become '-', the spaces ' '. Any
// other character becomes '\x01', which no token accepts.

std::optional<std::string> Fold(std::string_view in) {
  if (!text::IsValidUtf8(in)) return std::nullopt;
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      if (c == '\t' || c == '\r') {
        out += ' ';
      } else if (c == '\n') {
        out += '\n';
      } else if (c < 0x20 || c == 0x7f) {
        return std::nullopt;
      } else {
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
      ++i;
      continue;
    }
    const size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(in[i + k]) & 0x3f);
    i += len;
    switch (cp) {
      case 0xe0:
      case 0xe1:
      case 0xe2:
      case 0xe4:
      case 0xc0:
      case 0xc1:
      case 0xc2:
      case 0xc4:
        out += 'a';
        break;
      case 0xe7:
      case 0xc7:
        out += 'c';
        break;
      case 0xe8:
      case 0xe9:
      case 0xea:
      case 0xeb:
      case 0xc8:
      case 0xc9:
      case 0xca:
      case 0xcb:
        out += 'e';
        break;
      case 0xee:
      case 0xef:
      case 0xce:
      case 0xcf:
        out += 'i';
        break;
      case 0xf4:
      case 0xf6:
      case 0xd4:
      case 0xd6:
        out += 'o';
        break;
      case 0xf9:
      case 0xfb:
      case 0xfc:
      case 0xd9:
      case 0xdb:
      case 0xdc:
        out += 'u';
        break;
      case 0xa0:
      case 0x2007:
      case 0x2009:
      case 0x202f:  // no-break and thin spaces
        out += ' ';
        break;
      case 0x2010:
      case 0x2011:
      case 0x2012:
      case 0x2013:
      case 0x2014:
      case 0x2212:  // dashes
        out += '-';
        break;
      case 0x2018:
      case 0x2019:  // typographic apostrophes
        out += '\'';
        break;
      default:
        out += '\x01';
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokens.

enum class Tok {
  kTime,      // value: minutes since midnight (`9h`, `8h30`, `12:00`, `midi`, `minuit`)
  kAllDay,    // `24h/24`, `24h/24h`
  kEveryDay,  // `7j/7`
  kNumber,    // a bare number: never a time (`9-12` is not understood)
  kOrdinal,   // value: 1..5 (`1er`, `2e`, `3eme`)
  kDay,       // value: 0 = Monday … 6 = Sunday (`lundi`, `lundis`, `lun`)
  kWord,      // other words, folded
  kDash,
  kSlash,
  kComma,
  kSemicolon,  // also a line break
  kColon,
  kOpen,
  kClose,
  kPlus,
  kDot,
  kBad,
};

struct Token {
  Tok kind = Tok::kBad;
  int value = 0;
  std::string word;
};

std::optional<int> DayNamed(std::string_view w) {
  static constexpr std::array<std::array<const char*, 3>, 7> kNames = {{
      {"lundi", "lundis", "lun"},
      {"mardi", "mardis", "mar"},
      {"mercredi", "mercredis", "mer"},
      {"jeudi", "jeudis", "jeu"},
      {"vendredi", "vendredis", "ven"},
      {"samedi", "samedis", "sam"},
      {"dimanche", "dimanches", "dim"},
  }};
  for (int d = 0; d < 7; ++d) {
    for (const char* n : kNames[d]) {
      if (w == n) return d;
    }
  }
  return std::nullopt;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return c >= 'a' && c <= 'z'; }

// Splits folded text into tokens; nullopt when a character belongs to no token.
std::optional<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto digits = [&](size_t max) {
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start <= max) ++i;
    return s.substr(start, i - start);
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\'') {
      ++i;
      continue;
    }
    Token t;
    if (IsDigit(c)) {
      const std::string_view h = digits(2);
      if (h.size() > 2) return std::nullopt;  // 100, 0900: not a French hour
      const int hours = h.size() == 1 ? h[0] - '0' : (h[0] - '0') * 10 + (h[1] - '0');
      int minutes = 0;
      if (i < s.size() && (s[i] == 'h' || s[i] == ':')) {
        const char sep = s[i++];
        if (hours == 24 && sep == 'h' && s.substr(i, 3) == "/24") {
          i += 3;
          if (i < s.size() && s[i] == 'h') ++i;
          t.kind = Tok::kAllDay;
          out.push_back(std::move(t));
          continue;
        }
        const std::string_view m = digits(2);
        if (m.size() == 2) {
          minutes = (m[0] - '0') * 10 + (m[1] - '0');
        } else if (!m.empty() || sep == ':') {
          return std::nullopt;  // 9h5, 9:
        }
        if (sep == 'h' && m.empty() && s.substr(i, 5) == "eures") i += 5;  // 9heures
        if (hours > 24 || minutes > 59 || (hours == 24 && minutes != 0)) return std::nullopt;
        if (i < s.size() && (IsLetter(s[i]) || IsDigit(s[i]))) return std::nullopt;
        t.kind = Tok::kTime;
        t.value = hours * 60 + minutes;
      } else if (i < s.size() && s[i] == 'j' && s.substr(i, 3) == "j/7") {
        i += 3;
        if (hours != 7) return std::nullopt;
        t.kind = Tok::kEveryDay;
      } else if (i < s.size() && IsLetter(s[i])) {
        const size_t start = i;
        while (i < s.size() && IsLetter(s[i])) ++i;
        const std::string_view suffix = s.substr(start, i - start);
        if (!(suffix == "er" || suffix == "re" || suffix == "ere" || suffix == "e" ||
              suffix == "eme" || suffix == "nd" || suffix == "nde") ||
            hours < 1 || hours > 5) {
          return std::nullopt;
        }
        t.kind = Tok::kOrdinal;
        t.value = hours;
      } else {
        t.kind = Tok::kNumber;
        t.value = hours;
      }
      out.push_back(std::move(t));
      continue;
    }
    if (IsLetter(c)) {
      const size_t start = i;
      while (i < s.size() && IsLetter(s[i])) ++i;
      const std::string_view w = s.substr(start, i - start);
      if (const auto d = DayNamed(w)) {
        t.kind = Tok::kDay;
        t.value = *d;
        if (w.size() == 3 && i < s.size() && s[i] == '.') ++i;  // `lun.`
      } else if (w == "midi") {
        t.kind = Tok::kTime;
        t.value = 12 * 60;
      } else if (w == "minuit") {
        t.kind = Tok::kTime;
        t.value = 0;
      } else {
        t.kind = Tok::kWord;
        t.word = std::string(w);
      }
      out.push_back(std::move(t));
      continue;
    }
    switch (c) {
      case '-':
        t.kind = Tok::kDash;
        break;
      case '/':
        t.kind = Tok::kSlash;
        break;
      case ',':
        t.kind = Tok::kComma;
        break;
      case ';':
      case '\n':
        t.kind = Tok::kSemicolon;
        break;
      case ':':
        t.kind = Tok::kColon;
        break;
      case '(':
      case '[':
        t.kind = Tok::kOpen;
        break;
      case ')':
      case ']':
        t.kind = Tok::kClose;
        break;
      case '+':
      case '&':
        t.kind = Tok::kPlus;
        break;
      case '.':
        t.kind = Tok::kDot;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    out.push_back(std::move(t));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What a cell or a clause says.

// What qualifies hours beside the weekday.
struct Qualifier {
  int nth = 0;   // 1..5, -1 (dernier): `Mo[1]`
  int week = 0;  // 1 odd ISO weeks, 2 even ones
  bool rdv = false;
  auto Key() const { return std::make_tuple(nth != 0, week, nth, rdv); }
  bool operator<(const Qualifier& o) const { return Key() < o.Key(); }
  bool operator==(const Qualifier& o) const { return Key() == o.Key(); }
  bool Plain() const { return nth == 0 && week == 0 && !rdv; }
};

struct Interval {
  int from = 0, to = 0;  // minutes; to <= 1440
  bool operator<(const Interval& o) const { return std::tie(from, to) < std::tie(o.from, o.to); }
  bool operator==(const Interval& o) const { return from == o.from && to == o.to; }
};

// What one cell (or one clause's hours) says.
struct Hours {
  bool closed = false;
  bool empty = false;
  std::vector<Interval> intervals;  // none with rdv: "sur rendez-vous" the whole day
  Qualifier qualifier;
  // An annotation set apart by a comma or a dash (`9h-12h, sur rdv`): in a free text of several
  // clauses, which clause it belongs to is not guessed.
  bool loose = false;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  bool AtEnd() const { return i_ >= t_.size(); }
  const Token* Peek(size_t ahead = 0) const {
    return i_ + ahead < t_.size() ? &t_[i_ + ahead] : nullptr;
  }
  bool Is(Tok kind, size_t ahead = 0) const {
    const Token* t = Peek(ahead);
    return t != nullptr && t->kind == kind;
  }
  bool IsWord(std::string_view w, size_t ahead = 0) const {
    const Token* t = Peek(ahead);
    return t != nullptr && t->kind == Tok::kWord && t->word == w;
  }
  bool AcceptWord(std::string_view w) {
    if (!IsWord(w)) return false;
    ++i_;
    return true;
  }
  bool Accept(Tok kind) {
    if (!Is(kind)) return false;
    ++i_;
    return true;
  }
  bool AcceptAnyWord(std::initializer_list<std::string_view> words) {
    for (const auto w : words) {
      if (AcceptWord(w)) return true;
    }
    return false;
  }

  // `sur rendez-vous`, `sur rdv`, `uniquement sur rendez vous`, `rdv`, `avec rdv`.
  bool AcceptRdv() {
    const size_t save = i_;
    AcceptAnyWord({"uniquement", "seulement"});
    AcceptAnyWord({"sur", "avec", "par"});
    if (AcceptWord("rdv") || AcceptWord("rendezvous")) return true;
    if (AcceptWord("rendez")) {
      Accept(Tok::kDash);
      if (AcceptWord("vous")) return true;
    }
    i_ = save;
    return false;
  }

  // `non-stop`, `journée continue`, `sans interruption`: what an interval already says.
  bool AcceptContinuous() {
    const size_t save = i_;
    if (AcceptWord("nonstop")) return true;
    if (AcceptWord("non")) {
      Accept(Tok::kDash);
      if (AcceptWord("stop")) return true;
    } else if (AcceptWord("journee")) {
      if (AcceptWord("continue")) return true;
    } else if (AcceptWord("sans")) {
      if (AcceptWord("interruption")) return true;
    }
    i_ = save;
    return false;
  }

  // `fermé`, `fermée`, `fermeture`, `closed`.
  bool AcceptClosed() {
    return AcceptAnyWord({"ferme", "fermee", "fermes", "fermees", "fermeture", "closed"});
  }

  // `semaine paire`, `semaines impaires`, `les semaines paires`.
  int AcceptWeekParity() {
    const size_t save = i_;
    AcceptAnyWord({"les", "des", "en", "la"});
    if (AcceptAnyWord({"semaine", "semaines"})) {
      if (AcceptAnyWord({"paire", "paires"})) return 2;
      if (AcceptAnyWord({"impaire", "impaires"})) return 1;
    }
    i_ = save;
    return 0;
  }

  // `(le) 1er lundi du mois`, `le dernier vendredi du mois`: {nth, weekday}.
  std::optional<std::pair<int, int>> AcceptNthWeekday() {
    const size_t save = i_;
    AcceptAnyWord({"le", "chaque", "tous"});
    AcceptAnyWord({"les"});
    int nth = 0;
    if (Is(Tok::kOrdinal)) {
      nth = t_[i_++].value;
    } else if (AcceptAnyWord({"premier", "dernier"})) {
      nth = t_[i_ - 1].word == "premier" ? 1 : -1;
    }
    if (nth != 0 && Is(Tok::kDay)) {
      const int day = t_[i_++].value;
      if (AcceptWord("du") && AcceptWord("mois")) return std::make_pair(nth, day);
    }
    i_ = save;
    return std::nullopt;
  }

  // A time, or nothing. `minuit` as an end is 24:00; `0h` too.
  std::optional<int> AcceptTime() {
    if (!Is(Tok::kTime)) return std::nullopt;
    return t_[i_++].value;
  }

  // What joins two times: `-`, `à`, `jusqu'à`; `et` only after `entre` (`9h et 12h` is two
  // points in time).
  bool AcceptTo(bool between) {
    if (between) return AcceptWord("et");
    if (AcceptAnyWord({"jusqu", "jusque"})) {
      AcceptWord("a");
      return true;
    }
    return Accept(Tok::kDash) || AcceptAnyWord({"a", "au"});
  }

  // `9h-12h`, `de 9h à 12h`, `9h00 - 12h00`, `24h/24`; false with the position unchanged when
  // no interval starts here, nullopt inside `ok` when one starts and is malformed.
  bool AcceptInterval(Interval* out, bool* ok) {
    const size_t save = i_;
    if (Accept(Tok::kAllDay)) {
      *out = {0, 1440};
      return true;
    }
    AcceptAnyWord({"de", "des"});
    const bool between = AcceptWord("entre");
    const auto from = AcceptTime();
    if (!from) {
      i_ = save;
      return false;
    }
    if (!AcceptTo(between)) {
      *ok = false;
      return true;
    }
    const auto to = AcceptTime();
    if (!to) {
      *ok = false;
      return true;
    }
    out->from = *from;
    out->to = *to == 0 ? 1440 : *to;
    if (out->from == 1440 || out->to <= out->from) *ok = false;  // reversed or empty
    return true;
  }

  // A separator between two intervals: `/`, `,`, `et`, `;`, `+`, `puis`; only consumed when an
  // interval follows.
  bool AcceptIntervalSeparator() {
    const size_t save = i_;
    bool any = false;
    while (Accept(Tok::kSlash) || Accept(Tok::kComma) || Accept(Tok::kSemicolon) ||
           Accept(Tok::kPlus) || Accept(Tok::kDash) || AcceptAnyWord({"et", "puis"})) {
      any = true;
    }
    size_t ahead = 0;
    if (IsWord("de") || IsWord("des") || IsWord("entre")) ahead = 1;
    // `9h-12h 14h-17h`: a space is enough before a time that starts an interval.
    const bool starts = Is(Tok::kAllDay, ahead) ||
                        (Is(Tok::kTime, ahead) && (any || ahead == 1 || Is(Tok::kDash, ahead + 1) ||
                                                   IsWord("a", ahead + 1)));
    if ((any || ahead == 1 || Is(Tok::kTime)) && starts) return true;
    i_ = save;
    return false;
  }

  // An annotation: `sur rendez-vous`, `semaine paire`, `le 1er lundi du mois` (in a cell, the
  // cell's own weekday only), each in parentheses or not. False when none starts here.
  bool AcceptAnnotation(Hours* h, int weekday, bool* ok) {
    const size_t save = i_;
    const bool paren = Accept(Tok::kOpen);
    bool any = false;
    for (;;) {
      const size_t before = i_;
      const bool comma = Accept(Tok::kComma);
      const bool dash = Accept(Tok::kDash);
      AcceptWord("et");
      if (AcceptContinuous()) {
        // Says nothing more than the interval.
      } else if (AcceptRdv()) {
        h->qualifier.rdv = true;
      } else if (const int parity = AcceptWeekParity()) {
        if (h->qualifier.week != 0 && h->qualifier.week != parity) *ok = false;
        h->qualifier.week = parity;
      } else if (const auto nth = weekday >= 0 ? AcceptNthWeekday() : std::nullopt) {
        if (nth->second != weekday || h->qualifier.nth != 0) *ok = false;
        h->qualifier.nth = nth->first;
      } else {
        i_ = before;
        break;
      }
      any = true;
      if ((comma || dash) && !paren) h->loose = true;
    }
    if (!any || (paren && !Accept(Tok::kClose))) {
      i_ = save;
      return false;
    }
    return true;
  }

  // The hours of a cell or of a clause: intervals joined by separators, annotations before or
  // after, or `fermé`. `weekday` is the cell's day (-1 in free text). Stops before what it does
  // not read; ok is false when what it read is malformed.
  Hours ParseHours(int weekday, bool* ok) {
    Hours h;
    while (AcceptAnnotation(&h, weekday, ok)) {
    }
    if (AcceptClosed()) {
      h.closed = true;
      // `semaine paire fermé`: closed on which days exactly is not guessed.
      if (!h.qualifier.Plain()) *ok = false;
      return h;
    }
    Interval iv;
    if (AcceptInterval(&iv, ok)) {
      h.intervals.push_back(iv);
      bool annotated = false;
      for (;;) {
        if (AcceptAnnotation(&h, weekday, ok)) {
          annotated = true;
          continue;
        }
        if (!AcceptIntervalSeparator()) break;
        // `9h-12h sur rdv / 14h-17h`: which hours the annotation is for is not guessed.
        if (annotated) *ok = false;
        if (!AcceptInterval(&iv, ok)) {
          *ok = false;
          break;
        }
        h.intervals.push_back(iv);
        if (h.intervals.size() > kMaxIntervalsPerDay) *ok = false;
      }
    }
    while (AcceptAnnotation(&h, weekday, ok)) {
    }
    // Hours with only a day qualifier and no time are not understood (never guessed); "sur
    // rendez-vous" alone is a whole-day comment.
    if (h.intervals.empty() && !h.qualifier.rdv) *ok = false;
    return h;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The week: every day's segments, then the OSM string.

struct Segment {
  Qualifier qualifier;
  std::optional<Interval> interval;  // none: the whole day, with a comment
  size_t source = 0;                 // the cell it came from
};

std::string Hhmm(int minutes) { return absl::StrFormat("%02d:%02d", minutes / 60, minutes % 60); }

// `Mo-We,Fr` for a set of days (runs of three or more as ranges).
std::string OsmDays(const std::vector<int>& days, int nth) {
  std::vector<std::string> parts;
  if (nth != 0) {
    for (int d : days) parts.push_back(absl::StrCat(kOsmDays[d], "[", nth, "]"));
    return absl::StrJoin(parts, ",");
  }
  for (size_t i = 0; i < days.size();) {
    size_t j = i;
    while (j + 1 < days.size() && days[j + 1] == days[j] + 1) ++j;
    if (j - i >= 2) {
      parts.push_back(absl::StrCat(kOsmDays[days[i]], "-", kOsmDays[days[j]]));
    } else {
      for (size_t k = i; k <= j; ++k) parts.push_back(kOsmDays[days[k]]);
    }
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

std::string FrenchDays(const std::vector<int>& days) {
  if (days.size() >= 3 && days.back() - days.front() + 1 == static_cast<int>(days.size())) {
    return absl::StrCat("du ", kFrenchDays[days.front()], " au ", kFrenchDays[days.back()]);
  }
  std::vector<std::string> names;
  for (int d : days) names.push_back(kFrenchDays[d]);
  return absl::StrJoin(names, ", ");
}

std::string FrenchOrdinal(int nth) {
  if (nth == 1) return "1er";
  if (nth == -1) return "dernier";
  return absl::StrCat(nth, "e");
}

// Collects what was read, then writes the result.
class Week {
 public:
  // `source` names the cell for not-understood reports; `whole_day` says whether the text was
  // for the whole day (a closed half day closes only that half).
  void Add(int weekday, bool whole_day, const Hours& h, size_t source) {
    said_ = true;
    if (h.closed) {
      if (whole_day) closed_[weekday].push_back(source);
      return;
    }
    if (h.intervals.empty()) {
      days_[weekday].push_back({h.qualifier, std::nullopt, source});
      return;
    }
    for (const auto& iv : h.intervals) days_[weekday].push_back({h.qualifier, iv, source});
  }

  // The sources whose segments conflict: overlapping intervals on one day, or a whole-day
  // comment beside hours.
  std::vector<size_t> Conflicts() const {
    std::vector<size_t> bad;
    for (int d = 0; d < 7; ++d) {
      // A day closed by one cell and open in another: which is right is not guessed.
      if (!closed_[d].empty() && !days_[d].empty()) {
        bad.insert(bad.end(), closed_[d].begin(), closed_[d].end());
        for (const auto& s : days_[d]) bad.push_back(s.source);
      }
    }
    for (const auto& segments : days_) {
      for (size_t a = 0; a < segments.size(); ++a) {
        for (size_t b = a + 1; b < segments.size(); ++b) {
          const auto& x = segments[a];
          const auto& y = segments[b];
          // Both half days `sur rendez-vous` say it once; beside hours, which applies is not
          // guessed.
          const bool clash = !x.interval && !y.interval ? !(x.qualifier == y.qualifier)
                                                        : !x.interval || !y.interval ||
                                                              (x.interval->from < y.interval->to &&
                                                               y.interval->from < x.interval->to);
          if (clash) {
            bad.push_back(x.source);
            bad.push_back(y.source);
          }
        }
      }
      if (segments.size() > kMaxIntervalsPerDay) {
        for (const auto& s : segments) bad.push_back(s.source);
      }
    }
    std::sort(bad.begin(), bad.end());
    bad.erase(std::unique(bad.begin(), bad.end()), bad.end());
    return bad;
  }

  // The OSM string and the remarks; "" when nothing was said, `off` when every day is closed.
  std::pair<std::string, std::string> Write() const {
    // A day's schedule: its sub-rules, qualifier by qualifier, each with sorted intervals.
    using Schedule = std::map<Qualifier, std::vector<Interval>>;
    std::array<Schedule, 7> schedules;
    std::array<bool, 7> whole_day_comment{};
    for (int d = 0; d < 7; ++d) {
      for (const auto& s : days_[d]) {
        auto& v = schedules[d][s.qualifier];
        if (s.interval) {
          v.push_back(*s.interval);
        } else {
          whole_day_comment[d] = true;
        }
      }
      for (auto& [q, v] : schedules[d]) std::sort(v.begin(), v.end());
    }
    // Days with equal schedules form a group (days with an nth weekday stay alone: `Mo[1]`
    // belongs to Monday).
    std::vector<std::vector<int>> groups;
    std::array<bool, 7> grouped{};
    for (int d = 0; d < 7; ++d) {
      if (grouped[d] || schedules[d].empty()) continue;
      std::vector<int> group = {d};
      grouped[d] = true;
      bool nth = false;
      for (const auto& [q, v] : schedules[d]) nth = nth || q.nth != 0;
      for (int e = d + 1; e < 7 && !nth; ++e) {
        if (!grouped[e] && schedules[e] == schedules[d] &&
            whole_day_comment[e] == whole_day_comment[d]) {
          group.push_back(e);
          grouped[e] = true;
        }
      }
      groups.push_back(std::move(group));
    }
    if (groups.empty()) return {said_ ? "off" : "", ""};
    std::vector<std::string> rules, remarks;
    for (const auto& group : groups) {
      std::vector<std::string> sub;
      for (const auto& [q, intervals] : schedules[group.front()]) {
        std::string rule;
        if (q.week != 0) absl::StrAppend(&rule, q.week == 2 ? "week 02-52/2 " : "week 01-53/2 ");
        absl::StrAppend(&rule, OsmDays(group, q.nth));
        std::vector<std::string> times;
        for (const auto& iv : intervals) times.push_back(Hhmm(iv.from) + "-" + Hhmm(iv.to));
        if (!times.empty()) absl::StrAppend(&rule, " ", absl::StrJoin(times, ","));
        if (q.rdv) absl::StrAppend(&rule, " \"sur rendez-vous\"");
        sub.push_back(std::move(rule));
        if (q.Plain()) continue;
        std::vector<std::string> words;
        if (q.nth != 0) {
          words.push_back(absl::StrCat("le ", FrenchOrdinal(q.nth), " ", kFrenchDays[group.front()],
                                       " du mois"));
        } else {
          words.push_back(FrenchDays(group));
        }
        if (q.week != 0) words.push_back(q.week == 2 ? "semaines paires" : "semaines impaires");
        if (!times.empty()) {
          std::vector<std::string> french;
          for (const auto& iv : intervals) {
            french.push_back(absl::StrFormat("%dh%02d-%dh%02d", iv.from / 60, iv.from % 60,
                                             iv.to / 60, iv.to % 60));
          }
          words.push_back(absl::StrJoin(french, ", "));
        }
        std::string remark = absl::StrJoin(words, ", ");
        if (q.rdv) absl::StrAppend(&remark, " : sur rendez-vous");
        remarks.push_back(std::move(remark));
      }
      rules.push_back(absl::StrJoin(sub, ", "));
    }
    return {absl::StrJoin(rules, "; "), absl::StrJoin(remarks, " ; ")};
  }

  // A free text's exceptions: `du lundi au vendredi 9h-17h, mercredi fermé` closes Wednesday.
  void CloseClosedDays() {
    for (int d = 0; d < 7; ++d) {
      if (!closed_[d].empty()) days_[d].clear();
    }
  }

 private:
  std::array<std::vector<Segment>, 7> days_;
  std::array<std::vector<size_t>, 7> closed_;
  bool said_ = false;
};

// What a not-understood report shows of a value: the value itself, made valid UTF-8 and
// shortened when it is huge.
std::string ShownValue(std::string_view value) {
  const std::string valid = text::ToValidUtf8(value.substr(0, 4 * kMaxValueCodePoints + 4));
  return text::Ellipsize(valid, kMaxValueCodePoints);
}

bool Blank(std::string_view folded) {
  return folded.find_first_not_of(" \n") == std::string_view::npos;
}

// A cell of dashes, dots or slashes only (`-`, `--`, `/`): closed.
bool OnlyDashes(std::string_view folded) {
  return !Blank(folded) && folded.find_first_not_of(" -./\n") == std::string_view::npos;
}

// Reads one cell: empty, closed or hours; nullopt when not understood.
std::optional<Hours> ReadCell(std::string_view text, int weekday) {
  if (text.size() > kMaxCellBytes) return std::nullopt;
  const auto folded = Fold(text);
  if (!folded) return std::nullopt;
  Hours h;
  if (Blank(*folded)) {
    h.empty = true;
    return h;
  }
  if (OnlyDashes(*folded)) {
    h.closed = true;
    return h;
  }
  auto tokens = Tokenize(*folded);
  if (!tokens) return std::nullopt;
  Parser p(std::move(*tokens));
  bool ok = true;
  h = p.ParseHours(weekday, &ok);
  p.Accept(Tok::kDot);
  if (!ok || !p.AtEnd()) return std::nullopt;
  return h;
}

// The final check: what is written parses with the registry's own parser.
bool Parses(const std::string& osm) { return osm.empty() || OpeningHours::Parse(osm).has_value(); }

}  // namespace

HoursConversion ConvertHoursCells(const std::vector<HoursCell>& cells) {
  HoursConversion out;
  Week week;
  std::vector<bool> refused(cells.size(), false);
  for (size_t k = 0; k < cells.size(); ++k) {
    const HoursCell& c = cells[k];
    if (k >= kMaxCells || c.weekday < 0 || c.weekday > 6) {
      refused[k] = true;
      continue;
    }
    const auto h = ReadCell(c.text, c.weekday);
    if (!h) {
      refused[k] = true;
    } else if (!h->empty) {
      week.Add(c.weekday, c.part == DayPart::kWholeDay, *h, k);
    }
  }
  for (size_t k : week.Conflicts()) refused[k] = true;
  for (size_t k = 0; k < cells.size(); ++k) {
    if (refused[k]) {
      out.not_understood.push_back({cells[k].weekday, cells[k].part, ShownValue(cells[k].text)});
    }
  }
  if (!out.not_understood.empty()) return out;
  auto [osm, remarks] = week.Write();
  if (!Parses(osm)) {
    for (const auto& c : cells)
      out.not_understood.push_back({c.weekday, c.part, ShownValue(c.text)});
    return out;
  }
  out.opening_hours = std::move(osm);
  out.remarks = std::move(remarks);
  return out;
}

namespace {

// `du lundi au vendredi`, `lundi-vendredi`, `lundi, mardi et jeudi`, `le samedi`, `les
// samedis`, `tous les jours`, `7j/7`, `le 1er lundi du mois`, then `matin` / `après-midi`.
struct DaySpec {
  std::array<bool, 7> days{};
  int nth = 0;  // with exactly one day
  bool any = false;
};

std::optional<DaySpec> ParseDays(Parser& p, bool* ok) {
  DaySpec spec;
  if (const auto nth = p.AcceptNthWeekday()) {
    spec.days[nth->second] = true;
    spec.nth = nth->first;
    spec.any = true;
    return spec;
  }
  if (p.Accept(Tok::kEveryDay) ||
      (p.IsWord("tous") && p.IsWord("les", 1) && p.IsWord("jours", 2))) {
    if (p.AcceptWord("tous")) {
      p.AcceptWord("les");
      p.AcceptWord("jours");
    }
    spec.days.fill(true);
    spec.any = true;
    return spec;
  }
  for (;;) {
    p.AcceptAnyWord({"le", "les", "l", "du", "de", "chaque", "tous"});
    if (!p.Is(Tok::kDay)) break;
    const int from = p.Peek()->value;
    p.Accept(Tok::kDay);
    int to = from;
    if (p.Is(Tok::kDash) && p.Is(Tok::kDay, 1)) {
      p.Accept(Tok::kDash);
      to = p.Peek()->value;
      p.Accept(Tok::kDay);
    } else if ((p.IsWord("au") || p.IsWord("a")) && p.Is(Tok::kDay, 1)) {
      p.AcceptAnyWord({"au", "a"});
      to = p.Peek()->value;
      p.Accept(Tok::kDay);
    }
    if (to < from) {
      *ok = false;  // `du samedi au lundi`: not written in French registries; not guessed
      return std::nullopt;
    }
    for (int d = from; d <= to; ++d) spec.days[d] = true;
    spec.any = true;
    // Another day follows: `, mardi`, `et jeudi`, `, le jeudi`.
    const size_t ahead = (p.IsWord("le", 1) || p.IsWord("les", 1)) ? 2 : 1;
    if ((p.Is(Tok::kComma) || p.IsWord("et") || p.Is(Tok::kSlash)) && p.Is(Tok::kDay, ahead)) {
      if (!p.Accept(Tok::kComma) && !p.Accept(Tok::kSlash)) p.AcceptWord("et");
      continue;
    }
    break;
  }
  if (!spec.any) return std::nullopt;
  // `du lundi au vendredi sauf le mercredi`.
  if (p.AcceptWord("sauf")) {
    const auto except = ParseDays(p, ok);
    if (!except || except->nth != 0) {
      *ok = false;
      return std::nullopt;
    }
    for (int d = 0; d < 7; ++d) spec.days[d] = spec.days[d] && !except->days[d];
    if (std::find(spec.days.begin(), spec.days.end(), true) == spec.days.end()) *ok = false;
  }
  return spec;
}

}  // namespace

HoursConversion ConvertHoursText(std::string_view text) {
  HoursConversion out;
  auto refuse = [&] {
    out.opening_hours.clear();
    out.remarks.clear();
    out.not_understood = {{0, DayPart::kWholeDay, ShownValue(text)}};
    return out;
  };
  if (text.size() > kMaxTextBytes) return refuse();
  const auto folded = Fold(text);
  if (!folded) return refuse();
  if (Blank(*folded)) return out;
  auto tokens = Tokenize(*folded);
  if (!tokens) return refuse();
  Parser p(std::move(*tokens));
  Week week;
  bool named_a_day = false;
  size_t clauses = 0;
  bool loose = false;
  while (!p.AtEnd()) {
    bool ok = true;
    const auto days = ParseDays(p, &ok);
    if (!ok || !days) return refuse();
    named_a_day = true;
    ++clauses;
    // `le samedi matin 9h-12h`: the part names what the hours are; without hours it says
    // nothing (never guessed).
    p.AcceptAnyWord({"matin", "matins", "matinee", "aprem"});
    if (p.IsWord("apres") && p.Is(Tok::kTime, 1 + p.Is(Tok::kDash, 1)) &&
        p.Peek(1 + p.Is(Tok::kDash, 1))->value == 12 * 60) {
      // `après-midi`: `apres` `-` `midi`.
      p.AcceptWord("apres");
      p.Accept(Tok::kDash);
      p.AcceptTime();
    }
    if (!p.Accept(Tok::kColon)) p.Accept(Tok::kComma);
    Hours h = p.ParseHours(-1, &ok);
    loose = loose || h.loose;
    if (days->nth != 0) {
      if (h.qualifier.nth != 0 || h.closed) ok = false;
      h.qualifier.nth = days->nth;
    }
    if (!ok) return refuse();
    for (int d = 0; d < 7; ++d) {
      if (days->days[d]) week.Add(d, true, h, 0);
    }
    // Between clauses: `,`, `;`, `.`, `/`, `et`, a line break.
    while (p.Accept(Tok::kComma) || p.Accept(Tok::kSemicolon) || p.Accept(Tok::kDot) ||
           p.Accept(Tok::kSlash) || p.Accept(Tok::kDash) || p.AcceptWord("et")) {
    }
  }
  week.CloseClosedDays();
  if (!named_a_day || (loose && clauses > 1) || !week.Conflicts().empty()) return refuse();
  auto [osm, remarks] = week.Write();
  if (!Parses(osm)) return refuse();
  out.opening_hours = std::move(osm);
  out.remarks = std::move(remarks);
  return out;
}

}  // namespace passerelle::standard
