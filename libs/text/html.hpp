// Text into HTML: the five characters that could open markup or end an attribute, escaped.
#pragma once

#include <string>
#include <string_view>

namespace passerelle::text {

/// `s` safe between tags and inside a quoted attribute (&, <, >, ", ').
inline std::string EscapeHtml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace passerelle::text
