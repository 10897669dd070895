// What the coverage domain reads from the other services: venues (snapshot, area layers) and
// the referential (a version's items with labels). Implemented over gRPC in coverage_clients.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/indicators/coverage_store.hpp"
#include "services/indicators/referential_client.hpp"

namespace passerelle::indicators::coverage {

/// A venue as the read model keeps it, from the API message (hours read on the reference
/// week; offers = referential items + national services).
VenueRow FromVenue(const venues::v1::Venue& v);

class Upstream {
 public:
  virtual ~Upstream() = default;
  /// Every venue, withdrawn ones included (tombstones keep replayed events from reviving them).
  virtual absl::StatusOr<std::vector<VenueRow>> AllVenues() = 0;
  /// Whether venues knows the venue `name` (withdrawn ones included): false when it answers
  /// NOT_FOUND (or refuses the name as malformed); an error when it cannot answer.
  virtual absl::StatusOr<bool> VenueExists(const std::string& name) = 0;
  /// Every area layer with its areas' outlines.
  virtual absl::StatusOr<std::vector<LayerInput>> AreaLayers() = 0;
  /// A version's items (not retired), in the tree's order; `version` may end in `/versions/-`
  /// (the current one). `*name` and `*published` receive the version's name and publish time.
  virtual absl::StatusOr<std::vector<ItemRow>> VersionItems(const std::string& version,
                                                            std::string* name,
                                                            absl::Time* published) = 0;
};

class GrpcUpstream final : public Upstream {
 public:
  GrpcUpstream(const std::string& venues_address, const std::string& referential_address,
               std::chrono::milliseconds timeout);
  absl::StatusOr<std::vector<VenueRow>> AllVenues() override;
  absl::StatusOr<bool> VenueExists(const std::string& name) override;
  absl::StatusOr<std::vector<LayerInput>> AreaLayers() override;
  absl::StatusOr<std::vector<ItemRow>> VersionItems(const std::string& version, std::string* name,
                                                    absl::Time* published) override;

 private:
  std::unique_ptr<venues::v1::VenueService::Stub> venues_;
  ReferentialClient referential_;
  std::chrono::milliseconds timeout_;
};

}  // namespace passerelle::indicators::coverage
