#!/usr/bin/env python3
"""E-mail notifications end to end, as a member's mailbox and mail client see them: the real
passerelle-venues, passerelle-notifications and passerelle-gateway (real PostgreSQL and NATS
from the test command), a real SMTP server (Debian's aiosmtpd) storing what it receives in a
Maildir, messages parsed with Python's e-mail package.

Covers: an e-mail subscription made through the REST door; a venue written through it becomes a
French e-mail (text and HTML parts, RFC 2047 subject, Auto-Submitted); the List-Unsubscribe
address, posted as RFC 8058 says (form-encoded `List-Unsubscribe=One-Click`, no key) through
the gateway, ends the subscription; the same link again says it already did; a forged token is
a 404 and no key is needed nor used; a GET on the address changes nothing.
"""
import email
import email.policy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from stack import Stack, free_port

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
ADMIN_KEY = "psk_e2emailadmin_" + "B" * 43
ADDRESS = "veille@mediatheque-roubaix.example"


def wait(predicate, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class EmailE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.maildir = tempfile.mkdtemp(prefix="passerelle-mail-")
        smtp_port = free_port()
        cls.smtp_log = open(f"{cls.maildir}.smtp.log", "w")
        cls.smtp = subprocess.Popen(
            ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-d", "-l", f"127.0.0.1:{smtp_port}",
             "-c", "aiosmtpd.handlers.Mailbox", os.path.join(cls.maildir, "box")],
            stdout=cls.smtp_log, stderr=subprocess.STDOUT)

        def accepts():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", smtp_port)) == 0
        wait(accepts, what="aiosmtpd")
        cls.stack = stack = Stack(BUILD, "mail2e", page_token_key="email-e2e-page-token-key")
        http_port = free_port()
        cls.public = f"http://127.0.0.1:{http_port}"
        stack.start("venues")
        stack.start("notifications", {
            "PASSERELLE_NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "PASSERELLE_NOTIFICATIONS_MAIL_FROM": "Passerelle Roubaix <reseau@passerelle.example>",
            "PASSERELLE_GATEWAY_PUBLIC_URL": cls.public,
            "PASSERELLE_NOTIFICATIONS_POLL": "50ms"})
        stack.start_gateway(ADMIN_KEY, pepper="e2e-pepper", http_port=http_port)
        stack.wait_until_ready("/v1/venues?pageSize=1")

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.smtp.terminate()
        cls.smtp.wait(timeout=10)
        cls.smtp_log.close()
        shutil.rmtree(cls.maildir, ignore_errors=True)

    def messages(self):
        out = []
        new = os.path.join(self.maildir, "box", "new")
        if not os.path.isdir(new):
            return out
        for name in sorted(os.listdir(new), key=lambda n: os.stat(os.path.join(new, n)).st_mtime_ns):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    def test_a_venue_change_mails_and_one_click_unsubscribes(self):
        status, _, body = self.stack.call("POST", "/v1/subscriptions", {
            "organisation": "organisations/mediatheque-roubaix", "displayName": "Veille",
            "email": {"address": ADDRESS}, "filter": {"eventTypes": ["venue.*"]}}, key=ADMIN_KEY)
        self.assertIn(status, (200, 201), body)
        subscription = json.loads(body)["name"]
        status, _, body = self.stack.call("POST", "/v1/venues", {
            "id": "mail-e2e-1", "pivot": "21590512800017", "nom": "Médiathèque Jean Lévy",
            "commune": "Roubaix", "codePostal": "59100", "adresse": "2 rue Pierre Motte",
            "dateMaj": "2026-11-25", "latitude": 50.69, "longitude": 3.18,
            "services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"]}, key=ADMIN_KEY)
        self.assertIn(status, (200, 201), body)
        msgs = wait(lambda: self.messages(), what="the e-mail")
        self.assertEqual(len(msgs), 1)
        msg = msgs[0]
        self.assertEqual(msg["To"], ADDRESS)
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertEqual(msg.defects, [])
        self.assertIn("Médiathèque Jean Lévy", msg.get_body(("plain",)).get_content())
        self.assertIn("Médiathèque Jean Lévy", msg.get_body(("html",)).get_content())
        self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        link = str(msg["List-Unsubscribe"]).strip("<>")
        self.assertTrue(link.startswith(self.public + "/v1/subscriptions:unsubscribe?token="), link)
        path = link[len(self.public):]

        # The footer's link is a page for people: French, a button, the token not echoed, no
        # Referer sent on; opening it changes nothing.
        self.assertIn(f"{self.public}/desabonnement?token=", msg.get_body(("plain",)).get_content())
        token = link.split("token=")[1]
        status, headers, page = self.stack.call("GET", f"/desabonnement?token={token}")
        self.assertEqual(status, 200, page)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        self.assertEqual(headers["referrer-policy"], "no-referrer")
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        text = page.decode()
        self.assertIn("Ne plus recevoir ces messages", text)
        self.assertNotIn(token, text)
        status, headers, _ = self.stack.call("POST", f"/desabonnement?token={token}")
        self.assertEqual(status, 405)
        status, _, _ = self.stack.call("GET", "/desabonnement/../v1/venues")
        self.assertNotEqual(status, 200)

        # A GET (a link scanner, a prefetch) changes nothing.
        status, _, _ = self.stack.call("GET", path)
        self.assertNotEqual(status, 200)
        status, _, body = self.stack.call("GET", f"/v1/{subscription}", key=ADMIN_KEY)
        self.assertEqual(status, 200, body)

        # A forged token: 404, and the subscription stays.
        forged = "/v1/subscriptions:unsubscribe?token=" + "0" * 64
        status, _, body = self.stack.call(
            "POST", forged, raw=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 404, body)
        status, _, body = self.stack.call(
            "POST", "/v1/subscriptions:unsubscribe?token=" + urllib.parse.quote("../x\0"),
            raw=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400, body)

        # A body bigger than a form: refused at the door (413), nothing read further.
        status, _, body = self.stack.call(
            "POST", path, raw=b"List-Unsubscribe=One-Click&" + b"x" * 10000,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 413, body)
        status, _, body = self.stack.call("GET", f"/v1/{subscription}", key=ADMIN_KEY)
        self.assertEqual(status, 200, body)

        # The mail client's one click: no key, the form RFC 8058 names.
        status, _, body = self.stack.call(
            "POST", path, raw=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["address"], ADDRESS)
        self.assertIn("C'est fait", answer["message"])
        status, _, body = self.stack.call("GET", f"/v1/{subscription}", key=ADMIN_KEY)
        self.assertEqual(status, 404, body)
        status, _, body = self.stack.call(
            "POST", path, raw=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        self.assertIn("déjà", json.loads(body)["message"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
