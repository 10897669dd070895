#include "libs/text/encoding.hpp"

#include <algorithm>
#include <cstdint>

#include "libs/text/utf8.hpp"

namespace passerelle::text {
namespace {

// Windows-1252's code points for 0x80-0x9F; 0 where the byte is undefined.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

void AppendCodePoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the well-formed UTF-8 multi-byte sequence at `s[i]`, or 0.
size_t MultiByteAt(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b >= 0xC2 && b <= 0xDF   ? 2
             : b >= 0xE0 && b <= 0xEF ? 3
             : b >= 0xF0 && b <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  return IsValidUtf8(s.substr(i, n)) ? n : 0;
}

}  // namespace

std::string_view EncodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kUtf8:
      return "UTF-8";
    case Encoding::kLatin1:
      return "ISO-8859-1";
    case Encoding::kWindows1252:
      return "Windows-1252";
  }
  return "UTF-8";
}

std::string_view StripUtf8Bom(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  return s;
}

bool HasUtf16Bom(std::string_view s) {
  return s.starts_with("\xFF\xFE") || s.starts_with("\xFE\xFF") ||
         s.starts_with(std::string_view("\0\0\xFE\xFF", 4));
}

bool LooksLikeWideText(std::string_view s) {
  const size_t n = std::min<size_t>(s.size(), 512) / 4 * 4;
  if (n < 8) return false;
  size_t nuls[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < n; ++i) nuls[i % 4] += s[i] == '\0';
  int full = 0, empty = 0;
  bool full_at[4] = {false, false, false, false};
  for (int k = 0; k < 4; ++k) {
    const double share = static_cast<double>(nuls[k]) / static_cast<double>(n / 4);
    full_at[k] = share >= 0.9;
    full += full_at[k];
    empty += share <= 0.1;
  }
  const bool utf16 = full == 2 && empty == 2 && full_at[0] == full_at[2];
  const bool utf32 = full == 3 && empty == 1;
  return utf16 || utf32;
}

Encoding DetectEncoding(std::string_view bytes) {
  bytes = StripUtf8Bom(bytes);
  auto bad = FirstInvalidUtf8(bytes);
  if (!bad) return Encoding::kUtf8;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) continue;
    if (size_t n = MultiByteAt(bytes, i); n > 0) return Encoding::kUtf8;
  }
  return Encoding::kWindows1252;
}

std::string ToUtf8(std::string_view bytes, Encoding encoding) {
  bytes = StripUtf8Bom(bytes);
  if (encoding == Encoding::kUtf8) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    uint32_t cp = b;
    if (encoding == Encoding::kWindows1252 && b >= 0x80 && b < 0xA0 && kCp1252High[b - 0x80] != 0) {
      cp = kCp1252High[b - 0x80];
    }
    AppendCodePoint(cp, &out);
  }
  return out;
}

std::optional<DecodedText> DecodeFile(std::string_view bytes, std::optional<Encoding> declared) {
  if (HasUtf16Bom(bytes) || LooksLikeWideText(bytes)) return std::nullopt;
  const Encoding encoding = declared ? *declared : DetectEncoding(bytes);
  if (encoding == Encoding::kUtf8) return DecodedText(encoding, StripUtf8Bom(bytes), {});
  return DecodedText(encoding, {}, ToUtf8(bytes, encoding));
}

}  // namespace passerelle::text
