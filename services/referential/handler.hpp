// gRPC handler of passerelle.referential.v1.ReferentialService: wire mapping only.
#pragma once

#include <functional>
#include <string>

#include "passerelle/referential/v1/referential.grpc.pb.h"
#include "services/referential/referential.hpp"

namespace passerelle::referential {

class Handler final : public v1::ReferentialService::Service {
 public:
  /// `base_uri` prefixes the concept URIs of SKOS exports. Every method reads its request's
  /// bytes itself (ParseRequest), so invalid UTF-8 is INVALID_ARGUMENT naming the field.
  Handler(Referential& domain, std::string base_uri);

  grpc::Status ListNomenclatures(grpc::ServerContext* ctx, const v1::ListNomenclaturesRequest* req,
                                 v1::ListNomenclaturesResponse* resp) override;
  grpc::Status GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest* req,
                          v1::Version* resp) override;
  grpc::Status GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                       v1::Item* resp) override;
  grpc::Status SearchItems(grpc::ServerContext* ctx, const v1::SearchItemsRequest* req,
                           v1::SearchItemsResponse* resp) override;
  grpc::Status ListProposals(grpc::ServerContext* ctx, const v1::ListProposalsRequest* req,
                             v1::ListProposalsResponse* resp) override;
  grpc::Status GetProposal(grpc::ServerContext* ctx, const v1::GetProposalRequest* req,
                           v1::Proposal* resp) override;
  grpc::Status CommentProposal(grpc::ServerContext* ctx, const v1::CommentProposalRequest* req,
                               v1::Proposal* resp) override;
  grpc::Status AmendProposal(grpc::ServerContext* ctx, const v1::AmendProposalRequest* req,
                             v1::Proposal* resp) override;
  grpc::Status AcceptProposal(grpc::ServerContext* ctx, const v1::DecideProposalRequest* req,
                              v1::Proposal* resp) override;
  grpc::Status RejectProposal(grpc::ServerContext* ctx, const v1::DecideProposalRequest* req,
                              v1::Proposal* resp) override;
  grpc::Status PublishVersion(grpc::ServerContext* ctx, const v1::PublishVersionRequest* req,
                              v1::PublishVersionResponse* resp) override;
  grpc::Status DiffVersions(grpc::ServerContext* ctx, const v1::DiffVersionsRequest* req,
                            v1::VersionDiff* resp) override;
  grpc::Status ExportVersion(grpc::ServerContext* ctx, const v1::ExportVersionRequest* req,
                             grpc::ServerWriter<v1::ExportChunk>* writer) override;

 private:
  /// Replaces gRPC's parsing of method `index` (its position in the service) with ParseRequest,
  /// then calls `method` as gRPC would have.
  template <typename Request, typename Response>
  void ReadRawRequests(int index, grpc::Status (Handler::*method)(grpc::ServerContext*,
                                                                  const Request*, Response*));
  grpc::Status Export(grpc::ServerContext* ctx, const v1::ExportVersionRequest& req,
                      const std::function<bool(const v1::ExportChunk&)>& write);

  Referential& domain_;
  std::string base_uri_;
};

}  // namespace passerelle::referential
