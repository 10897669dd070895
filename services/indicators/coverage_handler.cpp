// gRPC handler of the coverage service.
#include "services/indicators/coverage_handler.hpp"

#include <optional>

#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "libs/server/server.hpp"

namespace passerelle::indicators::coverage {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return server::ToGrpc(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status Handler::ImportNeeds(grpc::ServerContext* ctx, const v1::ImportNeedsRequest* req,
                                  v1::ImportNeedsResponse* resp) {
  server::RequestScope scope(ctx);
  return Reply(domain_.ImportNeeds(*req, absl::FromChrono(ctx->deadline())), resp);
}

grpc::Status Handler::GetCoverage(grpc::ServerContext* ctx, const v1::GetCoverageRequest* req,
                                  v1::Coverage* resp) {
  server::RequestScope scope(ctx);
  return Reply(domain_.GetCoverage(*req), resp);
}

grpc::Status Handler::ListGaps(grpc::ServerContext* ctx, const v1::ListGapsRequest* req,
                               v1::ListGapsResponse* resp) {
  server::RequestScope scope(ctx);
  return Reply(domain_.ListGaps(*req), resp);
}

grpc::Status Handler::ExportCoverage(grpc::ServerContext* ctx, const v1::ExportCoverageRequest* req,
                                     grpc::ServerWriter<v1::ExportChunk>* writer) {
  server::RequestScope scope(ctx);
  // The stream opens on the first piece, once the request was found valid: an invalid request
  // gets its error status and no chunk.
  std::optional<server::ChunkStream<v1::ExportChunk>> stream;
  std::string content_type;
  absl::Status st = domain_.Export(*req, &content_type, [&](std::string_view piece) {
    if (!stream) stream.emplace(writer, content_type);
    return stream->Append(piece) && !ctx->IsCancelled();
  });
  if (!st.ok()) return server::ToGrpc(st);
  if (!stream) stream.emplace(writer, content_type);
  return stream->Finish();
}

}  // namespace passerelle::indicators::coverage
