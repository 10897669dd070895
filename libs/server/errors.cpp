// Rich error details for gRPC.
#include "libs/server/errors.hpp"

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace passerelle::server {
namespace {

constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kDomain[] = "passerelle";

}  // namespace

absl::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations) {
  absl::Status s = absl::InvalidArgumentError(message);
  google::rpc::BadRequest br;
  for (const auto& v : violations) {
    auto* fv = br.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  s.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  return s;
}

absl::Status WithReason(absl::Status status, const std::string& reason) {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kDomain);
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> Violations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return out;
  google::rpc::BadRequest br;
  if (!br.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : br.field_violations()) out.push_back({v.field(), v.description()});
  return out;
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  bool has_info = false;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    auto* any = rpc.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
    if (url == kErrorInfoUrl) has_info = true;
  });
  if (!has_info && status.code() != absl::StatusCode::kInvalidArgument) {
    google::rpc::ErrorInfo info;
    info.set_reason(std::string(absl::StatusCodeToString(status.code())));
    info.set_domain(kDomain);
    rpc.add_details()->PackFrom(info);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

}  // namespace passerelle::server
