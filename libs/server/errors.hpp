// Errors with google.rpc details: built in the domain as absl::Status, mapped to grpc::Status
// in one place (AIP-193).
#pragma once

#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace passerelle::server {

struct FieldViolation {
  /// Path of the field, e.g. `venue.code_postal` or `rows[12].telephone`.
  std::string field;
  /// What is wrong and which rule it breaks.
  std::string description;
};

/// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per problem.
absl::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations);
/// Adds a google.rpc.ErrorInfo (machine-readable reason, e.g. ETAG_MISMATCH) to a status.
absl::Status WithReason(absl::Status status, const std::string& reason);
/// The violations carried by a status (empty when none).
std::vector<FieldViolation> Violations(const absl::Status& status);

/// Maps an absl::Status to a grpc::Status whose binary details hold a google.rpc.Status with the
/// same code, message and every detail attached (plus ErrorInfo with domain `passerelle`).
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace passerelle::server
