"""promtool test groups from alerts' cases (alerting.alerts.CheckedAlert): one group per kind of
case ("fires", "silent", ...) with every alert's case of that kind, by the evaluation step and
input interval they need. Their series are distinct metrics, and fewer groups mean fewer passes
over the service's rules. A case where the alert stays silent is checked at every step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from obskit.alerting.alerts import CheckedAlert
from obskit.units import Duration

Expected = Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]


def case_groups(alerts: Iterable[CheckedAlert], title: str, expected: Expected) -> dict[Duration, list[dict[str, Any]]]:
    """Test groups by evaluation step; `expected(rule, series_labels)` renders an expected alert."""
    by_step: dict[Duration, dict[tuple[Duration, str], dict[str, Any]]] = {}
    for checked in alerts:
        groups = by_step.setdefault(checked.step, {})
        for case in checked.cases:
            group = groups.setdefault(
                (checked.input_step, case.name),
                {
                    "name": f"{title}: {case.name}",
                    "interval": str(checked.input_step),
                    "input_series": [],
                    "alert_rule_test": [],
                },
            )
            fed = {entry["series"]: entry["values"] for entry in group["input_series"]}
            for series, values in case.series.items():
                # alerts reading one metric share a case's input under the same case name
                assert fed.get(series, values) == values, f"{case.name}: {series} fed two ways"
                if series not in fed:
                    group["input_series"].append({"series": series, "values": values})
            name = checked.rule["alert"]
            if case.fires:
                checks = [(checked.eval_time, [expected(checked.rule, case.labels)])]
            else:
                step = checked.step.ms
                checks = [(Duration(ms), []) for ms in range(step, checked.eval_time.ms + 1, step)]
            group["alert_rule_test"] += [
                {"eval_time": str(at), "alertname": name, "exp_alerts": alerts} for at, alerts in checks
            ]
    return {step: list(groups.values()) for step, groups in by_step.items()}
