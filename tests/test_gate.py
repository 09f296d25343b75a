"""`validate` is the whole gate: whatever would make `gen` fail for a spec reason fails
`validate` first, every problem in one run, at the line to edit."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from obskit.cli import main
from obskit.generate.tree import PartFiles, tree_files
from obskit.pipeline import load_plan, validate
from obskit.spec.problems import SpecInvalid
from obskit.spec.promql import Selector
from obskit.spec.series import event_series, holds, satisfying_labels
from tests.conftest import MINIMAL

BACKUP_ENV = "    labels: {env: prod}\n    walg: {prefix: 's3://b/p', credentials_secret: s, image: r/w:1}\n    pushgateway: 'http://pg:9091'\n"
BIG_DATASTORE = (
    "    backup:\n      velero: false\n      datastores:\n        db: {engine: postgres, method: wal-g, size: 2Ti}\n"
)


def gate(path: Path) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate(path)
    root = str(path.parent) + os.sep
    return [str(problem).replace(root, "") for problem in caught.value.problems]


def with_slo(errors: str, total: str) -> str:
    return MINIMAL + f"    slos:\n      availability:\n        errors: '{errors}'\n        total: '{total}'\n"


def test_an_sli_whose_errors_are_its_total_is_refused(write_spec: Callable[..., Path]) -> None:
    path = write_spec(with_slo("http_requests_total", "http_requests_total"))
    assert gate(path) == [
        "obskit.yaml:16: services.checkout.slos.availability.errors: is the same selector as 'total': "
        "every event would be an error"
    ]


def test_an_sli_where_nothing_can_succeed_is_refused(write_spec: Callable[..., Path]) -> None:
    path = write_spec(with_slo('http_requests_total{code=~".*"}', "http_requests_total"))
    (problem,) = gate(path)
    assert problem.startswith("obskit.yaml:16: services.checkout.slos.availability.errors: every series that")


def test_a_regex_re2_accepts_and_python_cannot_build_is_refused(write_spec: Callable[..., Path]) -> None:
    path = write_spec(with_slo('http_requests_total{code=~"\\\\pN.."}', "http_requests_total"))
    (problem,) = gate(path)
    assert problem.startswith("obskit.yaml:16: services.checkout.slos.availability.errors: cannot build a label value")
    assert "[0-9] instead of" in problem


NEGATIVE_SLOS = """\
    slos:
      grpc:
        errors: 'grpc_server_handled_total{job="checkout",grpc_code!="OK"}'
        total: 'grpc_server_handled_total{job="checkout"}'
      jobs: {objective: 99, errors: 'jobs_total{result!="success"}', total: 'jobs_total'}
      http: {objective: 99.5, errors: 'http_requests_total{code!~"2..|3.."}', total: 'http_requests_total'}
