"""Hostile text in the spec's fields: each value either is refused at validation (FILE:LINE:
field: message) or reaches PromQL, Alertmanager matchers, Go templates and Markdown escaped by
obskit/output/escape.py, so that what it selects, routes or shows is exactly the value."""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.output import escape
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.verify.tree import check_tree
from tests.conftest import MINIMAL, problems_of

INJECTION = 'x"} or vector(1) or up{job="y'
ENV = "  prod:\n    labels: {env: prod}\n"
ALERTING = """\
    alerting:
      receivers:
        pager: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        chat: {slack: {api_url: {secret: slack, key: url}, channel: "#alerts"}}
      page: pager
      ticket: chat
"""


def _rules(tree: dict[str, str]) -> dict[str, list[dict]]:
    """Every rule of the plain rule files, by alert or record name."""
    found: dict[str, list[dict]] = {}
    for path, text in tree.items():
        if path.startswith("prometheus/rulefiles/"):
            for group in yaml.safe_load(text)["groups"]:
                for rule in group["rules"]:
                    found.setdefault(rule.get("alert") or rule["record"], []).append(rule)
    return found


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found = []

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
            return
        for name in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, name, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for child in getattr(node, "args", None) or ():
            walk(child)

    walk(promql_parser.parse(expr))
    return found


@pytest.mark.tools("promtool", "amtool")
def test_a_job_with_quotes_selects_its_own_series_and_passes_promtool(write_spec, tmp_path: Path) -> None:
    spec = write_spec(MINIMAL.replace("    team: payments\n", f"    team: payments\n    job: '{INJECTION}'\n"))
    plan = load_plan(spec, "prod")
    tree = generate_tree(plan)
    (service_down,) = _rules(tree)["ServiceDown"]
    (selector,) = _selectors(service_down["expr"])
    assert selector.name == "up"
    assert [(m.name, m.value) for m in selector.matchers.matchers] == [("job", INJECTION)]
    out = tmp_path / "out"
    write(out, output_tree(plan))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks if not c.ok)


def test_the_job_is_a_relabeling_replacement_with_its_dollars_doubled(write_spec) -> None:
    spec = write_spec(MINIMAL.replace("    team: payments\n", "    team: pay$1ments\n    job: 'a$1${x}'\n"))
    tree = generate_tree(load_plan(spec, "prod"))
    monitor = yaml.safe_load(tree["prometheus/servicemonitors/checkout.yaml"])
    replacements = {r["targetLabel"]: r["replacement"] for r in monitor["spec"]["endpoints"][0]["relabelings"]}
    assert (replacements["job"], replacements["team"]) == ("a$$1$${x}", "pay$$1ments")


@pytest.mark.parametrize(
    ("where", "field", "value", "message"),
    [
        ("service", "job", "'a{{ $value }}'", "contains '{{', which Prometheus and Alertmanager expand as a template"),
        ("service", "job", '"a\\nb"', "must be printable text on one line"),
        ("service", "team", "'{{ template \"x\" }}'", "contains '{{', which Prometheus and Alertmanager expand"),
        ("env", "labels.env", "'{{ $labels.x }}'", "contains '{{', which Prometheus and Alertmanager expand"),
        ("env", "labels.env", '"prod\\u0000"', "must be printable text on one line"),
        ("env", "labels.env", "'$__interval'", "which Grafana replaces with a variable in the dashboards' queries"),
        ("env", "labels.env", "''", "an empty value: Prometheus drops a label whose value is empty"),
    ],
)
def test_values_that_land_in_go_templates_are_refused(
    write_spec, where: str, field: str, value: str, message: str
) -> None:
    if where == "service":
        text = MINIMAL.replace("    team: payments\n", f"    team: payments\n    {field}: {value}\n")
        text = text.replace("    team: payments\n    team:", "    team:")
        line, path = 11 if field == "team" else 12, f"services.checkout.{field}"
    else:
        text = MINIMAL.replace("labels: {env: prod}", f"labels: {{env: {value}}}")
        line, path = 6, f"environments.prod.{field}"
    (problem,) = problems_of(write_spec(text))
    assert problem.startswith(f"obskit.yaml:{line}: {path}: ") and message in problem, problem


def test_an_empty_alert_label_is_refused_as_prometheus_would_drop_it(write_spec) -> None:
    """Found by the property test: `owner: ''` passed validate, and every generated case expected an
    alert with owner="" which Prometheus never produces (an empty value is no label)."""
    text = MINIMAL + (
        "    slos:\n      availability:\n"
        "        errors: 'http_requests_total{code=~\"5..\"}'\n        total: 'http_requests_total'\n"
        "        alerts:\n"
        "          labels: {owner: ''}\n"
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:19: services.checkout.slos.availability.alerts.labels.owner: an empty value: Prometheus drops "
        "a label whose value is empty, so leave the label out"
    ]


