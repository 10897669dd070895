#include "libs/text/json_string.hpp"

#include "libs/text/utf8.hpp"

namespace passerelle::text {

bool AppendJsonString(std::string* out, std::string_view s) {
  // Only text with non-ASCII bytes is checked for UTF-8; runs of characters that need no
  // escape are copied at once.
  bool ascii = true;
  for (char ch : s) ascii &= static_cast<unsigned char>(ch) < 0x80;
  if (!ascii && !IsValidUtf8(s)) return false;
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(escape, sizeof(escape));
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
  return true;
}

void AppendJsonStringRepaired(std::string* out, std::string_view s) {
  if (!AppendJsonString(out, s)) AppendJsonString(out, ToValidUtf8(s));
}

}  // namespace passerelle::text
