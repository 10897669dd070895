// The AIP-160 filter subset every List method accepts: comparisons joined by AND.
//
//   filter     = [ comparison { "AND" comparison } ]
//   comparison = field ( "=" | "!=" | ":" ) value
//   field      = name { "." name }            name = letter { letter | digit | "_" }
//   value      = '"' { char | '\"' | '\\' } '"'  |  bare word (letters, digits, _ . - / + @)
//
// Anything else (OR, NOT, parentheses, lower-case operators, a missing value, an unclosed
// quote) is refused with the position of the problem; callers then refuse fields and values
// they do not know. Nothing here knows SQL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/status.hpp"

namespace passerelle::api {

struct Comparison {
  enum class Op { kEquals, kNotEquals, kHas };
  std::string field;
  Op op = Op::kEquals;
  std::string value;
  /// Byte offset of the comparison in the filter (for errors about its field or value).
  size_t position = 0;
};

/// Parses a filter; INVALID_ARGUMENT with a violation on `filter` naming the position and what
/// was expected. At most 2,000 bytes and 20 comparisons.
absl::StatusOr<std::vector<Comparison>> ParseFilter(std::string_view filter);

/// A violation on `filter` about one comparison a caller refuses (its field, operator or value):
/// "[rule] position N : `what`", N counted from 1 as in ParseFilter's own errors, so every list
/// points at the comparison it refuses the same way; the rule is the tag `what` starts with
/// ("[enum] …"), `[filter]` when it has none.
FieldViolation FilterViolation(const Comparison& c, std::string_view what);

}  // namespace passerelle::api
