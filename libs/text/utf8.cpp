// Untrusted text helpers.
#include "libs/text/utf8.hpp"

#include <charconv>
#include <cmath>

namespace passerelle::text {

size_t SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // at most U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

namespace {

char32_t Decode(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]));
  };
  switch (n) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

bool IsControl(char32_t c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F || (c >= 0x80 && c < 0xA0);
}

// Unicode's noncharacters: U+FDD0 to U+FDEF and the last two code points of every plane (U+FFFE,
// U+FFFF, U+1FFFE...). Kept for a program's internal use, never text a person wrote.
bool IsNoncharacter(char32_t c) { return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE; }

// What a quote never shows as it is: every control character, tab and line breaks included (a
// text may hold them, a one-line error message or log line quoting it may not); the bidi
// overrides, isolates and marks, which would reorder the rest of the message around the quote;
// the line and paragraph separators; and the invisible zero-width space, word joiner and BOM,
// which would make two different names read the same. (ZWNJ and ZWJ stay: scripts and emoji
// need them.)
bool IsUnquotable(char32_t c) {
  return c < 0x20 || IsControl(c) || c == 0x061C || c == 0x200B || c == 0x200E || c == 0x200F ||
         (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

// A code point that never starts a grapheme cluster: it joins the one before (Unicode's
// Grapheme_Extend for the common scripts, ZWJ, emoji modifiers). Not the full table: enough for
// Latin, Greek, Cyrillic, Hebrew, Arabic, Thai and Japanese marks and for emoji.
bool IsExtend(char32_t c) {
  struct Range {
    char32_t from, to;
  };
  static constexpr Range kRanges[] = {
      {0x0300, 0x036F}, {0x0483, 0x0489},   {0x0591, 0x05BD},   {0x05BF, 0x05BF},
      {0x05C1, 0x05C2}, {0x05C4, 0x05C5},   {0x05C7, 0x05C7},   {0x0610, 0x061A},
      {0x064B, 0x065F}, {0x0670, 0x0670},   {0x06D6, 0x06DC},   {0x06DF, 0x06E4},
      {0x06E7, 0x06E8}, {0x06EA, 0x06ED},   {0x0E31, 0x0E31},   {0x0E34, 0x0E3A},
      {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},   {0x200C, 0x200D},
      {0x20D0, 0x20FF}, {0x302A, 0x302F},   {0x3099, 0x309A},   {0xFE00, 0xFE0F},
      {0xFE20, 0xFE2F}, {0x1F3FB, 0x1F3FF}, {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
  };
  for (const Range& r : kRanges) {
    if (c >= r.from && c <= r.to) return true;
  }
  return false;
}

bool IsRegionalIndicator(char32_t c) { return c >= 0x1F1E6 && c <= 0x1F1FF; }

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

}  // namespace

std::optional<size_t> FirstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (!(n == 1 && s[i] == '\0')) out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::optional<size_t> FirstControl(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) {
      ++i;
      continue;
    }
    if (const char32_t c = Decode(s, i, n); IsControl(c) || IsNoncharacter(c)) return i;
    i += n;
  }
  return std::nullopt;
}

std::optional<size_t> FirstBidiControl(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) {
      ++i;
      continue;
    }
    const char32_t c = Decode(s, i, n);
    if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) return i;
    i += n;
  }
  return std::nullopt;
}

// Spaces, format characters, fillers and selectors that draw nothing on their own: the
// Hangul fillers, the braille blank, the combining grapheme joiner, variation selectors,
// Khmer inherent vowels, the Arabic letter mark, the object replacement character, tags.
bool IsInvisible(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0xAD || c == 0x034F ||
         c == 0x061C || c == 0x115F || c == 0x1160 || c == 0x1680 || c == 0x17B4 || c == 0x17B5 ||
         (c >= 0x180B && c <= 0x180F) || (c >= 0x2000 && c <= 0x200F) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || (c >= 0x2060 && c <= 0x206F) || c == 0x2800 ||
         c == 0x3000 || c == 0x3164 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || c == 0xFFA0 ||
         c == 0xFFFC || (c >= 0xE0000 && c <= 0xE007F) || (c >= 0xE0100 && c <= 0xE01EF);
}

