"""`obskit test` runs promtool once per shape: services whose files are the same up to their names.
These tests hold the equivalence to what makes it sound, and show that a service differing in
anything but its names is tested itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.synthetic import write_spec
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.verify import objects, shapes
from obskit.verify.tree import _same_groups_text, check_tree

P = shapes.placeholder


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree of six synthetic services of one tier (the cheapest for promtool)."""
    root = tmp_path_factory.mktemp("six")
    spec = write_spec(root / "spec", 6)
    team = spec / "team-000.yaml"
    team.write_text(team.read_text().replace("tier1_critical", "tier3_low").replace("tier2_standard", "tier3_low"))
    write(root / "out", output_tree(load_plan(spec, "prod")))
    return root / "out"


def _copy(tree: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write(out, {path.relative_to(tree).as_posix(): path.read_text() for path in tree.rglob("*") if path.is_file()})
    return out


def test_services_that_differ_only_in_their_names_share_a_shape(six: Path) -> None:
    found = shapes.shapes(six, shapes.units(six))
    services = tuple(f"svc-0000{i}" for i in range(6))
    assert [(shape.unit.service, shape.services) for shape in found.found] == [("svc-00000", services)]
    assert found.alone == {}
    assert found.names["svc-00004"] == ["svc-00004", "team-000", "team-000"]


def test_obskit_test_reports_how_many_services_each_run_covered(six: Path) -> None:
    report = check_tree(six)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks)
    titles = {c.title.split(" (")[0]: c for c in report.checks}
    assert "6 services of 1 shape)" in titles["promtool test rules"].title
    assert "svc-00000: 6 services of one shape (svc-00001, svc-00002, svc-00003, ... renamed)" in (
        titles["promtool test rules"].details
    )
    assert "(51 objects; 11 checked, one per shape)" in titles["objects pass their models and schemas"].title


def test_a_service_that_differs_beyond_its_names_is_tested_itself(six: Path, tmp_path: Path) -> None:
    out = _copy(six, tmp_path)
    member = out / "prometheus/rulefiles/svc-00003.rules.yaml"  # not the one promtool ran for its shape
    text = member.read_text()
    assert "> 0.072\n" in text
    member.write_text(text.replace("> 0.072\n", "> 0.72\n", 1))
    report = check_tree(out)
    failed = {c.title.split(" (")[0]: c for c in report.checks if not c.ok}
    assert set(failed) == {"promtool test rules", "PrometheusRules match the plain rule files"}
    assert "svc-00003" in failed["promtool test rules"].details
    assert "6 services of 2 shapes" in failed["promtool test rules"].title


def test_an_object_that_differs_beyond_names_and_schedules_is_checked_itself(six: Path, tmp_path: Path) -> None:
    out = _copy(six, tmp_path)
    member = out / "prometheus/servicemonitors/svc-00004.yaml"
    text = member.read_text()
    assert "- interval: 1m" in text
    member.write_text(text.replace("- interval: 1m", "- interval: 1 minute"))
    failed = [c for c in check_tree(out).checks if not c.ok]
    assert [c.title.split(" (")[0] for c in failed] == ["objects pass their models and schemas"]
    assert failed[0].details.startswith("prometheus/servicemonitors/svc-00004.yaml: ")


RULES = """\
groups:
- name: obskit/{s}/slo
  rules:
  - alert: Down
    expr: up{{job="{s}"}} == 0
    labels: {{service: {s}, team: {t}}}
    annotations: {{description: "{s} is down ({{{{ $labels.job }}}})"}}
"""
TESTS = """\
rule_files: [../rulefiles/{s}.rules.yaml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - {{series: 'up{{job="{s}"}}', values: '0x5'}}
  alert_rule_test:
  - eval_time: 5m
    alertname: Down
    exp_alerts:
    - exp_labels: {{job: {s}, service: {s}, team: {t}}}
      exp_annotations: {{description: "{s} is down ({s})"}}
"""
UNIT = shapes.Unit(P(0), f"prometheus/rulefiles/{P(0)}.rules.yaml", (f"prometheus/tests/{P(0)}.test.yaml",))


def _audit(rules: str = RULES, tests: str = TESTS) -> str | None:
    return shapes.unsound(UNIT, [rules.format(s=P(0), t=P(2)), tests.format(s=P(0), t=P(2))])


def test_names_only_in_label_values_literal_text_and_group_names_are_sound() -> None:
    assert _audit() is None


