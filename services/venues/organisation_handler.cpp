// gRPC handler of the organisations.
#include "services/venues/organisation_handler.hpp"

#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"
#include "services/venues/handler.hpp"

namespace passerelle::venues {

grpc::Status OrganisationHandler::CreateOrganisation(grpc::ServerContext* ctx,
                                                     const v1::CreateOrganisationRequest* req,
                                                     v1::Organisation* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto o = organisations_.Create(req->organisation_id(), req->organisation(), *acting);
  if (!o.ok()) return server::ToGrpc(o.status());
  ToProto(*o, resp);
  return grpc::Status::OK;
}

grpc::Status OrganisationHandler::GetOrganisation(grpc::ServerContext* ctx,
                                                  const v1::GetOrganisationRequest* req,
                                                  v1::Organisation* resp) {
  server::RequestScope scope(ctx);
  auto o = organisations_.Get(req->name());
  if (!o.ok()) return server::ToGrpc(o.status());
  ToProto(*o, resp);
  return grpc::Status::OK;
}

grpc::Status OrganisationHandler::ListOrganisations(grpc::ServerContext* ctx,
                                                    const v1::ListOrganisationsRequest* req,
                                                    v1::ListOrganisationsResponse* resp) {
  server::RequestScope scope(ctx);
  auto page = organisations_.List(req->page_size(), req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& o : page->organisations) ToProto(o, resp->add_organisations());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status OrganisationHandler::UpdateOrganisation(grpc::ServerContext* ctx,
                                                     const v1::UpdateOrganisationRequest* req,
                                                     v1::Organisation* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  std::vector<std::string> mask(req->update_mask().paths().begin(),
                                req->update_mask().paths().end());
  auto o = organisations_.Update(req->organisation(), mask, *acting);
  if (!o.ok()) return server::ToGrpc(o.status());
  ToProto(*o, resp);
  return grpc::Status::OK;
}

}  // namespace passerelle::venues
