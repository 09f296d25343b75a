"""Arbitrary text in every field that reaches PromQL, Alertmanager, Go templates or Markdown:
validate refuses it at FILE:LINE: field, or the generated tree passes promtool and amtool
(`obskit test`'s checks) and, for `job` and selector label values, a real Prometheus selects
exactly the series meant (one server for the module, many values per server)."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from obskit.generate.tree import generate_tree
from obskit.output.writer import write
from obskit.pipeline import load_plan, load_spec, output_tree
from obskit.spec.problems import SpecInvalid
from obskit.verify.tree import check_tree
from tests.conftest import budget
from tests.servers import Prometheus, prometheus, wait_for

DEFAULTS = {
    "job": "checkout",
    "exporter_job": "orders-exporter",
    "team": "payments",
    "env": "prod",
    "owner": "me",
    "note": "a note",
    "route": "/pay",
    "channel": "#alerts",
    "to": "oncall@example.com",
    "from": "Alertmanager <am@example.com>",
}
FIELDS = tuple(DEFAULTS)
# What breaks languages: quotes, backslashes, line breaks, template and selector braces, Markdown,
# relabeling's $1, matcher commas, non-ASCII; mixed with any printable text.
_PIECES = ['"', "'", "\\", "\n", "{{", "}}", "{", "}", "$1", "`", "<b>", "[x](y)", "*", "_", ",", "=~", "é", "💥"]
HOSTILE = st.lists(
    st.sampled_from(_PIECES) | st.text(st.characters(exclude_categories=("Cs",)), max_size=4), min_size=1, max_size=5
).map("".join)


def bounded(examples: int) -> settings:
    """Each example runs promtool and amtool or queries a server: a few dozen, and a failure is
    reported as found, not shrunk (shrinking re-runs the tools hundreds of times)."""
    return settings(
        max_examples=budget(examples),
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def spec(values: dict[str, str]) -> dict[str, Any]:
    """The spec with each field's value; selector label values quoted with JSON's escapes, which
    PromQL reads as Go does (independent of obskit's own quoting)."""
    v = {**DEFAULTS, **values}
    route = json.dumps(v["route"], ensure_ascii=False)
    return {
        "apiVersion": "obskit/v1",
        "defaults": {"runbook_url": "https://runbooks.example.com/{service}/{alert}"},
        "tiers": {"tier1_critical": {"rto": "4h", "rpo": "1h"}},
        "environments": {
            "prod": {
                "labels": {"env": v["env"]},
                "walg": {"prefix": "s3://b/p", "credentials_secret": "walg", "image": "r/w:1"},
                "pushgateway": "http://pgw:9091",
                "alerting": {
                    "receivers": {
                        "pager": {"pagerduty": {"routing_key": {"secret": "pd", "key": "k"}}},
                        "chat": {"slack": {"api_url": {"secret": "s", "key": "u"}, "channel": v["channel"]}},
                        "mail": {"email": {"to": v["to"], "from": v["from"], "smarthost": "smtp.example.com:587"}},
                    },
                    "page": "pager",
                    "ticket": "chat",
                    "info": "mail",
                },
            }
        },
        "teams": {v["team"]: {"page": "chat"}},
        "services": {
            "checkout": {
                "namespace": "shop",
                "tier": "tier1_critical",
                "team": v["team"],
                "job": v["job"],
                "selector": {"app": "checkout"},
                "metrics": {"port": "http-metrics"},
                "slos": {
                    "availability": {
                        "errors": f'http_requests_total{{code="500",route={route}}}',
                        "total": f"http_requests_total{{route={route}}}",
                        "alerts": {"labels": {"owner": v["owner"]}, "annotations": {"note": v["note"]}},
                    }
                },
                "backup": {
                    "velero": False,
                    "datastores": {
                        "orders-db": {
                            "engine": "postgres",
                            "method": "wal-g",
                            "size": "1Gi",
                            "exporter_job": v["exporter_job"],
                        }
                    },
                },
            }
        },
    }


def write_spec(directory: Path, values: dict[str, str]) -> Path:
    path = directory / "obskit.yaml"
    path.write_text(yaml.safe_dump(spec(values), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


_PROBLEM = re.compile(r"^obskit\.yaml:[0-9]+: \S")


def accepted(directory: Path, field: str, value: str) -> bool:
    """Whether validate takes `value` in `field`; a refusal must be a FILE:LINE: field: message."""
    try:
        load_spec(write_spec(directory, {field: value}))
    except SpecInvalid as err:
        lines = [str(problem).replace(f"{directory}/", "") for problem in err.problems]
        assert lines and all(_PROBLEM.match(line) for line in lines), lines
        return False
    return True


def accepted_values(directory: Path, values: dict[str, str]) -> dict[str, str]:
    return {field: value for field, value in values.items() if accepted(directory, field, value)}


@pytest.mark.tools("promtool", "amtool")
@pytest.mark.timeout(600)
@bounded(15)
@given(values=st.fixed_dictionaries({}, optional={field: HOSTILE for field in FIELDS}))
def test_hostile_text_is_refused_or_passes_promtool_and_amtool(tmp_path: Path, values: dict[str, str]) -> None:
    directory = tmp_path / "case"
    directory.mkdir(exist_ok=True)
    kept = accepted_values(directory, values)
    plan = load_plan(write_spec(directory, kept), "prod")
    out = directory / "out"
    write(out, output_tree(plan))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks if not c.ok)


# --- a real Prometheus --------------------------------------------------------------------------


def _exposition_value(value: str) -> str:
    """A label value in the text exposition format (its own escaping, not obskit's)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Exposition:
    """A /metrics endpoint whose series the test sets, and a generation gauge to know when
    Prometheus has scraped them."""

    def __init__(self) -> None:
        self.generation = 0
        self.lines: list[str] = []
        exposition = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = "\n".join([*exposition.lines, f"obskit_probe_generation {exposition.generation}", ""])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body.encode("utf-8"))

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def expose(self, server: Prometheus, series: list[tuple[str, dict[str, str]]]) -> None:
        self.lines = [
            name + "{" + ",".join(f"{k}={_exposition_value(v)}" for k, v in labels.items()) + "} 0"
            for name, labels in series
        ]
        self.generation += 1
        generation = str(self.generation)
        wait_for(
            "the new series to be scraped",
            lambda: any(r["value"][1] == generation for r in server.query("obskit_probe_generation")),
            30,
            0.2,
        )


@pytest.fixture(scope="module")
def scraping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Exposition]]:
    exposition = Exposition()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "obskit-probe-scrape",  # no job the test exposes: they keep their own (honor_labels)
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{exposition.port}"]}],
            }
        ],
    }
    try:
        with prometheus(tmp_path_factory.mktemp("prometheus"), config) as server:
            yield server, exposition
    finally:
        exposition.server.shutdown()


def _rule_exprs(tree: dict[str, str], name: str | None = None) -> list[str]:
    """The expressions of the plain rule files (of the alert `name`, or all)."""
    return [
        rule["expr"]
        for path, text in tree.items()
        if path.startswith("prometheus/rulefiles/")
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if name is None or rule.get("alert") == name
    ]


@pytest.mark.servers
@pytest.mark.timeout(600)
@bounded(30)
@given(job=HOSTILE, route=HOSTILE)
def test_prometheus_selects_exactly_the_series_of_a_hostile_job_and_selector_value(
    scraping: tuple[Prometheus, Exposition], tmp_path: Path, job: str, route: str
) -> None:
    server, exposition = scraping
    directory = tmp_path / "case"
    directory.mkdir(exist_ok=True)
    kept = accepted_values(directory, {"job": job, "route": route})
    job, route = kept.get("job", DEFAULTS["job"]), kept.get("route", DEFAULTS["route"])
    plan = load_plan(write_spec(directory, kept), "prod")
    tree = generate_tree(plan)
    jobs = dict.fromkeys([job, job + "x", "x" + job, job.replace('"', "") + "}", "y"])
    routes = dict.fromkeys([route, route + "x", "x" + route, "y"])
    exposition.expose(
        server,
        [("up", {"job": value, "instance": "a"}) for value in jobs]
        + [("http_requests_total", {"route": value, "code": "500"}) for value in routes],
    )
    # ServiceDown, as generated: exactly one result, for this job alone
    (service_down,) = _rule_exprs(tree, "ServiceDown")
    assert [r["metric"] for r in server.query(service_down)] == [{"job": job}]
    # the SLI's selectors, as the generated rules spell them: the series of this route alone
    (slo,) = plan.services[0].slos
    for selector in (slo.slo.sli.errors, slo.slo.sli.total):  # type: ignore[union-attr]
        text = str(selector)
        assert any(text in expr for expr in _rule_exprs(tree)), text
        assert [r["metric"].get("route", "") for r in server.query(text)] == [route], text
