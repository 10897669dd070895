// gRPC handler of passerelle.notifications.v1.NotificationService: wire mapping only.
#pragma once

#include "libs/api/page_token.hpp"
#include "passerelle/notifications/v1/notifications.grpc.pb.h"
#include "services/notifications/notifier.hpp"

namespace passerelle::notifications {

class Handler final : public v1::NotificationService::Service {
 public:
  Handler(Notifier& notifier, const api::PageTokens& tokens)
      : notifier_(notifier), tokens_(tokens) {}
  grpc::Status CreateSubscription(grpc::ServerContext* ctx,
                                  const v1::CreateSubscriptionRequest* req,
                                  v1::Subscription* resp) override;
  grpc::Status GetSubscription(grpc::ServerContext* ctx, const v1::GetSubscriptionRequest* req,
                               v1::Subscription* resp) override;
  grpc::Status UpdateSubscription(grpc::ServerContext* ctx,
                                  const v1::UpdateSubscriptionRequest* req,
                                  v1::Subscription* resp) override;
  grpc::Status DeleteSubscription(grpc::ServerContext* ctx,
                                  const v1::DeleteSubscriptionRequest* req,
                                  google::protobuf::Empty* resp) override;
  grpc::Status ListSubscriptions(grpc::ServerContext* ctx, const v1::ListSubscriptionsRequest* req,
                                 v1::ListSubscriptionsResponse* resp) override;
  grpc::Status ListDeliveries(grpc::ServerContext* ctx, const v1::ListDeliveriesRequest* req,
                              v1::ListDeliveriesResponse* resp) override;
  grpc::Status RetryDelivery(grpc::ServerContext* ctx, const v1::RetryDeliveryRequest* req,
                             v1::Delivery* resp) override;
  grpc::Status SendTest(grpc::ServerContext* ctx, const v1::SendTestRequest* req,
                        v1::Delivery* resp) override;
  grpc::Status RotateSecret(grpc::ServerContext* ctx, const v1::RotateSecretRequest* req,
                            v1::Subscription* resp) override;
  grpc::Status Unsubscribe(grpc::ServerContext* ctx, const v1::UnsubscribeRequest* req,
                           v1::UnsubscribeResponse* resp) override;

 private:
  Notifier& notifier_;
  const api::PageTokens& tokens_;
};

}  // namespace passerelle::notifications
