// gRPC handler of the notifications service.
#include "services/notifications/handler.hpp"

#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"

namespace passerelle::notifications {
namespace {

constexpr int kMaxPage = 1000;

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return server::ToGrpc(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status Handler::CreateSubscription(grpc::ServerContext* ctx,
                                         const v1::CreateSubscriptionRequest* req,
                                         v1::Subscription* resp) {
  server::RequestScope scope(ctx);
  return Reply(notifier_.Create(req->subscription()), resp);
}

grpc::Status Handler::GetSubscription(grpc::ServerContext* ctx,
                                      const v1::GetSubscriptionRequest* req,
                                      v1::Subscription* resp) {
  server::RequestScope scope(ctx);
  return Reply(notifier_.Get(req->name()), resp);
}

grpc::Status Handler::UpdateSubscription(grpc::ServerContext* ctx,
                                         const v1::UpdateSubscriptionRequest* req,
                                         v1::Subscription* resp) {
  server::RequestScope scope(ctx);
  std::vector<std::string> mask(req->update_mask().paths().begin(),
                                req->update_mask().paths().end());
  return Reply(notifier_.Update(req->subscription(), mask), resp);
}

grpc::Status Handler::DeleteSubscription(grpc::ServerContext* ctx,
                                         const v1::DeleteSubscriptionRequest* req,
                                         google::protobuf::Empty*) {
  server::RequestScope scope(ctx);
  return server::ToGrpc(notifier_.Delete(req->name(), req->etag()));
}

grpc::Status Handler::ListSubscriptions(grpc::ServerContext* ctx,
                                        const v1::ListSubscriptionsRequest* req,
                                        v1::ListSubscriptionsResponse* resp) {
  server::RequestScope scope(ctx);
  auto page_size = api::PageSize(req->page_size(), 50, kMaxPage);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  const int size = *page_size;
  const std::string params = api::BindParameters({req->organisation()});
  std::string after;
  if (!req->page_token().empty()) {
    auto cursor = tokens_.Open("notifications.ListSubscriptions", params, req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    after = *cursor;
  }
  auto page = notifier_.List(req->organisation(), after, size);
  if (!page.ok()) return server::ToGrpc(page.status());
  for (auto& s : page->items) *resp->add_subscriptions() = std::move(s);
  if (!page->next_cursor.empty()) {
    resp->set_next_page_token(
        tokens_.Seal("notifications.ListSubscriptions", params, page->next_cursor));
  }
  return grpc::Status::OK;
}

grpc::Status Handler::ListDeliveries(grpc::ServerContext* ctx, const v1::ListDeliveriesRequest* req,
                                     v1::ListDeliveriesResponse* resp) {
  server::RequestScope scope(ctx);
  auto page_size = api::PageSize(req->page_size(), 50, kMaxPage);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  const int size = *page_size;
  const std::string params = api::BindParameters({req->parent()});
  std::string before;
  if (!req->page_token().empty()) {
    auto cursor = tokens_.Open("notifications.ListDeliveries", params, req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    before = *cursor;
  }
  auto page = notifier_.ListDeliveries(req->parent(), before, size);
  if (!page.ok()) return server::ToGrpc(page.status());
  for (auto& d : page->items) *resp->add_deliveries() = std::move(d);
  if (!page->next_cursor.empty()) {
    resp->set_next_page_token(
        tokens_.Seal("notifications.ListDeliveries", params, page->next_cursor));
  }
  return grpc::Status::OK;
}

grpc::Status Handler::RetryDelivery(grpc::ServerContext* ctx, const v1::RetryDeliveryRequest* req,
                                    v1::Delivery* resp) {
  server::RequestScope scope(ctx);
  return Reply(notifier_.Retry(req->name()), resp);
}

grpc::Status Handler::SendTest(grpc::ServerContext* ctx, const v1::SendTestRequest* req,
                               v1::Delivery* resp) {
  server::RequestScope scope(ctx);
  return Reply(notifier_.SendTest(req->name()), resp);
}

grpc::Status Handler::RotateSecret(grpc::ServerContext* ctx, const v1::RotateSecretRequest* req,
                                   v1::Subscription* resp) {
  server::RequestScope scope(ctx);
  std::optional<absl::Duration> grace;
  if (req->has_grace_period()) {
    const auto& g = req->grace_period();
    if (g.seconds() < 0 || g.nanos() < 0 || g.nanos() > 999999999 || g.seconds() > 7 * 24 * 3600) {
      return server::ToGrpc(server::InvalidArgument("grace_period invalide",
                                                    {{"grace_period", "de 0 à 7 jours (168 h)"}}));
    }
    grace = absl::Seconds(g.seconds()) + absl::Nanoseconds(g.nanos());
  }
  return Reply(notifier_.RotateSecret(req->name(), grace), resp);
}

grpc::Status Handler::Unsubscribe(grpc::ServerContext* ctx, const v1::UnsubscribeRequest* req,
                                  v1::UnsubscribeResponse* resp) {
  server::RequestScope scope(ctx);
  return Reply(notifier_.Unsubscribe(req->token(), req->form()), resp);
}

}  // namespace passerelle::notifications
