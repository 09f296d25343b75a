"""`obskit check` against hostile servers on the loopback interface: its credentials never follow a
redirect to another origin, --max-time bounds the whole run against a server that drips its answer,
and whatever a server answers (truncated, not HTTP, nested past any stack, oddly typed, an HTML
page, arbitrary bytes) ends in exit 0, 1 or 2 with a message, never in a traceback."""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.cli import main
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from tests.conftest import EXAMPLES, budget
from tests.servers import serving


def check(url: str, *extra: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(
        main, ["check", "--env", "prod", "--spec", str(EXAMPLES), "--prometheus", url, *extra]
    )


def no_traceback(result: Result) -> None:
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


# --- credentials and redirects -----------------------------------------------------------------


class Seen(Quiet):
    """Records the Authorization header of every request; answers like an empty Prometheus."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"status": "success", "data": {"activeTargets": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def redirecting_to(target: str) -> type[Quiet]:
    class Redirect(Quiet):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Redirect


@pytest.mark.timeout(60)
@pytest.mark.parametrize("credentials", ["bearer", "basic"])
@pytest.mark.parametrize("other", ["another host", "another port"])
def test_credentials_never_follow_a_redirect_to_another_origin(tmp_path: Path, credentials: str, other: str) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t\n")
    extra = ["--bearer-token-file", str(token)] if credentials == "bearer" else ["--basic-auth-user", "obskit"]
    env = {"OBSKIT_PROMETHEUS_PASSWORD": "pw"}
    Seen.seen = []
    with ExitStack() as servers:
        elsewhere = servers.enter_context(serving(Seen, "127.0.0.2" if other == "another host" else "127.0.0.1"))
        address = servers.enter_context(serving(redirecting_to(f"http://{elsewhere}")))
        result = check(f"http://{address}", *extra, env=env)
    no_traceback(result)
    assert Seen.seen, result.output  # the redirect was followed
    assert Seen.seen == [None] * len(Seen.seen)


@pytest.mark.timeout(60)
def test_credentials_follow_a_redirect_within_the_same_origin(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t\n")
    Seen.seen = []

    class Moved(Seen):
        def do_GET(self) -> None:
            if self.path.startswith("/moved"):
                return super().do_GET()
            self.send_response(301)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/moved{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None

    with serving(Moved) as address:
        check(f"http://{address}", "--bearer-token-file", str(token))
    assert Seen.seen and set(Seen.seen) == {"Bearer s3cr3t"}


# --- the whole run's time limit --------------------------------------------------------------


class DripBody(Quiet):
    """A valid status line and headers, then the body one byte every half second."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        drip(self.wfile, b'{"status":"success","data":' + b" " * 1000)


class DripHeaders(socketserver.BaseRequestHandler):
    """The status line itself one byte every half second."""

    def handle(self) -> None:
        drip(self.request.makefile("wb", buffering=0), b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 1000)


def drip(stream: Any, data: bytes) -> None:
    for byte in data:
        try:
            stream.write(bytes([byte]))
            stream.flush()
        except OSError:
            return  # the client hung up
        time.sleep(0.5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["body", "headers"])
def test_max_time_bounds_the_run_against_a_server_that_drips(where: str) -> None:
    """Each byte restarts the socket's own timeout (10 s here): only a limit on the whole read ends it."""
    handler: type[socketserver.BaseRequestHandler] = DripBody if where == "body" else DripHeaders
    with serving(handler, http_=where == "body") as address:
        started = time.monotonic()
        result = check(f"http://{address}", "--max-time", "2", "--timeout", "10")
        elapsed = time.monotonic() - started
    no_traceback(result)
    assert result.exit_code == 2
    assert f"obskit: cannot check against Prometheus: http://{address}/api/v1/targets?state=active: " in result.output
    assert "the check ran out of its 2s in all" in result.output
    assert elapsed < 2 + 1.5, elapsed


# --- answers that are not the Prometheus API -----------------------------------------------


def answering(body: bytes, status: int = 200, length: int | None = None) -> type[Quiet]:
    class Answer(Quiet):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

    return Answer


class Garbage(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"\x00\xffSSH-2.0-OpenSSH_9.2\r\n\x1b[31mgarbage\r\n\r\n")


def envelope(data: Any) -> bytes:
    return json.dumps({"status": "success", "data": data}).encode()


HOSTILE = {
    "truncated": answering(envelope({"activeTargets": []}), length=5000),
    "nested past the stack": answering(b'{"status":"success","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "data a number": answering(envelope(5)),
    "result a string": answering(envelope({"activeTargets": "all of them", "result": "x"})),
    "target labels not text": answering(envelope({"activeTargets": [{"labels": {"job": ["x"]}}]})),
    "scrape interval not a duration": answering(
        envelope({"activeTargets": [{"labels": {"job": "checkout"}, "scrapeInterval": "NaN"}]})
    ),
    "a huge number": answering(b'{"status":"success","data":{"activeTargets":[' + b"9" * 5000 + b"]}}"),
    "an HTML error page": answering(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "an HTML page with 200": answering(b"<!DOCTYPE html><html>login</html>"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("answer", sorted(HOSTILE))
def test_an_answer_that_is_not_the_api_exits_2_naming_the_url(answer: str) -> None:
    with serving(HOSTILE[answer]) as address:
        result = check(f"http://{address}")
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"obskit: cannot check against Prometheus: http://{address}/api/v1/targets" in result.output
    assert "not the Prometheus API" in result.output, result.output


@pytest.mark.timeout(60)
def test_a_server_that_is_not_http_exits_2_naming_the_url() -> None:
    with serving(Garbage, http_=False) as address:
        result = check(f"http://{address}")
    no_traceback(result)
    assert result.exit_code == 2
    assert f"http://{address}/api/v1/targets?state=active: not the Prometheus API" in result.output
    assert "\x1b" not in result.output  # the server's text is not echoed to the terminal


# --- whatever a server answers ----------------------------------------------------------------

ENDPOINTS = {
    "/api/v1/targets": {"activeTargets": [{"labels": {"job": "checkout"}, "scrapeInterval": "15s", "health": "up"}]},
    "/api/v1/series": [{"__name__": "http_requests_total", "job": "checkout", "code": "500", "le": "0.3"}],
    "/api/v1/metadata": {"http_requests_total": [{"type": "counter", "help": "", "unit": ""}]},
    "/api/v1/query": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]},
    "/api/v1/status/runtimeinfo": {"storageRetention": ""},  # "": then the flags are asked
    "/api/v1/status/flags": {"storage.tsdb.retention.time": "30d"},
    "/api/v1/status/config": {"yaml": "global:\n  external_labels:\n    cluster: prod-eu-1\n"},
    "/api/v1/rules": {
        "groups": [
            {
                "name": "obskit/checkout/platform",
                "rules": [{"name": "X", "query": "up", "duration": 60, "labels": {}, "health": "ok"}],
            }
        ]
    },
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "+Inf", "-Inf", "1e400", "30d", "5m", "0.3", "{{", "\x1b[2J"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """The shape of a real answer with any part of it replaced by any JSON value."""
    if isinstance(value, dict):
        parts = {key: mutated(item) for key, item in value.items()}
        return st.one_of(json_values, st.fixed_dictionaries(parts), st.just(value))
    if isinstance(value, list):
        return st.one_of(json_values, st.lists(mutated(value[0]), max_size=3), st.just(value))
    return st.one_of(json_values, st.just(value))


def body_for(shape: Any) -> st.SearchStrategy[bytes]:
    """Mostly the real answer, so that the check gets past one endpoint to the next."""
    real = st.just(envelope(shape))
    return st.one_of(
        real,
        real,
        real,
        real,
        mutated(shape).map(envelope),
        st.builds(lambda data, status: json.dumps({"status": status, "data": data}).encode(), json_values, json_values),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=64),
        st.integers(min_value=900, max_value=50_000).map(lambda depth: b"[" * depth + b"]" * depth),
    )


answers = st.fixed_dictionaries({path: body_for(shape) for path, shape in ENDPOINTS.items()})


class Generated(Quiet):
    bodies: ClassVar[dict[str, bytes]] = {}
    status: ClassVar[int] = 200
    asked: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        self.asked.add(self.path.split("?", 1)[0])
        body = self.bodies.get(self.path.split("?", 1)[0], b"{}")
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.timeout(600)
def test_whatever_a_server_answers_check_ends_without_a_traceback(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, output_tree(load_plan(EXAMPLES, "prod")))

    with serving(Generated) as address:

        @settings(max_examples=budget(200), deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(bodies=answers, status=st.sampled_from([200, 200, 200, 400, 422, 503]))
        def probe(bodies: dict[str, bytes], status: int) -> None:
            Generated.bodies, Generated.status = bodies, status
            no_traceback(check(f"http://{address}", "--out", str(tree), "--max-time", "20"))

        probe()
    assert Generated.asked == set(ENDPOINTS)  # every endpoint was reached by some example


class DeepRule(Quiet):
    """A healthy-looking Prometheus whose one loaded rule nests thousands of brackets deep."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        data = ENDPOINTS.get(path, {})
        if path == "/api/v1/rules":
            deep = "(" * 20_000 + "up" + ")" * 20_000
            data = {"groups": [{"name": "obskit/checkout/platform", "rules": [{"name": "X", "query": deep}]}]}
        body = envelope(data)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.timeout(120)
def test_a_loaded_rule_nested_past_the_parsers_stack_is_a_finding(tmp_path: Path) -> None:
    """In a process of its own: the PromQL parser's stack overflow kills the process."""
    tree = tmp_path / "tree"
    write(tree, output_tree(load_plan(EXAMPLES, "prod")))
    with serving(DeepRule) as address:
        command = ["check", "--env", "prod", "--spec", str(EXAMPLES), "--prometheus", f"http://{address}"]
        done = subprocess.run(
            [sys.executable, "-m", "obskit", *command, "--out", str(tree), "--json"],
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    found = [f["found"] for f in json.loads(done.stdout)["findings"] if f["subject"] == "obskit/checkout/platform"]
    assert found == ["the loaded rules differ from the tree's (names, expressions, for:, labels or annotations)"]


class Healthy(Quiet):
    """Every endpoint's answer of the right shape."""

    def do_GET(self) -> None:
        body = envelope(ENDPOINTS.get(self.path.split("?", 1)[0], {}))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


RULE_FILE = "prometheus/rulefiles/checkout.rules.yaml"


def fifo_outside(path: Path) -> None:
    path.unlink()
    os.mkfifo(path.parent.parent.parent.parent / "outside.fifo")
    path.symlink_to(path.parent.parent.parent.parent / "outside.fifo")


BROKEN_TREES: dict[str, tuple[Callable[[Path], None], str]] = {
    "not YAML": (lambda path: path.write_text("groups: [\n"), "not a readable YAML file"),
    "not UTF-8": (lambda path: path.write_bytes(b"\xff\xfe"), "not a readable YAML file"),
    "groups not a list": (lambda path: path.write_text("groups: 5\n"), "not a rule file"),
    "a group without a name": (lambda path: path.write_text("groups:\n- rules: []\n"), "not a rule file"),
    "a symlink to a FIFO outside": (fifo_outside, "a symlink that leads outside the tree (not read)"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("damage", sorted(BROKEN_TREES))
def test_a_broken_rule_file_in_out_exits_2_naming_it(tmp_path: Path, damage: str) -> None:
    tree = tmp_path / "tree"
    write(tree, output_tree(load_plan(EXAMPLES, "prod")))
    change, message = BROKEN_TREES[damage]
    change(tree / RULE_FILE)
    with serving(Healthy) as address:
        result = check(f"http://{address}", "--out", str(tree))
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"obskit: {tree / RULE_FILE}: {message}" in result.output
