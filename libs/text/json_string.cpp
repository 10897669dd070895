#include "libs/text/json_string.hpp"

#include "libs/text/utf8.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace passerelle::text {

namespace {

// Whether `c` goes into a JSON string as it is: printable ASCII other than '"' and '\\'.
inline bool Plain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// The first byte at or after `i` that is not Plain (a control, '"', '\\', DEL or any byte of a
// multi-byte sequence), or `n`. Sixteen bytes at a time: names, addresses and descriptions are
// mostly long runs of plain ASCII.
inline size_t SkipPlain(const char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Compared as signed bytes, 0x80-0xff are negative: "below 0x20" also catches them.
    const __m128i odd =
        _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(odd);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  while (i < n && Plain(static_cast<unsigned char>(p[i]))) ++i;
  return i;
}

}  // namespace

bool AppendJsonString(std::string* out, std::string_view s) {
  const size_t start = out->size();
  out->push_back('"');
  const char* p = s.data();
  const size_t n = s.size();
  size_t run = 0;  // the start of the bytes not yet copied
  for (size_t i = SkipPlain(p, 0, n); i < n; i = SkipPlain(p, i, n)) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x80) {
      // Copied as it is once known well-formed; anything else leaves `out` as it was. Two-byte
      // sequences (é, à, ç, «, ») are checked here, the others by SequenceLength.
      if (c >= 0xC2 && c <= 0xDF && i + 1 < n &&
          (static_cast<unsigned char>(p[i + 1]) & 0xC0) == 0x80) {
        i += 2;
        continue;
      }
      const size_t len = SequenceLength(s, i);
      if (len == 0) {
        out->resize(start);
        return false;
      }
      i += len;
      continue;
    }
    out->append(p + run, i - run);
    run = ++i;
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
  out->append(p + run, n - run);
  out->push_back('"');
  return true;
}

void AppendJsonStringRepaired(std::string* out, std::string_view s) {
  if (!AppendJsonString(out, s)) AppendJsonString(out, ToValidUtf8(s));
}

}  // namespace passerelle::text
