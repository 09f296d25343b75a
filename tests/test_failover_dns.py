"""obskit/jobs/failover_dns.py against a real bind9 named: the DNS step of a failover."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.regions import DNS_STEP, NAME, REGIONS, Named, named, run_step, tsig_key_file
from tests.servers import free_port

pytestmark = [pytest.mark.servers, pytest.mark.tools("named", "dig", "nsupdate")]

PRIMARY, DR = REGIONS["us-east-1"], REGIONS["us-west-2"]


def test_named_answers_the_primary_with_ttl_60(tmp_path: Path) -> None:
    with named(tmp_path) as server:
        assert server.answer(NAME) == [(60, PRIMARY)]


def test_the_step_flips_the_record_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    with named(tmp_path) as server:
        serial = server.serial()
        began = time.monotonic()
        first = run_step(server)
        wall = time.monotonic() - began
        assert first.returncode == 0, first.stderr
        assert server.answer(NAME) == [(60, DR)]
        assert server.serial() == serial + 1
        print(f"\nDNS step wall time (python + dig + nsupdate + dig): {wall:.3f}s\n{first.stdout}")

        second = run_step(server)
        assert second.returncode == 0, second.stderr
        assert "nothing sent" in second.stdout
        assert server.serial() == serial + 1

        back = run_step(server, address=PRIMARY)  # failing back is the same step
        assert back.returncode == 0, back.stderr
        assert server.answer(NAME) == [(60, PRIMARY)]


def test_a_wrong_key_is_refused_with_the_servers_reason(tmp_path: Path) -> None:
    with named(tmp_path) as server:
        wrong = tsig_key_file(tmp_path / "wrong.key")  # the right name, another secret
        result = run_step(server, key_file=wrong)
        assert result.returncode == 1
        assert "failed" in result.stderr and "BADSIG" in result.stderr + result.stdout, result.stderr
        assert server.answer(NAME) == [(60, PRIMARY)]
        secret = wrong.read_text().split('"')[3]
        assert secret not in result.stdout + result.stderr


def test_a_server_that_never_answers_the_new_address_times_out(tmp_path: Path) -> None:
    # a second authoritative server holding its own copy of the zone: it never hears the update
    with named(tmp_path / "primary") as server, named(tmp_path / "stale", updates=False) as stale:
        result = run_step(server, "--check-server", server.server, "--check-server", stale.server, "--timeout", "3")
        assert result.returncode == 3
        assert server.answer(NAME) == [(60, DR)]
        assert f"timed out after 3s: {stale.server} still answers {NAME}. A: {PRIMARY} (TTL 60)" in result.stderr
        assert server.server not in result.stderr


def test_an_unreachable_server_fails_the_update(tmp_path: Path) -> None:
    key = tsig_key_file(tmp_path / "tsig.key")
    nobody = Named("127.0.0.1", free_port(), key, tmp_path)
    result = run_step(nobody, "--timeout", "2")
    assert result.returncode == 1
    assert "failed" in result.stderr


def test_a_name_outside_the_zone_is_a_usage_error(tmp_path: Path) -> None:
    nobody = Named("127.0.0.1", 53, tsig_key_file(tmp_path / "k"), tmp_path)
    args = ["--server", nobody.server, "--zone", "example.org", "--name", NAME, "--address", DR, "--ttl", "60"]
    result = subprocess.run(
        [sys.executable, str(DNS_STEP), *args, "--key-file", str(nobody.key_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "is not inside --zone example.org" in result.stderr
