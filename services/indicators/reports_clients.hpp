// The reports domain's Directory over the gRPC APIs of the venues service and the referential.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/indicators/referential_client.hpp"
#include "services/indicators/reports_service.hpp"

namespace passerelle::indicators::reports {

class GrpcDirectory final : public Directory {
 public:
  /// `address`: the venues service, host:port; `referential`: the referential's client and
  /// `nomenclature` whose current version names the items; each call waits at most `timeout`.
  GrpcDirectory(const std::string& address, std::chrono::milliseconds timeout,
                ReferentialClient& referential, std::string nomenclature);
  absl::StatusOr<std::vector<std::string>> VenueAreas(const std::string& name) override;
  absl::StatusOr<std::string> OrganisationLabel(const std::string& id) override;
  absl::StatusOr<std::map<std::string, std::string>> AreaLabels(const std::string& layer) override;
  absl::StatusOr<std::map<std::string, std::string>> PublishedItems() override;

 private:
  std::unique_ptr<venues::v1::VenueService::Stub> venues_;
  std::unique_ptr<venues::v1::OrganisationService::Stub> organisations_;
  std::chrono::milliseconds timeout_;
  ReferentialClient& referential_;
  std::string nomenclature_;
};

}  // namespace passerelle::indicators::reports
