"""What obskit GENERATES for a failover, run with real components: a spec with a service that fails
over from us-east-1 (127.0.0.2) to us-west-2 (127.0.0.3), put through the real pipeline; Debian's
blackbox exporter probing both regions; Prometheus (2.x and 3.x) scraping it with the scrape config
prometheus-operator makes of the generated Probe objects, and evaluating the generated failover rule
group; Alertmanager 0.25 with the generated configuration (integrations swapped for webhooks to the
test); bind9's named, updated by the generated DNS step's own container command.

Each step's measured time is held against the budget the plan gives it (`obskit plan`)."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.plan.failover import FailoverPlan
from obskit.units import parse_duration
from tests.regions import NAME, REGIONS, Blackbox, Named, Region, blackbox_exporter, named, probe_scrape_config, regions
from tests.servers import (
    PG_BIN,
    SERVER_VERSION_PARAMS,
    VERSION_PARAMS,
    VERSIONS,
    Alertmanager,
    Prometheus,
    alertmanager,
    as_postgres,
    free_port,
    postgres,
    postgres_workdir,
    prometheus,
    wait_for,
)
from tests.test_failover_postgres_servers import KUBECTL
from tests.test_failover_postgres_servers import generated as example_failover
from tests.test_failover_standby import Writer, build_standby, postgres_dir, standby_from
from tests.test_routing_e2e import Receivers, _with_webhooks

SERVICE = "checkout"
INTERVAL = 2  # the health checks' interval, seconds
THRESHOLD = 3  # unhealthy_threshold
# tier `fast` scrapes every second, so the failover rule group is evaluated every second
SPEC = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{{service}}/{{alert}}"
tiers:
  fast: {{rto: 15m, rpo: 5m, scrape_interval: 1s, slo_objective: 99.9, pages: true,
         restore_drill_interval: 7d, retention: 7d}}
environments:
  prod:
    labels: {{env: prod}}
    alerting:
      receivers:
        oncall-pager: {{pagerduty: {{routing_key: {{secret: pagerduty-oncall, key: routing-key}}}}}}
        tickets: {{webhook: {{url: "http://alert-bridge.tools.svc:8080/tickets"}}}}
      page: oncall-pager
      ticket: tickets
    failover:
      primary_region: us-east-1
      dr_region: us-west-2
      prober: {{url: "http://{prober}", module: http_2xx}}
      velero: {{storage_location: dr-us-west-2}}
      dns:
        rfc2136: {{server: "{dns}", zone: example.com, key_secret: {{secret: dns-update, key: tsig.key}}}}
      image: "registry.example.com/obskit-failover:1"
services:
  checkout:
    namespace: shop
    tier: fast
    team: payments
    selector: {{app: checkout}}
    metrics: {{port: http-metrics}}
    failover:
      health_checks:
        - {{endpoint: "{east}", interval: {interval}s, unhealthy_threshold: {threshold}}}
        - {{endpoint: "{west}", interval: {interval}s, unhealthy_threshold: {threshold}, region: us-west-2}}
      dns: {{name: {name}, ttl: 60, dr_target: "{dr_target}"}}
      steps:
        - {{name: detect}}
        - {{name: update_dns}}
"""


@dataclass(frozen=True)
class Generated:
    tree: dict[str, str]
    failover: FailoverPlan

    def budget(self, step: str) -> float:
        planned = self.failover.step(step)
        assert planned is not None, step
        return planned.budget.ms / 1000

    def documents(self, path: str) -> list[dict[str, Any]]:
        return [doc for doc in yaml.safe_load_all(self.tree[path]) if doc]


def generate(workdir: Path, found: dict[str, Region], prober: str, dns: str) -> Generated:
    """The real pipeline on the spec, its health checks pointed at the rig's regions."""
    spec = workdir / "spec" / "obskit.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    east, west = found["us-east-1"], found["us-west-2"]
    spec.write_text(
        SPEC.format(
            prober=prober,
            dns=dns,
            east=east.url,
            west=west.url,
            interval=INTERVAL,
            threshold=THRESHOLD,
            name=NAME,
            dr_target=west.address,
        )
    )
    plan = load_plan(spec, "prod")
    (service_plan,) = plan.services
    assert service_plan.failover is not None
    return Generated(generate_tree(plan), service_plan.failover)


