"""Test groups share a promtool group only when neither can change what the other asserts."""

from __future__ import annotations

from obskit.generate.rules.testpacking import pack, rule_inputs

RULES = [
    {
        "name": "g",
        "rules": [
            {"record": "job:errors:rate5m", "expr": "sum(rate(errors_total[5m]))"},
            {"alert": "ErrorsHigh", "expr": "job:errors:rate5m > 1"},
            {"alert": "Down", "expr": 'up{job="a"} == 0'},
            {"alert": "BackupOld", "expr": "time() - backup_timestamp > 300"},
        ],
    }
]


def group(name: str, fed: list[str], alert: str) -> dict[str, object]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": f'{metric}{{job="a"}}', "values": "1x5"} for metric in fed],
        "alert_rule_test": [{"eval_time": "5m", "alertname": alert, "exp_alerts": []}],
    }


def test_inputs_follow_recording_rules() -> None:
    assert {"errors_total", "job:errors:rate5m"} <= rule_inputs(RULES)["ErrorsHigh"]


def test_independent_groups_share_one() -> None:
    packed = pack([group("errors", ["errors_total"], "ErrorsHigh"), group("down", ["up"], "Down")], RULES)
    assert [g["name"] for g in packed] == ["errors + down"]
    assert len(packed[0]["input_series"]) == 2 and len(packed[0]["alert_rule_test"]) == 2


def test_a_group_feeding_what_another_reads_through_a_recording_rule_stays_apart() -> None:
    quiet = group("quiet", [], "ErrorsHigh")  # asserts silence with no input at all
    noisy = group("noisy", ["errors_total"], "Down")  # feeds the metric behind ErrorsHigh
    assert [g["name"] for g in pack([quiet, noisy], RULES)] == ["quiet", "noisy"]


def test_same_alert_or_same_metric_stays_apart() -> None:
    fires, silent = group("fires", ["up"], "Down"), group("silent", ["up"], "Down")
    assert len(pack([fires, silent], RULES)) == 2
    other = group("other", ["backup_timestamp"], "Down")
    assert len(pack([group("a", ["up"], "BackupOld"), other], RULES)) == 2


def test_first_fit_keeps_order() -> None:
    groups = [
        group("down fires", ["up"], "Down"),
        group("down silent", ["up"], "Down"),
        group("backup fires", ["backup_timestamp"], "BackupOld"),
        group("backup silent", ["backup_timestamp"], "BackupOld"),
    ]
    assert [g["name"] for g in pack(groups, RULES)] == ["down fires + backup fires", "down silent + backup silent"]


def test_label_values_are_no_metric_names() -> None:
    # a service named sign-up reads no metric `up`; a __name__ matcher does name one
    groups = [
        {"rules": [{"record": "a:b", "expr": 'rate(x_total{job="sign-up"}[5m])'}]},
        {"rules": [{"alert": "Down", "expr": '{__name__="up", job="shop"} == 0'}]},
    ]
    inputs = rule_inputs(groups)
    assert "up" not in inputs["a:b"] and "x_total" in inputs["a:b"]
    assert "up" in inputs["Down"]


def test_a_selector_without_a_metric_name_or_one_reading_alerts_keeps_groups_apart() -> None:
    # series_flow: `{job="a"}` reads every name; `ALERTS` reads what every alert reads
    rules = [
        {
            "rules": [
                {"alert": "Any", "expr": '{job="a"} > 0'},
                {"alert": "Down", "expr": 'up{job="a"} == 0'},
                {"record": "alerting:count", "expr": "count(ALERTS)"},
            ]
        }
    ]
    assert rule_inputs(rules)["alerting:count"] >= {"ALERTS", "up", "*"}
    assert len(pack([group("any", ["x"], "Any"), group("down", ["up"], "Down")], rules)) == 2
    counted = {"name": "count", "interval": "1m", "promql_expr_test": [{"expr": "alerting:count", "eval_time": "5m"}]}
    assert len(pack([counted, group("down", ["up"], "Down")], rules)) == 2
    assert len(pack([counted, group("other", ["y"], "Down")], rules[:1])) == 2  # Any reads y


def test_groups_feeding_what_one_rule_reads_together_stay_apart() -> None:
    # promtool fails a test on any rule's evaluation error: `a * on() b` meets one (many-to-many)
    # only when both groups' inputs are there, though neither asserts anything that reads it
    rules = [{"rules": [{"record": "ab", "expr": "a * on() b"}, *RULES[0]["rules"]]}]
    assert len(pack([group("a", ["a"], "Down"), group("b", ["b"], "BackupOld")], rules)) == 2
    assert len(pack([group("a", ["a"], "Down"), group("b", ["b"], "BackupOld")], RULES)) == 1


def test_a_group_feeding_what_a_rule_the_other_reaches_writes_stays_apart() -> None:
    # job:errors:rate5m fed as an input, and written from the other group's errors_total: a
    # sample written twice, an evaluation error neither group meets alone
    rules = [{"rules": [rule for rule in RULES[0]["rules"] if rule.get("alert") != "ErrorsHigh"]}]
    fed = group("fed", ["job:errors:rate5m"], "Down")
    assert len(pack([fed, group("errors", ["errors_total"], "BackupOld")], rules)) == 2
    assert len(pack([fed, group("backup", ["backup_timestamp"], "BackupOld")], rules)) == 1


def test_a_file_where_two_recording_rules_may_write_one_series_is_not_packed() -> None:
    # found by tests/test_differential.py: r2 = vector(1) and r2 = sum(m2) or vector(0) write one series;
    # Prometheus keeps whichever sample comes first, so what one test reads depends on the other's inputs
    twice = [{"rules": [*RULES[0]["rules"], {"record": "r2", "expr": "vector(1)"},
                        {"record": "r2", "expr": "sum(m2) or vector(0)"}]}]  # fmt: skip
    apart = [group("errors", ["errors_total"], "ErrorsHigh"), group("down", ["up"], "Down")]
    assert len(pack(apart, twice)) == 2
    # a static label both rules set, to different values, keeps their series apart: obskit's
    # dr:limit:seconds{limit=...} rules are written so
    labelled = [{"rules": [*RULES[0]["rules"], {"record": "r2", "expr": "vector(1)", "labels": {"limit": "rpo"}},
                           {"record": "r2", "expr": "vector(2)", "labels": {"limit": "rto"}}]}]  # fmt: skip
    assert len(pack(apart, labelled)) == 1
