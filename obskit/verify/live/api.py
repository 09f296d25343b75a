"""A read-only client of the Prometheus HTTP API, bounded in time per request and in all.

Every failure to get an answer (refused, timed out, an HTTP error, a body that is not the API's
JSON envelope, an answer whose parts have the wrong types) is one exception naming the URL, so
the command can say what it could not reach. Three things a hostile or broken server could
exploit are closed here: the Authorization header is never sent to another origin after a
redirect, a watchdog shuts the connection when the check's time is up (a socket's own timeout
restarts with every byte, so a server dripping its answer could hold the check for ever), and
an answer is read up to a size limit."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obskit.units import parse_duration

TOKEN_ENV = "OBSKIT_PROMETHEUS_TOKEN"
PASSWORD_ENV = "OBSKIT_PROMETHEUS_PASSWORD"
MAX_ANSWER_BYTES = 256 * 1024 * 1024  # far above what a fleet's series answer weighs
NOT_THE_API = "not the Prometheus API"
MAX_SECONDS = 1e12  # a rule's `for:` beyond this is no Prometheus' (and no float's)


class PrometheusUnavailable(Exception):
    """No usable answer from Prometheus: the URL and what went wrong."""


class CredentialsError(Exception):
    """A credential option that cannot be used as given."""


def auth_header(
    token_file: Path | None, user: str | None, password_file: Path | None, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The Authorization header from a file or an environment variable, never from a command-line value."""
    environ = dict(os.environ) if environ is None else environ
    token = _secret(token_file, environ.get(TOKEN_ENV), "bearer token", TOKEN_ENV)
    if user is not None:
        password = _secret(password_file, environ.get(PASSWORD_ENV), "password", PASSWORD_ENV)
        if password is None:
            raise CredentialsError(f"--basic-auth-user needs a password: --basic-auth-password-file or ${PASSWORD_ENV}")
        if token is not None:
            raise CredentialsError("give a bearer token or basic auth, not both")
        return {"Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()}
    if password_file is not None:
        raise CredentialsError("--basic-auth-password-file needs --basic-auth-user")
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def _secret(path: Path | None, from_env: str | None, what: str, variable: str) -> str | None:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise CredentialsError(f"cannot read the {what} file {path}: {err.strerror}") from None
    return from_env.strip() if from_env else None


class _Watchdog:
    """Shuts down every socket a request opened once its time is up, wherever the request is
    (connecting, reading headers or the body); `fired` says whether it did."""

    def __init__(self, seconds: float) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)  # a blocked recv() in the requesting thread returns at once


class _WatchedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, *, watchdog: _Watchdog | None = None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        if self._watchdog is not None:
            self._watchdog.watch(self.sock)


class _WatchedHTTPS(_WatchedHTTP, http.client.HTTPSConnection):
    """The same watch over TLS: in this order, connect() reaches HTTPSConnection's, which wraps
    the socket before it is watched."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_WatchedHTTP, req, watchdog=self._watchdog)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(context=self._tls)
        self._watchdog = watchdog

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_WatchedHTTPS, req, context=self._tls, watchdog=self._watchdog)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class _SameOriginCredentials(urllib.request.HTTPRedirectHandler):
    """Follows a redirect (a Prometheus behind a proxy may move its API), but sends the
    credentials only to the origin they were given for: urllib's own handler copies every
    header, the Authorization header included, to whichever host the server names."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            return None
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            for name in [name for name in new.headers if name.lower() == "authorization"]:
                new.remove_header(name)
        return new


@dataclass
class PrometheusAPI:
    url: str
    headers: dict[str, str]
    timeout: float  # seconds per request
    budget: float  # seconds for every request together
    clock: Any = time.monotonic

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._deadline = self.clock() + self.budget

    def _out_of_time(self, address: str) -> PrometheusUnavailable:
        return PrometheusUnavailable(f"{address}: the check ran out of its {self.budget:g}s in all")

    def get(self, path: str, **params: Any) -> Any:
        """The `data` of a successful answer of GET `path`."""
        query = urllib.parse.urlencode(params, doseq=True)
        address = f"{self.url}{path}" + (f"?{query}" if query else "")
        remaining = self._deadline - self.clock()
        if remaining <= 0:
            raise self._out_of_time(address)
        request = urllib.request.Request(address, headers={"Accept": "application/json", **self.headers})
        with _Watchdog(remaining) as watchdog:
            try:
                body = _fetch(request, min(self.timeout, remaining), watchdog)
            except PrometheusUnavailable as err:
                raise self._out_of_time(address) if watchdog.fired else err from None
        if watchdog.fired:  # the body may have been cut short
            raise self._out_of_time(address)
        return _data(address, body)

    def series(self, match: str, seconds: float = 3600) -> list[dict[str, str]]:
        now = time.time()
        result = self.get("/api/v1/series", **{"match[]": match, "start": f"{now - seconds:.3f}", "end": f"{now:.3f}"})
        where = f"{self.url}/api/v1/series"
        return [_texts(series, where, "a series' labels") for series in _list_of_dicts(result, where)]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result = self.get("/api/v1/query", query=expr)
        where = f"{self.url}/api/v1/query"
        if not isinstance(result, dict) or not isinstance(result.get("result"), list):
            raise _not_api(where, "the answer has no result list")
        return list(result["result"])

    def all_metadata(self) -> dict[str, list[dict[str, str]]]:
        """Every metric's metadata, by metric family name."""
        result = self.get("/api/v1/metadata")
        where = f"{self.url}/api/v1/metadata"
        if not isinstance(result, dict):
            raise _not_api(where, "the answer is not an object")
        return {
            str(name): [_texts(entry, where, "a metric's metadata") for entry in _list_of_dicts(entries, where)]
            for name, entries in result.items()
        }

    def targets(self) -> list[dict[str, Any]]:
        result = self.get("/api/v1/targets", state="active")
        where = f"{self.url}/api/v1/targets"
        targets = _list_of_dicts(result.get("activeTargets") if isinstance(result, dict) else None, where)
        for target in targets:
            if "labels" in target:
                _texts(target["labels"], where, "a target's labels")
            interval = target.get("scrapeInterval", "")
            if not isinstance(interval, str) or (interval and not _is_duration(interval)):
                raise _not_api(where, "a target's scrape interval is not a duration")
        return targets

    def runtime_info(self) -> dict[str, Any]:
        result = self.get("/api/v1/status/runtimeinfo")
        return result if isinstance(result, dict) else {}

    def flags(self) -> dict[str, str]:
        result = self.get("/api/v1/status/flags")
        return _texts(result, f"{self.url}/api/v1/status/flags", "the flags") if isinstance(result, dict) else {}

    def config(self) -> str:
        result = self.get("/api/v1/status/config")
        text = result.get("yaml", "") if isinstance(result, dict) else ""
        if not isinstance(text, str):
            raise _not_api(f"{self.url}/api/v1/status/config", "the configuration is not text")
        return text

    def rule_groups(self) -> list[dict[str, Any]]:
        result = self.get("/api/v1/rules")
        where = f"{self.url}/api/v1/rules"
        groups = _list_of_dicts(result.get("groups") if isinstance(result, dict) else None, where)
        for group in groups:
            if not isinstance(group.get("name"), str):
                raise _not_api(where, "a rule group has no name")
            for rule in _list_of_dicts(group.get("rules", []), where):
                _check_rule(rule, where)
        return groups


