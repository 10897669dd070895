// gRPC handler of passerelle.venues.v1.DuplicateService: wire mapping only.
#pragma once

#include "passerelle/venues/v1/duplicates.grpc.pb.h"
#include "services/venues/duplicates.hpp"

namespace passerelle::venues {

class DuplicateHandler final : public v1::DuplicateService::Service {
 public:
  explicit DuplicateHandler(Duplicates& duplicates) : duplicates_(duplicates) {}

  grpc::Status ListDuplicateLinks(grpc::ServerContext* ctx,
                                  const v1::ListDuplicateLinksRequest* req,
                                  v1::ListDuplicateLinksResponse* resp) override;
  grpc::Status GetDuplicateLink(grpc::ServerContext* ctx, const v1::GetDuplicateLinkRequest* req,
                                v1::DuplicateLink* resp) override;
  grpc::Status ResolveDuplicate(grpc::ServerContext* ctx, const v1::ResolveDuplicateRequest* req,
                                v1::DuplicateLink* resp) override;

 private:
  Duplicates& duplicates_;
};

}  // namespace passerelle::venues
