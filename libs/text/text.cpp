// Text folding for French search.
#include "libs/text/text.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>
#include <unordered_set>

namespace passerelle::text {
namespace {

// Folding of the Latin-1 Supplement and Latin Extended-A letters French text uses.
const char* FoldCodePoint(char32_t c) {
  switch (c) {
    case U'à': case U'á': case U'â': case U'ã': case U'ä': case U'å':
    case U'À': case U'Á': case U'Â': case U'Ã': case U'Ä': case U'Å': return "a";
    case U'æ': case U'Æ': return "ae";
    case U'ç': case U'Ç': return "c";
    case U'è': case U'é': case U'ê': case U'ë':
    case U'È': case U'É': case U'Ê': case U'Ë': return "e";
    case U'ì': case U'í': case U'î': case U'ï':
    case U'Ì': case U'Í': case U'Î': case U'Ï': return "i";
    case U'ñ': case U'Ñ': return "n";
    case U'ò': case U'ó': case U'ô': case U'õ': case U'ö':
    case U'Ò': case U'Ó': case U'Ô': case U'Õ': case U'Ö': return "o";
    case U'œ': case U'Œ': return "oe";
    case U'ù': case U'ú': case U'û': case U'ü':
    case U'Ù': case U'Ú': case U'Û': case U'Ü': return "u";
    case U'ý': case U'ÿ': case U'Ý': case U'Ÿ': return "y";
    case U'’': case U'‘': case U'ʼ': return "'";
    case U'«': case U'»': case U'“': case U'”': return "\"";
    case U'–': case U'—': return "-";
    case U'\u00a0': case U'\u202f': return " ";
    default: return nullptr;
  }
}

const std::unordered_set<std::string>& StopWords() {
  static const auto* words = new std::unordered_set<std::string>{
      "a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "ou", "par",
      "pour", "sa", "se", "ses", "son", "sur", "un", "une", "avec", "dans", "s", "sans"};
  return *words;
}

}  // namespace

std::string Fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++i;
      continue;
    }
    int len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    if (i + len > s.size()) len = 1;
    char32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : len == 4 ? (c & 0x07) : c;
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    if (const char* f = FoldCodePoint(cp)) {
      out += f;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::vector<std::string> Words(std::string_view utf8) {
  const std::string folded = Fold(utf8);
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && !StopWords().count(cur)) out.push_back(cur);
    cur.clear();
  };
  for (unsigned char c : folded) {
    if (std::isalnum(c) || c >= 0x80) {
      cur += static_cast<char>(c);
    } else {
      flush();  // "l'ecran": "l" is a stop word, "ecran" stays
    }
  }
  flush();
  return out;
}

int EditDistance(std::string_view a, std::string_view b, int max) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > max) return max + 1;
  // Rows on the stack for the short words search compares; the heap only for long texts.
  constexpr int kStack = 64;
  std::array<int, kStack + 1> s0{}, s1{}, s2{};
  std::vector<int> h0, h1, h2;
  int *prev2 = s0.data(), *prev = s1.data(), *cur = s2.data();
  if (m > kStack) {
    h0.resize(m + 1), h1.resize(m + 1), h2.resize(m + 1);
    prev2 = h0.data(), prev = h1.data(), cur = h2.data();
  }
  for (int j = 0; j <= m; ++j) prev[j] = j;
  for (int i = 1; i <= n; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > max) return max + 1;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

}  // namespace passerelle::text
