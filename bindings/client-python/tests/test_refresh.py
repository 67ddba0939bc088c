"""terrain_client renews an expired session token with its refresh token.

A real server's session tokens live an hour, longer than a test can wait, so this plays the
server's two answers on loopback: `token_expired` for the old token, a new token for the
refresh token. The real server's side of it is server/tests/tokens.rs.
"""

import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

from terrain_client import Client, TerrainError


class ExpiringServer(BaseHTTPRequestHandler):
    seen = []

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        token = self.headers.get("authorization", "")
        ExpiringServer.seen.append(("GET", token))
        if token == "Bearer fresh":
            self.answer(200, [{"id": 1, "name": "Béguédo"}])
        else:
            self.answer(401, {"code": "token_expired", "message": "this session token has expired"})

    def do_POST(self):
        token = self.headers.get("authorization", "")
        ExpiringServer.seen.append(("POST", token))
        if self.path == "/api/v1/auth/refresh" and token == "Bearer rt_kept":
            self.answer(200, {"token": "fresh", "expires_in": 3600})
        else:
            self.answer(401, {"code": "unauthorized", "message": "log in again"})

    def log_message(self, *args):
        pass


class Refresh(unittest.TestCase):
    def setUp(self):
        self.server = HTTPServer(("127.0.0.1", 0), ExpiringServer)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        ExpiringServer.seen.clear()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_an_expired_token_is_renewed_once_and_the_call_goes_through(self):
        client = Client(self.url, "stale", refresh_token="rt_kept")
        self.assertEqual(client.projects()[0].name, "Béguédo")
        self.assertEqual(client.token, "fresh")
        self.assertEqual(
            ExpiringServer.seen,
            [("GET", "Bearer stale"), ("POST", "Bearer rt_kept"), ("GET", "Bearer fresh")],
        )

    def test_without_a_refresh_token_the_expiry_is_the_callers(self):
        with self.assertRaises(TerrainError) as caught:
            Client(self.url, "stale").projects()
        self.assertEqual(caught.exception.code, "token_expired")


if __name__ == "__main__":
    unittest.main()
