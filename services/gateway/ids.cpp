#include "services/gateway/ids.hpp"

#include <algorithm>

namespace passerelle::gateway {
namespace {

bool LowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

bool ValidTraceparent(std::string_view tp) {
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  std::string_view version = tp.substr(0, 2), trace = tp.substr(3, 32), parent = tp.substr(36, 16),
                   flags = tp.substr(53, 2);
  if (!LowerHex(version) || !LowerHex(trace) || !LowerHex(parent) || !LowerHex(flags)) {
    return false;
  }
  return version != "ff" && !AllZero(trace) && !AllZero(parent);
}

bool ValidTracestate(std::string_view ts) {
  if (ts.size() > 512) return false;
  return std::all_of(ts.begin(), ts.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace passerelle::gateway