def probe_labels(generated: Generated, region: str) -> dict[str, str]:
    """The labels prometheus-operator gives the region's probe_success (tests/regions.py)."""
    (probe,) = [
        p
        for p in generated.documents(f"prometheus/probes/{SERVICE}.yaml")
        if p["spec"]["targets"]["staticConfig"]["labels"]["region"] == region
    ]
    static = probe["spec"]["targets"]["staticConfig"]
    namespace = probe["metadata"]["namespace"]
    job = f"probe/{namespace}/{probe['metadata']['name']}"
    return {"instance": static["static"][0], "job": job, "namespace": namespace, **static["labels"]}


def rule_labels(group: dict[str, Any]) -> dict[str, str]:
    (rule,) = [r for r in group["rules"] if r["alert"] == "FailoverPrimaryUnhealthy"]
    return dict(rule["labels"])


def probe_scrape_configs(generated: Generated) -> list[dict[str, Any]]:
    """What prometheus-operator makes of each generated Probe object (tests/regions.py)."""
    configs = []
    for probe in generated.documents(f"prometheus/probes/{SERVICE}.yaml"):
        assert probe["kind"] == "Probe"
        spec, static = probe["spec"], probe["spec"]["targets"]["staticConfig"]
        assert spec["prober"]["path"] == "/probe"
        configs.append(
            probe_scrape_config(
                probe["metadata"]["namespace"],
                probe["metadata"]["name"],
                spec["prober"]["url"],
                static["static"],
                static["labels"],
                module=spec["module"],
                interval=spec["interval"],
                scrape_timeout=spec.get("scrapeTimeout"),
                scheme=spec["prober"]["scheme"],
            )
        )
    return configs


def failover_group(generated: Generated) -> dict[str, Any]:
    groups = yaml.safe_load(generated.tree[f"prometheus/rulefiles/{SERVICE}.rules.yaml"])["groups"]
    (group,) = [group for group in groups if group["name"] == f"obskit/{SERVICE}/failover"]
    return dict(group)


@dataclass
class Rig:
    regions: dict[str, Region]
    generated: Generated
    prometheus: Prometheus
    dns: Named
    blackbox: Blackbox
    blackbox_port: int
    receivers: Receivers | None
    alertmanager: Alertmanager | None
    workdir: Path
    stack: ExitStack

    def restart_blackbox(self) -> None:
        self.blackbox = self.stack.enter_context(blackbox_exporter(self.workdir / "blackbox", self.blackbox_port))

    def probe_job(self, region: str) -> str:
        (probe,) = [p for p in self.generated.failover.probes if p.region == region]
        return probe.job

    def samples(self, expr: str) -> list[tuple[float, float]]:
        result = self.prometheus.query(expr)
        return [(float(t), float(v)) for t, v in result[0]["values"]] if result else []

    def fired_at(self, alert: str, region: str, since: float = 0) -> float | None:
        """The first evaluation after `since` at which the alert was firing for the region's probe."""
        selector = f'alertname="{alert}",alertstate="firing",job="{self.probe_job(region)}"'
        return next((t for t, _ in self.samples(f"ALERTS{{{selector}}}[5m]") if t >= since), None)

    def probes(self, region: str) -> list[tuple[float, float]]:
        return self.samples(f'probe_success{{job="{self.probe_job(region)}"}}[2m]')


