// For tests of the gateway's JSON printer (json_print_test, the gateway_answer fuzz target):
// two JSON values the same for a reader.
#pragma once

#include "nlohmann/json.hpp"

namespace passerelle::gateway {

// The same JSON value: numbers equal as doubles, or as floats (protobuf writes a float with
// the digits of its float value, the fast printer with its shortest).
inline bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x == y || static_cast<float>(x) == static_cast<float>(y);
  }
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !SameJson(it.value(), b.at(it.key()))) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameJson(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace passerelle::gateway
