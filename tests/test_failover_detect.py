"""Failover detection with real components: two regions on 127.0.0.2/127.0.0.3, Debian's blackbox
exporter probing them, Prometheus scraping it as prometheus-operator scrapes a Probe, and the
alert expressions the integrator will generate (written out here; see the module constants).

Times are read back from Prometheus itself: probe_success's raw samples carry each probe's scrape
time, and ALERTS{alertstate="firing"} carries the evaluation at which the alert fired.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.regions import NAME, Blackbox, Region, blackbox_exporter, named, probe_scrape_config, regions, run_step
from tests.servers import SERVER_VERSION_PARAMS, VERSIONS, Prometheus, free_port, prometheus, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.tools("blackbox_exporter")]

INTERVAL = 2  # the health check's interval, seconds: the Probe's spec.interval
THRESHOLD = 3  # unhealthy_threshold
EVALUATION = 1  # the rule group's evaluation interval
NAMESPACE = "shop"
# what the Probe's targets.staticConfig.labels would carry (the operator adds namespace)
STATIC_LABELS = {"service": "checkout", "team": "payments", "tier": "tier1_critical"}


def probe_name(region: str) -> str:
    return f"checkout-health-{region}"


def job(region: str) -> str:
    return f"probe/{NAMESPACE}/{probe_name(region)}"


def selector(region: str) -> str:
    return f'probe_success{{job="{job(region)}"}}'


def rules(region: str) -> list[dict[str, Any]]:
    """The candidates, one rule each, for one region's health check."""
    failed_for = f"{(THRESHOLD - 1) * INTERVAL}s"
    window = f"{THRESHOLD * INTERVAL}s"
    return [
        # chosen: N consecutive failed probes, evaluated as samples arrive
        {"alert": "EndpointDown", "expr": f"{selector(region)} == 0", "for": failed_for},
        # the windowed alternative, and the same guarded by a sample count
        {"alert": "EndpointDownWindow", "expr": f"max_over_time({selector(region)}[{window}]) == 0"},
        {
            "alert": "EndpointDownWindowCounted",
            "expr": f"max_over_time({selector(region)}[{window}]) == 0"
            f" and count_over_time({selector(region)}[{window}]) >= {THRESHOLD}",
        },
        # the prober: exporter down, Probe scrape gone, module unknown: probe_success is absent.
        # `for` rides over Prometheus's start (its first targets come up to 5s late) and restarts.
        {"alert": "ProberAbsent", "expr": f"absent({selector(region)})", "for": f"{2 * INTERVAL}s"},
        {"alert": "ProberDown", "expr": f'up{{job="{job(region)}"}} == 0'},
    ]


@dataclass
class Rig:
    regions: dict[str, Region]
    prometheus: Prometheus
    workdir: Path
    blackbox_port: int
    stack: ExitStack
    blackbox: Blackbox

    def restart_blackbox(self) -> None:
        self.blackbox = self.stack.enter_context(blackbox_exporter(self.workdir / "blackbox", self.blackbox_port))

    def samples(self, expr: str) -> list[tuple[float, float]]:
        """The raw samples of the single series a range selector returns (none: empty)."""
        result = self.prometheus.query(expr)
        return [(float(t), float(v)) for t, v in result[0]["values"]] if result else []

    def fired_at(self, alert: str, region: str, since: float = 0) -> float | None:
        """The first evaluation after `since` at which the alert fired for the region's check."""
        stamps = self.samples(f'ALERTS{{alertname="{alert}",alertstate="firing",job="{job(region)}"}}[5m]')
        return next((stamp for stamp, _ in stamps if stamp >= since), None)


