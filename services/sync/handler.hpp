// gRPC handler of passerelle.sync.v1.SyncService: wire mapping only.
#pragma once

#include "libs/api/page_token.hpp"
#include "passerelle/sync/v1/sync.grpc.pb.h"
#include "services/sync/sync.hpp"

namespace passerelle::sync {

class Handler final : public v1::SyncService::Service {
 public:
  /// `tokens`: the deployment's page-token sealer (every List's tokens are opaque).
  Handler(Syncer& syncer, const api::PageTokens& tokens) : syncer_(syncer), tokens_(tokens) {}
  grpc::Status CreateSource(grpc::ServerContext* ctx, const v1::CreateSourceRequest* req,
                            v1::Source* resp) override;
  grpc::Status GetSource(grpc::ServerContext* ctx, const v1::GetSourceRequest* req,
                         v1::Source* resp) override;
  grpc::Status ListSources(grpc::ServerContext* ctx, const v1::ListSourcesRequest* req,
                           v1::ListSourcesResponse* resp) override;
  grpc::Status UpdateSource(grpc::ServerContext* ctx, const v1::UpdateSourceRequest* req,
                            v1::Source* resp) override;
  grpc::Status StartRun(grpc::ServerContext* ctx, const v1::StartRunRequest* req,
                        v1::Run* resp) override;
  grpc::Status GetRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req,
                      v1::Run* resp) override;
  grpc::Status ListRuns(grpc::ServerContext* ctx, const v1::ListRunsRequest* req,
                        v1::ListRunsResponse* resp) override;
  grpc::Status ListRunErrors(grpc::ServerContext* ctx, const v1::ListRunErrorsRequest* req,
                             v1::ListRunErrorsResponse* resp) override;
  grpc::Status PreviewSource(grpc::ServerContext* ctx, const v1::PreviewSourceRequest* req,
                             v1::PreviewSourceResponse* resp) override;

 private:
  /// The sources with their newest runs (one read for all).
  grpc::Status WithLastRuns(const std::vector<SourceRecord>& sources,
                            google::protobuf::RepeatedPtrField<v1::Source>* out);
  grpc::Status WithLastRun(const SourceRecord& source, v1::Source* out);
  Syncer& syncer_;
  const api::PageTokens& tokens_;
};

}  // namespace passerelle::sync
