"""A development mail sink with Mailpit's HTTP API subset (stand-in image, tests only)."""

import email
import email.policy
import json
import os
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

MESSAGES: list[dict[str, Any]] = []


class Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = parsed.get_body(("plain",))
        MESSAGES.append(
            {
                "ID": uuid.uuid4().hex,
                "From": {"Address": envelope.mail_from},
                "To": [{"Address": rcpt} for rcpt in envelope.rcpt_tos],
                "Subject": str(parsed["Subject"]),
                "Text": text.get_content() if text is not None else "",
            }
        )
        return "250 Message accepted"


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/api/v1/messages"):
            summaries = [{k: v for k, v in m.items() if k != "Text"} for m in MESSAGES]
            self.answer(200, {"total": len(MESSAGES), "messages": summaries[::-1]})
        elif self.path.startswith("/api/v1/message/"):
            wanted = self.path.rsplit("/", 1)[1]
            found = [m for m in MESSAGES if m["ID"] == wanted]
            self.answer(200, found[0]) if found else self.answer(404, {"error": "not found"})
        else:
            self.answer(404, {"error": "not found"})

    def answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def address(variable: str, default: str) -> tuple[str, int]:
    host, _, port = os.environ.get(variable, default).rpartition(":")
    return host or "0.0.0.0", int(port)


smtp_host, smtp_port = address("MP_SMTP_BIND_ADDR", "0.0.0.0:1025")
Controller(Handler(), hostname=smtp_host, port=smtp_port).start()
http_server = ThreadingHTTPServer(address("MP_UI_BIND_ADDR", "0.0.0.0:8025"), Api)
print(f"mailsink: SMTP {smtp_host}:{smtp_port}, API {http_server.server_address}", flush=True)
http_server.serve_forever()
