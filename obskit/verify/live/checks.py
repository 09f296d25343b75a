"""What can only be seen in a live Prometheus: selectors that match nothing, counters that are
gauges, a missing `le` bucket, scrape intervals and retention the rules cannot work with,
external labels that collide, absent DR inputs, and rules deployed differently from the tree.

Each check reads the plan and the API and returns findings; none writes anything."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obskit.output import layout
from obskit.plan import conventions as names
from obskit.plan.types import Plan, ServicePlan, SLOPlan
from obskit.spec import promql
from obskit.spec.model import FreshnessSLI, LatencySLI, RatioSLI, RawSLI
from obskit.spec.promql import WINDOW_PLACEHOLDER, Selector
from obskit.units import Duration, parse_duration
from obskit.verify.live.api import PrometheusAPI, QueryError

RATE_WINDOW = parse_duration("5m")  # the shortest window the rules rate() over
MIN_SAMPLES = 4  # per rate window, so a missed scrape or two still leaves a rate
PROMETHEUS = "(prometheus)"  # the finding's service column for the server's own settings
RULE_FILES = layout.RULE_FILES


@dataclass(frozen=True)
class Finding:
    service: str
    subject: str  # the SLO or datastore, "-" for the service or the server
    check: str
    found: str
    remedy: str


class Lookup:
    """The last hour's series by metric name and every metric's metadata, each fetched once and
    matched here: a check of thousands of services asks Prometheus once per metric name, not once
    per selector, and stays within its time limit."""

    def __init__(self, api: PrometheusAPI) -> None:
        self.api = api
        self._series: dict[str, list[dict[str, str]]] = {}
        self._metadata: dict[str, list[dict[str, str]]] | None = None

    def named(self, metric: str) -> list[dict[str, str]]:
        if metric not in self._series:
            self._series[metric] = self.api.series(f'{{__name__="{metric}"}}')
        return self._series[metric]

    def matching(self, selector: Selector) -> list[dict[str, str]]:
        return [series for series in self.named(selector.metric) if _matches(series, selector.matchers)]

    def types(self, metric: str) -> set[str]:
        """The types targets declare for a metric (by family name: a counter's may drop `_total`)."""
        if self._metadata is None:
            self._metadata = self.api.all_metadata()
        entries = self._metadata.get(metric) or self._metadata.get(metric.removesuffix("_total")) or []
        return {entry.get("type", "") for entry in entries} - {"", "unknown"}


def _matches(series: dict[str, str], matchers: tuple[tuple[str, str, str], ...]) -> bool:
    """Prometheus' matching: a missing label is the empty string, regexes match the whole value."""
    for label, op, value in matchers:
        actual = series.get(label, "")
        if (op == "=" and actual != value) or (op == "!=" and actual == value):
            return False
        if op in ("=~", "!~") and (re.fullmatch(value, actual) is not None) != (op == "=~"):
            return False
    return True


def _labels(series: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(series.items()) if k != "__name__") + "}"


def _unmatched(lookup: Lookup, service: str, slo: str, selector: Selector, role: str) -> Finding:
    named = lookup.named(selector.metric)
    return Finding(
        service,
        slo,
        "selector matches series",
        f"the {role} selector {selector} matches no series in the last hour"
        + ("" if named else f"; no series is named {selector.metric} at all"),
        "check the metric name and labels against the service's /metrics and its targets' labels",
    )


def _counter(lookup: Lookup, service: str, slo: str, metric: str) -> Iterator[Finding]:
    types = lookup.types(metric)
    if types and types != {"counter"}:
        yield Finding(
            service,
            slo,
            "counters are counters",
            f"{metric} is declared a {', '.join(sorted(types))}, not a counter: rate() of a gauge is meaningless",
            "point the SLI at a counter (a _total series), or use error_query/total_query with the right functions",
        )


def _stray_errors(errors: list[dict[str, str]], total: list[dict[str, str]], same_metric: bool) -> list[dict[str, str]]:
    """The error series the total does not count. Of one metric, an error series must be one of
    the total's; of two metrics (`jobs_failed_total` / `jobs_total`) the names always differ, and
    an error series is stray only when every total series contradicts it on a label both carry."""
    known = {_labels(s) for s in total}
    stray = [s for s in errors if _labels(s) not in known]
    if same_metric:
        return stray
    return [e for e in stray if not any(_agree(e, t) for t in total)]


def _agree(left: dict[str, str], right: dict[str, str]) -> bool:
    return all(left[name] == right[name] for name in left.keys() & right.keys() if name != "__name__")


def ratio_checks(lookup: Lookup, service: str, slo: str, sli: RatioSLI) -> Iterator[Finding]:
    total, errors = lookup.matching(sli.total), lookup.matching(sli.errors)
    if not total:
        yield _unmatched(lookup, service, slo, sli.total, "total")
    if not errors:
        # no error series yet is how a healthy service looks; only a name that does not exist is wrong
        finding = _unmatched(lookup, service, slo, sli.errors, "errors")
        if "at all" in finding.found:
            yield finding
    for metric in sorted({sli.total.metric, sli.errors.metric}):
        yield from _counter(lookup, service, slo, metric)
    stray = _stray_errors(errors, total, same_metric=sli.errors.metric == sli.total.metric)
    if stray and total:
        yield Finding(
            service,
            slo,
            "errors are a subset of the total",
            f"the errors selector matches {len(stray)} series the total does not, e.g. "
            f"{stray[0].get('__name__', '')}{_labels(stray[0])}",
            "give the errors selector every matcher of the total selector, and only add to them",
        )


def _le(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def latency_checks(lookup: Lookup, service: str, slo: str, sli: LatencySLI) -> Iterator[Finding]:
    buckets = Selector(f"{sli.histogram.metric}_bucket", sli.histogram.matchers)
    series = lookup.matching(buckets)
    if not series:
        yield Finding(
            service,
            slo,
            "selector matches series",
            f"{buckets} matches no series in the last hour",
            "check the histogram's name and labels against the service's /metrics",
        )
        return
    threshold = sli.threshold.ms / 1000
    bounds = sorted({le for s in series if (le := _le(s.get("le", ""))) is not None})
    listed = ", ".join("+Inf" if math.isinf(le) else f"{le:g}" for le in bounds)
    if not any(math.isclose(le, threshold, rel_tol=1e-9) for le in bounds):
        finite = [le for le in bounds if math.isfinite(le)]
        nearest = min(finite, key=lambda le: abs(le - threshold)) if finite else None
        yield Finding(
            service,
            slo,
            "threshold bucket exists",
            f"no le bucket at {threshold:g}s; the histogram has {listed}",
            (f"set the threshold to {nearest:g}s, or " if nearest is not None else "")
            + f"add a {threshold:g} bucket to the histogram",
        )
    types = lookup.types(sli.histogram.metric)
    if types and types != {"histogram"}:
        yield Finding(
            service,
            slo,
            "histograms are histograms",
            f"{sli.histogram.metric} is declared a {', '.join(sorted(types))}",
            "point the latency SLI at a classic histogram",
        )


def raw_checks(api: PrometheusAPI, service: str, slo: str, sli: RawSLI) -> Iterator[Finding]:
    for role, text in (("total_query", sli.total_query), ("error_query", sli.error_query)):
        expr = text.replace(WINDOW_PLACEHOLDER, str(RATE_WINDOW))
        try:
            result = api.query(expr)
        except QueryError as err:
            yield Finding(service, slo, "raw queries return data", f"{role} fails: {err}", "fix the query")
            continue
        if not result and role == "total_query":
            yield Finding(
                service,
                slo,
                "raw queries return data",
                f"{role} returns no data over {RATE_WINDOW}",
                "check the query's metrics and labels",
            )


def slo_checks(lookup: Lookup, service_plan: ServicePlan, slo_plan: SLOPlan) -> Iterator[Finding]:
    sli = slo_plan.slo.sli
    if isinstance(sli, RatioSLI):
        yield from ratio_checks(lookup, service_plan.name, slo_plan.name, sli)
    elif isinstance(sli, LatencySLI):
        yield from latency_checks(lookup, service_plan.name, slo_plan.name, sli)
    elif isinstance(sli, FreshnessSLI):
        if not lookup.matching(sli.last_success):
            yield _unmatched(lookup, service_plan.name, slo_plan.name, sli.last_success, "last_success")
    else:
        yield from raw_checks(lookup.api, service_plan.name, slo_plan.name, sli)


def target_checks(service_plan: ServicePlan, targets: list[dict[str, Any]]) -> Iterator[Finding]:
    job = service_plan.service.job
    mine = [t for t in targets if isinstance(t.get("labels"), dict) and t["labels"].get("job") == job]
    if not mine:
        yield Finding(
            service_plan.name,
            "-",
            "the job has targets",
            f"no active target has job={job}",
            "check that the ServiceMonitor selects the Service (labels, port name, namespace) and that Prometheus "
            "selects the ServiceMonitor",
        )
        return
    intervals = {str(t.get("scrapeInterval", "")) for t in mine} - {""}
    for interval in sorted(intervals):
        seconds = parse_duration(interval)
        if seconds.ms * MIN_SAMPLES > RATE_WINDOW.ms:
            yield Finding(
                service_plan.name,
                "-",
                "scrape interval",
                f"targets are scraped every {interval}: fewer than {MIN_SAMPLES} samples in the rules' "
                f"{RATE_WINDOW} rate windows",
                f"scrape at least every {Duration(RATE_WINDOW.ms // MIN_SAMPLES)} (the tier's scrape_interval)",
            )


def _retention(api: PrometheusAPI) -> tuple[Duration | None, str]:
    """The time-based retention in force (None: only size-based), and how Prometheus states it."""
    stated = str(api.runtime_info().get("storageRetention", "")).strip()
    if not stated:
        flags = api.flags()
        stated = flags.get("storage.tsdb.retention.time", "") or "15d"
        stated = "15d" if stated == "0s" else stated
    for part in (p.strip() for p in stated.split(" or ")):
        try:
            return parse_duration(part), stated
        except ValueError:
            continue
    return None, stated


def retention_checks(api: PrometheusAPI, plan: Plan) -> Iterator[Finding]:
    windows = [(slo.window, f"{sp.name}/{slo.name}") for sp in plan.services for slo in sp.slos]
    if not windows:
        return
    longest, which = max(windows, key=lambda item: item[0].ms)
    retention, stated = _retention(api)
    if retention is None:
        yield Finding(
            PROMETHEUS,
            "-",
            "retention covers the SLO windows",
            f"retention is by size only ({stated}): how long it keeps depends on the ingest rate",
            f"set --storage.tsdb.retention.time to {longest} or more as well",
        )
    elif retention < longest:
        yield Finding(
            PROMETHEUS,
            "-",
            "retention covers the SLO windows",
            f"Prometheus keeps {retention} ({stated}), {Duration(longest.ms - retention.ms)} less than the "
            f"{longest} window of {which}",
            f"raise --storage.tsdb.retention.time to {longest} or more; until then the SLIs and budgets cover "
            f"only {retention} of {longest} (slo:sli_data:coverage_ratio)",
        )


def _external_labels(config_text: str) -> dict[str, str]:
    """The external labels of Prometheus' configuration ({} when it states none that can be read)."""
    try:
        config = yaml.safe_load(config_text)
    except (yaml.YAMLError, RecursionError):
        return {}
    settings = config.get("global") if isinstance(config, dict) else None
    external = settings.get("external_labels") if isinstance(settings, dict) else None
    if not isinstance(external, dict):
        return {}
    return {str(k): str(v) for k, v in external.items() if isinstance(v, str | int | float | bool)}


def external_label_checks(api: PrometheusAPI, plan: Plan) -> Iterator[Finding]:
    external = _external_labels(api.config())
    for name, value in plan.labels:
        if name in external and external[name] != value:
            yield Finding(
                PROMETHEUS,
                "-",
                "external labels",
                f'external label {name}="{external[name]}" and the environment\'s {name}="{value}" differ: '
                "remote write and federation see two values",
                f"make them equal, or drop {name} from one of them",
            )


def dr_checks(lookup: Lookup, service_plan: ServicePlan) -> Iterator[Finding]:
    name = service_plan.name
    inputs: list[tuple[str, Selector, str]] = []  # (subject, selector, what produces it)
    if service_plan.velero is not None:
        for schedule in service_plan.velero.schedules:
            selector = Selector(names.VELERO_LAST_SUCCESS, (("schedule", "=", schedule.name),))
            inputs.append(("-", selector, f"Velero's schedule {schedule.name}"))
    for ds in service_plan.datastores:
        inputs += [(ds.name, selector, source) for selector, source in ds.inputs(service_plan)]
    failover = service_plan.failover
    for probe in failover.probes if failover else ():
        selector = Selector(names.PROBE_SUCCESS, (("job", "=", probe.job),))
        inputs.append(("-", selector, f"the blackbox_exporter and Probe {probe.name} (region {probe.region})"))
    for store, copy in failover.datastores if failover else ():
        inputs += [(store, selector, source) for selector, source in copy.inputs(service_plan)]
    for subject, selector, source in inputs:
        if not lookup.matching(selector):
            yield Finding(
                name,
                subject,
                "DR inputs exist",
                f"no series {selector} in the last hour",
                f"check {source}: the DR alert on it fires its `cause: absent` variant once its limit passes",
            )


_MATCHERS = re.compile(r'\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}')
_MATCHER = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"')


def _normalized(expr: str) -> str:
    """One spelling of an expression: as the parser prints it, with each selector's matchers in
    order (Prometheus' API prints them sorted, the rule files as written)."""
    try:
        printed = str(promql.parse(expr))
    except ValueError:
        printed = " ".join(expr.split())
    return _MATCHERS.sub(lambda m: "{" + ",".join(sorted(_MATCHER.findall(m.group(1)))) + "}", printed)


def _rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a rule's behaviour in both the rule file and the API's answer."""
    name = rule.get("alert") or rule.get("record") or rule.get("name")
    expr = rule.get("expr") or rule.get("query") or ""
    for_ = rule.get("for") if "for" in rule else rule.get("duration", 0)
    try:
        seconds = parse_duration(for_).ms / 1000 if isinstance(for_, str) else float(for_ or 0)
    except (ValueError, TypeError, OverflowError):
        seconds = -1.0  # no duration: unlike every rule obskit writes
    labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
    annotations = {k: str(v) for k, v in (rule.get("annotations") or {}).items()}
    return (name, _normalized(str(expr)), seconds, tuple(sorted(labels.items())), tuple(sorted(annotations.items())))


class TreeUnreadable(Exception):
    """A rule file of the --out tree that cannot be compared with the loaded rules."""


def _tree_groups(tree: Path) -> dict[str, list[tuple[Any, ...]]]:
    groups = {}
    for path in sorted((tree / RULE_FILES).glob("*.rules.yaml")):
        for group in _rule_file_groups(tree, path):
            groups[group["name"]] = [_rule_key(rule) for rule in group.get("rules") or []]
    return groups


def _rule_file_groups(tree: Path, path: Path) -> list[dict[str, Any]]:
    if not path.resolve().is_relative_to(tree.resolve()):
        raise TreeUnreadable(f"{path}: a symlink that leads outside the tree (not read)")
    if not path.is_file():
        raise TreeUnreadable(f"{path}: not a regular file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError, RecursionError):  # ValueError: not UTF-8
        raise TreeUnreadable(f"{path}: not a readable YAML file") from None
    groups = (document or {}).get("groups", []) if isinstance(document, dict | None) else None
    if not isinstance(groups, list) or not all(_is_group(group) for group in groups):
        raise TreeUnreadable(f"{path}: not a rule file (a list of groups, each a name and its rules)")
    return groups


def _is_group(group: Any) -> bool:
    if not isinstance(group, dict) or not isinstance(group.get("name"), str):
        return False
    rules = group.get("rules") or []
    return isinstance(rules, list) and all(
        isinstance(rule, dict) and all(isinstance(rule.get(key) or {}, dict) for key in ("labels", "annotations"))
        for rule in rules
    )


def rule_checks(api: PrometheusAPI, tree: Path) -> Iterator[Finding]:
    """The tree's rule groups against those loaded (obskit's, by their name prefix), and their health."""
    expected = _tree_groups(tree)
    prefix = names.group_name("")
    loaded = {g["name"]: g for g in api.rule_groups() if str(g.get("name", "")).startswith(prefix)}
    for group in sorted(expected.keys() - loaded.keys()):
        yield Finding(_service_of(group), group, "deployed rules", "group not loaded", "deploy the tree's rules")
    for group in sorted(loaded.keys() - expected.keys()):
        yield Finding(
            _service_of(group), group, "deployed rules", "group loaded but not in the tree", "remove it, or regenerate"
        )
    for group in sorted(expected.keys() & loaded.keys()):
        rules = loaded[group].get("rules") or []
        if [_rule_key(rule) for rule in rules] != expected[group]:
            yield Finding(
                _service_of(group),
                group,
                "deployed rules",
                "the loaded rules differ from the tree's (names, expressions, for:, labels or annotations)",
                "deploy the tree's rules (and regenerate if the spec changed)",
            )
    for group in sorted(loaded):
        for rule in [rule for rule in loaded[group].get("rules") or [] if rule.get("health") == "err"]:
            yield Finding(
                _service_of(group),
                group,
                "rules evaluate",
                f"{rule.get('name')}: {rule.get('lastError', 'evaluation failed')}",
                "fix the rule or the series it reads",
            )


def _service_of(group: str) -> str:
    parts = group.split("/")
    return parts[1] if len(parts) > 1 else group


def all_checks(api: PrometheusAPI, plan: Plan, tree: Path | None) -> list[Finding]:
    """Every check, in the order the report lists them."""
    findings: list[Finding] = []
    targets = api.targets()
    lookup = Lookup(api)
    for service_plan in plan.services:
        for slo_plan in service_plan.slos:
            findings += slo_checks(lookup, service_plan, slo_plan)
        if service_plan.service.scrape:  # `scrape: false`: no targets to find
            findings += target_checks(service_plan, targets)
        findings += dr_checks(lookup, service_plan)
    findings += retention_checks(api, plan)
    findings += external_label_checks(api, plan)
    if tree is not None:
        findings += rule_checks(api, tree)
    return findings
