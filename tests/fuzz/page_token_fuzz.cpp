// Fuzz target: page tokens (libs/server PageTokens) under a fixed key.
//
// The input is split into a list name, parameters, a token and a cursor. Properties: Open of
// arbitrary bytes either fails with INVALID_ARGUMENT or (only for a token we sealed) succeeds;
// Seal then Open gives the cursor back; the same token is refused for another list, other
// parameters or another key, and once any byte of it changes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "libs/api/page_token.hpp"
#include "tests/fuzz/check.hpp"

using passerelle::api::BindParameters;
using passerelle::api::PageTokens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const PageTokens tokens("fuzz key: fixed so crashes reproduce");
  static const PageTokens other("another deployment's key");
  FuzzedDataProvider in(data, size);
  const std::string list = in.ConsumeRandomLengthString(64);
  const std::string parameters =
      BindParameters({in.ConsumeRandomLengthString(256), in.ConsumeRandomLengthString(64)});
  const std::string token = in.ConsumeRandomLengthString(6000);
  const std::string cursor = in.ConsumeRemainingBytesAsString();

  // Arbitrary bytes: refused (a forged token cannot pass GCM's tag), never a crash.
  auto opened = tokens.Open(list, parameters, token);
  FUZZ_CHECK(!opened.ok(), "a token nobody sealed is refused");
  FUZZ_CHECK(absl::IsInvalidArgument(opened.status()), "a bad token is INVALID_ARGUMENT");
  passerelle::fuzz::CheckMessage(opened.status().message(), "the error message");

  // Round trip on a fuzzed cursor.
  const std::string sealed = tokens.Seal(list, parameters, cursor);
  auto back = tokens.Open(list, parameters, sealed);
  if (sealed.size() <= 4096) {
    FUZZ_CHECK(back.ok(), "a sealed token opens: " + std::string(back.status().message()));
    FUZZ_CHECK(*back == cursor, "a sealed token gives its cursor back");
  } else {
    FUZZ_CHECK(!back.ok(), "a token over 4096 bytes is refused");
  }
  FUZZ_CHECK(!tokens.Open(list + "x", parameters, sealed).ok(), "another list is refused");
  FUZZ_CHECK(!tokens.Open(list, parameters + "x", sealed).ok(), "other parameters are refused");
  FUZZ_CHECK(!other.Open(list, parameters, sealed).ok(), "another key is refused");
  {
    std::string cut = sealed.substr(0, sealed.size() - 1);
    FUZZ_CHECK(!tokens.Open(list, parameters, cut).ok(), "a cut token is refused");
    std::string flipped = sealed;
    // Not the last character: some of its bits may be base64 padding.
    const size_t at = cursor.size() % (flipped.size() - 1);
    flipped[at] = flipped[at] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(!tokens.Open(list, parameters, flipped).ok(), "a changed token is refused");
  }
  return 0;
}
