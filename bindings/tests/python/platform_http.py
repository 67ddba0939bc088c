"""The app's HTTP client, as a Python app would write it: urllib sends the store's requests.

The phone library has no HTTP or TLS code of its own, so the app's stack carries them. A
request with a pinned certificate goes over a connection whose server certificate was
checked against the pin before a byte of the request (and its token) was sent.
"""

import hashlib
import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request

import terrain_ffi as t


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def pinned_context():
    """A TLS context that leaves the certificate to the pin: no authority signed it, and the
    pin, not the name, says which server it is. (A test client: it opens a connection per
    request and does not resume TLS sessions, which an app should.)"""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_PINNED = pinned_context()


def open_pinned(url, pin, timeout):
    """An HTTPS connection to `url`'s host whose certificate has SHA-256 `pin` (hex)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise t.TerrainError.Network(detail=f"a pinned certificate needs https://, not {url}")
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=_PINNED)
    connection.connect()
    seen = hashlib.sha256(connection.sock.getpeercert(binary_form=True)).hexdigest()
    if seen != pin.lower():
        connection.close()
        raise t.TerrainError.Network(detail=f"the server's certificate {seen} is not the pinned {pin}")
    return connection


class PlatformHttp(t.HttpClient):
    """Sends one request with urllib (or, pinned, http.client); any status is a response."""

    def send(self, request):
        headers = {h.name: h.value for h in request.headers}
        body = bytes(request.body) if request.body else None
        limit = request.max_response_bytes + 1
        timeout = request.timeout_ms / 1000
        try:
            if request.pinned_certificate_sha256:
                return self._send_pinned(request, headers, body, limit, timeout)
            req = urllib.request.Request(request.url, data=body, headers=headers, method=request.method)
            try:
                response = _OPENER.open(req, timeout=timeout)
            except urllib.error.HTTPError as refused:
                response = refused
            with response:
                data = response.read(limit)
                pairs = [t.HttpHeader(name=k.lower(), value=v) for k, v in response.headers.items()]
                return t.HttpResponse(status=response.status, headers=pairs, body=data)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise t.TerrainError.Network(detail=f"could not reach the server: {e}") from e

    @staticmethod
    def _send_pinned(request, headers, body, limit, timeout):
        connection = open_pinned(request.url, request.pinned_certificate_sha256, timeout)
        try:
            parts = urllib.parse.urlsplit(request.url)
            path = parts.path + ("?" + parts.query if parts.query else "")
            connection.request(request.method, path or "/", body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(limit)
            pairs = [t.HttpHeader(name=k.lower(), value=v) for k, v in response.getheaders()]
            return t.HttpResponse(status=response.status, headers=pairs, body=data)
        finally:
            connection.close()
