"""`metrics`' TLS, credentials and relabelings: hostile or contradictory values are refused at
FILE:LINE, and what obskit accepts or refuses of a relabeling, Prometheus (promtool check config,
2.x and 3.x) accepts or refuses alike."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import main
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.spec.re2 import check as check_regex
from tests.conftest import MINIMAL, problems_of
from tests.servers import VERSION_PARAMS, VERSIONS

WHERE = "services.checkout.metrics"


def _with_metrics(block: str) -> str:
    return MINIMAL.replace("    metrics: {port: http-metrics}\n", "    metrics:\n" + block)


def test_tls_and_credentials_need_https_and_one_credential(write_spec) -> None:
    block = (
        "      port: m\n"  # line 14
        "      tls: {ca_secret: {secret: ca, key: ca.crt}, cert_secret: {secret: c, key: tls.crt}}\n"
        "      bearer_token_secret: {secret: t, key: token}\n"
        "      basic_auth: {username_secret: {secret: a, key: u}, password_secret: {secret: a, key: p}}\n"
    )
    clear = "would be sent in clear text: set `scheme: https` (and `tls`) to scrape with credentials"
    assert problems_of(write_spec(_with_metrics(block))) == [
        f"obskit.yaml:15: {WHERE}.tls: TLS settings need `scheme: https`: Prometheus scrapes this endpoint over "
        "plain http",
        f"obskit.yaml:15: {WHERE}.tls.cert_secret: a client certificate needs both `cert_secret` and `key_secret`: "
        "add `key_secret`",
        f"obskit.yaml:16: {WHERE}.bearer_token_secret: {clear}",
        f"obskit.yaml:17: {WHERE}.basic_auth: choose one of `bearer_token_secret` and `basic_auth`: a scrape sends "
        "one credential",
        f"obskit.yaml:17: {WHERE}.basic_auth: {clear}",
    ]


def test_hostile_values_are_refused_without_echoing_a_secret(write_spec) -> None:
    block = (
        "      port: m\n"
        "      scheme: https\n"
        "      tls:\n"
        '        server_name: "payments.internal\\nHost: evil"\n'  # line 17
        "        ca_secret: {secret: ../../etc, key: ca.crt}\n"
        "        insecure_skip_verify: 'yes'\n"
        "      bearer_token_secret: eyJhbGciOiJIUzI1NiJ9.c2VjcmV0\n"  # line 20
        "      basic_auth: {username_secret: {secret: a, key: u}, password_secret: hunter2}\n"
        "      relabelings:\n"
        "        - {source_labels: ['a\"}) or vector(1'], target_label: 'x\\ny'}\n"  # line 23
        "        - {regex: '(?=x)', target_label: a}\n"
        "        - {regex: 'a++', target_label: a}\n"
        "        - {action: Replace, target_label: a}\n"
        "        - {target_label: team, replacement: other}\n"
        "        - {action: hashmod, source_labels: [a], target_label: b, modulus: -1}\n"
        "      metric_relabelings:\n"
        "        - {action: labeldrop, regex: x, replacement: y, separator: ','}\n"  # line 30
        "        - {action: keepequal, source_labels: [a]}\n"
        "        - {action: lowercase}\n"
        "        - {source_labels: [__name__], target_label: job}\n"
        "      pod_monitor: 1\n"
    )
    problems = problems_of(write_spec(_with_metrics(block)))
    secret = "is a secret: reference it as {secret: <Secret name>, key: <key in the Secret>}, never as a value"
    assert problems == [
        f'obskit.yaml:17: {WHERE}.tls.server_name: "payments.internal\\nHost: evil" is not a DNS-1123 subdomain '
        "(lowercase dot-separated labels, at most 253 characters)",
        f"obskit.yaml:18: {WHERE}.tls.ca_secret: secret: '../../etc' is not a DNS-1123 subdomain (lowercase "
        "dot-separated labels, at most 253 characters)",
        f"obskit.yaml:19: {WHERE}.tls.insecure_skip_verify: must be true or false, got 'yes'",
        f"obskit.yaml:20: {WHERE}.bearer_token_secret: {secret}",
        f"obskit.yaml:21: {WHERE}.basic_auth: choose one of `bearer_token_secret` and `basic_auth`: a scrape sends "
        "one credential",
        f"obskit.yaml:21: {WHERE}.basic_auth.password_secret: {secret}",
        f"obskit.yaml:23: {WHERE}.relabelings[0].source_labels[0]: 'a\"}}) or vector(1' is not a Prometheus label "
        "name ([a-zA-Z_][a-zA-Z0-9_]*)",
        f"obskit.yaml:23: {WHERE}.relabelings[0].target_label: 'x\\ny' is not a Prometheus label name "
        "([a-zA-Z_][a-zA-Z0-9_]*)",
        f"obskit.yaml:24: {WHERE}.relabelings[1].regex: '(?=x)' is not a regular expression Prometheus accepts "
        "(RE2 syntax): balanced brackets, no lookaround or backreferences",
        f"obskit.yaml:25: {WHERE}.relabelings[2].regex: 'a++' is not a regular expression Prometheus accepts "
        "(RE2 syntax): stacks repetition operators (such as `**` or `++`), which Go's regexp refuses",
        f"obskit.yaml:26: {WHERE}.relabelings[3].action: 'Replace' is not allowed; choose one of: replace, keep, "
        "drop, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase, keepequal, dropequal; did you mean "
        "'replace'?",
        f"obskit.yaml:27: {WHERE}.relabelings[4].target_label: 'team' is set by obskit on every target (from the "
        "service's `team`) and the rules select on it; relabel another label",
        f"obskit.yaml:28: {WHERE}.relabelings[5].modulus: -1: min value is 1",
        f"obskit.yaml:30: {WHERE}.metric_relabelings[0].replacement: the labeldrop action takes only `regex`",
        f"obskit.yaml:30: {WHERE}.metric_relabelings[0].separator: the labeldrop action takes only `regex`",
        f"obskit.yaml:31: {WHERE}.metric_relabelings[1].action: the keepequal action writes a label: "
        "`target_label` is required",
        f"obskit.yaml:32: {WHERE}.metric_relabelings[2].action: the lowercase action writes a label: "
        "`target_label` is required",
        f"obskit.yaml:33: {WHERE}.metric_relabelings[3].target_label: 'job' is set by obskit on every target (from "
        "the service's `job`) and the rules select on it; relabel another label",
        f"obskit.yaml:34: {WHERE}.pod_monitor: must be true or false, got 1",
    ]
    assert not any("eyJhbGciOiJIUzI1NiJ9" in line or "hunter2" in line for line in problems)


def test_a_refused_scrape_setting_exits_2(write_spec) -> None:
    spec = write_spec(_with_metrics("      port: m\n      tls: {server_name: payments.internal}\n"))
    result = CliRunner().invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(spec.parent / "o")])
    assert result.exit_code == 2
    assert f"obskit.yaml:15: {WHERE}.tls: TLS settings need `scheme: https`" in result.output
    assert not (spec.parent / "o").exists()


# --- the same verdicts as Prometheus ---------------------------------------------------------------

_SNAKE = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
ACCEPTED = """\
        - {action: keep, source_labels: [__meta_kubernetes_pod_label_app], regex: 'checkout|api'}
        - {action: drop, source_labels: [__meta_kubernetes_pod_phase], regex: Succeeded|Failed}
        - {source_labels: [__meta_kubernetes_pod_node_name], target_label: node}
        - {source_labels: [a, b], separator: '/', regex: '(.+)/(.+)', target_label: ab, replacement: '$2-$1'}
        - {action: hashmod, source_labels: [__address__], modulus: 4, target_label: __tmp_shard}
        - {action: keep, source_labels: [__tmp_shard], regex: '1'}
        - {action: labelmap, regex: '__meta_kubernetes_pod_label_(.+)', replacement: 'pod_$1'}
        - {action: labeldrop, regex: 'pod_template_hash'}
        - {action: labelkeep, regex: '__.*|pod_.*|node|ab'}
        - {action: lowercase, source_labels: [node], target_label: node}
        - {action: uppercase, source_labels: [ab], target_label: ab_upper}
        - {action: keepequal, source_labels: [__meta_kubernetes_pod_container_port_number], target_label: port}
        - {action: dropequal, source_labels: [a], target_label: b}
        - {source_labels: [a], regex: '(?P<x>[[:alpha:]]+)\\d{1,3}(?i)z*?', target_label: c}
