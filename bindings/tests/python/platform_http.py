"""The app's HTTP client, as a Python app would write it: urllib sends the store's requests.

The phone library has no HTTP or TLS code of its own, so the app's stack carries them.
"""

import urllib.error
import urllib.request

import terrain_ffi as t


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


class PlatformHttp(t.HttpClient):
    """Sends one request with urllib; any status is a response."""

    def send(self, request):
        headers = {h.name: h.value for h in request.headers}
        body = bytes(request.body) if request.body else None
        req = urllib.request.Request(request.url, data=body, headers=headers, method=request.method)
        limit = request.max_response_bytes + 1
        try:
            try:
                response = _OPENER.open(req, timeout=request.timeout_ms / 1000)
            except urllib.error.HTTPError as refused:
                response = refused
            with response:
                data = response.read(limit)
                pairs = [t.HttpHeader(name=k.lower(), value=v) for k, v in response.headers.items()]
                return t.HttpResponse(status=response.status, headers=pairs, body=data)
        except (urllib.error.URLError, OSError) as e:
            raise t.TerrainError.Network(detail=f"could not reach the server: {e}") from e
