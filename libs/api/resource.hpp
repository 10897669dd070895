// Helpers of every resource-oriented API, free of gRPC: etags (AIP-154) and timestamps.
#pragma once

#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace passerelle::api {

/// Weak etag of a revision: `W/"<revision>"`.
std::string WeakETag(int revision);
/// The revision in an etag this service issued; 0 when `etag` is empty (no precondition),
/// INVALID_ARGUMENT with a field violation on `etag` when it is malformed.
absl::StatusOr<int> RevisionFromETag(const std::string& etag);

/// absl::Time to google.protobuf.Timestamp (microsecond precision).
void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out);

}  // namespace passerelle::api
