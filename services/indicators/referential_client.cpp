#include "services/indicators/referential_client.hpp"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "libs/api/resource.hpp"

namespace passerelle::indicators {

ReferentialClient::ReferentialClient(const std::string& address, std::chrono::milliseconds timeout)
    : stub_(referential::v1::ReferentialService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      timeout_(timeout) {}

absl::StatusOr<PublishedVersion> ReferentialClient::Version(const std::string& version) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  referential::v1::GetVersionRequest req;
  req.set_name(version);
  referential::v1::Version resp;
  grpc::Status st = stub_->GetVersion(&ctx, req, &resp);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("referential GetVersion: ", st.error_message()));
  }
  PublishedVersion out;
  out.name = resp.name();
  out.publish_time = api::FromTimestamp(resp.publish_time());
  for (const auto& level : resp.levels()) {
    for (const auto& category : level.categories()) {
      for (const auto& item : category.items()) {
        if (item.retired()) continue;
        out.items.push_back({item.name(), item.code(), item.label(), item.plain_label()});
      }
    }
  }
  return out;
}

}  // namespace passerelle::indicators
