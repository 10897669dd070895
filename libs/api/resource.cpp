// Etags and timestamps.
#include "libs/api/resource.hpp"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"

namespace passerelle::api {

std::string WeakETag(int revision) { return absl::StrCat("W/\"", revision, "\""); }

absl::StatusOr<int> RevisionFromETag(const std::string& etag) {
  if (etag.empty()) return 0;
  std::string digits = etag;
  if (digits.starts_with("W/")) digits = digits.substr(2);
  if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') {
    digits = digits.substr(1, digits.size() - 2);
  }
  int revision = 0;
  if (!absl::SimpleAtoi(digits, &revision) || revision <= 0) {
    return InvalidArgument("invalid etag", {{"etag", "not an etag this service issued"}});
  }
  return revision;
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t us = absl::ToUnixMicros(t);
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

}  // namespace passerelle::api
