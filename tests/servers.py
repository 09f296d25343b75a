"""Real servers for end-to-end tests, started on 127.0.0.1 with free ports and always stopped."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

T = TypeVar("T")
# Debian stable's 2.x on PATH, as `make tools` (scripts/install-tools) installs it
PROMETHEUS = "prometheus"
# 3.x (the LTS line) as scripts/install-prometheus3 unpacks it; `make tools` installs both
TOOLS_3 = Path(__file__).resolve().parents[1] / ".tools" / "prometheus-3" / "usr" / "bin"
PROMETHEUS_3 = str(TOOLS_3 / "prometheus")
PROMTOOL_3 = str(TOOLS_3 / "promtool")
# VictoriaMetrics single-node, vmalert and vmalert-tool as scripts/install-victoriametrics unpacks them
TOOLS_VM = Path(__file__).resolve().parents[1] / ".tools" / "victoria-metrics" / "usr" / "bin"
VICTORIA_METRICS = str(TOOLS_VM / "victoria-metrics")
VMALERT = str(TOOLS_VM / "vmalert")
VMALERT_TOOL = str(TOOLS_VM / "vmalert-tool")
VERSIONS = {"2.x": (PROMETHEUS, "promtool"), "3.x": (PROMETHEUS_3, PROMTOOL_3)}
# for parametrize: each run names the programs it needs (promtool; for SERVER_VERSION_PARAMS the
# server), and the 3.x runs carry a marker, so `make test-fast` runs 2.x only
VERSION_PARAMS = [
    pytest.param("2.x", marks=pytest.mark.tools("promtool")),
    pytest.param("3.x", marks=pytest.mark.prometheus3),
]
SERVER_VERSION_PARAMS = [
    pytest.param("2.x", marks=pytest.mark.tools("prometheus")),
    pytest.param("3.x", marks=pytest.mark.prometheus3),
]
# PostgreSQL 15, whose programs Debian keeps off PATH; OBSKIT_PG_BIN names another folder of them
PG_BIN = Path(os.environ.get("OBSKIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
PUSHGATEWAY = "prometheus-pushgateway"
POSTGRES_EXPORTER = "prometheus-postgres-exporter"
ALERTMANAGER = "prometheus-alertmanager"  # Debian stable's 0.25
BLACKBOX_EXPORTER = "prometheus-blackbox-exporter"
NAMED = "/usr/sbin/named"  # bind9's server, off a user's PATH
DIG = "dig"  # bind9-dnsutils
NSUPDATE = "nsupdate"  # bind9-dnsutils

# What `@pytest.mark.tools(NAME, ...)` may name, and the programs each stands for: a bare
# command is looked up on PATH, a path must be executable. The prometheus3 marker implies
# `prometheus3`. A test that runs one of these and is not marked still skips (or fails) when
# it starts the program through require_binary.
TOOLS: dict[str, tuple[str, ...]] = {
    "promtool": ("promtool",),
    "amtool": ("amtool",),
    "prometheus": (PROMETHEUS,),
    "alertmanager": (ALERTMANAGER,),
    "pushgateway": (PUSHGATEWAY,),
    "postgres_exporter": (POSTGRES_EXPORTER,),
    "postgresql": (str(PG_BIN / "postgres"),),
    "blackbox_exporter": (BLACKBOX_EXPORTER,),
    "named": (NAMED,),
    "kubectl": ("kubectl",),
    "dig": (DIG,),
    "nsupdate": (NSUPDATE,),
    "prometheus3": (PROMETHEUS_3, PROMTOOL_3),
    "victoria-metrics": (VICTORIA_METRICS,),
    "vmalert": (VMALERT,),
    "vmalert-tool": (VMALERT_TOOL,),
}
REQUIRE_TOOLS = "OBSKIT_REQUIRE_TOOLS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def locate(program: str) -> str | None:
    """A command on PATH, or an executable path; None when it is not there."""
    if os.sep not in program:
        return shutil.which(program)
    return program if os.path.isfile(program) and os.access(program, os.X_OK) else None


def missing_programs(names: Iterable[str]) -> list[str]:
    """The programs of these TOOLS names that are not there."""
    unknown = [name for name in names if name not in TOOLS]
    if unknown:
        raise ValueError(f"@pytest.mark.tools names {', '.join(unknown)}: known are {', '.join(TOOLS)}")
    programs = dict.fromkeys(program for name in names for program in TOOLS[name])
    return [program for program in programs if locate(program) is None]


def absent_reason(programs: list[str]) -> str:
    """Why a test that runs these programs cannot: where they should be and what puts them there."""
    on_path = [program for program in programs if os.sep not in program]
    paths = [program for program in programs if os.sep in program]
    parts = [f"{', '.join(on_path)} not on PATH"] if on_path else []
    parts += [f"{', '.join(paths)} missing"] if paths else []
    return f"{'; '.join(parts)}: `make tools` installs {'them' if len(programs) > 1 else 'it'}"


def absent(programs: list[str]) -> NoReturn:
    """Skip the test for want of these programs; fail it when OBSKIT_REQUIRE_TOOLS=1 (`make test`)."""
    if required():
        pytest.fail(f"{absent_reason(programs)} ({REQUIRE_TOOLS}=1)", pytrace=False)
    pytest.skip(absent_reason(programs))


def required() -> bool:
    return os.environ.get(REQUIRE_TOOLS) == "1"


def require_binary(program: str) -> str:
    """The program's path (a command is looked up on PATH); skips or fails the test when absent."""
    found = locate(program)
    if found is None:
        absent([program])
    return found


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.25) -> T:
    """Poll until probe returns something truthy; fail the test with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as err:
            last_error = err
        time.sleep(interval)
    pytest.fail(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
    )


def http_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


@contextmanager
def process(args: list[str], log: Path, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as output:
        proc = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, **kwargs)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


class Prometheus:
    def __init__(self, url: str, log: Path):
        self.url = url
        self.log = log

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        groups = http_json(f"{self.url}/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        alerts = http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == alertname and a["state"] == "firing"]


@contextmanager
def prometheus(
    workdir: Path,
    config: dict[str, Any],
    startup_timeout: float = 60,
    extra_args: tuple[str, ...] = (),
    binary: str = PROMETHEUS,
) -> Iterator[Prometheus]:
    import yaml

    binary = require_binary(binary)
    port = free_port()
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-admin-api",
        *extra_args,
    ]
    log = workdir / "prometheus.log"
    with process(args, log, cwd=workdir) as proc:
        server = Prometheus(f"http://127.0.0.1:{port}", log)
        wait_ready("prometheus", proc, log, server.url, startup_timeout)
        yield server


def wait_ready(name: str, proc: subprocess.Popen[bytes], log: Path, url: str, timeout: float) -> None:
    """Until the server at `url` answers /-/ready; fail with its log if it exits first."""

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)

    wait_for(f"{name} to be ready", ready, timeout)


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_workdir() -> Iterator[Path]:
    """A directory the postgres user owns (pytest's tmp_path is private to root)."""
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="obskit-pg-", dir="/tmp"))
    try:
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Postgres:
    def __init__(self, port: int, socket_dir: Path):
        self.port = port
        self.socket_dir = socket_dir

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def psql(self, sql: str, timeout: float = 30) -> str:
        done = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return done.stdout.strip()


