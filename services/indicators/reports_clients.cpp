#include "services/indicators/reports_clients.hpp"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"

namespace passerelle::indicators::reports {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

GrpcDirectory::GrpcDirectory(const std::string& address, std::chrono::milliseconds timeout,
                             ReferentialClient& referential, std::string nomenclature)
    : timeout_(timeout), referential_(referential), nomenclature_(std::move(nomenclature)) {
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

absl::StatusOr<std::map<std::string, std::string>> GrpcDirectory::AreaLabels(
    const std::string& layer) {
  std::map<std::string, std::string> out;
  venues::v1::ListAreasRequest req;
  req.set_parent(absl::StrCat("areaLayers/", layer));
  req.set_page_size(1000);
  // A layer has hundreds of areas (IRIS: about a thousand per large city): a few pages at most.
  for (int page = 0; page < 20; ++page) {
    venues::v1::ListAreasResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    grpc::Status st = venues_->ListAreas(&ctx, req, &resp);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) return out;
    if (!st.ok()) return FromGrpc(st);
    for (const auto& a : resp.areas()) out[a.code()] = a.label();
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> GrpcDirectory::PublishedItems() {
  auto version = referential_.Version(absl::StrCat("nomenclatures/", nomenclature_, "/versions/-"));
  if (!version.ok()) return version.status();
  std::map<std::string, std::string> out;
  for (const auto& item : version->items) {
    out[item.name] = item.plain_label.empty() ? item.label : item.plain_label;
  }
  return out;
}

}  // namespace passerelle::indicators::reports
