// What a test reads from a gRPC error's details (google.rpc.Status): the field violations of its
// BadRequest and the reason of its ErrorInfo. Header-only: a test using it links grpc++ and
// google_rpc_proto itself.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace passerelle::testing {

/// Every field violation, one `field: description` line each; empty without a BadRequest.
inline std::string Violations(const grpc::Status& st) {
  google::rpc::Status rpc;
  std::string out;
  if (!rpc.ParseFromString(st.error_details())) return out;
  for (const auto& d : rpc.details()) {
    google::rpc::BadRequest br;
    if (!d.UnpackTo(&br)) continue;
    for (const auto& f : br.field_violations()) out += f.field() + ": " + f.description() + "\n";
  }
  return out;
}

/// The ErrorInfo's reason (`ETAG_MISMATCH`…), or empty.
inline std::string Reason(const grpc::Status& st) {
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(st.error_details())) return "";
  for (const auto& d : rpc.details()) {
    google::rpc::ErrorInfo info;
    if (d.UnpackTo(&info)) return info.reason();
  }
  return "";
}

}  // namespace passerelle::testing
