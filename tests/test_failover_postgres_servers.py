"""The generated DR standby settings and promote pod against real PostgreSQL 15: a standby started with
the example's `postgresql-standby.conf` (stream_from pointed at a local primary) streams from the
primary; the promote pod's command, run with its env (Secrets resolved, the Service name pointed at the
standby) and its files ConfigMap where it mounts it, suspends the DR copy CronJob through kubectl, then
promotes the standby, which holds the rows written before the primary stopped. kubectl is a stand-in
that records its arguments (no cluster here); WAL-G is cp, as in test_failover_standby.py."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from obskit.engines.postgres_walg.failover import WalgFailover
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES
from tests.servers import PG_BIN, as_postgres, postgres, postgres_workdir, wait_for
from tests.test_failover_postgres import checkout
from tests.test_failover_standby import Writer, build_standby, postgres_dir, standby_from

KUBECTL = """#!/bin/sh
printf "%s\n" "$*" >> "$(dirname "$0")/kubectl.log"
"""


def generated(spec_dir: Path, primary_port: int) -> tuple[WalgFailover, dict[str, str], dict]:
    """The example's failover with stream_from at the local primary: (failover, standby settings, pod)."""
    for path in EXAMPLES.glob("*.yaml"):
        shutil.copy(path, spec_dir / path.name)
    payments = spec_dir / "payments.yaml"
    text = payments.read_text()
    address = "orders-db.shop.us-east-1.example.internal:5432"
    assert address in text
    payments.write_text(text.replace(address, f"127.0.0.1:{primary_port}"))
    plan = load_plan(spec_dir, "prod")
    service_plan, failover = checkout(plan)
    files = next(doc for doc in failover.objects(plan, service_plan) if doc["metadata"]["name"].endswith("dr-files"))
    settings = {}
    for line in files["data"]["postgresql-standby.conf"].splitlines():
        if line and not line.startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            settings[name] = value.strip("'")
    pod = failover.promote_pod(plan, service_plan, "image")
    return failover, settings, {"pod": pod, "files": files["data"]}


@pytest.mark.servers
@pytest.mark.tools("postgresql")
@pytest.mark.timeout(300)
def test_the_generated_standby_streams_and_the_promote_pod_promotes_it(tmp_path: Path) -> None:
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
            failover, settings, generated_pod = generated(tmp_path, primary.port)
            assert settings["primary_conninfo"] == (
                f"host=127.0.0.1 port={primary.port} application_name=checkout-orders-db-dr"
            )
            base, local = build_standby(primary, workdir, store)
            # the generated settings, with wal-g-env's wal-fetch and wal-push as cp on the local store
            settings["restore_command"] = local["restore_command"]
            settings["archive_command"] = local["archive_command"]
            with standby_from(base, workdir / "standby", settings) as standby:
                wait_for(
                    "the standby to stream",
                    lambda: standby.psql("SELECT status FROM pg_stat_wal_receiver") == "streaming",
                    60,
                )
                assert primary.psql("SELECT application_name FROM pg_stat_replication") == "checkout-orders-db-dr"
                with Writer(primary) as writer:
                    time.sleep(5)
                    row, committed = writer.committed[-1]
                    wait_for(
                        f"row {row} on the standby",
                        lambda: standby.psql(f"SELECT count(*) FROM orders WHERE id = {row}") == "1",
                        10,
                        interval=0.05,
                    )
                    streamed = time.time() - committed
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
                print(f"a row reached the streaming standby {streamed:.2f}s after its commit")
                assert streamed < 2
                # the promote pod: its files where it mounts them, kubectl a recorder, its env with the
                # Secret's keys and the Service name pointed at the standby
                pod = generated_pod["pod"]
                files = tmp_path / "opt-obskit"
                files.mkdir()
                for name, content in generated_pod["files"].items():
                    (files / name).write_text(content)
                bin_dir = tmp_path / "bin"
                bin_dir.mkdir()
                (bin_dir / "kubectl").write_text(KUBECTL)
                (bin_dir / "kubectl").chmod(0o755)
                (container,) = pod["containers"]
                secret = {"PGUSER": "postgres", "PGPASSWORD": "unused"}
                env = {"PATH": f"{bin_dir}:{PG_BIN}:/usr/bin:/bin"}
                for each in container["env"]:
                    env[each["name"]] = each.get("value") or secret[each["valueFrom"]["secretKeyRef"]["key"]]
                assert env["PGHOST"] == "orders-db"
                env |= {"PGHOST": "127.0.0.1", "PGPORT": str(standby.port)}
                (suspend,) = pod["initContainers"]  # runs first, as Kubernetes runs init containers
                started = time.monotonic()
                subprocess.run(suspend["command"], env=env, check=True, timeout=30)
                command = [part.replace("/opt/obskit", str(files)) for part in container["command"]]
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
                took = time.monotonic() - started
                print(done.stderr)
                assert done.returncode == 0, done.stderr
                assert (bin_dir / "kubectl.log").read_text() == (
                    '--namespace=shop patch cronjob/checkout-orders-db-dr-copy --type=merge --patch={"spec":{"suspend":true}}\n'
                )
                assert "not fenced (unreachable or refused)" in done.stderr  # the primary is down
                assert standby.psql("SELECT pg_is_in_recovery()") == "f"
                ids = ",".join(str(r) for r, _ in writer.committed)
                present = int(standby.psql(f"SELECT count(*) FROM orders WHERE id IN ({ids})"))
                lost = len(writer.committed) - present
                print(f"promote pod took {took:.2f}s; of {len(writer.committed)} committed rows {lost} lost")
                # asynchronous streaming: at most the commits of the last moment before the outage
                assert all(at > outage - 1 for r, at in writer.committed[present:])
                standby.psql("INSERT INTO orders (note) VALUES ('after the failover')")
                assert failover.dr_loss.ms == 300_000  # the RPO: StandbyReplayBehind guards it
