// Rich error details for gRPC.
#include "libs/server/errors.hpp"

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/text/utf8.hpp"

namespace passerelle::server {
namespace {

constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kDomain[] = "passerelle";

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(text::Ellipsize(text::ToValidUtf8(std::string_view(status.message().data(), status.message().size())), 1000));
  bool has_info = false;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    auto* any = rpc.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
    if (url == kErrorInfoUrl) has_info = true;
  });
  if (!has_info) {  // every error carries a machine-readable reason (AIP-193)
    google::rpc::ErrorInfo info;
    info.set_reason(std::string(absl::StatusCodeToString(status.code())));
    info.set_domain(kDomain);
    rpc.add_details()->PackFrom(info);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

}  // namespace passerelle::server