"""
# Each refused by obskit and, written the same way, by Prometheus.
REFUSED = [
    {"action": "hashmod", "source_labels": ["a"], "target_label": "b"},
    {"action": "replace", "source_labels": ["a"]},
    {"action": "uppercase", "source_labels": ["a"]},
    {"action": "labeldrop", "regex": "x", "target_label": "y"},
    {"action": "labelkeep", "regex": "x", "source_labels": ["a"]},
    {"action": "keepequal", "source_labels": ["a"], "target_label": "b", "regex": "x"},
    {"action": "dropequal", "source_labels": ["a"], "target_label": "b", "replacement": "x"},
    {"action": "rewrite", "target_label": "b"},
    {"regex": "(?=x)", "target_label": "c"},
    {"regex": "(a", "target_label": "c"},
    {"regex": "a**", "target_label": "c"},
    {"regex": "a{1001}", "target_label": "c"},
    {"regex": "a*?+", "target_label": "c"},
]
# Prometheus 3 takes any UTF-8 label name; obskit keeps to the names 2.x takes too.
REFUSED_BY_2 = [{"source_labels": ["a-b"], "target_label": "c"}, {"source_labels": ["a"], "target_label": "é"}]


def _prometheus_config(relabelings: list[dict[str, Any]], metric_relabelings: list[dict[str, Any]]) -> str:
    """A scrape config with the relabelings as the operator writes them for Prometheus."""

    def snake(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{_SNAKE.get(key, key): value for key, value in item.items()} for item in items]

    job = {
        "job_name": "checkout",
        "static_configs": [{"targets": ["127.0.0.1:9"]}],
        "relabel_configs": snake(relabelings),
        "metric_relabel_configs": snake(metric_relabelings),
    }
    return yaml.safe_dump({"scrape_configs": [job]})


def _promtool_accepts(version: str, config: str, tmp_path: Path) -> tuple[bool, str]:
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    done = subprocess.run(
        [VERSIONS[version][1], "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_prometheus_loads_every_relabeling_obskit_writes(write_spec, tmp_path: Path, version: str) -> None:
    block = "      port: m\n      relabelings:\n" + ACCEPTED + "      metric_relabelings:\n" + ACCEPTED
    tree = generate_tree(load_plan(write_spec(_with_metrics(block)), "prod"))
    (endpoint,) = yaml.safe_load(tree["prometheus/servicemonitors/checkout.yaml"])["spec"]["endpoints"]
    assert len(endpoint["relabelings"]) == ACCEPTED.count("\n") + 4  # and obskit's job, service, tier, team
    accepted, output = _promtool_accepts(
        version, _prometheus_config(endpoint["relabelings"], endpoint["metricRelabelings"]), tmp_path
    )
    assert accepted, output


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_what_obskit_refuses_of_a_relabeling_prometheus_refuses(write_spec, tmp_path: Path, version: str) -> None:
    for item in REFUSED + (REFUSED_BY_2 if version == "2.x" else []):
        block = "      port: m\n      relabelings:\n        - " + yaml.safe_dump(item, default_flow_style=True)
        problems = problems_of(write_spec(_with_metrics(block)))
        assert problems and all(f"{WHERE}.relabelings[0]" in line for line in problems), (item, problems)
        accepted, output = _promtool_accepts(version, _prometheus_config([item], []), tmp_path)
        assert not accepted, (item, output)


REGEXES = [
    "a**", "a++", "a*?*", "a???", "x{1001}", "x{2,1}", "a{2}{3}", "(?i)*", "**", "\\C", "[a-", "(?=x)", "(?<=x)a",
    "(a", "a)", "\\1",
    "x{1000}", "(?P<n>x)", "[[:alpha:]]", "\\pL", "\\p{Greek}+", "(?i)abc", "\\z", "a{2,", "a{,3}*", "\\d+",
    "(?U)a+", "a*?", "a??", "(a*)*", "[*]*", "\\**", "\\x{41}*", "[]a]*", "[^]a]+", "(?s).", "(?m)^a$", "ÿ+",
]  # fmt: skip


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_obskits_regex_check_agrees_with_prometheus(tmp_path: Path, version: str) -> None:
    disagree = []
    for regex in REGEXES:
        try:
            check_regex(regex)
            ours = True
        except ValueError:
            ours = False
        theirs, _ = _promtool_accepts(
            version, _prometheus_config([{"regex": regex, "target_label": "c"}], []), tmp_path
        )
        if ours != theirs:
            disagree.append((regex, ours, theirs))
    assert disagree == []
