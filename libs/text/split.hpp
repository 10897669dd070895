// Splitting and trimming on std::string_view (Debian's Abseil has its own string_view type,
// which absl::StrSplit and absl::StripAsciiWhitespace return and std::string_view does not
// convert to).
#pragma once

#include <string_view>
#include <vector>

namespace passerelle::text {

/// The pieces of `s` between `separator`s, empty pieces kept ("a,,b" → "a", "", "b").
inline std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(separator, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

/// `s` without ASCII spaces, tabs and line breaks at either end.
inline std::string_view StripSpaces(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace passerelle::text
