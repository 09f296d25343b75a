"""The failover part of the spec (obskit/spec/failover.py) and its plan (obskit/plan/failover.py):
each step's budget against the RTO, and every refusal at the line to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obskit.pipeline import load_plan, validate
from obskit.plan.report import plan_data, plan_table
from obskit.spec.problems import SpecInvalid
from tests.conftest import EXAMPLES


def _problems(spec: Path) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate(spec)
    return [str(problem).replace(str(spec) + "/", "") for problem in caught.value.problems]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    return spec


def _edit(spec: Path, file: str, old: str, new: str) -> None:
    path = spec / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


STEPS = """        - {name: detect}
        - {name: promote_database, duration: 2m}
        - {name: update_dns}     # budget: ttl + propagation
        - {name: scale_dr, duration: 3m, replicas: 3}
"""


def test_the_examples_steps_each_get_a_budget_that_sums_within_the_rto() -> None:
    plan = load_plan(EXAMPLES, "prod")
    checkout = next(service for service in plan.services if service.name == "checkout")
    failover = checkout.failover
    assert failover is not None
    budgets = {step.name: str(step.budget) for step in failover.steps}
    # detect: 3 x 30s of failed probes, 30s to the first, the 10s probe timeout, tier1's 15s
    # evaluation and the page's 30s group_wait
    assert budgets == {"detect": "2m55s", "promote_database": "2m", "update_dns": "2m", "scale_dr": "3m"}
    assert str(failover.total) == "9m55s" and str(failover.rto) == "15m"
    assert [(probe.name, probe.region, str(probe.unhealthy_after)) for probe in failover.probes] == [
        ("checkout-health-0", "us-east-1", "1m30s"),
        ("checkout-health-1", "us-west-2", "1m30s"),
    ]
    assert [service.failover for service in load_plan(EXAMPLES, "staging").services] == [None, None, None, None]


def test_obskit_plan_shows_each_step_and_the_total() -> None:
    text = plan_table(plan_data(load_plan(EXAMPLES, "prod")))
    assert "failover of checkout (us-east-1 -> us-west-2):" in text
    assert "  update_dns        2m      TTL 1m + 1m propagation (default)" in text
    assert "  total             9m55s   of the RTO 15m: ok" in text


def test_a_failover_over_the_rto_is_refused_with_each_steps_share(example: Path) -> None:
    _edit(
        example,
        "payments.yaml",
        "{name: scale_dr, duration: 3m, replicas: 3}",
        "{name: scale_dr, duration: 10m, replicas: 3}",
    )
    assert _problems(example) == [
        "payments.yaml:39: services.checkout.failover: prod: checkout: the failover takes up to 16m55s (detect 2m55s, "
        "promote_database 2m, update_dns 2m, scale_dr 10m) against an RTO of 15m: shorten scale_dr (measured), "
        "measure the steps that use defaults, or choose a tier with a longer RTO (`obskit plan --env prod` shows the numbers)"
    ]


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (STEPS.replace("{name: detect}", "{name: update_dns, automated: false}"),
         "payments.yaml:45: services.checkout.failover.steps[0].name: the first step must be 'detect' (obskit's alert), got 'update_dns'"),
        (STEPS + "        - {name: update_dns}\n",
         "payments.yaml:49: services.checkout.failover.steps[4].name: step 'update_dns' is named twice"),
        (STEPS + "        - {name: call_vendor}\n",
         "payments.yaml:49: services.checkout.failover.steps[4].automated: 'call_vendor' is a step of your own, which obskit "
         "cannot run: set `automated: false` and its measured `duration` (obskit runs promote_database, update_dns, scale_dr)"),
        (STEPS + "        - {name: call_vendor, automated: false}\n",
         "payments.yaml:49: services.checkout.failover.steps[4].duration: required field is missing: a step done by hand "
         "needs its measured duration"),
        (STEPS.replace("duration: 3m, replicas: 3", "duration: 3m"),
         "payments.yaml:48: services.checkout.failover.steps[3].replicas: required field is missing: how many replicas "
         "the DR region runs"),
        (STEPS.replace("{name: update_dns}", "{name: update_dns, replicas: 2}"),
         "payments.yaml:47: services.checkout.failover.steps[2].replicas: is a field of the 'scale_dr' step only"),
        (STEPS.replace("        - {name: promote_database, duration: 2m}\n", ""),
         "payments.yaml:44: services.checkout.failover.steps: the service has datastores: add a 'promote_database' step "
         "before traffic moves (environment prod)"),
        (STEPS.replace("Scale", "x").replace("- {name: scale_dr", "- {name: Scale_dr"),
         "payments.yaml:48: services.checkout.failover.steps[3].name: 'Scale_dr' is not a step name (lowercase letters, "
         "digits and '_', starting with a letter)"),
    ],
)  # fmt: skip
def test_steps_are_checked_at_their_line(example: Path, steps: str, problem: str) -> None:
    _edit(example, "payments.yaml", STEPS, steps)
    assert problem in _problems(example)


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("platform.yaml", "      image: \"registry.example.com/obskit-failover:1\"\n", "",
         "payments.yaml:46: services.checkout.failover.steps[1].automated: the environment's failover has no `image` for "
         "the step Jobs: set it, or do the step by hand (environment prod)"),
        ("platform.yaml", "      dns:\n", "      dnsx:\n",
         "platform.yaml:41: environments.prod.failover.dnsx: unknown field 'dnsx'; did you mean 'dns'?"),
        ("platform.yaml", "      walg: {prefix: \"s3://acme-pg-backups-dr/prod\"}   # the DR region's replica of walg.prefix\n", "",
         "payments.yaml:30: services.checkout.backup.datastores.orders-db: the environment's failover has no `walg` "
         "section: where the DR copy of this datastore's wal-g backups is (environment prod)"),
        ("payments.yaml", "interval: 30s, unhealthy_threshold: 3, region: us-west-2}", "region: eu-west-1}",
         "payments.yaml:42: services.checkout.failover.health_checks[1].region: 'eu-west-1' is neither the primary region "
         "'us-east-1' nor the DR region 'us-west-2' (environment prod)"),
        ("payments.yaml", "dr_target: 203.0.113.20", "dr_target: 'not a host!'",
         "payments.yaml:43: services.checkout.failover.dns.dr_target: 'not a host!' is neither an IP address nor a host name"),
        ("platform.yaml", "      rfc2136: {server:", "      external_dns: {namespace: dns}\n        rfc2136: {server:",
         "platform.yaml:41: environments.prod.failover.dns: give exactly one of rfc2136 and external_dns; found "
         "external_dns, rfc2136"),
    ],
)  # fmt: skip
def test_what_a_failover_needs_of_its_environment_is_checked(
    example: Path, file: str, old: str, new: str, problem: str
) -> None:
    _edit(example, file, old, new)
    found = _problems(example)
    assert any(line.startswith(problem) for line in found), found


def test_a_service_failing_over_where_the_environment_has_no_failover_is_refused(example: Path) -> None:
    _edit(example, "platform.yaml", "checkout: {tier: tier3_low, failover: null}", "checkout: {tier: tier3_low}")
    assert (
        "payments.yaml:39: services.checkout.failover: the environment has no `failover` section: add its regions and "
        "prober (environment staging)"
    ) in _problems(example)


def test_datastores_whose_engine_keeps_no_dr_copy_cannot_fail_over(example: Path) -> None:
    _edit(example, "catalog.yaml", "  search-indexer:\n", "  search-indexer:\n" + _FAILOVER)
    found = _problems(example)
    assert any("services.search-indexer.backup.datastores.index-db: mongodb datastores cannot fail over yet" in line
               for line in found), found  # fmt: skip


_FAILOVER = """    failover:
      health_checks: [{endpoint: "https://search.example.com/health"}]
      dns: {name: search.example.com, dr_target: search-dr.example.com}
      steps: [{name: detect}, {name: promote_database}, {name: update_dns}]
"""
