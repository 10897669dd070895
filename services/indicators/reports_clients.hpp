// The reports domain's Directory over the venues service's gRPC API.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/indicators/reports_service.hpp"

namespace passerelle::indicators::reports {

class GrpcDirectory final : public Directory {
 public:
  /// `address`: the venues service, host:port; each call waits at most `timeout`.
  GrpcDirectory(const std::string& address, std::chrono::milliseconds timeout);
  absl::StatusOr<std::vector<std::string>> VenueAreas(const std::string& name) override;
  absl::StatusOr<std::string> OrganisationLabel(const std::string& id) override;
  absl::StatusOr<std::map<std::string, std::string>> AreaLabels(const std::string& layer) override;

 private:
  std::unique_ptr<venues::v1::VenueService::Stub> venues_;
  std::unique_ptr<venues::v1::OrganisationService::Stub> organisations_;
  std::chrono::milliseconds timeout_;
};

}  // namespace passerelle::indicators::reports
