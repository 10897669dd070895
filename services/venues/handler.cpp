// gRPC handler of the venues service.
#include "services/venues/handler.hpp"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"

namespace passerelle::venues {

grpc::Status Handler::GetVenue(grpc::ServerContext* ctx, const v1::GetVenueRequest* req,
                               v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto v = registry_.Get(req->name());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ListVenues(grpc::ServerContext* ctx, const v1::ListVenuesRequest* req,
                                 v1::ListVenuesResponse* resp) {
  server::RequestScope scope(ctx);
  auto q = registry_.ParseListQuery(req->filter(), req->order_by(), req->page_size(),
                                    req->page_token(), req->show_withdrawn());
  if (!q.ok()) return server::ToGrpc(q.status());
  auto page = registry_.List(*q);
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& v : page->venues) ToProto(registry_.standard(), v, resp->add_venues());
  if (!page->next_cursor.empty()) {
    resp->set_next_page_token(absl::WebSafeBase64Escape(
        absl::StrCat(req->filter(), "|", req->order_by(), "|", req->show_withdrawn(), "|",
                     page->next_cursor)));
  }
  return grpc::Status::OK;
}

grpc::Status Handler::CreateVenue(grpc::ServerContext* ctx, const v1::CreateVenueRequest* req,
                                  v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto v = registry_.Create(req->venue(), req->request_id());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::UpdateVenue(grpc::ServerContext* ctx, const v1::UpdateVenueRequest* req,
                                  v1::Venue* resp) {
  server::RequestScope scope(ctx);
  std::vector<std::string> mask(req->update_mask().paths().begin(),
                                req->update_mask().paths().end());
  auto v = registry_.Update(req->venue(), mask, req->request_id());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::WithdrawVenue(grpc::ServerContext* ctx,
                                    const v1::WithdrawVenueRequest* req, v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto v = registry_.Withdraw(req->name(), req->reason(), req->etag(), req->request_id());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::BatchUpsertVenues(grpc::ServerContext* ctx,
                                        const v1::BatchUpsertVenuesRequest* req,
                                        v1::BatchUpsertVenuesResponse* resp) {
  server::RequestScope scope(ctx);
  std::vector<v1::Venue> rows(req->venues().begin(), req->venues().end());
  auto results = registry_.BatchUpsert(req->source(), rows);
  if (!results.ok()) return server::ToGrpc(results.status());
  for (size_t i = 0; i < results->size(); ++i) {
    const RowResult& r = (*results)[i];
    auto* out = resp->add_results();
    out->set_index(static_cast<int32_t>(i));
    out->set_source_id(r.source_id);
    out->set_outcome(static_cast<v1::UpsertOutcome>(static_cast<int>(r.outcome) + 1));
    if (!r.id.empty()) out->set_name("venues/" + r.id);
    for (const auto& v : r.violations) {
      auto* x = out->add_violations();
      x->set_field(v.field);
      x->set_value(v.value);
      x->set_rule(v.rule);
      x->set_description(v.message);
    }
    for (const auto& c : r.changed_fields) out->add_changed_fields(c);
  }
  return grpc::Status::OK;
}

}  // namespace passerelle::venues
