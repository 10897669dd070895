// The coverage domain's reads from venues over gRPC, and from the referential with the client
// the indicators' domains share (referential_client).
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/api/resource.hpp"
#include "services/indicators/coverage_upstream.hpp"

namespace passerelle::indicators::coverage {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// Most pages read in one listing: a bound on a misbehaving server's endless tokens.
constexpr int kMaxPages = 10000;

}  // namespace

VenueRow FromVenue(const venues::v1::Venue& v) {
  VenueRow row;
  row.name = v.name();
  row.nom = v.nom();
  // A venue hidden as another's duplicate (resolved SAME) is that other place: counted once.
  row.active = v.state() != venues::v1::WITHDRAWN && v.duplicate_of().empty();
  if (v.has_latitude() && v.has_longitude()) {
    row.latitude = v.latitude();
    row.longitude = v.longitude();
  }
  row.areas.assign(v.areas().begin(), v.areas().end());
  std::sort(row.areas.begin(), row.areas.end());
  row.areas.erase(std::unique(row.areas.begin(), row.areas.end()), row.areas.end());
  row.offers.assign(v.referential_items().begin(), v.referential_items().end());
  for (int s : v.services()) {
    const auto* value = venues::v1::Service_descriptor()->FindValueByNumber(s);
    if (value != nullptr && s != 0) row.offers.push_back(ServiceOffer(value->name()));
  }
  std::sort(row.offers.begin(), row.offers.end());
  row.offers.erase(std::unique(row.offers.begin(), row.offers.end()), row.offers.end());
  row.hours = WeekOf(v.horaires());
  row.update_time = api::FromTimestamp(v.update_time());
  return row;
}

GrpcUpstream::GrpcUpstream(const std::string& venues_address,
                           const std::string& referential_address,
                           std::chrono::milliseconds timeout)
    : venues_(venues::v1::VenueService::NewStub(
          grpc::CreateChannel(venues_address, grpc::InsecureChannelCredentials()))),
      referential_(referential_address, timeout),
      timeout_(timeout) {}

absl::StatusOr<std::vector<VenueRow>> GrpcUpstream::AllVenues() {
  std::vector<VenueRow> out;
  std::string token;
  for (int page = 0; page < kMaxPages; ++page) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    venues::v1::ListVenuesRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    req.set_show_withdrawn(true);
    venues::v1::ListVenuesResponse resp;
    grpc::Status st = venues_->ListVenues(&ctx, req, &resp);
    if (!st.ok()) return FromGrpc(st, "venues ListVenues");
    for (const auto& v : resp.venues()) out.push_back(FromVenue(v));
    token = resp.next_page_token();
    if (token.empty()) return out;
  }
  return absl::UnavailableError("venues ListVenues: too many pages");
}

absl::StatusOr<bool> GrpcUpstream::VenueExists(const std::string& name) {
  grpc::ClientContext ctx;
  // Asked while an event is being handled: short, so a slow venues does not outlast ack_wait.
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(5)));
  venues::v1::GetVenueRequest req;
  req.set_name(name);
  venues::v1::Venue resp;
  grpc::Status st = venues_->GetVenue(&ctx, req, &resp);
  if (st.ok()) return true;
  if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
      st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return false;
  }
  return FromGrpc(st, "venues GetVenue");
}

absl::StatusOr<std::vector<LayerInput>> GrpcUpstream::AreaLayers() {
  std::vector<LayerInput> out;
  std::string token;
  for (int page = 0; page < kMaxPages; ++page) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    venues::v1::ListAreaLayersRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    venues::v1::ListAreaLayersResponse resp;
    grpc::Status st = venues_->ListAreaLayers(&ctx, req, &resp);
    if (!st.ok()) return FromGrpc(st, "venues ListAreaLayers");
    for (const auto& l : resp.area_layers()) {
      LayerInput layer;
      // `areaLayers/{layer}`.
      layer.layer = l.name().substr(l.name().rfind('/') + 1);
      layer.title = l.title();
      out.push_back(std::move(layer));
    }
    token = resp.next_page_token();
    if (token.empty()) break;
  }
  for (auto& layer : out) {
    std::string area_token;
    for (int page = 0; page < kMaxPages; ++page) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
      venues::v1::ListAreasRequest req;
      req.set_parent(absl::StrCat("areaLayers/", layer.layer));
      req.set_view(venues::v1::AREA_VIEW_FULL);
      req.set_page_size(100);
      req.set_page_token(area_token);
      venues::v1::ListAreasResponse resp;
      grpc::Status st = venues_->ListAreas(&ctx, req, &resp);
      if (!st.ok()) return FromGrpc(st, "venues ListAreas");
      for (const auto& a : resp.areas()) {
        layer.areas.push_back({a.code(), a.label(), a.geometry()});
      }
      area_token = resp.next_page_token();
      if (area_token.empty()) break;
    }
  }
  return out;
}

absl::StatusOr<std::vector<ItemRow>> GrpcUpstream::VersionItems(const std::string& version,
                                                                std::string* name,
                                                                absl::Time* published) {
  absl::StatusOr<PublishedVersion> read = referential_.Version(version);
  if (!read.ok()) return read.status();
  *name = read->name;
  *published = read->publish_time;
  std::vector<ItemRow> out;
  out.reserve(read->items.size());
  int position = 0;
  for (PublishedItem& item : read->items) {
    out.push_back({std::move(item.name), std::move(item.code), std::move(item.label), position++});
  }
  return out;
}

}  // namespace passerelle::indicators::coverage
