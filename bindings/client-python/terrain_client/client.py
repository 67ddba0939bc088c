"""The client: one Terrain server, one token, typed answers.

Everything goes through the server's JSON API and its exports, so what an analyst pulls
here is exactly what the dashboard and the `terrain export` command give, narrowed to
what the token's user may see. Only the standard library speaks HTTP; pandas reads the
tables.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import pandas as pd

#: Export formats the server writes.
FORMATS = ("csv", "xlsx", "json", "ndjson", "geojson", "dictionary")


class TerrainError(Exception):
    """The server refused a request; ``status`` is the HTTP status, ``code`` the server's
    stable error code, and the message says what to do."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} (HTTP {status}, {code})")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Project:
    """A project: forms and teams."""

    id: int
    name: str


@dataclass(frozen=True)
class Form:
    """A published form version."""

    form_id: str
    version: str
    title: str
    project_id: int


@dataclass
class Submissions:
    """A form's submissions: the main table and one table per repeat.

    Rows of a repeat table point to their parent row by ``_parent_index`` (the ``_index`` of
    a row of ``_parent_table_name``) and to their survey by ``_submission__uuid``.
    """

    #: One row per survey; ``_uuid`` is its id.
    main: pd.DataFrame
    #: One table per repeat, by the repeat's name.
    repeats: Dict[str, pd.DataFrame] = field(default_factory=dict)
    #: The cursor to pull what changed after these (``since``).
    cursor: int = 0


