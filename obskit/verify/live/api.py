"""A read-only client of the Prometheus HTTP API, bounded in time per request and in all.

Every failure to get an answer (refused, timed out, an HTTP error, a body that is not the API's
JSON envelope) is one exception naming the URL, so the command can say what it could not reach."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_ENV = "OBSKIT_PROMETHEUS_TOKEN"
PASSWORD_ENV = "OBSKIT_PROMETHEUS_PASSWORD"


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

    def get(self, path: str, **params: Any) -> Any:
        """The `data` of a successful answer of GET `path`."""
        remaining = self._deadline - self.clock()
        if remaining <= 0:
            raise PrometheusUnavailable(f"{self.url}: the check ran out of its {self.budget:g}s in all")
        query = urllib.parse.urlencode(params, doseq=True)
        address = f"{self.url}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(address, headers={"Accept": "application/json", **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, remaining)) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            if err.code >= 500 or err.code in (401, 403, 404):
                raise PrometheusUnavailable(f"{address}: HTTP {err.code} {_api_error(body) or err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusUnavailable(f"{address}: {reason}") from None
        return _data(address, body)

    def series(self, match: str, seconds: float = 3600) -> list[dict[str, str]]:
        now = time.time()
        result = self.get("/api/v1/series", **{"match[]": match, "start": f"{now - seconds:.3f}", "end": f"{now:.3f}"})
        return _list_of_dicts(result, f"{self.url}/api/v1/series")

    def query(self, expr: str) -> list[dict[str, Any]]:
        result = self.get("/api/v1/query", query=expr)
        if not isinstance(result, dict) or "result" not in result:
            raise PrometheusUnavailable(f"{self.url}/api/v1/query: the answer has no result")
        return list(result["result"]) if isinstance(result["result"], list) else []

    def all_metadata(self) -> dict[str, list[dict[str, str]]]:
        """Every metric's metadata, by metric family name."""
        result = self.get("/api/v1/metadata")
        if not isinstance(result, dict):
            raise PrometheusUnavailable(f"{self.url}/api/v1/metadata: the answer is not an object")
        return {
            name: [e for e in entries if isinstance(e, dict)]
            for name, entries in result.items()
            if isinstance(entries, list)
        }

    def targets(self) -> list[dict[str, Any]]:
        result = self.get("/api/v1/targets", state="active")
        targets = result.get("activeTargets") if isinstance(result, dict) else None
        return _list_of_dicts(targets, f"{self.url}/api/v1/targets")

    def runtime_info(self) -> dict[str, Any]:
        result = self.get("/api/v1/status/runtimeinfo")
        return result if isinstance(result, dict) else {}

    def flags(self) -> dict[str, str]:
        result = self.get("/api/v1/status/flags")
        return result if isinstance(result, dict) else {}

    def config(self) -> str:
        result = self.get("/api/v1/status/config")
        return str(result.get("yaml", "")) if isinstance(result, dict) else ""

    def rule_groups(self) -> list[dict[str, Any]]:
        result = self.get("/api/v1/rules")
        groups = result.get("groups") if isinstance(result, dict) else None
        return _list_of_dicts(groups, f"{self.url}/api/v1/rules")


def _api_error(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return str(answer.get("error")) if isinstance(answer, dict) and answer.get("error") else None


def _data(address: str, body: bytes) -> Any:
    try:
        answer = json.loads(body)
    except ValueError:
        raise PrometheusUnavailable(f"{address}: the answer is not JSON (is this Prometheus' API?)") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise PrometheusUnavailable(f"{address}: the answer is not the Prometheus API's (no status)")
    if answer["status"] != "success":
        raise QueryError(str(answer.get("error", "request failed")))
    return answer.get("data")


class QueryError(Exception):
    """Prometheus answered, and refused the request (a query it cannot run): a finding, not an outage."""


def _list_of_dicts(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PrometheusUnavailable(f"{where}: the answer is not a list of objects")
    return value
