"""Two "regions" on loopback addresses, the blackbox exporter probing them, Prometheus scraping it
the way prometheus-operator scrapes a Probe, and a bind9 `named` serving the failover name.

Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2 and 127.0.0.3 are two hosts a probe can tell
apart. Every server listens on loopback only and is stopped when its context exits.
"""

from __future__ import annotations

import base64
import http.server
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers import BLACKBOX_EXPORTER, DIG, NAMED, process, require_binary, wait_for

REGIONS = {"us-east-1": "127.0.0.2", "us-west-2": "127.0.0.3"}
HEALTH_PATH = "/health"


def free_port_on(*addresses: str) -> int:
    """A TCP port free on every one of these addresses (so each region serves the same port)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((addresses[0], 0))
            port: int = sock.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as other:
                    other.bind((address, port))
        except OSError:
            continue
        return port
    raise OSError(f"no port free on all of {', '.join(addresses)}")


@dataclass
class Region:
    """A region's health endpoint: `ok` answers 200, `error` 500, `hang` accepts and never answers
    in time, fail_next(n) answers 500 to the next n requests only, stop() refuses connections. Every request it answers is recorded (unix
    time, status), so a test knows when each probe came and what it saw."""

    name: str
    address: str
    port: int
    mode: str = "ok"
    failures_left: int = 0
    hits: list[tuple[float, int]] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}{HEALTH_PATH}"

    def start(self) -> None:
        region = self

        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if region.mode == "hang":
                    time.sleep(30)  # longer than any probe timeout: the prober gives up
                with region._lock:
                    failing = region.mode != "ok" or region.failures_left > 0
                    region.failures_left = max(0, region.failures_left - 1)
                    status = 500 if failing else 200
                    region.hits.append((time.time(), status))
                body = f"{region.name} {'ok' if status == 200 else 'failing'}\n".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer((self.address, self.port), Health)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def fail_next(self, count: int) -> None:
        with self._lock:
            self.failures_left = count

    def stop(self) -> None:
        """Close the listening socket: probes get connection refused, as from a region that is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hits_since(self, since: float) -> list[tuple[float, int]]:
        with self._lock:
            return [hit for hit in self.hits if hit[0] >= since]


@contextmanager
def regions() -> Iterator[dict[str, Region]]:
    """us-east-1 on 127.0.0.2 and us-west-2 on 127.0.0.3, both healthy, on the same port."""
    port = free_port_on(*REGIONS.values())
    started = {name: Region(name, address, port) for name, address in REGIONS.items()}
    try:
        for region in started.values():
            region.start()
        yield started
    finally:
        for region in started.values():
            region.stop()


# The module a Probe names (spec: the environment's failover.prober.module). preferred_ip_protocol
# ip4: the targets are IPv4 literals and the exporter would otherwise try IPv6 first.
BLACKBOX_CONFIG = {
    "modules": {"http_2xx": {"prober": "http", "timeout": "5s", "http": {"preferred_ip_protocol": "ip4"}}}
}


@dataclass
class Blackbox:
    address: str  # host:port, what a Probe's spec.prober.url holds (no scheme: that is spec.prober.scheme)
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=15)


@contextmanager
def blackbox_exporter(workdir: Path, port: int | None = None) -> Iterator[Blackbox]:
    """Debian's prometheus-blackbox-exporter on 127.0.0.1 with the http_2xx module."""
    import yaml

    from tests.servers import free_port

    binary = require_binary(BLACKBOX_EXPORTER)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "blackbox.yml"
    config.write_text(yaml.safe_dump(BLACKBOX_CONFIG))
    address = f"127.0.0.1:{port or free_port()}"
    args = [binary, f"--config.file={config}", f"--web.listen-address={address}"]
    with process(args, workdir / f"blackbox-{time.monotonic_ns()}.log") as proc:
        wait_for(
            "the blackbox exporter",
            lambda: urllib.request.urlopen(f"http://{address}/-/healthy", timeout=2).status == 200,
            30,
        )
        yield Blackbox(address, proc)


