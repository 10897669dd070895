// Typed settings read from environment variables, with defaults and validation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace passerelle::config {

/// Looks a variable up; std::nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

/// The process environment (getenv).
EnvLookup ProcessEnv();

/// One documented variable, as read (for `--help` and the README's table).
struct Entry {
  std::string name;
  std::string default_value;
  std::string help;
};

/// Reads settings one by one. A bad value does not stop reading: every problem is collected and
/// Finish() reports them all at once, each naming the variable, what it expects and what it got.
class Reader {
 public:
  explicit Reader(EnvLookup lookup = ProcessEnv());

  /// A free-form string.
  std::string String(std::string_view name, std::string_view default_value, std::string_view help);
  /// A string that must be set and non-empty.
  std::string RequiredString(std::string_view name, std::string_view help);
  /// An integer within [min, max].
  int64_t Int(std::string_view name, int64_t default_value, int64_t min, int64_t max,
              std::string_view help);
  /// A TCP port (0 lets the system choose).
  int Port(std::string_view name, int default_value, std::string_view help);
  /// true/false, 1/0, yes/no, on/off.
  bool Bool(std::string_view name, bool default_value, std::string_view help);
  /// A duration such as `250ms`, `5s`, `2m`, `1h`; a bare number is in milliseconds.
  std::chrono::milliseconds Duration(std::string_view name, std::chrono::milliseconds default_value,
                                     std::string_view help);
  /// One of a fixed set of words.
  std::string OneOf(std::string_view name, std::string_view default_value,
                    const std::vector<std::string>& allowed, std::string_view help);
  /// A `host:port` listen address.
  std::string ListenAddress(std::string_view name, std::string_view default_value,
                            std::string_view help);

  /// OK, or INVALID_ARGUMENT listing every bad variable, one per line.
  absl::Status Finish() const;
  /// Every variable read so far, in order.
  const std::vector<Entry>& entries() const { return entries_; }
  /// A plain-text table of the variables, for `--help`.
  std::string Describe() const;

 private:
  std::optional<std::string> Lookup(std::string_view name, std::string_view default_value,
                                    std::string_view help);
  void Error(std::string_view name, std::string_view expected, std::string_view got);

  EnvLookup lookup_;
  std::vector<Entry> entries_;
  std::vector<std::string> errors_;
};

/// Parses `250ms`, `5s`, `2m`, `1h` or a bare number of milliseconds.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace passerelle::config
