"""Failover detection with real components: two regions on 127.0.0.2/127.0.0.3, Debian's blackbox
exporter probing them, Prometheus scraping it as prometheus-operator scrapes a Probe, and the
alert expressions the integrator will generate (written out here; see the module constants).

Times are read back from Prometheus itself: probe_success's raw samples carry each probe's scrape
time, and ALERTS{alertstate="firing"} carries the evaluation at which the alert fired.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.regions import Blackbox, Region, blackbox_exporter, probe_scrape_config, regions
from tests.servers import Prometheus, free_port, prometheus, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.tools("prometheus", "blackbox_exporter")]

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
        # the prober: exporter down, Probe scrape gone, module unknown: probe_success is absent
        {"alert": "ProberAbsent", "expr": f"absent({selector(region)})", "for": f"{INTERVAL}s"},
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

    def fired_at(self, alert: str, region: str) -> float | None:
        """The evaluation at which the alert first fired for the region's check, in unix time."""
        stamps = self.samples(f'ALERTS{{alertname="{alert}",alertstate="firing",job="{job(region)}"}}[5m]')
        return stamps[0][0] if stamps else None


@contextmanager
def rig(workdir: Path) -> Iterator[Rig]:
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
        server = stack.enter_context(prometheus(workdir, config))
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