// Invisible characters that change the character before them (variation selectors, the tags
// that end an emoji flag, the combining grapheme joiner, Mongolian selectors): kept at an end.
bool ModifiesThePrevious(char32_t c) {
  return c == 0x034F || (c >= 0x180B && c <= 0x180D) || c == 0x180F ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0000 && c <= 0xE007F) ||
         (c >= 0xE0100 && c <= 0xE01EF);
}

bool IsBlank(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0 || !IsInvisible(Decode(s, i, n))) return false;
    i += n;
  }
  return true;
}

std::string_view TrimInvisible(std::string_view s) {
  while (!s.empty()) {
    const size_t n = SequenceLength(s, 0);
    if (n == 0 || !IsInvisible(Decode(s, 0, n))) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const size_t n = SequenceLength(s, start);
    if (n != s.size() - start) break;  // not a whole sequence: left for the UTF-8 check
    const char32_t c = Decode(s, start, n);
    if (!IsInvisible(c) || ModifiesThePrevious(c)) break;
    s.remove_suffix(n);
  }
  return s;
}

size_t CodePoints(std::string_view s) {
  size_t count = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::string_view TruncateCodePoints(std::string_view s, size_t max_code_points) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (count == max_code_points) return s.substr(0, i);
      ++count;
    }
  }
  return s;
}

std::string Ellipsize(std::string_view s, size_t max_code_points) {
  if (CodePoints(s) <= max_code_points) return std::string(s);
  if (max_code_points == 0) return "";
  std::string out(TruncateCodePoints(s, max_code_points - 1));
  out += kEllipsis;
  return out;
}

std::string_view CutGraphemes(std::string_view s, size_t max_code_points) {
  size_t count = 0;
  size_t cluster_start = 0;  // byte offset where the current cluster starts
  bool after_zwj = false;
  size_t regional_run = 0;  // regional indicators just before, in a row
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    const char32_t c = n == 0 ? 0xFFFD : Decode(s, i, n);
    if (n == 0) n = 1;
    const bool boundary =
        i == 0 || !(IsExtend(c) || after_zwj || (IsRegionalIndicator(c) && regional_run % 2 == 1));
    if (boundary) cluster_start = i;
    if (count == max_code_points) {
      if (boundary || cluster_start == 0) return s.substr(0, i);
      return s.substr(0, cluster_start);
    }
    ++count;
    after_zwj = c == 0x200D;
    regional_run = IsRegionalIndicator(c) ? regional_run + 1 : 0;
    i += n;
  }
  return s;
}

std::string EllipsizeGraphemes(std::string_view s, size_t max_code_points) {
  if (CodePoints(s) <= max_code_points) return std::string(s);
  if (max_code_points == 0) return "";
  std::string out(CutGraphemes(s, max_code_points - 1));
  out += kEllipsis;
  return out;
}

std::string Quote(std::string_view s, size_t max_code_points) {
  std::string out;
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    if (count == max_code_points) {
      out += kEllipsis;
      break;
    }
    const size_t n = SequenceLength(s, i);
    if (n == 0 || IsUnquotable(Decode(s, i, n))) {
      out += kReplacement;
      i += n == 0 ? 1 : n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
    ++count;
  }
  return out;
}

std::optional<double> ParseDecimal(std::string_view s, bool decimal_comma) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty() || s.size() > 400) return std::nullopt;
  std::string text;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    if (s[0] == '-') text += '-';
    i = 1;
  }
  size_t int_digits = 0, frac_digits = 0;
  bool point = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      (point ? frac_digits : int_digits)++;
      text += c;
    } else if (!point && (c == '.' || (decimal_comma && c == ','))) {
      point = true;
      text += '.';
    } else {
      return std::nullopt;
    }
  }
  if (int_digits == 0 || (point && frac_digits == 0)) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace passerelle::text