def test_an_slos_alert_labels_and_annotations_hold_no_other_template(write_spec) -> None:
    text = MINIMAL + (
        "    slos:\n      availability:\n"
        "        errors: 'http_requests_total{code=~\"5..\"}'\n        total: 'http_requests_total'\n"
        "        alerts:\n"
        "          labels: {owner: '{{ $value }}'}\n"
        "          annotations: {note: 'see {{ $labels.job }}', other: '{{ query \"up\" }}'}\n"
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:19: services.checkout.slos.availability.alerts.labels.owner: '{{ $value }}' contains '{{', "
        "which Prometheus and Alertmanager expand as a template: remove it (labels and routing values are plain text)",
        "obskit.yaml:20: services.checkout.slos.availability.alerts.annotations.other: '{{ query \"up\" }}': the "
        "only templates allowed are {{ $labels.name }}; write other braces differently",
    ]


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            ('channel: "#alerts"', "channel: '#alerts {{ .CommonLabels }}'"),
            "environments.prod.alerting.receivers.chat.slack.channel: '#alerts {{ .CommonLabels }}' is not a Slack "
            "channel (#name, @user or a channel ID such as C0123ABCD)",
        ),
        (
            (
                'chat: {slack: {api_url: {secret: slack, key: url}, channel: "#alerts"}}',
                "chat: {email: {to: 'a@example.com, {{ .x }}', from: am@example.com, smarthost: 'smtp.example.com:587'}}",
            ),
            "environments.prod.alerting.receivers.chat.email.to: 'a@example.com, {{ .x }}': '{{ .x }}' is not an "
            "email address (a@example.com or Name <a@example.com>)",
        ),
    ],
)
def test_alertmanager_templated_fields_are_refused_unless_plain(
    write_spec, replace: tuple[str, str], message: str
) -> None:
    text = MINIMAL.replace(ENV, ENV + ALERTING.replace(*replace))
    (problem,) = problems_of(write_spec(text))
    assert problem == f"obskit.yaml:10: {message}"


@pytest.mark.tools("promtool", "amtool")
def test_a_team_with_quotes_routes_to_its_own_receivers(write_spec, tmp_path: Path) -> None:
    team = 'pay "ments", \\ ops'
    text = MINIMAL.replace("    team: payments\n", f"    team: '{team}'\n").replace(ENV, ENV + ALERTING)
    text += f"teams:\n  '{team}': {{page: chat}}\n"
    plan = load_plan(write_spec(text), "prod")
    tree = generate_tree(plan)
    config = yaml.safe_load(tree["alertmanager/alertmanager.yaml"])
    (obskit_route,) = config["route"]["routes"]
    assert obskit_route["routes"][0]["matchers"] == [escape.am_matcher("team", "=", team), 'severity="critical"']
    out = tmp_path / "out"
    write(out, output_tree(plan))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks if not c.ok)


def test_runbooks_show_a_team_as_written(write_spec) -> None:
    text = MINIMAL.replace("    team: payments\n", "    team: '<img src=x> [pay](http://evil) *ops*'\n")
    tree = generate_tree(load_plan(write_spec(text), "prod"))
    runbook = tree["runbooks/checkout.md"]
    assert "team \\<img src=x\\> \\[pay\\](http://evil) \\*ops\\*, tier" in runbook
    assert "<img" not in runbook.replace("\\<img", "")


def test_markdown_code_and_blocks_are_fenced_past_their_backticks() -> None:
    assert escape.markdown_code("a`b") == "``a`b``"
    assert escape.markdown_code("`a") == "`` `a ``"
    assert escape.markdown_block('x{a="```"}', "promql") == '````promql\nx{a="```"}\n````'
    assert escape.markdown_text("snake_case _em_ **b**") == "snake_case \\_em\\_ \\*\\*b\\*\\*"


@pytest.mark.tools("promtool", "amtool")
def test_a_selector_value_with_braces_is_literal_text_in_the_alert_descriptions(write_spec, tmp_path: Path) -> None:
    text = MINIMAL + (
        "    slos:\n      availability:\n"
        '        errors: \'http_requests_total{code="500",path="/{{id}}"}\'\n'
        "        total: 'http_requests_total{path=\"/{{id}}\"}'\n"
    )
    plan = load_plan(write_spec(text), "prod")
    tree = generate_tree(plan)
    (missing,) = _rules(tree)["SLIMetricMissing"]
    description = missing["annotations"]["description"]
    assert 'path="/{{ "{{" }}id}}"' in description
    assert 'path="/{{id}}"' in escape.expand_templates(description, {})
    assert 'path="/{{id}}"' in tree["runbooks/checkout.md"]
    out = tmp_path / "out"
    write(out, output_tree(plan))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks if not c.ok)


@pytest.mark.parametrize("value", ["\\u0016", "\\u0085"])
def test_a_selector_value_with_a_control_character_is_refused(write_spec, value: str) -> None:
    """Found by the Prometheus property test: route="ý{p\\x16]\\x85" passed validate, and the
    generated selector selected nothing in a real Prometheus."""
    text = MINIMAL + (
        "    slos:\n      availability:\n"
        f"        errors: \"http_requests_total{{code='500',route='{value}'}}\"\n"
        "        total: 'http_requests_total'\n"
    )
    (problem,) = problems_of(write_spec(text))
    assert problem.startswith("obskit.yaml:16: services.checkout.slos.availability.errors: ")
    assert "the value of route holds a line break or a control character" in problem
