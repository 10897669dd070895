#include "libs/db/params.hpp"

namespace passerelle::db {
namespace {

template <typename T>
std::string Literal(const std::vector<T>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : std::string_view(values[i])) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string TextArray(const std::vector<std::string>& values) { return Literal(values); }
std::string TextArray(const std::vector<std::string_view>& values) { return Literal(values); }

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", t, absl::UTCTimeZone());
}

}  // namespace passerelle::db