@pytest.mark.parametrize(
    ("rules", "tests", "why"),
    [
        # a regex reads the renamed job label: svc-1 matches ".*1", svc-2 does not
        (RULES.replace('up{{job="{s}"}}', 'up{{job=~".*1"}}'), TESTS, "a regex matcher reads label job"),
        (RULES.replace('up{{job="{s}"}} == 0', 'label_replace(up, "x", "$1", "job", "(.*)") == 0'), TESTS, "reads"),
        (RULES.replace('up{{job="{s}"}} == 0', "topk(1, up) == 0"), TESTS, "breaks ties by labels"),
        (RULES.replace("$labels.job", "$labels.job | toUpper"), TESTS, "reads labels"),
        (RULES.replace("$labels.job", "query `up`"), TESTS, "reads labels"),
        (RULES.replace('up{{job="{s}"}}', "{s}_up"), TESTS, ""),  # a name in a metric name
        (RULES.replace("alert: Down", "alert: Down{s}"), TESTS, "a renamed name"),
        (RULES, TESTS.replace("eval_time: 5m", "eval_time: '{s}'"), "a renamed name"),
        (RULES, TESTS.replace("evaluation_interval: 1m", "evaluation_interval: 1m\nunknown: 1"), "fields beyond"),
        (RULES, TESTS.replace("../rulefiles/{s}.rules.yaml", "../rulefiles/other.rules.yaml"), "rule files other"),
    ],
    ids=[
        "regex",
        "label_replace",
        "topk",
        "template-function",
        "query",
        "metric-name",
        "alertname",
        "eval-time",
        "unknown-field",
        "other-rule-file",
    ],
)
def test_a_name_where_renaming_could_change_the_outcome_is_unsound(rules: str, tests: str, why: str) -> None:
    reason = _audit(rules, tests)
    assert reason is not None and why in reason


def test_names_that_read_as_yaml_or_promql_syntax_are_not_renamed() -> None:
    assert shapes.canonical(["a"], ["checkout", "shop", "payments"]) is not None
    for unfit in (["yes"], ["on"], ["1234"], ["a"], ["checkout", "Shop"], ["checkout", 'sh"op']):
        assert shapes.canonical(["text"], unfit) is None, unfit
    assert shapes.canonical([f"text {shapes.MARK}"], ["checkout"]) is None  # could be mistaken for a placeholder


def test_the_renaming_is_one_to_one_and_longest_names_first() -> None:
    text = shapes.canonical(["payments-api in payments, team payments-api-team"], ["payments-api", "payments", ""])
    assert text == f"{P(0)} in {P(1)}, team {P(0)}-team"
    assert shapes.canonical(["x"], ["shop", "shop", "shop"]) == "x"
    assert shapes.canonical(["shop"], ["shop", "shop", "ops"]) == P(0)


def test_only_whole_schedule_values_are_renamed_as_schedules() -> None:
    text = "spec:\n  schedule: 5 5 * * *\n  note: runs at 15 5 * * *\n"
    assert shapes.schedules(text) == ["5 5 * * *"]
    canonical = shapes.canonical([text], ["svc", "", "", "5 5 * * *"])
    assert canonical is not None and not shapes.crons_only_scheduled(canonical, range(3, 4))
    assert shapes.crons_only_scheduled(
        shapes.canonical(["  schedule: 5 5 * * *\n"], ["svc", "", "", "5 5 * * *"]) or "", range(3, 4)
    )


def test_an_object_is_renaming_safe_only_where_its_schema_asks_nothing_of_a_string(six: Path) -> None:
    monitor = yaml.safe_load((six / "prometheus/servicemonitors/svc-00000.yaml").read_text().replace("svc-00000", P(0)))
    assert objects.renaming_safe(monitor, shapes.MARK)
    monitor["spec"]["endpoints"][0]["interval"] = P(3)  # a duration pattern
    assert not objects.renaming_safe(monitor, shapes.MARK)
    monitor["spec"]["endpoints"][0]["interval"] = "15s"
    monitor["metadata"]["labels"][P(0)] = "x"  # a renamed key
    assert not objects.renaming_safe(monitor, shapes.MARK)


def test_the_prometheusrule_is_compared_as_text_and_otherwise_parsed(six: Path, tmp_path: Path) -> None:
    crd = (six / "prometheus/rules/svc-00000.yaml").read_text()
    plain = (six / "prometheus/rulefiles/svc-00000.rules.yaml").read_text()
    assert _same_groups_text(crd, plain)
    assert not _same_groups_text(crd, plain.replace("> 0.072\n", "> 0.72\n", 1))
    out = _copy(six, tmp_path)
    reformatted = yaml.safe_dump(yaml.safe_load(crd), width=60)  # same groups, other text
    (out / "prometheus/rules/svc-00000.yaml").write_text(reformatted)
    assert not _same_groups_text(reformatted, plain)
    same = [c for c in check_tree(out).checks if c.title.startswith("PrometheusRules match")]
    assert same[0].ok