@contextmanager
def rig(workdir: Path, version: str, paging: bool = False) -> Iterator[Rig]:
    with ExitStack() as stack:
        found = stack.enter_context(regions())
        dns = stack.enter_context(named(workdir / "dns"))
        blackbox_port = free_port()
        generated = generate(workdir, found, f"127.0.0.1:{blackbox_port}", dns.server)
        box = stack.enter_context(blackbox_exporter(workdir / "blackbox", blackbox_port))
        (workdir / "failover.rules.yaml").write_text(yaml.safe_dump({"groups": [failover_group(generated)]}))
        config: dict[str, Any] = {
            "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
            "rule_files": ["failover.rules.yaml"],
            "scrape_configs": probe_scrape_configs(generated),
        }
        receivers, am = None, None
        if paging:
            receivers = Receivers()
            stack.callback(receivers.stop)
            generated_am = yaml.safe_load(generated.tree["alertmanager/alertmanager.yaml"])
            am = stack.enter_context(alertmanager(workdir / "am", _with_webhooks(generated_am, receivers.port)))
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [am.url.removeprefix("http://")]}]}]
            }
        server = stack.enter_context(prometheus(workdir, config, binary=VERSIONS[version][0]))
        setup = Rig(found, generated, server, dns, box, blackbox_port, receivers, am, workdir, stack)
        for region in found:
            wait_for(
                f"{THRESHOLD + 1} successful probes of {region}",
                lambda region=region: len([v for _, v in setup.probes(region) if v == 1]) > THRESHOLD,
                30,
            )
        yield setup


def next_probe(region: Region, after: float) -> float:
    return wait_for("a probe", lambda: ([t for t, _ in region.hits_since(after)] or [0.0])[0], 3 * INTERVAL, 0.02)


def pod_command(
    objects: list[dict[str, Any]], cronjob: str, secrets: dict[str, dict[str, str]], root: Path
) -> tuple[list[str], dict[str, str]]:
    """A stand-in for the kubelet: the CronJob's container command, each mount's path mapped to a
    folder under root (the ConfigMaps of the same generated file written out, the Secrets' keys
    from `secrets`), and its env with the Secrets' keys resolved."""
    config_maps = {doc["metadata"]["name"]: doc["data"] for doc in objects if doc["kind"] == "ConfigMap"}
    (job,) = [doc for doc in objects if doc["kind"] == "CronJob" and doc["metadata"]["name"] == cronjob]
    assert job["spec"]["suspend"] is True
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (container,) = pod["containers"]
    command: list[str] = [*container["command"], *container.get("args", [])]
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        files = (
            config_maps[volume["configMap"]["name"]]
            if "configMap" in volume
            else secrets[volume["secret"]["secretName"]]
        )
        local = root / "mounts" / mount["name"]
        local.mkdir(parents=True)
        for name, content in files.items():
            (local / name).write_text(content)
            (local / name).chmod(0o755)
        command = [part.replace(mount["mountPath"], str(local)) for part in command]
    env = {}
    for each in container.get("env", []):
        if "value" in each:
            env[each["name"]] = each["value"]
        else:
            ref = each["valueFrom"]["secretKeyRef"]
            env[each["name"]] = secrets[ref["name"]][ref["key"]]
    return command, env


def page_group_wait(generated: Generated) -> float:
    """The group_wait of the generated route that pages (severity critical), seconds."""
    routes = yaml.safe_load(generated.tree["alertmanager/alertmanager.yaml"])["route"]["routes"]
    (page,) = [r for route in routes for r in route["routes"] if 'severity="critical"' in r["matchers"]]
    return parse_duration(page["group_wait"]).ms / 1000


