// gRPC handler of passerelle.venues.v1.OrganisationService: wire mapping only.
#pragma once

#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "services/venues/organisations.hpp"

namespace passerelle::venues {

class OrganisationHandler final : public v1::OrganisationService::Service {
 public:
  explicit OrganisationHandler(Organisations& organisations) : organisations_(organisations) {}

  grpc::Status CreateOrganisation(grpc::ServerContext* ctx,
                                  const v1::CreateOrganisationRequest* req,
                                  v1::Organisation* resp) override;
  grpc::Status GetOrganisation(grpc::ServerContext* ctx, const v1::GetOrganisationRequest* req,
                               v1::Organisation* resp) override;
  grpc::Status ListOrganisations(grpc::ServerContext* ctx, const v1::ListOrganisationsRequest* req,
                                 v1::ListOrganisationsResponse* resp) override;
  grpc::Status UpdateOrganisation(grpc::ServerContext* ctx,
                                  const v1::UpdateOrganisationRequest* req,
                                  v1::Organisation* resp) override;

 private:
  Organisations& organisations_;
};

}  // namespace passerelle::venues
