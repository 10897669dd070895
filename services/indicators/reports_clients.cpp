#include "services/indicators/reports_clients.hpp"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"

namespace passerelle::indicators::reports {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

GrpcDirectory::GrpcDirectory(const std::string& address, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  venues_ = venues::v1::VenueService::NewStub(channel);
  organisations_ = venues::v1::OrganisationService::NewStub(channel);
}

absl::StatusOr<std::vector<std::string>> GrpcDirectory::VenueAreas(const std::string& name) {
  venues::v1::GetVenueRequest req;
  req.set_name(name);
  venues::v1::Venue venue;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  grpc::Status st = venues_->GetVenue(&ctx, req, &venue);
  if (!st.ok()) return FromGrpc(st);
  return std::vector<std::string>(venue.areas().begin(), venue.areas().end());
}

absl::StatusOr<std::string> GrpcDirectory::OrganisationLabel(const std::string& id) {
  venues::v1::GetOrganisationRequest req;
  req.set_name(absl::StrCat("organisations/", id));
  venues::v1::Organisation organisation;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  grpc::Status st = organisations_->GetOrganisation(&ctx, req, &organisation);
  if (!st.ok()) return FromGrpc(st);
  return organisation.display_name();
}

}  // namespace passerelle::indicators::reports
