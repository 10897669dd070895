// Fuzz target: the AIP-160 filter subset (libs/server ParseFilter).
//
// Properties: an error is INVALID_ARGUMENT with a valid UTF-8 message; a parsed filter has at
// most 20 comparisons, each with a well-formed field name and a position inside the filter,
// and writing it back in canonical form parses to the same comparisons.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "libs/api/filter.hpp"
#include "tests/fuzz/check.hpp"

using passerelle::api::Comparison;
using passerelle::api::ParseFilter;

namespace {

std::string Canonical(const std::vector<Comparison>& comparisons) {
  std::string out;
  for (const Comparison& c : comparisons) {
    if (!out.empty()) out += " AND ";
    std::string value;
    for (char ch : c.value) {
      if (ch == '"' || ch == '\\') value += '\\';
      value += ch;
    }
    const char* op = c.op == Comparison::Op::kEquals      ? "="
                     : c.op == Comparison::Op::kNotEquals ? "!="
                                                          : ":";
    absl::StrAppend(&out, c.field, " ", op, " \"", value, "\"");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view filter(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseFilter(filter);
  if (!parsed.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(parsed.status()), "a bad filter is INVALID_ARGUMENT");
    passerelle::fuzz::CheckMessage(parsed.status().message(), "the error message");
    for (const auto& v : passerelle::server::Violations(parsed.status())) {
      passerelle::fuzz::CheckMessage(v.description, "a violation");
    }
    return 0;
  }
  FUZZ_CHECK(parsed->size() <= 20, "at most 20 comparisons");
  for (const Comparison& c : *parsed) {
    FUZZ_CHECK(!c.field.empty() && std::isalpha(static_cast<unsigned char>(c.field[0])),
               "a field starts with a letter");
    FUZZ_CHECK(c.position < filter.size(), "a comparison's position is inside the filter");
    FUZZ_CHECK(filter.substr(c.position).starts_with(c.field),
               "a comparison's position is where its field is written");
  }
  // Canonical text can pass the 2,000-byte limit (quotes, spaces): only compare below it.
  const std::string again_text = Canonical(*parsed);
  if (again_text.size() > 2000) return 0;
  auto again = ParseFilter(again_text);
  FUZZ_CHECK(again.ok(), "the canonical form of a parsed filter parses: " + again_text);
  FUZZ_CHECK(again->size() == parsed->size(), "same number of comparisons");
  for (size_t i = 0; i < parsed->size(); ++i) {
    FUZZ_CHECK((*again)[i].field == (*parsed)[i].field && (*again)[i].op == (*parsed)[i].op &&
                   (*again)[i].value == (*parsed)[i].value,
               "the canonical form parses to the same comparisons");
  }
  return 0;
}
