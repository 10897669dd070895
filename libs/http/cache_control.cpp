#include "libs/http/cache_control.hpp"

#include <string>

namespace passerelle::http {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// One directive: its name in lowercase and its value (a quoted-string unquoted).
struct Directive {
  std::string name, value;
  bool has_value = false;
};

// Calls `each` for every directive of a comma-separated list; returns nothing.
template <typename F>
void ForEachDirective(std::string_view list, F each) {
  size_t i = 0;
  const size_t n = list.size();
  while (i < n) {
    Directive d;
    while (i < n && (IsSpace(list[i]) || list[i] == ',')) ++i;
    while (i < n && list[i] != '=' && list[i] != ',' && !IsSpace(list[i]))
      d.name += Lower(list[i++]);
    while (i < n && IsSpace(list[i])) ++i;
    if (i < n && list[i] == '=') {
      d.has_value = true;
      ++i;
      while (i < n && IsSpace(list[i])) ++i;
      if (i < n && list[i] == '"') {
        ++i;
        while (i < n && list[i] != '"') {
          if (list[i] == '\\' && i + 1 < n) ++i;  // quoted-pair
          d.value += list[i++];
        }
        if (i < n) ++i;  // the closing quote
      }
      while (i < n && list[i] != ',') d.value += list[i++];
      while (!d.value.empty() && IsSpace(d.value.back())) d.value.pop_back();
    }
    // Whatever is left up to the next comma belongs to a malformed directive: skipped.
    while (i < n && list[i] != ',') ++i;
    if (!d.name.empty()) each(d);
  }
}

// delta-seconds = 1*DIGIT; nullopt when it is not. Values past 2^31 are capped (RFC 9111
// section 1.2.2).
std::optional<int64_t> DeltaSeconds(const std::string& s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v >= 2147483648LL ? v : v * 10 + (c - '0');
  }
  return v > 2147483648LL ? 2147483648LL : v;
}

}  // namespace

RequestCacheControl ParseRequestCacheControl(std::string_view value) {
  RequestCacheControl cc;
  ForEachDirective(value, [&](const Directive& d) {
    if (d.name == "no-cache") {
      cc.no_cache = true;
    } else if (d.name == "no-store") {
      cc.no_store = true;
    } else if (d.name == "max-age") {
      const std::optional<int64_t> age = d.has_value ? DeltaSeconds(d.value) : std::nullopt;
      cc.max_age = age.value_or(0);
    }
  });
  return cc;
}

bool AsksRevalidation(std::optional<std::string_view> cache_control,
                      std::optional<std::string_view> pragma) {
  if (cache_control.has_value()) {
    const RequestCacheControl cc = ParseRequestCacheControl(*cache_control);
    return cc.no_cache || cc.max_age == 0;
  }
  if (!pragma.has_value()) return false;
  bool no_cache = false;
  ForEachDirective(*pragma, [&](const Directive& d) { no_cache |= d.name == "no-cache"; });
  return no_cache;
}

}  // namespace passerelle::http
