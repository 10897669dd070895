// Typed settings read from environment variables.
#include "libs/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace passerelle::config {

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Reader::Reader(EnvLookup lookup) : lookup_(std::move(lookup)) {}

std::optional<std::string> Reader::Lookup(std::string_view name, std::string_view default_value,
                                          std::string_view help) {
  entries_.push_back({std::string(name), std::string(default_value), std::string(help)});
  auto v = lookup_(name);
  if (v && v->empty()) return std::nullopt;  // an empty variable means "use the default"
  return v;
}

void Reader::Error(std::string_view name, std::string_view expected, std::string_view got) {
  errors_.push_back(std::string(name) + ": expected " + std::string(expected) + ", got \"" +
                    std::string(got) + "\"");
}

std::string Reader::String(std::string_view name, std::string_view default_value,
                           std::string_view help) {
  auto v = Lookup(name, default_value, help);
  return v ? *v : std::string(default_value);
}

std::string Reader::RequiredString(std::string_view name, std::string_view help) {
  auto v = Lookup(name, "", help);
  if (!v) {
    errors_.push_back(std::string(name) + ": required (" + std::string(help) + "), but not set");
    return "";
  }
  return *v;
}

int64_t Reader::Int(std::string_view name, int64_t default_value, int64_t min, int64_t max,
                    std::string_view help) {
  auto v = Lookup(name, absl::StrCat(default_value), help);
  if (!v) return default_value;
  int64_t out = 0;
  if (!absl::SimpleAtoi(absl::string_view(*v), &out) || out < min || out > max) {
    Error(name, absl::StrCat("an integer between ", min, " and ", max), *v);
    return default_value;
  }
  return out;
}

int Reader::Port(std::string_view name, int default_value, std::string_view help) {
  return static_cast<int>(Int(name, default_value, 0, 65535, help));
}

bool Reader::Bool(std::string_view name, bool default_value, std::string_view help) {
  auto v = Lookup(name, default_value ? "true" : "false", help);
  if (!v) return default_value;
  std::string s = absl::AsciiStrToLower(*v);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  Error(name, "true or false", *v);
  return default_value;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::string_view digits = text;
  std::string_view unit;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  digits = text.substr(0, i);
  unit = text.substr(i);
  int64_t n = 0;
  if (digits.empty() || !absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &n)) return std::nullopt;
  if (unit.empty() || unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::seconds(n);
  if (unit == "m") return std::chrono::minutes(n);
  if (unit == "h") return std::chrono::hours(n);
  return std::nullopt;
}

std::chrono::milliseconds Reader::Duration(std::string_view name,
                                           std::chrono::milliseconds default_value,
                                           std::string_view help) {
  auto v = Lookup(name, absl::StrCat(default_value.count(), "ms"), help);
  if (!v) return default_value;
  auto d = ParseDuration(*v);
  if (!d) {
    Error(name, "a duration such as 250ms, 5s, 2m or 1h", *v);
    return default_value;
  }
  return *d;
}

std::string Reader::OneOf(std::string_view name, std::string_view default_value,
                          const std::vector<std::string>& allowed, std::string_view help) {
  auto v = Lookup(name, default_value, help);
  if (!v) return std::string(default_value);
  if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
    Error(name, absl::StrCat("one of ", absl::StrJoin(allowed, ", ")), *v);
    return std::string(default_value);
  }
  return *v;
}

std::string Reader::ListenAddress(std::string_view name, std::string_view default_value,
                                  std::string_view help) {
  auto v = Lookup(name, default_value, help);
  if (!v) return std::string(default_value);
  auto colon = v->rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(*v).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    Error(name, "a host:port address such as 127.0.0.1:8080", *v);
    return std::string(default_value);
  }
  return *v;
}

absl::Status Reader::Finish() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid configuration:\n  ", absl::StrJoin(errors_, "\n  ")));
}

std::string Reader::Describe() const {
  std::string out = "Environment variables:\n";
  for (const auto& e : entries_) {
    absl::StrAppend(&out, "  ", e.name, " (default \"", e.default_value, "\")\n      ", e.help,
                    "\n");
  }
  return out;
}

}  // namespace passerelle::config