@contextmanager
def postgres(workdir: Path, settings: dict[str, str], startup_timeout: float = 60) -> Iterator[Postgres]:
    require_binary(str(PG_BIN / "postgres"))
    data = workdir / "data"
    subprocess.run(
        as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = {"port": str(port), "listen_addresses": "127.0.0.1", "unix_socket_directories": str(workdir), **settings}
    args = [str(PG_BIN / "postgres"), "-D", str(data)]
    for name, value in options.items():
        args += ["-c", f"{name}={value}"]
    with process(as_postgres(args), workdir / "postgres.log"):
        server = Postgres(port, workdir)
        wait_for("postgres to accept connections", lambda: server.psql("SELECT 1") == "1", startup_timeout)
        yield server


@contextmanager
def exporter_for(server: Postgres, workdir: Path) -> Iterator[str]:
    binary = require_binary(POSTGRES_EXPORTER)
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": server.dsn}
    with process([binary, f"--web.listen-address=127.0.0.1:{port}"], workdir / "exporter.log", env=env):
        address = f"127.0.0.1:{port}"
        wait_for(
            "postgres_exporter",
            lambda: b"pg_up 1" in urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read(),
            30,
        )
        yield address


@contextmanager
def pushgateway(workdir: Path) -> Iterator[str]:
    binary = require_binary(PUSHGATEWAY)
    port = free_port()
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: keep it in memory.
    args = [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    with process(args, workdir / "pushgateway.log"):
        address = f"127.0.0.1:{port}"
        wait_for(
            "the pushgateway", lambda: urllib.request.urlopen(f"http://{address}/-/ready", timeout=2).status == 200, 30
        )
        yield address


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = http_json(f"{self.url}/api/v2/alerts")
        return result


@contextmanager
def alertmanager(workdir: Path, config: dict[str, Any], startup_timeout: float = 30) -> Iterator[Alertmanager]:
    import yaml

    binary = require_binary(ALERTMANAGER)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    args = [
        binary,
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance
    ]
    log = workdir / "alertmanager.log"
    with process(args, log, cwd=workdir) as proc:
        server = Alertmanager(f"http://127.0.0.1:{port}")
        wait_ready("alertmanager", proc, log, server.url, startup_timeout)
        yield server


@contextmanager
def serving(
    handler: type[socketserver.BaseRequestHandler], host: str = "127.0.0.1", http_: bool = True
) -> Iterator[str]:
    server_class = http.server.ThreadingHTTPServer if http_ else socketserver.ThreadingTCPServer
    server = server_class((host, 0), handler)
    server.daemon_threads = True  # a handler still dripping into a closed socket must not hold the test
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
