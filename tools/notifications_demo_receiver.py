#!/usr/bin/python3
"""A member's webhook endpoint for the local platform: prints every notification it receives
and whether its signature is valid (Standard Webhooks, verified here with the standard library).

Usage: notifications_demo_receiver.py PORT SECRET_FILE. The secret (whsec_…) is read from
SECRET_FILE at each request, so the demo subscription can be created after the receiver starts.
Answers 204 to a valid request, 401 otherwise. Listens on 127.0.0.1 only.
"""
import base64
import hashlib
import hmac
import http.server
import json
import sys
import time

PORT = int(sys.argv[1])
SECRET_FILE = sys.argv[2]


def verify(secret, msg_id, timestamp, body, header):
    """True when one of the space-separated `v1,<base64>` signatures is valid for the secret."""
    if not secret.startswith("whsec_"):
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(part, "v1," + expected) for part in header.split(" "))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "0")
        try:
            with open(SECRET_FILE, encoding="utf-8") as f:
                secret = f.read().strip()
        except OSError:
            secret = ""
        fresh = abs(time.time() - int(timestamp or 0)) <= 300
        ok = fresh and verify(secret, msg_id, timestamp, body,
                              self.headers.get("webhook-signature", ""))
        try:
            event = json.loads(body)
            data = event.get("data", {})
            what = f'{event.get("type")} {data.get("subject", "")}'
            venue = data.get("payload", {}).get("venue", {})
            if venue.get("nom"):
                what += f' « {venue["nom"]} »'
        except ValueError:
            what = f"{len(body)} octets illisibles"
        print(f'{time.strftime("%H:%M:%S")} webhook {msg_id} {"signature valide" if ok else "SIGNATURE INVALIDE"}: {what}',
              flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):  # one line per notification is enough
        pass


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
