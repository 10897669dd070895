#!/usr/bin/python3
"""A members' mail server for tests: aiosmtpd (Debian python3-aiosmtpd) keeping every message it
accepts in a Maildir, and refusing for good the recipients whose address starts with `inconnu`
(`550 5.1.1 Utilisateur inconnu`), as a real server refuses an unknown mailbox.

Usage: notifications_smtp_server.py PORT MAILDIR
"""
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("inconnu"):
            return "550 5.1.1 Utilisateur inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Handler(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
