// Errors as HTTP clients read them: the HTTP status Google's mapping gives for each gRPC code
// (google/rpc/code.proto) and the AIP-193 JSON body
// `{"error": {"code": 404, "message": "…", "status": "NOT_FOUND", "details": […]}}` with the
// backend's typed details (BadRequest, ErrorInfo…) printed as proto3 JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "services/gateway/api_schema.hpp"

namespace passerelle::gateway {

/// The HTTP status of a gRPC code. With `conditional` (the request carried If-Match), ABORTED
/// and FAILED_PRECONDITION become 412, as code.proto allows.
int HttpStatusOf(grpc::StatusCode code, bool conditional = false);

/// `NOT_FOUND`, `INVALID_ARGUMENT`…
std::string_view CodeName(grpc::StatusCode code);

/// The reason of the status's ErrorInfo detail, if it carries one.
std::optional<std::string> ReasonOf(const grpc::Status& status);

/// The status as callers see it: UNAVAILABLE's message (a backend's connection error names
/// internal addresses, a database's driver its own words) becomes a French sentence, the
/// original logged with the request id; every other status as it is.
grpc::Status Outward(const grpc::Status& status, std::string_view request_id);

/// The AIP-193 JSON body of an error answered with `http_status`; a google.rpc.RequestInfo
/// detail carries the request id. The message is cut to 1,000 code points.
std::string ErrorJson(const ApiSchema& schema, int http_status, const grpc::Status& status,
                      std::string_view request_id);

/// The gateway's own refusals (absl::Status from transcoding or access), as grpc::Status with
/// the same details (libs/server's ToGrpc).
grpc::Status FromAbsl(const absl::Status& status);

}  // namespace passerelle::gateway
