"""The relay server's HTTP API as an admin or supervisor uses it: just enough for the tests.

Only the standard library, so the test needs nothing but python3.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from platform_http import open_pinned


class Api:
    """A logged-in API client."""

    def __init__(self, url, username, password, device="test-laptop"):
        self.url = url.rstrip("/")
        # A relay with a self-signed certificate: pinned, as the apps pin it.
        self.pin = os.environ.get("TERRAIN_CERT_SHA256") if self.url.startswith("https://") else None
        self.token = None
        self.token = self.call("POST", "/api/v1/auth/login",
                               {"username": username, "password": password, "device_id": device})["token"]

    def call(self, method, path, body=None, raw=None, content_type="application/json"):
        """Sends one request; returns the decoded JSON answer (None for 204)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", content_type)
        if self.token:
            request.add_header("authorization", "Bearer " + self.token)
        if self.pin:
            return self._call_pinned(method, path, data, dict(request.header_items()))
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path} -> {e.code}: {e.read().decode()}") from None
        return json.loads(text) if text else None

    def download(self, path):
        """GETs `path`; returns the raw bytes of the answer."""
        headers = {"authorization": "Bearer " + self.token}
        if self.pin:
            connection = open_pinned(self.url, self.pin, 60)
            try:
                connection.request("GET", urllib.parse.urlsplit(self.url).path + path, headers=headers)
                response = connection.getresponse()
                data = response.read()
            finally:
                connection.close()
            if response.status != 200:
                raise AssertionError(f"GET {path} -> {response.status}: {data[:300]!r}")
            return data
        request = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    def _call_pinned(self, method, path, data, headers):
        connection = open_pinned(self.url, self.pin, 60)
        try:
            connection.request(method, urllib.parse.urlsplit(self.url).path + path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read()
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise AssertionError(f"{method} {path} -> {response.status}: {text.decode()}")
        return json.loads(text) if text else None

    def setup_project(self, suffix, forms_dir, enumerator_password):
        """A project with a team, an enumerator and a supervisor, and both mission forms."""
        project = self.call("POST", "/api/v1/projects", {"name": f"mission-{suffix}"})["id"]
        team = self.call("POST", f"/api/v1/projects/{project}/teams", {"name": f"kindia-{suffix}"})["id"]
        users = {}
        for role in ("enumerator", "supervisor"):
            name = f"{role[:3]}-{suffix}"
            user = self.call("POST", "/api/v1/users",
                             {"username": name, "password": enumerator_password, "role": role})
            self.call("POST", f"/api/v1/teams/{team}/members", {"user_id": user["id"]})
            users[role] = name
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        for form in ("guinea_needs.xlsx", "beguedo_slm.xlsx"):
            with open(os.path.join(forms_dir, form), "rb") as f:
                self.call("POST", f"/api/v1/projects/{project}/forms", raw=f.read(), content_type=xlsx)
        return users