@contextmanager
def rig(workdir: Path, version: str = "2.x") -> Iterator[Rig]:
    with ExitStack() as stack:
        found = stack.enter_context(regions())
        port = free_port()
        box = stack.enter_context(blackbox_exporter(workdir / "blackbox", port))
        scrape_configs = [
            probe_scrape_config(
                NAMESPACE,
                probe_name(name),
                f"127.0.0.1:{port}",
                [region.url],
                {**STATIC_LABELS, "region": name},
                interval=f"{INTERVAL}s",
                scrape_timeout="1500ms",
            )
            for name, region in found.items()
        ]
        groups = [{"name": f"failover-{name}", "interval": f"{EVALUATION}s", "rules": rules(name)} for name in found]
        (workdir / "failover.rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
        config = {
            "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
            "rule_files": ["failover.rules.yaml"],
            "scrape_configs": scrape_configs,
        }
        server = stack.enter_context(prometheus(workdir, config, binary=VERSIONS[version][0]))
        setup = Rig(found, server, workdir, port, stack, box)
        for name in found:
            # a full window of successes before any scenario
            wait_for(
                f"{THRESHOLD} successful probes of {name}",
                lambda name=name: (
                    len([v for _, v in setup.samples(f"{selector(name)}[{THRESHOLD * INTERVAL}s]") if v == 1])
                    >= THRESHOLD
                ),
                30,
            )
        yield setup


@pytest.mark.tools("prometheus")
def test_probe_success_carries_the_operators_labels(tmp_path: Path) -> None:
    with rig(tmp_path) as setup:
        series = setup.prometheus.query("probe_success")
        east = setup.regions["us-east-1"]
        assert sorted(s["metric"] for s in series if s["metric"]["region"] == "us-east-1") == [
            {
                "__name__": "probe_success",
                "instance": east.url,  # the target as written: __param_target
                "job": "probe/shop/checkout-health-us-east-1",
                "namespace": "shop",  # the Probe's namespace, added by the operator
                "region": "us-east-1",
                "service": "checkout",
                "team": "payments",
                "tier": "tier1_critical",
            }
        ]
        assert {s["metric"]["region"]: s["value"][1] for s in series} == {"us-east-1": "1", "us-west-2": "1"}


def failed_run_before(samples: list[tuple[float, float]], moment: float) -> list[float]:
    """The scrape times of the consecutive failed probes ending at the last sample before moment."""
    run: list[float] = []
    for stamp, value in samples:
        if stamp > moment:
            break
        run = [*run, stamp] if value == 0 else []
    return run


def next_probe(region: Region, after: float) -> float:
    """Wait for the region's next probe after `after`; its time."""
    return wait_for("a probe", lambda: ([t for t, _ in region.hits_since(after)] or [0.0])[0], 3 * INTERVAL, 0.02)


def fired_report(
    setup: Rig, region: str, stopped: float, alerts: tuple[str, ...]
) -> dict[str, tuple[float, int, float]]:
    """Per alert: seconds from the outage to firing, the failed probes Prometheus had by then, and
    seconds from the first of them to firing."""
    samples = setup.samples(f"{selector(region)}[1m]")
    report = {}
    for alert in alerts:
        at = setup.fired_at(alert, region)
        assert at is not None, f"{alert} did not fire"
        run = failed_run_before(samples, at)
        report[alert] = (round(at - stopped, 2), len(run), round(at - run[0], 2) if run else 0.0)
    return report


# The outage begins just after a probe (its first failed probe comes a whole interval later: the
# latest firing) or just before one (the earliest).
@pytest.mark.parametrize("phase", [0.1, INTERVAL - 0.3], ids=["just-after-a-probe", "just-before-a-probe"])
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_a_stopped_region_fires_after_threshold_failed_probes(tmp_path: Path, phase: float, version: str) -> None:
    with rig(tmp_path, version) as setup:
        east = setup.regions["us-east-1"]
        probed = next_probe(east, time.time())
        time.sleep(max(0.0, phase - (time.time() - probed)))
        stopped = time.time()
        east.stop()
        budget = THRESHOLD * INTERVAL + EVALUATION
        fired = wait_for("EndpointDown to fire", lambda: setup.fired_at("EndpointDown", "us-east-1"), budget + 10, 0.2)
        time.sleep(INTERVAL + EVALUATION)  # the window forms fire at the same evaluation or not at all
        alerts = ("EndpointDown", "EndpointDownWindow", "EndpointDownWindowCounted")
        report = fired_report(setup, "us-east-1", stopped, alerts)
        print(f"\n{version} phase {phase}s: (stop->fire s, failed probes, first failed->fire s) {report}")
        first_failed = failed_run_before(setup.samples(f"{selector('us-east-1')}[1m]"), fired)[0]
        print(f"stop->first failed probe {first_failed - stopped:.2f}s")
        for alert, (_, failed, _) in report.items():
            assert failed >= THRESHOLD, alert
        # N failed probes take (N-1)*I from the first; the first comes up to I after the outage.
        # Pending begins at the first evaluation after the first failed probe (up to E later).
        assert (THRESHOLD - 1) * INTERVAL <= fired - first_failed <= (THRESHOLD - 1) * INTERVAL + 2 * EVALUATION
        assert (THRESHOLD - 1) * INTERVAL <= fired - stopped <= budget + 1
        assert setup.fired_at("EndpointDown", "us-west-2") is None
        firing = setup.prometheus.firing("EndpointDown")
        assert [a["labels"]["region"] for a in firing] == ["us-east-1"]
        assert {k: firing[0]["labels"][k] for k in ("service", "team", "tier", "namespace")} == {
            **STATIC_LABELS,
            "namespace": NAMESPACE,
        }


@pytest.mark.tools("prometheus")
def test_fewer_failed_probes_than_the_threshold_do_not_fire(tmp_path: Path) -> None:
    with rig(tmp_path) as setup:
        east = setup.regions["us-east-1"]
        for failures in (1, THRESHOLD - 1):
            began = time.time()
            east.fail_next(failures)
            wait_for(f"{failures} failed probes", lambda: east.failures_left == 0, failures * INTERVAL + 5, 0.05)
            time.sleep(THRESHOLD * INTERVAL + 2 * EVALUATION)
            hits = east.hits_since(began)
            assert [status for _, status in hits][: failures + 1] == [500] * failures + [200], hits
        assert len([v for _, v in setup.samples(f"{selector('us-east-1')}[1m]") if v == 0]) == 1 + THRESHOLD - 1
        pending = setup.samples('count(ALERTS{alertname="EndpointDown",alertstate="pending"})[1m:1s]')
        assert pending, "the failed probes never made EndpointDown pending"
        for alert in ("EndpointDown", "EndpointDownWindow", "EndpointDownWindowCounted"):
            assert setup.fired_at(alert, "us-east-1") is None, alert


@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_the_prober_gone_fires_and_one_failed_probe_after_it_fires_only_the_bare_window(
    tmp_path: Path, version: str
) -> None:
    with rig(tmp_path, version) as setup:
        killed = time.time()
        setup.blackbox.kill()
        fired = {
            alert: wait_for(f"{alert} to fire", lambda alert=alert: setup.fired_at(alert, "us-east-1", killed), 20, 0.2)
            for alert in ("ProberAbsent", "ProberDown")
        }
        print(f"\n{version} kill->fire: { {a: round(t - killed, 2) for a, t in fired.items()} }")
        # the next scrape fails and marks probe_success stale, then `for`, then an evaluation
        assert fired["ProberAbsent"] - killed <= INTERVAL + 2 * INTERVAL + EVALUATION + 1
        assert setup.fired_at("EndpointDown", "us-east-1") is None  # probe_success went stale, not 0

        # back after more than the window, and its first probe fails: one failed probe only
        time.sleep(max(0.0, killed + THRESHOLD * INTERVAL + 1 - time.time()))
        east = setup.regions["us-east-1"]
        east.fail_next(1)
        setup.restart_blackbox()
        wait_for("the failed probe", lambda: east.failures_left == 0, 3 * INTERVAL, 0.05)
        time.sleep(THRESHOLD * INTERVAL + 2 * EVALUATION)
        # max_over_time over a window that holds that one sample is 0: the bare window fires
        assert setup.fired_at("EndpointDownWindow", "us-east-1") is not None
        assert setup.fired_at("EndpointDownWindowCounted", "us-east-1") is None
        assert setup.fired_at("EndpointDown", "us-east-1") is None
        assert not setup.prometheus.firing("ProberAbsent")
        assert not setup.prometheus.firing("ProberDown")


@pytest.mark.tools("prometheus", "named", "dig", "nsupdate")
def test_a_stopped_primary_is_detected_then_the_dns_step_sends_clients_to_dr(tmp_path: Path) -> None:
    with rig(tmp_path) as setup, named(tmp_path / "dns") as dns:
        east, west = setup.regions["us-east-1"], setup.regions["us-west-2"]
        assert dns.answer(NAME) == [(60, east.address)]
        stopped = time.time()
        east.stop()
        fired = wait_for("EndpointDown", lambda: setup.fired_at("EndpointDown", "us-east-1"), 20, 0.2)
        began = time.time()
        step = run_step(dns, address=west.address)
        assert step.returncode == 0, step.stderr
        flipped = time.time()
        [(ttl, address)] = dns.answer(NAME)
        assert (ttl, address) == (60, west.address)
        health = urllib.request.urlopen(f"http://{address}:{west.port}/health", timeout=5)
        assert health.status == 200 and health.read() == b"us-west-2 ok\n"
        print(f"\nstop->alert {fired - stopped:.2f}s, DNS step {flipped - began:.2f}s (+ TTL {ttl}s in resolvers)")


@pytest.mark.tools("prometheus")
def test_a_hanging_region_fails_its_probes_at_the_probe_timeout_and_fires_that_much_later(tmp_path: Path) -> None:
    with rig(tmp_path) as setup:
        east = setup.regions["us-east-1"]
        probed = next_probe(east, time.time())
        time.sleep(max(0.0, 0.1 - (time.time() - probed)))
        stopped = time.time()
        east.mode = "hang"
        fired = wait_for("EndpointDown", lambda: setup.fired_at("EndpointDown", "us-east-1"), 20, 0.2)
        samples = setup.samples(f"{selector('us-east-1')}[1m]")
        run = failed_run_before(samples, fired)
        duration = setup.samples(f'probe_duration_seconds{{job="{job("us-east-1")}"}}[1m]')[-1][1]
        print(
            f"\nhang: stop->fire {fired - stopped:.2f}s, first failed->fire {fired - run[0]:.2f}s, probe {duration:.2f}s"
        )
        assert len(run) >= THRESHOLD
        # each failed sample is stamped at its scrape's start but lands a probe timeout later
        assert fired - stopped <= THRESHOLD * INTERVAL + EVALUATION + duration + 1
