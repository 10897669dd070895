// gRPC side of errors: absl::Status built in domains (libs/api/status.hpp) mapped to
// grpc::Status in one place (AIP-193).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "libs/api/status.hpp"

namespace passerelle::server {

// Handlers name these as server:: as well; they live in libs/api, free of gRPC.
using api::CheckNumber;
using api::CheckText;
using api::FieldViolation;
using api::InvalidArgument;
using api::Violations;
using api::WithReason;

/// Maps an absl::Status to a grpc::Status whose binary details hold a google.rpc.Status with the
/// same code, message and every detail attached (plus ErrorInfo with domain `passerelle`).
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace passerelle::server