def probe_scrape_config(
    namespace: str,
    name: str,
    prober: str,
    targets: list[str],
    labels: dict[str, str],
    module: str = "http_2xx",
    interval: str | None = None,
    scrape_timeout: str | None = None,
    scheme: str = "http",
) -> dict[str, Any]:
    """The scrape config prometheus-operator generates from a monitoring.coreos.com/v1 Probe with
    spec.prober {url: PROBER, scheme, path: /probe}, spec.module, spec.interval and
    spec.targets.staticConfig {static: TARGETS, labels: LABELS}: generateProbeConfig in
    pkg/prometheus/promcfg.go (its golden file ProbeSpecConfig_targets_static_config.golden), for
    one shard, with the config-reloader's $(SHARD) already substituted (0). The operator adds
    `namespace: <the Probe's namespace>` to the static labels unless they set one.

    So every series of the probe (probe_success, probe_duration_seconds...) carries exactly:
    job="probe/<namespace>/<name>" (spec.jobName instead when set), instance=<the target as
    written in staticConfig.static>, namespace=<the Probe's namespace, unless the static labels
    set it>, and each staticConfig label. A static label named job would override the job name,
    one named instance is overwritten by the relabeling: give the static labels neither. The
    Prometheus object's external labels (prometheus, prometheus_replica) are not on the series;
    they are added to alerts sent to Alertmanager."""
    config: dict[str, Any] = {
        "job_name": f"probe/{namespace}/{name}",
        "honor_timestamps": True,
        "metrics_path": "/probe",
    }
    if interval:
        config["scrape_interval"] = interval
    if scrape_timeout:
        config["scrape_timeout"] = scrape_timeout
    config["scheme"] = scheme
    config["params"] = {"module": [module]}
    config["static_configs"] = [{"targets": targets, "labels": {"namespace": namespace, **labels}}]
    config["relabel_configs"] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": prober},
        {
            "source_labels": ["__param_target", "__tmp_hash"],
            "target_label": "__tmp_hash",
            "regex": "(.+);",
            "replacement": "$1",
            "action": "replace",
        },
        {"source_labels": ["__tmp_hash"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"},
        {"source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": "0;|.+;.+", "action": "keep"},
    ]
    return config


# -- DNS: a real bind9 authoritative server ---------------------------------------------------

ZONE = "example.com"
NAME = "api.example.com"  # the service's failover name (spec: failover.dns.name)
KEY_NAME = "obskit-failover"
DNS_STEP = Path(__file__).resolve().parents[1] / "obskit" / "jobs" / "failover_dns.py"


def tsig_key_file(path: Path, name: str = KEY_NAME, secret: bytes | None = None) -> Path:
    """A TSIG key (hmac-sha256) in the format named.conf includes and `nsupdate -k` reads, as
    `tsig-keygen -a hmac-sha256 NAME` prints it."""
    encoded = base64.b64encode(secret or os.urandom(32)).decode()
    path.write_text(f'key "{name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{encoded}";\n}};\n')
    path.chmod(0o600)
    return path


@dataclass
class Named:
    host: str
    port: int
    key_file: Path
    workdir: Path

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def answer(self, name: str, rrtype: str = "A") -> list[tuple[int, str]]:
        """What the server answers, as (ttl, data) pairs, read with `dig`."""
        flags = ["+norecurse", "+noall", "+answer", "+time=2", "+tries=1"]
        done = subprocess.run(
            [require_binary(DIG), *flags, f"@{self.host}", "-p", str(self.port), name, rrtype],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        fields = [line.split() for line in done.stdout.splitlines() if line.strip()]
        return sorted((int(f[1]), f[4]) for f in fields if len(f) >= 5 and f[3] == rrtype)

    def serial(self) -> int:
        done = subprocess.run(
            [require_binary(DIG), "+short", f"@{self.host}", "-p", str(self.port), ZONE, "SOA"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return int(done.stdout.split()[2])


def zone_text(records: dict[str, tuple[int, str]], serial: int = 1) -> str:
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 60",
        f"@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. ( {serial} 3600 600 86400 60 )",
        f"@ IN NS ns1.{ZONE}.",
        "ns1 IN A 127.0.0.1",
    ]
    lines += [f"{name} {ttl} IN A {address}" for name, (ttl, address) in records.items()]
    return "\n".join(lines) + "\n"


@contextmanager
def named(
    workdir: Path,
    records: dict[str, tuple[int, str]] | None = None,
    updates: bool = True,
    startup_timeout: float = 30,
) -> Iterator[Named]:
    """bind9's named in the foreground on 127.0.0.1 and a free port, authoritative for example.com
    (`api 60 IN A 127.0.0.2` unless `records` says otherwise), accepting RFC 2136 updates signed
    with the TSIG key it writes to workdir/tsig.key (none when updates=False)."""
    from tests.servers import free_port

    binary = require_binary(NAMED)
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = tsig_key_file(workdir / "tsig.key")
    zone_file = workdir / f"{ZONE}.zone"
    zone_file.write_text(zone_text(records if records is not None else {"api": (60, REGIONS["us-east-1"])}))
    port = free_port()
    policy = f"update-policy {{ grant {KEY_NAME} zonesub ANY; }};" if updates else ""
    (workdir / "named.conf").write_text(
        f'include "{key_file}";\n'
        "options {\n"
        f'  directory "{workdir}";\n'
        f'  pid-file "{workdir}/named.pid";\n'
        f'  session-keyfile "{workdir}/session.key";\n'
        f'  managed-keys-directory "{workdir}";\n'
        f"  listen-on port {port} {{ 127.0.0.1; }};\n"
        "  listen-on-v6 { none; };\n"
        "  recursion no;\n"
        "  dnssec-validation no;\n"
        "};\n"
        "controls { };\n"  # no rndc channel (it would read /etc/bind/rndc.key)
        f'zone "{ZONE}" {{ type primary; file "{zone_file}"; {policy} }};\n'
    )
    args = [binary, "-g", "-4", "-n", "1", "-c", str(workdir / "named.conf")]
    server = Named("127.0.0.1", port, key_file, workdir)
    log = workdir / "named.log"
    with process(args, log) as proc:

        def answering() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"named exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            return server.serial() > 0

        wait_for("named to answer", answering, startup_timeout)
        yield server


def run_step(
    server: Named, *extra: str, address: str = REGIONS["us-west-2"], key_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """obskit/jobs/failover_dns.py pointing NAME at `address` (the DR region's) on this server."""
    import sys

    args = [sys.executable, str(DNS_STEP), "--server", server.server, "--zone", ZONE, "--name", NAME]
    args += ["--type", "A", "--address", address, "--ttl", "60", "--key-file", str(key_file or server.key_file)]
    return subprocess.run([*args, *extra], capture_output=True, text=True, timeout=60, check=False)