"""


@pytest.mark.tools("promtool")
def test_an_sli_with_a_negative_matcher_validates_generates_and_passes_its_tests(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """The success series takes the value the negative matcher excludes: grpc_code="OK", a 200."""
    path = write_spec(MINIMAL + NEGATIVE_SLOS)
    out = tmp_path / "out"
    runner = CliRunner()
    validated = runner.invoke(main, ["validate", "--spec", str(path)])
    assert validated.exit_code == 0, validated.output
    generated = runner.invoke(main, ["gen", "--env", "prod", "--spec", str(path), "--out", str(out)])
    assert generated.exit_code == 0, generated.output
    tests = (out / "prometheus/tests/checkout.test.yaml").read_text()
    assert 'series: grpc_server_handled_total{grpc_code="OK",job="checkout"}' in tests
    assert 'series: http_requests_total{code="200"}' in tests
    tested = runner.invoke(main, ["test", "--env", "prod", "--out", str(out)])
    assert tested.exit_code == 0, tested.output


@given(
    excluded=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=4), max_size=6),
    regex=st.booleans(),
)
def test_a_success_series_violates_any_negative_matcher(excluded: list[str], regex: bool) -> None:
    """Whatever the errors exclude (values, or an alternation of them as a regex), the error
    series takes none of them and the success series one."""
    if regex:
        matchers = (("code", "!~", "|".join(map(re.escape, excluded)) or "x"),)
    else:
        matchers = tuple(("code", "!=", value) for value in excluded) or (("code", "!=", "x"),)
    job = (("job", "=", "a"),)
    event_series(Selector("m", (*job, *matchers)), Selector("m", job))  # no SeriesError
    error_code = satisfying_labels((*job, *matchers)).get("code", "")
    success_code = satisfying_labels(job, violate=matchers[0]).get("code", "")
    assert all(holds(matcher, error_code) for matcher in matchers)
    assert not holds(matchers[0], success_code)


@pytest.mark.parametrize(
    ("errors", "total", "message", "hint"),
    [
        ('x{code!="200"}', 'x{code="500"}', "every series that", False),
        ('x{code=~"\\\\pN.."}', "x", "cannot build a label value", True),
        ('x{code!~"\\\\pN.."}', "x", "cannot read the regex", True),
    ],
)
def test_the_re2_hint_is_given_only_for_a_regex_python_cannot_follow(
    write_spec: Callable[..., Path], errors: str, total: str, message: str, hint: bool
) -> None:
    (problem,) = gate(write_spec(with_slo(errors, total)))
    assert problem.startswith(f"obskit.yaml:16: services.checkout.slos.availability.errors: {message}"), problem
    assert ("RE2" in problem) == hint, problem


@pytest.mark.parametrize("name", ["overview", "dr", "slo"])
def test_a_service_named_like_an_environment_dashboard_is_fine(write_spec: Callable[..., Path], name: str) -> None:
    """Dashboards are the environment's, not a service's: no name of a service can collide with them."""
    validate(write_spec(MINIMAL.replace("  checkout:", f"  {name}:")))


def test_dr_infeasibility_names_the_datastore_line(write_spec: Callable[..., Path]) -> None:
    path = write_spec(MINIMAL.replace("    labels: {env: prod}\n", BACKUP_ENV) + BIG_DATASTORE)
    (problem,) = gate(path)
    assert problem.startswith(
        "obskit.yaml:19: services.checkout.backup.datastores.db: prod: checkout/db: restoring 2Ti"
    )


def test_spec_and_plan_problems_come_together_sorted(write_spec: Callable[..., Path]) -> None:
    broken = "\n  broken:\n    namespace: Shop\n    tier: tier1_critical\n    team: t\n    selector: {a: b}\n"
    broken += "    metrics: {port: http}\n"
    path = write_spec(MINIMAL.replace("    labels: {env: prod}\n", BACKUP_ENV) + BIG_DATASTORE + broken)
    problems = gate(path)
    assert [p.split(":")[1] for p in problems] == ["19", "22"]
    assert "services.checkout.backup.datastores.db" in problems[0] and "services.broken.namespace" in problems[1]


def test_gen_reports_what_validate_reports_and_writes_nothing(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    path = write_spec(with_slo("http_requests_total", "http_requests_total"))
    out = tmp_path / "out"
    validated = CliRunner().invoke(main, ["validate", "--spec", str(path)])
    generated = CliRunner().invoke(main, ["gen", "--env", "prod", "--spec", str(path), "--out", str(out)])
    assert validated.exit_code == generated.exit_code == 2
    assert "Traceback" not in generated.output and not out.exists()
    assert validated.output.splitlines()[1:] == generated.output.splitlines()[1:]


def test_every_generated_path_is_written_once(write_spec: Callable[..., Path]) -> None:
    plan = load_plan(write_spec(MINIMAL), "prod")
    twice = PartFiles(objects={"a.yaml": "x"})
    with pytest.raises(ValueError, match=r"two outputs write a\.yaml"):
        list(tree_files(plan, [twice, PartFiles(files={"a.yaml": "y"})]))


def test_suggestions_name_the_closest_known_value(write_spec: Callable[..., Path]) -> None:
    text = MINIMAL.replace("tier1_critical", "tier1_critcal").replace(
        "    team: payments\n", "    team: payments\n    namespce: x\n"
    )
    text = text.replace(
        "    labels: {env: prod}\n", "    labels: {env: prod}\n    services:\n      chekout: {team: t}\n"
    )
    problems = gate(write_spec(text + "    backup: {volumes: snapshots}\n"))
    assert [p.split("; ")[-1] for p in problems] == [
        "did you mean 'checkout'?",
        "did you mean 'tier1_critical'?",
        "did you mean 'namespace'?",
        "did you mean 'snapshot'?",
    ]


def test_an_unknown_environment_suggests_the_closest(write_spec: Callable[..., Path]) -> None:
    result = CliRunner().invoke(main, ["gen", "--env", "prd", "--spec", str(write_spec(MINIMAL))])
    assert result.exit_code == 2
    assert "unknown environment 'prd'; the spec defines: prod; did you mean 'prod'?" in result.output


NULL_OVERRIDES = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
environments:
  prod:
    labels: {env: prod}
    velero: {namespace: velero, storage_location: default}
    walg: {prefix: "s3://b/prod", credentials_secret: s, image: r/w:1}
    pushgateway: "http://pg:9091"
  staging:
    labels: {env: staging}
    services:
      checkout:
        slos: {latency: null}
        backup: null
      other: null
services:
  checkout:
    namespace: shop
    tier: tier1_critical
    team: payments
    selector: {app: checkout}
    metrics: {port: http-metrics}
    slos:
      availability:
        errors: 'http_requests_total{code=~"5.."}'
        total: 'http_requests_total'
      latency:
        latency: {histogram: 'http_request_duration_seconds', threshold: 300ms}
    backup:
      datastores:
        db: {engine: postgres, method: wal-g, size: 20Gi}
  other:
    namespace: shop
    tier: tier2_standard
    team: t
    selector: {a: b}
    metrics: {port: http}
"""


def test_null_in_an_override_removes_a_field_an_entry_or_the_service(write_spec: Callable[..., Path]) -> None:
    path = write_spec(NULL_OVERRIDES)
    validate(path)  # staging needs no backup settings once its services have no backups
    prod, staging = load_plan(path, "prod"), load_plan(path, "staging")
    assert [s.name for s in prod.services] == ["checkout", "other"]
    assert [slo.name for slo in prod.services[0].slos] == ["availability", "latency"]
    assert [s.name for s in staging.services] == ["checkout"]
    (checkout,) = staging.services
    assert [slo.name for slo in checkout.slos] == ["availability"]
    assert checkout.velero is None and checkout.datastores == ()


def test_null_removes_one_datastore(write_spec: Callable[..., Path]) -> None:
    text = NULL_OVERRIDES.replace("        backup: null\n", "        backup: {datastores: {db: null}}\n")
    text = text.replace(
        "    labels: {env: staging}\n", "    labels: {env: staging}\n    velero: {namespace: v, storage_location: d}\n"
    )
    staging = load_plan(write_spec(text), "staging")
    assert staging.services[0].datastores == () and staging.services[0].velero is not None


def test_null_outside_an_override_is_still_an_error(write_spec: Callable[..., Path]) -> None:
    problems = gate(write_spec(MINIMAL.replace("    team: payments\n", "    team: null\n")))
    assert problems == ["obskit.yaml:11: services.checkout.team: must have a value, got null"]