def _fetch(request: urllib.request.Request, timeout: float, watchdog: _Watchdog) -> bytes:
    """The body of the answer (of an HTTP error too: Prometheus explains a refused query in it)."""
    address = request.full_url
    opener = urllib.request.build_opener(_SameOriginCredentials, _HTTPHandler(watchdog), _HTTPSHandler(watchdog))
    try:
        with opener.open(request, timeout=timeout) as response:
            return _bounded_read(response, address)
    except urllib.error.HTTPError as err:
        return _error_body(err, address)
    except (urllib.error.URLError, OSError) as err:
        cause = err.reason if isinstance(err, urllib.error.URLError) else err
        raise PrometheusUnavailable(f"{address}: {_plain(cause)}") from None
    except (http.client.HTTPException, ValueError):
        raise _not_api(address, "the answer is not a complete HTTP response") from None


def _error_body(err: urllib.error.HTTPError, address: str) -> bytes:
    """The body of a 4xx answer that may explain a refused query; other errors are an outage."""
    try:
        body = _bounded_read(err.fp, address) if err.fp is not None else b""
    except (http.client.HTTPException, OSError, ValueError):
        body = b""
    if err.code >= 500 or err.code in (401, 403, 404):
        reason = _api_error(body) or _plain(err.reason)
        raise PrometheusUnavailable(f"{address}: HTTP {err.code} {reason}")
    if err.code < 400:
        raise PrometheusUnavailable(f"{address}: HTTP {err.code}, a redirect obskit does not follow")
    return body


def _bounded_read(response: Any, address: str) -> bytes:
    body = bytes(response.read(MAX_ANSWER_BYTES + 1))
    if len(body) > MAX_ANSWER_BYTES:
        raise _not_api(address, f"the answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB")
    if getattr(response, "length", None):  # read(n) returns short, without a word, when the server hangs up
        raise _not_api(address, "the answer broke off before the length it announced")
    return body


def _plain(text: object, limit: int = 200) -> str:
    """Text from the server as plain words: no control characters (terminal escapes), bounded."""
    cleaned = "".join(char if char.isprintable() else " " for char in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def _not_api(where: str, what: str) -> PrometheusUnavailable:
    return PrometheusUnavailable(f"{where}: {NOT_THE_API} ({what})")


def _api_error(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    error = answer.get("error") if isinstance(answer, dict) else None
    return _plain(error) if isinstance(error, str) and error else None


def _data(address: str, body: bytes) -> Any:
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise _not_api(address, "the answer is not JSON") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise _not_api(address, "the answer has no status")
    if answer["status"] != "success":
        error = answer.get("error")
        raise QueryError(_plain(error) if isinstance(error, str) and error else "request failed")
    return answer.get("data")


def _texts(value: Any, where: str, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _not_api(where, f"{what} are not text")
    return {str(k): v for k, v in value.items()}


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _check_rule(rule: dict[str, Any], where: str) -> None:
    for key in ("name", "query", "health", "lastError", "type"):
        if key in rule and not isinstance(rule[key], str):
            raise _not_api(where, f"a rule's {key} is not text")
    for key in ("labels", "annotations"):
        if rule.get(key) is not None:
            _texts(rule[key], where, f"a rule's {key}")
    duration = rule.get("duration", 0)
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 <= duration < MAX_SECONDS:
        raise _not_api(where, "a rule's duration is not a number")


class QueryError(Exception):
    """Prometheus answered, and refused the request (a query it cannot run): a finding, not an outage."""


def _list_of_dicts(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _not_api(where, "the answer is not a list of objects")
    return value
