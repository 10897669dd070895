// gRPC handler of the duplicate links.
#include "services/venues/duplicate_handler.hpp"

#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"

namespace passerelle::venues {

grpc::Status DuplicateHandler::ListDuplicateLinks(grpc::ServerContext* ctx,
                                                  const v1::ListDuplicateLinksRequest* req,
                                                  v1::ListDuplicateLinksResponse* resp) {
  server::RequestScope scope(ctx);
  auto page = duplicates_.List(req->state(), req->source(), req->venue(), req->page_size(),
                               req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& l : page->links) ToProto(l, resp->add_duplicate_links());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status DuplicateHandler::GetDuplicateLink(grpc::ServerContext* ctx,
                                                const v1::GetDuplicateLinkRequest* req,
                                                v1::DuplicateLink* resp) {
  server::RequestScope scope(ctx);
  auto link = duplicates_.Get(req->name());
  if (!link.ok()) return server::ToGrpc(link.status());
  ToProto(*link, resp);
  return grpc::Status::OK;
}

grpc::Status DuplicateHandler::ResolveDuplicate(grpc::ServerContext* ctx,
                                                const v1::ResolveDuplicateRequest* req,
                                                v1::DuplicateLink* resp) {
  server::RequestScope scope(ctx);
  auto link = duplicates_.Resolve(req->name(), req->resolution(), req->canonical_venue());
  if (!link.ok()) return server::ToGrpc(link.status());
  ToProto(*link, resp);
  return grpc::Status::OK;
}

}  // namespace passerelle::venues
