#!/usr/bin/python3
"""Prints the messages of a Maildir (the demo SMTP server's, or a test's) as JSON, decoded with
Python's own e-mail parser: one object per message, oldest first, with the headers a reader sees
(subject decoded), the plain-text and HTML parts, and the List-Unsubscribe headers.

    tools/notifications_read_maildir.py .local/mail
"""
import email
import email.policy
import json
import os
import sys


def read(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        "file": os.path.basename(path),
        "from": str(msg["From"] or ""),
        "to": str(msg["To"] or ""),
        "subject": str(msg["Subject"] or ""),
        "message_id": str(msg["Message-ID"] or ""),
        "date": str(msg["Date"] or ""),
        "auto_submitted": str(msg["Auto-Submitted"] or ""),
        "list_unsubscribe": str(msg["List-Unsubscribe"] or ""),
        "list_unsubscribe_post": str(msg["List-Unsubscribe-Post"] or ""),
        "content_type": msg.get_content_type(),
        "header_names": [k for k in msg.keys()],
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        # Every defect the parser found: the message's, each header's, each part's.
        "defects": [type(d).__name__ for d in msg.defects]
        + [f"{k}: {type(d).__name__}" for k, v in msg.items() for d in getattr(v, "defects", ())]
        + [f"part {p.get_content_type()}: {type(d).__name__}"
           for p in msg.walk() if p is not msg for d in p.defects],
    }


def main():
    root = sys.argv[1]
    paths = []
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        if os.path.isdir(d):
            paths += [os.path.join(d, n) for n in os.listdir(d)]
    paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
    json.dump([read(p) for p in paths], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
