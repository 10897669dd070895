// What a request's Cache-Control (RFC 9111 section 5.2.1) and Pragma (section 5.4) ask of a
// cache in front of an origin: the directives read as a list, not searched for as substrings.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace passerelle::http {

/// The request directives a cache acts on. Unknown directives are ignored, as RFC 9111 asks.
struct RequestCacheControl {
  bool no_cache = false;  // `no-cache`: an answer checked at the origin
  bool no_store = false;  // `no-store`
  /// `max-age=N`: an answer at most N seconds old. A value that is not delta-seconds reads as
  /// 0 (the client wanted something fresh; refusing a stored answer is the safe side).
  std::optional<int64_t> max_age;
};

/// Reads a Cache-Control field value (every line joined with commas). Directive names are
/// case-insensitive; a value is a token or a quoted-string, whose commas do not split it.
RequestCacheControl ParseRequestCacheControl(std::string_view value);

/// Whether a request asks the origin's answer rather than a stored one: Cache-Control
/// `no-cache` or `max-age=0`; without any Cache-Control field (nullopt), HTTP/1.0's
/// `Pragma: no-cache`.
bool AsksRevalidation(std::optional<std::string_view> cache_control,
                      std::optional<std::string_view> pragma);

}  // namespace passerelle::http
