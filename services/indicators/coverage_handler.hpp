// gRPC handler of passerelle.indicators.v1.CoverageService: wire mapping only.
#pragma once

#include "passerelle/indicators/v1/indicators.grpc.pb.h"
#include "services/indicators/coverage.hpp"

namespace passerelle::indicators::coverage {

class Handler final : public v1::CoverageService::Service {
 public:
  explicit Handler(Domain& domain) : domain_(domain) {}
  grpc::Status ImportNeeds(grpc::ServerContext* ctx, const v1::ImportNeedsRequest* req,
                           v1::ImportNeedsResponse* resp) override;
  grpc::Status GetCoverage(grpc::ServerContext* ctx, const v1::GetCoverageRequest* req,
                           v1::Coverage* resp) override;
  grpc::Status ListGaps(grpc::ServerContext* ctx, const v1::ListGapsRequest* req,
                        v1::ListGapsResponse* resp) override;
  grpc::Status ExportCoverage(grpc::ServerContext* ctx, const v1::ExportCoverageRequest* req,
                              grpc::ServerWriter<v1::ExportChunk>* writer) override;

 private:
  Domain& domain_;
};

}  // namespace passerelle::indicators::coverage