class Client:
    """A Terrain server, called with a token.

    ``token`` is a feed token (made once in the dashboard or with :meth:`create_feed_token`)
    or a session token from :meth:`login`. A session token lives an hour: with the
    ``refresh_token`` its login gave, the client renews it by itself when it expires.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 300.0, refresh_token: Optional[str] = None):
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise ValueError("use the server's https:// address (plain http only to this computer)")
        self.url = url.rstrip("/")
        self.token = token
        self.refresh_token = refresh_token
        self.timeout = timeout

    @classmethod
    def login(cls, url: str, username: str, password: str, *, device_id: str = "terrain-client") -> "Client":
        """Logs in with a password and returns a client holding the session token."""
        anonymous = cls(url, token="")
        answer = anonymous._json("POST", "/api/v1/auth/login",
                                 {"username": username, "password": password, "device_id": device_id})
        return cls(url, answer["token"], refresh_token=answer.get("refresh_token"))

    # --- reading

    def projects(self) -> List[Project]:
        """The projects the user belongs to."""
        return [Project(p["id"], p["name"]) for p in self._json("GET", "/api/v1/projects")]

    def forms(self, project: Optional[int] = None) -> List[Form]:
        """The published form versions the user may use, optionally of one project."""
        forms = [Form(f["form_id"], f["version"], f["title"], f["project_id"]) for f in self._json("GET", "/api/v1/forms")]
        return [f for f in forms if project is None or f.project_id == project]

    def submissions(
        self,
        form_id: str,
        *,
        review: str = "any",
        since: int = 0,
        version: Optional[str] = None,
        labels: Optional[str] = None,
        **filters: str,
    ) -> Submissions:
        """A form's submissions as DataFrames, every version merged into one table.

        ``review`` keeps only surveys in these review statuses (``"approved"``,
        ``"approved,received"``) or ``"any"``; ``since`` only those changed after a cursor;
        ``labels`` writes choice labels in that language instead of codes. Other keyword
        arguments are the export's filters (``from_``, ``to``, ``team``).
        """
        params: Dict[str, Any] = {"format": "csv", "review": review, "since": since}
        if version:
            params["version"] = version
        if labels:
            params["labels"] = labels
        for key, value in filters.items():
            params[key.rstrip("_")] = value
        body, headers = self._get(f"/api/v1/forms/{urllib.parse.quote(form_id)}/export", params)
        cursor = int(headers.get("terrain-cursor", since))
        tables: Dict[str, pd.DataFrame] = {}
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            for name in archive.namelist():
                with archive.open(name) as f:
                    # Codes stay text: `001` is a village code, not the number 1.
                    tables[name.removesuffix(".csv")] = pd.read_csv(f, dtype=str, keep_default_na=False)
        main = tables.pop(form_id, pd.DataFrame())
        tables.pop("dictionary", None)
        return Submissions(main=_typed(main), repeats={k: _typed(v) for k, v in tables.items()}, cursor=cursor)

    def download_export(self, form_id: str, path: Union[str, Path], *, format: str = "csv", **filters: str) -> Path:
        """Downloads an export to ``path`` (written whole, then moved into place)."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        params: Dict[str, Any] = {"format": format}
        params.update({k.rstrip("_"): v for k, v in filters.items()})
        body, _ = self._get(f"/api/v1/forms/{urllib.parse.quote(form_id)}/export", params)
        target = Path(path)
        _write_atomically(target, body)
        return target

    # --- feed tokens

    def create_feed_token(self, label: str) -> str:
        """Creates a read-only feed token for Excel, Power BI or a script; returns it (it is
        shown only this once)."""
        return self._json("POST", "/api/v1/me/feed-tokens", {"label": label})["token"]

    # --- HTTP

    def _request(self, method: str, path: str, body: Optional[bytes] = None) -> urllib.request.Request:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", "Bearer " + self.token)
        return request

    def _send(self, request: urllib.request.Request) -> "tuple[bytes, Dict[str, str]]":
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read(), {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                answer = json.loads(text)
                raise TerrainError(e.code, answer.get("code", "error"), answer.get("message", text)) from None
            except (ValueError, AttributeError):
                raise TerrainError(e.code, "error", text or e.reason) from None

    def _call(self, method: str, path: str, body: Optional[bytes] = None) -> "tuple[bytes, Dict[str, str]]":
        """Sends a request; a session token that expired is renewed once and the request
        sent again."""
        try:
            return self._send(self._request(method, path, body))
        except TerrainError as e:
            if e.code != "token_expired" or not self.refresh_token:
                raise
        refresh = urllib.request.Request(self.url + "/api/v1/auth/refresh", method="POST")
        refresh.add_header("authorization", "Bearer " + self.refresh_token)
        self.token = json.loads(self._send(refresh)[0])["token"]
        return self._send(self._request(method, path, body))

    def _json(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        text, _ = self._call(method, path, data)
        return json.loads(text) if text else None

    def _get(self, path: str, params: Dict[str, Any]) -> "tuple[bytes, Dict[str, str]]":
        return self._call("GET", f"{path}?{urllib.parse.urlencode(params)}")


class IncrementalPull:
    """Pulls only what changed since the last pull, remembering its cursor in a file.

    >>> pull = IncrementalPull(terrain, "beguedo_slm", "beguedo.cursor.json")
    >>> changed = pull.pull()       # everything the first time, then only what changed

    The cursor is saved only after a pull has returned, so a pull that fails is simply
    made again. A survey changed since the last pull comes whole, in its newest state:
    replace earlier rows with the same ``_uuid``.
    """

    def __init__(self, client: Client, form_id: str, state: Union[str, Path], **filters: str):
        self.client = client
        self.form_id = form_id
        self.state = Path(state)
        self.filters = filters

    @property
    def cursor(self) -> int:
        """The cursor the next pull starts after (0 before the first)."""
        try:
            return int(json.loads(self.state.read_text())["cursor"])
        except FileNotFoundError:
            return 0

    def pull(self) -> Submissions:
        """What changed since the last pull; remembers where it got to."""
        changed = self.client.submissions(self.form_id, since=self.cursor, **self.filters)
        _write_atomically(self.state, json.dumps({"form": self.form_id, "cursor": changed.cursor}).encode())
        return changed


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as datetimes, and the row keys as integers; answers stay as written, for the
    analyst to type with the data dictionary."""
    frame = frame.replace("", pd.NA)
    for column in ("_start", "_submission_time"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("_index", "_parent_index"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
