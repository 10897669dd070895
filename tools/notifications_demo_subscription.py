#!/usr/bin/python3
"""Gives the local platform a demo subscription (called by `deploy/local/passerelle up`).

Usage: notifications_demo_subscription.py BUILD_DIR STATE_DIR RECEIVER_URL|mailto:ADDRESS.
Subscribes the invented organisation `centre-social-epeule` to every venue and sync event,
delivered to the demo receiver (tools/notifications_demo_receiver.py) or by e-mail to ADDRESS
(the local SMTP server keeps it in STATE_DIR/mail), and sends a test notification. For a webhook
it writes the secret to STATE_DIR/notifications-demo.secret for the receiver. Running it again
keeps the subscription (a new secret only when the file is gone).
"""
import os
import sys

import grpc

build_dir, state_dir, receiver_url = sys.argv[1:4]
mail = receiver_url[len("mailto:"):] if receiver_url.startswith("mailto:") else ""
sys.path.insert(0, os.path.join(build_dir, "python"))
from passerelle.notifications.v1 import notifications_pb2 as pb  # noqa: E402
from passerelle.notifications.v1 import notifications_pb2_grpc as rpc  # noqa: E402

ADDRESS = os.environ.get("PASSERELLE_NOTIFICATIONS_ADDRESS", "127.0.0.1:50055")
ORGANISATION = "organisations/centre-social-epeule"
DISPLAY_NAME = "[EXEMPLE] Webhook de démonstration"
MAIL_DISPLAY_NAME = "[EXEMPLE] Courriels de démonstration"
SECRET_FILE = os.path.join(state_dir, "notifications-demo.secret")


def main():
    channel = grpc.insecure_channel(ADDRESS)
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = rpc.NotificationServiceStub(channel)
    existing = None
    token = ""
    while True:
        page = stub.ListSubscriptions(pb.ListSubscriptionsRequest(
            organisation=ORGANISATION, page_token=token))
        for s in page.subscriptions:
            if mail and s.display_name == MAIL_DISPLAY_NAME and s.email.address == mail:
                existing = s
            if not mail and s.display_name == DISPLAY_NAME and s.webhook.url == receiver_url:
                existing = s
        token = page.next_page_token
        if not token:
            break
    if existing is None and mail:
        existing = stub.CreateSubscription(pb.CreateSubscriptionRequest(subscription=pb.Subscription(
            organisation=ORGANISATION, display_name=MAIL_DISPLAY_NAME,
            email=pb.EmailChannel(address=mail),
            filter=pb.Filter(event_types=["venue.*", "sync.*"]))))
        secret = None
    elif mail:
        secret = None
    elif existing is None:
        existing = stub.CreateSubscription(pb.CreateSubscriptionRequest(subscription=pb.Subscription(
            organisation=ORGANISATION, display_name=DISPLAY_NAME,
            webhook=pb.Webhook(url=receiver_url),
            filter=pb.Filter(event_types=["venue.*", "sync.*"]))))
        secret = existing.webhook.secret
    elif not os.path.exists(SECRET_FILE):
        secret = stub.RotateSecret(pb.RotateSecretRequest(name=existing.name)).webhook.secret
    else:
        secret = None
    if secret:
        fd = os.open(SECRET_FILE + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        os.replace(SECRET_FILE + ".tmp", SECRET_FILE)
    stub.SendTest(pb.SendTestRequest(name=existing.name))
    print(existing.name)


if __name__ == "__main__":
    main()
