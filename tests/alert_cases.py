"""An engine's alerts with their promtool cases, written as a rule file and test files of their own:
one group per case, so that each case passes or fails on its own (obskit gen packs them instead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obskit.alerting.alerts import CheckedAlert
from obskit.generate.rules.tests import _expected_alert
from obskit.units import Duration


def promtool_files(tmp_path: Path, checked: list[CheckedAlert], group: str, stem: str) -> list[str]:
    """`<stem>.rules.yaml` with the alerts in one group, and a `<stem>-<step>.test.yaml` per evaluation
    step; returns the test files' names."""
    rules = {"groups": [{"name": group, "rules": [c.rule for c in checked]}]}
    (tmp_path / f"{stem}.rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    by_step: dict[Duration, list[dict[str, Any]]] = {}
    for each in checked:
        for case in each.cases:
            if case.fires:
                checks = [(each.eval_time, [_expected_alert(each.rule, case.labels)])]
            else:
                step = each.step.ms
                checks = [(Duration(ms), []) for ms in range(step, each.eval_time.ms + 1, step)]
            by_step.setdefault(each.step, []).append(
                {
                    "name": f"{each.rule['alert']} {each.rule['labels'].get('cause', '')} {case.name}",
                    "interval": str(each.input_step),
                    "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                    "alert_rule_test": [
                        {"eval_time": str(at), "alertname": each.rule["alert"], "exp_alerts": exp} for at, exp in checks
                    ],
                }
            )
    names = []
    for step, groups in by_step.items():
        name = f"{stem}-{step.ms}.test.yaml"
        test = {"rule_files": [f"{stem}.rules.yaml"], "evaluation_interval": str(step), "tests": groups}
        (tmp_path / name).write_text(yaml.safe_dump(test, sort_keys=False))
        names.append(name)
    return names
