// Query parameters that PostgreSQL reads as more than one scalar.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace passerelle::db {

/// A list of text values as one query parameter, to be read as `$n::text[]`: a PostgreSQL array
/// literal with every element quoted and escaped, so commas, braces, quotes, backslashes and the
/// word NULL arrive as written. The values must be valid UTF-8 without NUL (PostgreSQL's text
/// cannot hold NUL); validation happens before a value reaches the store.
std::string TextArray(const std::vector<std::string>& values);
/// The same for any list of string-like values.
std::string TextArray(const std::vector<std::string_view>& values);

/// A time the domain gives (its injected clock's) as one parameter, to be read as
/// `$n::timestamptz`: RFC 3339 in UTC to the microsecond, PostgreSQL's own precision. Stores
/// write the domain's times with it rather than the database's now(), so a test's clock moves
/// what is compared.
std::string Timestamp(absl::Time t);

}  // namespace passerelle::db