# The outage begins just after a probe (its first failed probe comes a whole interval later: the
# latest firing, held against the budget) or just before one (the earliest: held against
# interval x threshold).
@pytest.mark.parametrize("phase", [0.1, INTERVAL - 0.3], ids=["just-after-a-probe", "just-before-a-probe"])
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.tools("blackbox_exporter", "named", "dig", "nsupdate")  # the rig (its spec names a DNS server)
@pytest.mark.tools("alertmanager")
@pytest.mark.timeout(180)
def test_a_stopped_primary_pages_within_the_detect_budget_and_the_dns_step_flips_the_record(
    tmp_path: Path, version: str, phase: float
) -> None:
    with rig(tmp_path, version, paging=True) as setup:
        assert setup.receivers is not None
        east, west = setup.regions["us-east-1"], setup.regions["us-west-2"]
        detect = setup.generated.budget("detect")
        group_wait = page_group_wait(setup.generated)
        assert setup.dns.answer(NAME) == [(60, east.address)]
        probed = next_probe(east, time.time())
        time.sleep(max(0.0, phase - (time.time() - probed)))
        stopped = time.time()
        east.stop()
        fired = wait_for(
            "FailoverPrimaryUnhealthy",
            lambda: setup.fired_at("FailoverPrimaryUnhealthy", "us-east-1"),
            detect - group_wait + 10,
            0.2,
        )
        paged = []
        while not paged and time.time() < fired + 60:
            time.sleep(0.2)
            paged = setup.receivers.alerts("oncall-pager")
        page_at = time.time()
        assert paged, (
            f"no page 60s after the alert fired; Alertmanager holds {setup.alertmanager and setup.alertmanager.alerts()}"
        )
        # the DNS step, as the on-call engineer starts it: the CronJob's own command
        secrets = {"dns-update": {"tsig.key": setup.dns.key_file.read_text()}}
        objects = setup.generated.documents(f"failover/{SERVICE}.yaml")
        command, _ = pod_command(objects, "checkout-failover-update-dns", secrets, setup.workdir)
        began = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        dns_took = time.monotonic() - began
        assert done.returncode == 0, done.stderr
        assert setup.dns.answer(NAME) == [(60, west.address)]

        run = [t for t, v in setup.probes("us-east-1") if t > stopped and v == 0]
        print(
            f"\n{version} {phase}s after a probe: stop->fire {fired - stopped:.2f}s (not before {INTERVAL * THRESHOLD}s; budget without"
            f" group_wait {detect - group_wait:.0f}s), first failed probe->fire {fired - run[0]:.2f}s,"
            f" stop->page {page_at - stopped:.2f}s (detect budget {detect:.0f}s);"
            f" DNS step {dns_took:.2f}s (budget {setup.generated.budget('update_dns'):.0f}s: TTL 60 + propagation)"
        )
        assert INTERVAL * THRESHOLD <= fired - stopped <= detect - group_wait
        assert page_at - stopped <= detect
        assert {labels["alertname"] for _, labels in paged} == {"FailoverPrimaryUnhealthy"}
        (labels,) = {tuple(sorted(labels.items())) for _, labels in paged}
        assert {k: v for k, v in labels if k in ("region", "team", "tier", "severity")} == {
            "region": "us-east-1",
            "team": "payments",
            "tier": "fast",
            "severity": "critical",
        }
        assert setup.fired_at("FailoverStandbyRegionUnhealthy", "us-west-2") is None
        # firing at every evaluation since (1s apart): never resolved between two probes
        selector = f'alertname="FailoverPrimaryUnhealthy",alertstate="firing",job="{setup.probe_job("us-east-1")}"'
        firing = [t for t, _ in setup.samples(f"ALERTS{{{selector}}}[2m]")]
        assert firing[0] == fired and max(b - a for a, b in itertools.pairwise(firing)) < 1.5
        assert dns_took + 60 <= setup.generated.budget("update_dns")


@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.tools("blackbox_exporter", "named", "dig", "nsupdate")  # the rig (its spec names a DNS server)
@pytest.mark.timeout(180)
def test_one_failed_probe_and_threshold_failed_probes_do_not_fire(tmp_path: Path, version: str) -> None:
    with rig(tmp_path, version) as setup:
        east = setup.regions["us-east-1"]
        for failures in (1, THRESHOLD):  # the threshold's failures are one probe short of the span
            began = time.time()
            east.fail_next(failures)
            wait_for(f"{failures} failed probes", lambda: east.failures_left == 0, failures * INTERVAL + 5, 0.05)
            time.sleep((THRESHOLD + 1) * INTERVAL + 2)  # past the window
            assert [status for _, status in east.hits_since(began)][: failures + 1] == [500] * failures + [200]
        failed = [v for _, v in setup.probes("us-east-1") if v == 0]
        assert len(failed) == 1 + THRESHOLD
        assert setup.fired_at("FailoverPrimaryUnhealthy", "us-east-1") is None
        assert not setup.prometheus.firing("FailoverProbeMissing")


