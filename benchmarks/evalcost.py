"""Samples touched per evaluation: obskit's SLO rules against Sloth's for the same SLO, measured
by a real Prometheus (Debian's) with `stats=all` on backfilled data.

The data: 100 raw series (20 instances x 5 status codes, scraped every 30s for 3 days and an
hour), and every series a rule of either tool records, written at its group's interval: for
30 days and an hour where another rule reads it over a range, for the last quarter hour
where it is only read as an instant vector. Recorded values do not change how many samples a
query touches, so they are filler; their density is what a running Prometheus would have.
Everything is backfilled with `promtool tsdb create-blocks-from openmetrics`, then each
rule's expression is queried once at the end with `stats=all`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.units import parse_duration
from obskit.verify.promtool import find_promtool
from tests.conftest import SHARED
from tests.servers import http_json, prometheus
from tests.test_sloth_crosscheck import SPEC

RAW_METRIC = "http_request_duration_seconds_count"
SCRAPE = 30
GLOBAL_INTERVAL = 30
RAW_SPAN = 3 * 86400 + 3600
RANGE_SPAN = 30 * 86400 + 3600
INSTANT_SPAN = 900


def rules_of(text: str) -> list[tuple[dict[str, Any], int]]:
    """(rule, its group's evaluation interval in seconds)."""
    found = []
    for group in yaml.safe_load(text)["groups"]:
        interval = parse_duration(group["interval"]).ms // 1000 if "interval" in group else GLOBAL_INTERVAL
        found += [(rule, interval) for rule in group["rules"]]
    return found


def range_read_names(rules: list[tuple[dict[str, Any], int]]) -> set[str]:
    names: set[str] = set()

    def visit(node: Any, in_range: bool) -> None:
        if isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector, True)
            return
        if isinstance(node, promql_parser.VectorSelector) and in_range and node.name:
            names.add(node.name)
        for attribute in ("expr", "lhs", "rhs", "param"):
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, (str, int, float)):
                visit(child, in_range)
        for child in getattr(node, "args", None) or []:
            visit(child, in_range)

    for rule, _ in rules:
        visit(promql_parser.parse(rule["expr"]), False)
    return names


def openmetrics_line(name: str, labels: dict[str, str], value: float, at: int) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}} {value} {at}\n"


def write_data(path: Path, end: int, tools: dict[str, list[tuple[dict[str, Any], int]]]) -> int:
    lines = 0
    with open(path, "w", encoding="utf-8") as out:
        families: dict[str, list[tuple[dict[str, str], int, int]]] = {RAW_METRIC: []}
        for instance in range(20):
            for code in ("200", "201", "404", "429", "500"):
                families[RAW_METRIC].append(
                    ({"job": "myservice", "instance": f"i{instance:02d}", "code": code}, SCRAPE, RAW_SPAN)
                )
        for rules in tools.values():
            ranged = range_read_names(rules)
            for rule, interval in rules:
                if "record" in rule:
                    span = RANGE_SPAN if rule["record"] in ranged else INSTANT_SPAN
                    families.setdefault(rule["record"], []).append((rule.get("labels", {}), interval, span))
        for name, series in families.items():
            out.write(f"# TYPE {name} gauge\n")
            for labels, step, span in series:
                for at in range(end - span, end + 1, step):
                    out.write(openmetrics_line(name, labels, (at % 997) + 1.0, at))
                    lines += 1
        out.write("# EOF\n")
    return lines


def samples_touched(url: str, expr: str, at: int) -> int:
    query = urllib.parse.urlencode({"query": expr, "time": at, "stats": "all"})
    body = http_json(f"{url}/api/v1/query?{query}", timeout=120)
    return int(body["data"]["stats"]["samples"]["totalQueryableSamples"])


def main() -> int:
    sloth_file = SHARED / "reference" / "sloth" / "01-getting-started.rules.yml"
    if not sloth_file.is_file():
        print(f"skipped: {sloth_file} is absent")
        return 0
    work = Path(tempfile.mkdtemp(prefix="obskit-evalcost-"))
    try:
        return _measure(work, sloth_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, sloth_file: Path) -> int:
    (work / "obskit.yaml").write_text(SPEC)
    ours = generate_tree(load_plan(work / "obskit.yaml", "test"))["prometheus/rulefiles/myservice.rules.yaml"]
    tools = {"obskit": rules_of(ours), "sloth": rules_of(sloth_file.read_text())}
    end = (int(time.time()) // 60) * 60 - 120
    started = time.monotonic()
    lines = write_data(work / "data.om", end, tools)
    subprocess.run(
        [
            find_promtool(),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(work / "data.om"),
            str(work / "data"),
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    (work / "data.om").unlink()
    print(f"backfilled {lines} samples in {time.monotonic() - started:.0f} s")
    config = {"global": {"scrape_interval": "1h", "evaluation_interval": "1h"}}
    totals: dict[str, tuple[int, float]] = {}
    with prometheus(work, config, extra_args=("--storage.tsdb.retention.time=60d",)) as server:
        for tool, rules in tools.items():
            per_evaluation, per_hour = 0, 0.0
            for rule, interval in rules:
                touched = samples_touched(server.url, rule["expr"], end)
                per_evaluation += touched
                per_hour += touched * 3600 / interval
            totals[tool] = (per_evaluation, per_hour)
            print(
                f"{tool:<7} {len(rules):>3} rules  {per_evaluation:>10} samples per evaluation of every rule  "
                f"{per_hour:>14.0f} per hour at the groups' intervals"
            )
    ratio_eval = totals["obskit"][0] / totals["sloth"][0]
    ratio_hour = totals["obskit"][1] / totals["sloth"][1]
    print(f"obskit / sloth: {ratio_eval:.3f} per evaluation, {ratio_hour:.3f} per hour (target <= 0.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
