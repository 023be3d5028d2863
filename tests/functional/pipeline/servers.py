"""Loopback receivers for the notification tests: a webhook (Slack-style JSON POST) and a tiny SMTP server.

Both bind 127.0.0.1 on a free port, record what they receive, and are stopped by the test that starts them.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    body: Any


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                outer.received.append(Received(self.path, json.loads(raw or b"null")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: str
    auth: list[str] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 escher-test ESMTP")
        sender, recipients, auth = "", [], []
        while line := self.rfile.readline().decode(errors="replace").rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-escher-test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    auth.append(base64.b64decode(parts[2]).decode().split("\0")[-1])
                else:  # LOGIN: user, then password, each base64 on its own line
                    self.reply("334 VXNlcm5hbWU6")
                    self.rfile.readline()
                    self.reply("334 UGFzc3dvcmQ6")
                    auth.append(base64.b64decode(self.rfile.readline().strip()).decode())
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip().strip("<>")
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline().decode(errors="replace")) not in (".\r\n", ".\n", ""):
                    lines.append(data)
                self.server.mails.append(Mail(sender, recipients, "".join(lines), auth))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP, ...
                self.reply("250 OK")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mails: list[Mail]


class SmtpServer:
    def __init__(self) -> None:
        self.server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
        self.server.mails = []
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def mails(self) -> list[Mail]:
        return self.server.mails

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
