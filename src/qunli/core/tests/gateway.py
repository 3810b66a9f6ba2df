"""A stand-in SMS / WeChat gateway on a real local HTTP server (no mocks), for the outbound
backends' tests: it records every request and answers by path."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Gateway(BaseHTTPRequestHandler):
    """A stand-in SMS / WeChat gateway: records every request, answers by path."""

    received: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        status, answer = {
            "/sms": (200, {"code": 0, "id": "sms-42"}),
            "/sms-refused": (200, {"code": "isv.BLACK_KEY", "message": "号码在黑名单"}),
            "/sms-down": (503, {"error": "maintenance"}),
            "/wx": (200, {"errcode": 0, "errmsg": "ok", "msgid": 2001}),
            "/wx-bad-token": (200, {"errcode": 40001, "errmsg": "invalid credential"}),
        }[self.path]
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve():
    """(base URL, the list of requests received) while the server runs; a test module's
    ``gateway`` fixture is ``with serve() as g: yield g``."""
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Gateway.received
    finally:
        server.shutdown()
        server.server_close()
