// What a fuzz target asserts besides "no crash": a broken property aborts with its reason, so
// libFuzzer keeps the input as a crash artifact like any sanitizer finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "libs/text/utf8.hpp"

#define FUZZ_CHECK(condition, what)                                                                \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  property: %s\n", __FILE__, __LINE__, \
                   #condition, std::string(what).c_str());                                         \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace passerelle::fuzz {

/// Every message a client or a log can see is valid UTF-8 (robustness.md, "errors"): gRPC
/// and protobuf refuse anything else, and a log line with raw bytes breaks its JSON.
inline void CheckMessage(std::string_view message, std::string_view where) {
  FUZZ_CHECK(text::IsValidUtf8(message), std::string(where) + " is not valid UTF-8");
}
// Debian's Abseil has its own string_view (absl::Status::message() returns it).
inline void CheckMessage(absl::string_view message, std::string_view where) {
  CheckMessage(std::string_view(message.data(), message.size()), where);
}
inline void CheckMessage(const std::string& message, std::string_view where) {
  CheckMessage(std::string_view(message), where);
}

}  // namespace passerelle::fuzz
