// gRPC handler of passerelle.referential.v1.ReferentialService: wire mapping only.
#pragma once

#include "passerelle/referential/v1/referential.grpc.pb.h"
#include "services/referential/referential.hpp"

namespace passerelle::referential {

class Handler final : public v1::ReferentialService::Service {
 public:
  explicit Handler(Referential& domain) : domain_(domain) {}

  grpc::Status ListNomenclatures(grpc::ServerContext* ctx, const v1::ListNomenclaturesRequest* req,
                                 v1::ListNomenclaturesResponse* resp) override;
  grpc::Status GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest* req,
                          v1::Version* resp) override;
  grpc::Status GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                       v1::Item* resp) override;
  grpc::Status SearchItems(grpc::ServerContext* ctx, const v1::SearchItemsRequest* req,
                           v1::SearchItemsResponse* resp) override;

 private:
  Referential& domain_;
};

}  // namespace passerelle::referential