@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.tools("blackbox_exporter", "named", "dig", "nsupdate")  # the rig (its spec names a DNS server)
@pytest.mark.timeout(180)
def test_the_prober_gone_fires_probe_missing_and_failed_probes_after_it_do_not_fire(
    tmp_path: Path, version: str
) -> None:
    with rig(tmp_path, version) as setup:
        killed = time.time()
        setup.blackbox.kill()
        fired = wait_for(
            "FailoverProbeMissing",
            lambda: setup.fired_at("FailoverProbeMissing", "us-east-1", killed),
            30,
            0.2,
        )
        print(f"\n{version}: prober killed->FailoverProbeMissing {fired - killed:.2f}s")
        # the next scrape fails and marks probe_success stale; then `for` (2 intervals), then an evaluation
        assert fired - killed <= INTERVAL + 2 * INTERVAL + 1 + 1
        assert setup.fired_at("FailoverPrimaryUnhealthy", "us-east-1") is None

        # back after longer than the window, and its first THRESHOLD probes fail: one short of the span
        time.sleep(max(0.0, killed + (THRESHOLD + 1) * INTERVAL + 1 - time.time()))
        east = setup.regions["us-east-1"]
        east.fail_next(THRESHOLD)
        setup.restart_blackbox()
        wait_for("the failed probes", lambda: east.failures_left == 0, (THRESHOLD + 2) * INTERVAL, 0.05)
        time.sleep((THRESHOLD + 1) * INTERVAL + 2)
        assert setup.fired_at("FailoverPrimaryUnhealthy", "us-east-1") is None
        assert not setup.prometheus.firing("FailoverProbeMissing")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_the_generated_alert_keeps_firing_at_every_evaluation_of_an_outage(tmp_path: Path, version: str) -> None:
    """promtool on the generated group: probes every 2s, four successes then failures only; from
    the threshold + 1-th failed probe on, every evaluation must fire, or Alertmanager sees the alert
    resolve and fire again each second, and a page due at group_wait may never be sent. Evaluations
    every 500ms fall between the samples as they do on a real server (promtool's 2.x, evaluating at
    the samples' own times only, would always find threshold + 1 samples in the closed window)."""
    found = {name: Region(name, address, 8080) for name, address in REGIONS.items()}
    generated = generate(tmp_path, found, "127.0.0.1:9115", "127.0.0.1:53")
    group = failover_group(generated)
    for rule in group["rules"]:
        rule.pop("annotations")  # the expression is under test; promtool would compare them too
    (tmp_path / "failover.rules.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    labels = probe_labels(generated, "us-east-1")
    series = "probe_success{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    first = 4 * INTERVAL  # the first failed probe
    earliest = first + THRESHOLD * INTERVAL  # its threshold + 1-th failed probe
    times = [earliest + half / 2 for half in range(1, 4 * INTERVAL * 2)]
    expected = [{"exp_labels": {**labels, **rule_labels(group)}}]
    test = {
        "rule_files": ["failover.rules.yaml"],
        "evaluation_interval": "500ms",
        "tests": [
            {
                "interval": f"{INTERVAL}s",
                "input_series": [{"series": series, "values": "1x3 0x30"}],
                "alert_rule_test": [
                    {
                        "eval_time": f"{int(at * 1000)}ms",
                        "alertname": "FailoverPrimaryUnhealthy",
                        "exp_alerts": expected,
                    }
                    for at in times
                ],
            }
        ],
    }
    (tmp_path / "keeps-firing.test.yaml").write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [VERSIONS[version][1], "test", "rules", "keeps-firing.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
@pytest.mark.tools("postgresql")
@pytest.mark.timeout(300)
def test_the_generated_promote_cronjob_promotes_the_standby(tmp_path: Path) -> None:
    """The example's promote_database CronJob from failover/checkout.yaml, its command and env as
    generated (the Service name pointed at the standby, stream_from at the local primary), against
    PostgreSQL 15: a streaming standby (as tests/test_failover_postgres_servers.py builds it) is
    promoted and holds the rows committed before the primary stopped. kubectl cannot reach a
    cluster here: a stand-in records its arguments."""
    with postgres_workdir() as workdir:
        store = postgres_dir(workdir / "store" / "wal_005").parent
        primary_settings = {
            "archive_mode": "on",
            "archive_command": f"cp %p {store}/wal_005/%f",
            "wal_level": "replica",
        }
        primary_dir = postgres_dir(workdir / "primary")
        with postgres(primary_dir, primary_settings) as primary:
            primary.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
            spec = tmp_path / "spec"
            spec.mkdir()
            _, settings, _ = example_failover(spec, primary.port)
            plan = load_plan(spec, "prod")
            service_plan = next(s for s in plan.services if s.name == SERVICE)
            assert service_plan.failover is not None
            promote_budget = Generated({}, service_plan.failover).budget("promote_database")
            objects = [doc for doc in yaml.safe_load_all(generate_tree(plan)[f"failover/{SERVICE}.yaml"]) if doc]
            base, local = build_standby(primary, workdir, store)
            settings |= {"restore_command": local["restore_command"], "archive_command": local["archive_command"]}
            with standby_from(base, workdir / "standby", settings) as standby:
                wait_for(
                    "the standby to stream",
                    lambda: standby.psql("SELECT status FROM pg_stat_wal_receiver") == "streaming",
                    60,
                )
                with Writer(primary) as writer:
                    time.sleep(3)
                    subprocess.run(
                        as_postgres(
                            [str(PG_BIN / "pg_ctl"), "-D", str(primary_dir / "data"), "-m", "immediate", "stop"]
                        ),
                        check=True,
                        capture_output=True,
                        timeout=60,
                    )
                    outage = time.time()
                secrets = {"walg-s3": {"PGUSER": "postgres", "PGPASSWORD": "unused"}}
                command, env = pod_command(objects, "checkout-failover-promote-database-orders-db", secrets, tmp_path)
                assert env["PGHOST"] == "orders-db"  # the Service in the DR cluster: here, the standby
                env |= {"PGHOST": "127.0.0.1", "PGPORT": str(standby.port)}
                bin_dir = tmp_path / "bin"
                bin_dir.mkdir()
                (bin_dir / "kubectl").write_text(KUBECTL)
                (bin_dir / "kubectl").chmod(0o755)
                env["PATH"] = f"{bin_dir}:{PG_BIN}:/usr/bin:/bin"
                (job,) = [
                    doc for doc in objects if doc["metadata"]["name"] == "checkout-failover-promote-database-orders-db"
                ]
                (suspend,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]
                started = time.monotonic()
                # as the kubelet runs them: the init container (kubectl suspends the DR copy), then the promote
                subprocess.run(suspend["command"], env=env, check=True, timeout=30)
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
                took = time.monotonic() - started
                assert done.returncode == 0, done.stderr
                assert (bin_dir / "kubectl.log").read_text() == (
                    '--namespace=shop patch cronjob/checkout-orders-db-dr-copy --type=merge --patch={"spec":{"suspend":true}}\n'
                )
                assert standby.psql("SELECT pg_is_in_recovery()") == "f"
                ids = ",".join(str(row) for row, _ in writer.committed)
                present = int(standby.psql(f"SELECT count(*) FROM orders WHERE id IN ({ids})"))
                print(
                    f"\npromote CronJob's command: {took:.2f}s (budget {promote_budget:.0f}s);"
                    f" {len(writer.committed) - present} of {len(writer.committed)} committed rows lost"
                )
                assert all(at > outage - 1 for _, at in writer.committed[present:])
                standby.psql("INSERT INTO orders (note) VALUES ('after the failover')")
                assert took <= promote_budget
