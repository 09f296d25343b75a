"""Every class of spec problem, each reported as FILE:LINE: field.path: message."""

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.cli import main
from obskit.pipeline import KINDS, load_spec
from obskit.spec import fast_path, schema
from obskit.spec.model import LatencySLI, RatioSLI, RawSLI
from obskit.spec.resolve import UnknownEnvironment
from tests.conftest import EXAMPLES, MINIMAL, problems_of

BACKUP_SETTINGS = (
    "labels: {env: prod}\n    velero: {namespace: velero, storage_location: default}\n"
    "    walg: {prefix: 's3://b/p', credentials_secret: walg, image: 'r/w:1'}\n    pushgateway: http://pgw:9091"
)


def test_the_bundled_example_is_valid() -> None:
    spec = load_spec(EXAMPLES)
    assert [env.name for env in spec.environments] == ["prod", "staging"]
    assert [s.tier for s in spec.environment("staging").services if s.name == "checkout"] == ["tier3_low"]


def test_minimal_spec_resolves_defaults_and_types(write_spec) -> None:
    spec = load_spec(write_spec(MINIMAL))
    (service,) = spec.environment("prod").services
    assert service.job == "checkout"
    assert service.runbook_url == "https://runbooks.example.com/{service}/{alert}"
    assert service.metrics.path == "/metrics"
    assert service.backup is None
    assert spec.tier("tier2_standard").slo_objective == Decimal("99.9")


def test_unknown_keys_are_errors_at_every_level(write_spec) -> None:
    path = write_spec(
        MINIMAL.replace(
            "    metrics: {port: http-metrics}", "    metrics: {port: http-metrics, intervall: 10s}\n    owner: me"
        )
        + "extra: 1\n"
    )
    assert problems_of(path) == [
        "obskit.yaml:13: services.checkout.metrics.intervall: unknown field 'intervall'; did you mean 'interval'?",
        "obskit.yaml:14: services.checkout.owner: unknown field 'owner'",
        "obskit.yaml:15: extra: unknown field 'extra'",
    ]


def test_api_version_is_required_and_checked(write_spec) -> None:
    assert problems_of(write_spec(MINIMAL.replace("apiVersion: obskit/v1", "apiVersion: obskit/v2"))) == [
        "obskit.yaml:1: apiVersion: 'obskit/v2' is not allowed; choose one of: obskit/v1"
    ]
    assert problems_of(write_spec(MINIMAL.replace("apiVersion: obskit/v1\n", ""))) == [
        "obskit.yaml:1: apiVersion: required field is missing (every file needs apiVersion: obskit/v1)"
    ]


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ("100", "100 must be a percentage strictly between 0 and 100, e.g. 99.9"),
        ("0", "0 must be a percentage strictly between 0 and 100, e.g. 99.9"),
        ("-5", "-5 must be a percentage strictly between 0 and 100, e.g. 99.9"),
        ('"99.9"', "'99.9' is quoted, so it is text: write the number without quotes, e.g. 99.9"),
        ('"high"', "'high' must be a percentage strictly between 0 and 100, e.g. 99.9"),
        ("0.999", "0.999 looks like a ratio; objectives are percentages: did you mean 99.9?"),
    ],
)
def test_objective_must_be_a_percentage(write_spec, objective: str, message: str) -> None:
    text = (
        MINIMAL
        + f"""\
    slos:
      availability:
        objective: {objective}
        errors: 'http_requests_total{{code=~"5.."}}'
        total: 'http_requests_total'
"""
    )
    assert problems_of(write_spec(text)) == [
        f"obskit.yaml:16: services.checkout.slos.availability.objective: {message}"
    ]


def test_objective_keeps_its_exact_decimal(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      availability: {objective: 99.95, errors: 'a_total{code="5"}', total: a_total}
"""
    )
    (service,) = load_spec(write_spec(text)).environment("prod").services
    assert service.slos[0].objective == Decimal("99.95")


def test_names_must_be_dns1123_labels(write_spec) -> None:
    text = (
        MINIMAL.replace("  checkout:", "  Checkout_Svc:").replace("  prod:", "  Prod:")
        + """\
    backup:
      datastores:
        orders_db: {engine: postgres, method: wal-g, size: 1Gi}
"""
    )
    problems = problems_of(write_spec(text))
    assert "obskit.yaml:5: environments.Prod: 'Prod' is not a DNS-1123 label" in problems[0]
    assert "obskit.yaml:8: services.Checkout_Svc: 'Checkout_Svc' is not a DNS-1123 label" in problems[1]
    assert (
        "obskit.yaml:16: services.Checkout_Svc.backup.datastores.orders_db: 'orders_db' is not a DNS-1123"
        in problems[2]
    )


def test_service_names_longer_than_63_characters_are_refused(write_spec) -> None:
    long_name = "a" * 64
    problems = problems_of(write_spec(MINIMAL.replace("  checkout:", f"  {long_name}:")))
    assert problems == [f"obskit.yaml:8: services.{long_name}: '{long_name}' is 64 characters; at most 63 are allowed"]


def test_units_are_checked_with_their_own_messages(write_spec) -> None:
    text = (
        MINIMAL.replace("metrics: {port: http-metrics}", "metrics: {port: http-metrics, interval: 15}")
        + """\
    backup:
      datastores:
        orders-db: {engine: postgres, method: wal-g, size: 200GB, restore_throughput: fast, wal_rate: 2GiB/d}
"""
    )
    text = text.replace("labels: {env: prod}", BACKUP_SETTINGS)
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:16: services.checkout.metrics.interval: expected a duration string such as '30s' or '1h30m', got 15",
        "obskit.yaml:19: services.checkout.backup.datastores.orders-db.restore_throughput: 'fast' is not a throughput "
        "(a size per s, m or h, e.g. '100MiB/s' or '2GiB/h')",
        "obskit.yaml:19: services.checkout.backup.datastores.orders-db.size: '200GB' is not a size "
        "(a whole number with Ki, Mi, Gi, Ti, Pi or Ei, e.g. '200Gi')",
        "obskit.yaml:19: services.checkout.backup.datastores.orders-db.wal_rate: '2GiB/d' is not a throughput "
        "(a size per s, m or h, e.g. '100MiB/s' or '2GiB/h')",
    ]


def test_backups_need_the_environment_backup_settings(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    backup:
      datastores:
        orders-db: {engine: postgres, method: wal-g, size: 200Gi}
"""
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:5: environments.prod.pushgateway: required field is missing: "
        "services in this environment back up datastores with wal-g",
        "obskit.yaml:5: environments.prod.velero: required field is missing: services in this environment have backups",
        "obskit.yaml:5: environments.prod.walg: required field is missing: "
        "services in this environment back up datastores with wal-g",
    ]


def test_unknown_tier_lists_the_known_ones(write_spec) -> None:
    assert problems_of(write_spec(MINIMAL.replace("tier: tier1_critical", "tier: gold"))) == [
        "obskit.yaml:10: services.checkout.tier: unknown tier 'gold'; known tiers: tier1_critical, tier2_standard, tier3_low"
    ]


def test_latency_threshold_must_be_a_duration(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      latency:
        latency: {histogram: 'http_request_duration_seconds{job="checkout"}', threshold: 0.3}
"""
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:16: services.checkout.slos.latency.latency.threshold: "
        "expected a duration string such as '30s' or '1h30m', got 0.3"
    ]


def test_slo_window_must_cover_the_burn_rate_windows(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      availability:
        window: 3d
        errors: 'a_total{code="5"}'
        total: a_total
"""
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:16: services.checkout.slos.availability.window: '3d' is too short: SLO windows must be at least "
        "1w so the 3d slow-burn alert window is a small part of the budget period"
    ]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("'rate(a_total[5m])'", "must be a plain series selector"),
        ("'a_total{code=\"5\"'", "is not valid PromQL"),
        ("'{code=\"5\"}'", "must name its metric"),
        ("'a_total{code=~\"(\"}'", "is not valid PromQL"),
        ("'a_total offset 5m'", "offset and @ modifiers are not allowed"),
    ],
)
def test_selectors_must_be_well_formed_promql(write_spec, selector: str, message: str) -> None:
    text = (
        MINIMAL
        + f"""\
    slos:
      availability:
        errors: {selector}
        total: a_total
"""
    )
    (problem,) = problems_of(write_spec(text))
    assert problem.startswith("obskit.yaml:16: services.checkout.slos.availability.errors: ")
    assert message in problem


def test_histogram_must_be_a_base_name(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      latency:
        latency: {histogram: 'h_seconds_bucket{le="0.3"}', threshold: 300ms}
"""
    )
    (problem,) = problems_of(write_spec(text))
    assert problem.startswith("obskit.yaml:16: services.checkout.slos.latency.latency.histogram: ")
    assert "base name" in problem


def test_raw_queries_need_the_window_placeholder(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      freshness:
        error_query: 'sum(rate(failed_total[5m]))'
        total_query: 'sum(rate(processed_total[{{window}}])'
"""
    )
    first, second = problems_of(write_spec(text))
    assert first == (
        "obskit.yaml:16: services.checkout.slos.freshness.error_query: 'sum(rate(failed_total[5m]))' must contain "
        "the placeholder {{window}} where the range goes"
    )
    assert second.startswith(
        "obskit.yaml:17: services.checkout.slos.freshness.total_query: 'sum(rate(processed_total[{{window}}])' is not "
        "valid PromQL with {{window}}=5m: "
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            "description: none",
            "give exactly one SLI: 'errors' with 'total', 'latency', 'error_query' with 'total_query', or 'freshness'; found none",
        ),
        (
            "errors: 'a_total{code=\"5\"}'\n        total: a_total\n        error_query: 'x[{{window}}]'",
            "give exactly one SLI: 'errors' with 'total', 'latency', 'error_query' with 'total_query', or 'freshness'; "
            "found error_query, errors, total",
        ),
    ],
)
def test_an_slo_has_exactly_one_sli(write_spec, fields: str, message: str) -> None:
    text = (
        MINIMAL
        + f"""\
    slos:
      availability:
        {fields}
"""
    )
    assert problems_of(write_spec(text)) == [f"obskit.yaml:15: services.checkout.slos.availability: {message}"]


def test_a_ratio_sli_needs_both_selectors(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      availability:
        errors: 'a_total{code="5"}'
"""
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:15: services.checkout.slos.availability.total: required field is missing ('errors' needs 'total')"
    ]


def test_sli_kinds_are_typed(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      a: {errors: 'x_total{c="5"}', total: x_total}
      b: {latency: {histogram: 'h{job="x"}', threshold: 300ms}}
      c: {error_query: 'sum(rate(f[{{window}}]))', total_query: 'sum(rate(t[{{window}}]))'}
"""
    )
    (service,) = load_spec(write_spec(text)).environment("prod").services
    kinds = [type(slo.sli) for slo in service.slos]
    assert kinds == [RatioSLI, LatencySLI, RawSLI]


def test_required_fields_are_reported_at_the_service(write_spec) -> None:
    text = MINIMAL.replace("    team: payments\n", "").replace("    selector: {app: checkout}\n", "")
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:8: services.checkout.selector: required field is missing (or set `scrape: false` for a "
        "service Prometheus does not scrape, such as a batch job)",
        "obskit.yaml:8: services.checkout.team: required field is missing",
    ]


def test_defaults_fill_missing_fields(write_spec) -> None:
    text = MINIMAL.replace("    team: payments\n", "").replace("defaults:\n", "defaults:\n  team: platform\n")
    (service,) = load_spec(write_spec(text)).environment("prod").services
    assert service.team == "platform"


def test_types_are_checked(write_spec) -> None:
    text = MINIMAL.replace("selector: {app: checkout}", "selector: {app: 1}").replace("team: payments", "team: [a]")
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:11: services.checkout.team: must be a string, got [a]",
        "obskit.yaml:12: services.checkout.selector.app: label value 1 must be a string (quote it in YAML)",
    ]


def test_runbook_url_placeholders_are_checked(write_spec) -> None:
    text = MINIMAL.replace("{service}/{alert}", "{svc}/{alert}")
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:3: defaults.runbook_url: 'https://runbooks.example.com/{svc}/{alert}': "
        "placeholders may only be {service} and {alert}, found 'svc'"
    ]


def test_names_defined_twice_across_files_are_errors(write_spec) -> None:
    other = """\
    apiVersion: obskit/v1
    defaults:
      team: other
    environments:
      prod: {}
    tiers:
      tier1_critical: {rpo: 1m}
    services:
      checkout:
        namespace: shop
    """
    first = MINIMAL.replace("defaults:\n", "defaults:\n  team: platform\n") + "tiers:\n  tier1_critical: {rto: 10m}\n"
    path = write_spec(a=first, b=other)
    assert problems_of(path) == [
        "b.yaml:3: defaults.team: default field 'team' is defined twice; first at a.yaml:3",
        "b.yaml:5: environments.prod: environment 'prod' is defined twice; first at a.yaml:6",
        "b.yaml:7: tiers.tier1_critical: tier 'tier1_critical' is defined twice; first at a.yaml:16",
        "b.yaml:9: services.checkout: service 'checkout' is defined twice; first at a.yaml:9",
    ]


def test_files_of_a_directory_are_merged(write_spec) -> None:
    second = """\
    apiVersion: obskit/v1
    services:
      search:
        namespace: catalog
        tier: tier3_low
        team: catalog
        selector: {app: search}
        metrics: {port: metrics}
    """
    spec = load_spec(write_spec(a=MINIMAL, b=second))
    assert [s.name for s in spec.environment("prod").services] == ["checkout", "search"]


def test_environment_overrides_are_applied_then_validated(write_spec) -> None:
    text = MINIMAL.replace(
        "    labels: {env: prod}\n",
        "    labels: {env: prod}\n  staging:\n    services:\n      checkout: {tier: tier3_low, metrics: {path: /m}}\n",
    )
    spec = load_spec(write_spec(text))
    (staging,) = spec.environment("staging").services
    assert (staging.tier, staging.metrics.port, staging.metrics.path) == ("tier3_low", "http-metrics", "/m")
    (prod,) = spec.environment("prod").services
    assert prod.tier == "tier1_critical"


def test_a_bad_override_is_reported_at_the_override(write_spec) -> None:
    text = MINIMAL.replace(
        "    labels: {env: prod}\n",
        "    labels: {env: prod}\n  staging:\n    services:\n      checkout:\n        tier: tier9\n        namespace: Bad\n"
        "      ghost: {tier: tier3_low}\n",
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:10: environments.staging.services.checkout.tier: unknown tier 'tier9'; "
        "known tiers: tier1_critical, tier2_standard, tier3_low",
        "obskit.yaml:11: environments.staging.services.checkout.namespace: 'Bad' is not a DNS-1123 label "
        "(lowercase letters, digits and '-', starting and ending alphanumeric)",
        "obskit.yaml:12: environments.staging.services.ghost: overrides service 'ghost', "
        "which is not defined under 'services'",
    ]


def test_environment_labels_may_not_shadow_obskit_labels(write_spec) -> None:
    text = MINIMAL.replace("labels: {env: prod}", "labels: {env: prod, severity: x, __x: y}")
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:6: environments.prod.labels.__x: '__x': label names starting with '__' are reserved for Prometheus",
        "obskit.yaml:6: environments.prod.labels.severity: label 'severity' is set by obskit itself; choose another name",
    ]


def test_tiers_merge_over_the_catalog_and_new_tiers_must_be_complete(write_spec) -> None:
    text = (
        MINIMAL
        + """\
tiers:
  tier1_critical: {rpo: 1m}
  gold: {rto: 5m, rpo: 1m}
  fast: {rto: 5m, rpo: 1m, scrape_interval: 5s, scrape_timeout: 10s, slo_objective: 99.99, pages: true,
         restore_drill_interval: 1d, retention: 7d}
"""
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:16: tiers.gold: new tier 'gold' must set scrape_interval, slo_objective, pages, "
        "restore_drill_interval, retention",
        "obskit.yaml:17: tiers.fast.scrape_timeout: '10s' is longer than the scrape interval 5s",
    ]
    spec = load_spec(write_spec(MINIMAL + "tiers:\n  tier1_critical: {rpo: 1m}\n"))
    tier = spec.tier("tier1_critical")
    assert (str(tier.rpo), str(tier.rto)) == ("1m", "15m")


OUT_OF_RANGE = {
    # field as written: (value, the range)
    "platform_alert_for": ("1d", "from 1s to 6h"),
    "rpo": ("10000w", "from 1s to 3d"),
    "rto": ("8d", "from 1s to 7d"),
    "scrape_interval": ("365d", "from 1s to 2m"),
    "restore_drill_interval": ("10000w", "from 1h to 365d"),
}


@pytest.mark.parametrize("field", list(OUT_OF_RANGE))
def test_tier_durations_are_bounded(write_spec, field: str) -> None:
    """Values that would make the generated rules meaningless or their tests fail or explode."""
    value, bounds = OUT_OF_RANGE[field]
    path = write_spec(MINIMAL + f"tiers:\n  tier1_critical: {{{field}: {value}}}\n")
    (problem,) = problems_of(path)
    validated = CliRunner().invoke(main, ["validate", "--spec", str(path)])
    assert validated.exit_code == 2 and f"tiers.tier1_critical.{field}: '{value}' is out of range" in validated.output
    assert problem.startswith(
        f"obskit.yaml:15: tiers.tier1_critical.{field}: '{value}' is out of range: it must be {bounds}; "
    )


@pytest.mark.parametrize("interval", ["1ms", "999ms", "2m1s", "10m"])
def test_a_services_scrape_interval_is_bounded(write_spec, interval: str) -> None:
    text = MINIMAL.replace("metrics: {port: http-metrics}", f"metrics: {{port: http-metrics, interval: {interval}}}")
    assert problems_of(write_spec(text)) == [
        f"obskit.yaml:13: services.checkout.metrics.interval: '{interval}' is out of range: it must be from 1s to 2m; "
        "the rules' 5m rate windows need two samples, and a series not scraped for 5m is gone"
    ]


def test_the_bounds_themselves_are_valid(write_spec) -> None:
    tiers = "tiers:\n  tier1_critical: {platform_alert_for: 6h, rpo: 3d, rto: 7d, scrape_interval: 2m, restore_drill_interval: 365d}\n"
    load_spec(write_spec(MINIMAL.replace("http-metrics}", "http-metrics, interval: 1s}") + tiers))


def test_at_least_one_environment(write_spec) -> None:
    text = MINIMAL.replace("environments:\n  prod:\n    labels: {env: prod}\n", "")
    assert problems_of(write_spec(text)) == ["obskit.yaml:1: environments: at least one environment is required"]


def test_unknown_environment_names_the_known_ones(write_spec) -> None:
    with pytest.raises(UnknownEnvironment, match="unknown environment 'qa'; the spec defines: prod"):
        load_spec(write_spec(MINIMAL), ["qa"])


def test_missing_spec_and_empty_directory(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [
        "nope.yaml: (top level): no such spec file or directory (pass --spec PATH)"
    ]
    (tmp_path / "empty").mkdir()
    assert problems_of(tmp_path / "empty") == [
        f"{tmp_path / 'empty'}: (top level): directory holds no *.yaml or *.yml spec files"
    ]


def test_every_problem_is_reported_in_one_run(write_spec) -> None:
    text = MINIMAL.replace("namespace: shop", "namespace: Shop").replace("tier: tier1_critical", "tier: gold")
    text = text.replace("metrics: {port: http-metrics}", "metrics: {port: HTTP}") + "bogus: 1\n"
    other = "apiVersion: obskit/v1\nservices:\n  checkout: {}\n"
    problems = problems_of(write_spec(a=text, b=other))
    assert len(problems) == 5
    assert {p.split(":")[0] for p in problems} == {"a.yaml", "b.yaml"}


# Good and bad values for each check_with rule of the schema.
_CHECK_SAMPLES: dict[str, tuple[list[Any], list[Any]]] = {
    "duration": (["5m", "30d", "1h30m"], ["0s", "5x", "", 5]),
    "scrape_interval": (["1s", "30s", "2m"], ["1ms", "2m1s", "365d", "5x", 5]),
    "platform_alert_for": (["1s", "5m", "6h"], ["0s", "6h1s", "1d"]),
    "rpo": (["1s", "5m", "3d"], ["0s", "3d1s", "10000w"]),
    "rto": (["1s", "1h", "7d"], ["0s", "7d1s", "10000w"]),
    "drill_interval": (["1h", "7d", "365d"], ["59m", "366d", "10000w"]),
    "size": (["20Gi", "1Ki"], ["20GB", "", 20]),
    "throughput": (["200MiB/s", "2GiB/h"], ["fast", "1MiB"]),
    "objective": ([99, 99.9], [100, 0, "99", True]),
    "selector": (['up{job="x"}', "up"], ["a{", "rate(x[5m])", '{job="x"}']),
    "histogram": (['h{job="x"}'], ["h_bucket", 'h{le="1"}']),
    "window_query": (["sum(rate(a[{{window}}]))"], ["a", "a[{{window}}"]),
    "runbook_url": (["https://r/{service}/{alert}"], ["https://r/{x}", "https://r/{}", "x{"]),
    "http_url": (["http://h:9091"], ["ftp://h", "http://", "http://u:p@h", "http://h/?token=t"]),
    "object_store_prefix": (["s3://b/p", "file:///tmp/x"], ["s3://", "b/p"]),
    "dns1123_label": (["shop", "a-b"], ["Shop", "-a", "a" * 64]),
    "dns1123_subdomain": (["a.b", "db"], ["a..b", "A"]),
    "k8s_label_key": (["app", "app.kubernetes.io/name"], ["-x", "a/", "a b"]),
    "k8s_label_value": (["v", ""], ["-v", 1, "a" * 64]),
    "prom_label_name": (["env"], ["__x", "1a"]),
    "port_name": (["http", "http-metrics"], ["a--b", "1234", "a" * 16]),
    "tier_name": (["tier1", "t_1"], ["Tier", "1t"]),
    "step_name": (["detect", "scale_dr"], ["Scale", "1x", "a-b"]),
    "probe_interval": (["1s", "30s", "5m"], ["0s", "5m1s", "1d"]),
    "heartbeat_interval": (["30s", "1m", "1h"], ["29s", "1h1s", "1d"]),
    "alertmanager_route": (
        [
            {
                "matchers": ['severity="warning"', "namespace=~kube-.*"],
                "receiver": "chat",
                "routes": [{"continue": True}],
            }
        ],
        [{"receivers": "chat"}, {"matchers": ['{a="b",c="d"}']}, {"routes": [{"group_by": "alertname"}]}, "route"],
    ),
    "host_port": (["ns1.example.com:53", "10.0.0.1:5353"], ["ns1", "u@ns1:53", "a b:53"]),
    "dns_target": (["203.0.113.20", "2001:db8::1", "dr.example.com"], ["not a host!", "-x.com", ""]),
    "smarthost": (["smtp.example.com:587"], ["smtp", "u:p@smtp:587", "t@smtp:25", "a b:25"]),
    "quantity": (["250m", "2", 2, "512Mi", "1.5G"], ["2 cores", "-1", "1.5Gb", 2.5, True]),
    "requests_within_limits": (
        [{"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}],
        [{"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}],
    ),
    "rule_target": ([{"target": "mimir", "tenant": "t"}], [{"target": "thanos", "tenant": "t"}]),
    "label_value": (["payments", "eu-west-1", "Zahlungs-Team Ä", ""], ["a{{b}}", "two\nlines", "tab\tx"]),
    "dashboard_label_value": (["prod", "eu-west-1", "5$"], ["$service", "${x}", "[[x]]", "a{{b}}"]),
    "annotation": (["see {{ $labels.job }}", "two\nlines"], ["{{ $value }}", '{{ query "up" }}', "\ud800"]),
    "slack_channel": (["#alerts", "@oncall", "C0123ABCD"], ["#a b", "{{ .x }}", "#"]),
    "email": (["a@example.com", "Alertmanager <am@example.com>", "a@x.io, b@y.io"], ["a", "{{x}}@e.com", "<a@b>"]),
    "secret_ref": ([{"secret": "pagerduty", "key": "routing-key"}], ["a-key-value", {"secret": "s"}]),
    "relabel_label": (["node", "__meta_kubernetes_pod_name", "__address__"], ["a-b", "1a", ""]),
    "relabel_regex": (["(.*)", "api-.*", "a|b", "[0-9]+"], ["(?=x)", "(a", "\\1"]),
}
# Good values for each regex rule of the schema.
_REGEX_SAMPLES = {r"/\S*": ["/metrics", "/"], r"[A-Z][A-Za-z0-9]*": ["ServicePodsNotReady", "X"]}
_BAD = st.none() | st.booleans() | st.integers(-2, 70000) | st.floats() | st.text(max_size=3)
_BAD |= st.sampled_from([[], {}, ["x"], {"x": 1}, *(value for _, bad in _CHECK_SAMPLES.values() for value in bad)]).map(
    copy.deepcopy  # a document is changed in place, so it must not share a sample
)


def _valid(rules: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that pass `rules`, a cerberus field definition."""
    kind = rules.get("type")
    if kind == "dict" and "schema" in rules:
        return _valid_mapping(rules["schema"])
    if kind == "dict":
        keys = _valid(rules.get("keysrules", {"type": "string"}))
        return st.dictionaries(keys, _valid(rules["valuesrules"]), min_size=1, max_size=2)
    if kind == "list":
        return st.lists(_valid(rules["schema"]), min_size=1, max_size=2)
    if "allowed" in rules:
        return st.sampled_from(rules["allowed"])
    if "regex" in rules:
        return st.sampled_from(_REGEX_SAMPLES[rules["regex"]])
    if "check_with" in rules:  # copied: _spoil changes a document in place (a secret_ref sample is a dict)
        return st.sampled_from(_CHECK_SAMPLES[rules["check_with"]][0]).map(copy.deepcopy)
    if kind == "integer":
        return st.integers(1, 65535) | st.just(True)
    if kind == "boolean":
        return st.booleans()
    return st.sampled_from(["x", "obskit/v1"])


def _valid_mapping(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    required = {name: _valid(rules) for name, rules in fields.items() if rules.get("required")}
    optional = {name: _valid(rules) for name, rules in fields.items() if not rules.get("required")}
    return st.fixed_dictionaries(required, optional=optional)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [prefix, *(path for key, value in children for path in _paths(value, (*prefix, key)))]


def _spoil(document: dict[str, Any], data: st.DataObject) -> None:
    """Replace, delete or add one value somewhere in the document."""
    path = data.draw(st.sampled_from(_paths(document)[1:] or [("bogus",)]))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        parent.pop(path[-1], None)
        if data.draw(st.booleans()):
            parent[data.draw(st.sampled_from(["bogus", "tier", "latency", "port"]))] = data.draw(_BAD)
    else:
        parent[path[-1]] = data.draw(_BAD)


def _schema(name: str) -> dict[str, Any]:
    return schema.TIER if name == "TIER" else getattr(schema.shape(KINDS), name.lower())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["FILE", "SERVICE", "TIER", "ENVIRONMENT"])
def test_cerberus_reads_the_schemas_as_written(name: str) -> None:
    # The fast path is compiled from the schemas as written; cerberus must not expand or rename any rule.
    rules = _schema(name)
    assert schema._validator(id(rules), rules).schema == rules


@pytest.mark.parametrize("name", ["FILE", "SERVICE", "TIER", "ENVIRONMENT"])
@settings(deadline=None)
@given(data=st.data())
def test_the_fast_path_accepts_exactly_what_cerberus_accepts(name: str, data: st.DataObject) -> None:
    rules = _schema(name)
    document = data.draw(_valid_mapping(rules))
    for _ in range(data.draw(st.integers(0, 2))):
        _spoil(document, data)
    for partial in (False, True):
        cerberus_accepts = schema._validator(id(rules), rules).validate(document, update=partial, normalize=False)
        assert fast_path.accepts(id(rules), rules, partial)(document) == cerberus_accepts


def test_an_slos_own_alert_labels_and_annotations_may_not_replace_obskits(write_spec) -> None:
    text = MINIMAL + (
        "    slos:\n"
        "      availability:\n"
        "        errors: 'a_total{code=\"5\"}'\n"
        "        total: a_total\n"
        "        alerts:\n"
        "          labels: {severity: low, env: x, channel: payments, 0bad: y}\n"
        "          annotations: {summary: x, playbook: y}\n"
        "          min_errors: -1\n"
        "          page: maybe\n"
    )
    where = "services.checkout.slos.availability.alerts"
    assert problems_of(write_spec(text)) == [
        f"obskit.yaml:19: {where}.labels.0bad: '0bad' is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
        f"obskit.yaml:19: {where}.labels.env: label 'env' is already set by the environment's labels",
        f"obskit.yaml:19: {where}.labels.severity: label 'severity' is set by obskit itself; choose another name",
        f"obskit.yaml:20: {where}.annotations.summary: annotation 'summary' is written by obskit itself; "
        "choose another name",
        f"obskit.yaml:21: {where}.min_errors: -1: min value is 0",
        f"obskit.yaml:22: {where}.page: must be true or false, got 'maybe'",
    ]


# Every URL field of the spec, as (where it goes in MINIMAL's prod environment, a template of the field).
_URL_FIELDS = {
    "webhook": '    alerting:\n      receivers:\n        hook: {{webhook: {{url: "{url}"}}}}\n      page: hook\n      ticket: hook\n',
    "opsgenie": (
        "    alerting:\n      receivers:\n"
        '        genie: {{opsgenie: {{api_key: {{secret: g, key: k}}, api_url: "{url}"}}}}\n'
        "      page: genie\n      ticket: genie\n"
    ),
    "pushgateway": '    pushgateway: "{url}"\n',
    "grafana_url": '    grafana_url: "{url}"\n',
    "runbook_base": '    runbook_base: "{url}"\n',
}


@pytest.mark.parametrize("field", list(_URL_FIELDS))
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:hunter2@h.example.com/x", "holds credentials before '@' (user:password@ or token@)"),
        ("https://xoxb-123@h.example.com/x", "holds credentials before '@' (user:password@ or token@)"),
        ("https://h.example.com/x?a=1&Token=s3cr3t", "has the credential parameter 'Token' in its query"),
        ("https://h.example.com/x?X-Amz-Signature=ab", "has the credential parameter 'X-Amz-Signature' in its query"),
        ("https://h.example.com/x?apikey=ab", "has the credential parameter 'apikey' in its query"),
        ("https://h.example.com/x?sig=ab", "has the credential parameter 'sig' in its query"),
        ("https://h.example.com/x?slack_token=ab", "has the credential parameter 'slack_token' in its query"),
    ],
)
def test_no_url_field_carries_a_credential(write_spec, field: str, url: str, message: str) -> None:
    env = "  prod:\n    labels: {env: prod}\n"
    problems = problems_of(write_spec(MINIMAL.replace(env, env + _URL_FIELDS[field].format(url=url))))
    assert len(problems) == 1 and message in problems[0], problems
    assert "Kubernetes Secret" in problems[0] and "url_secret" in problems[0]
    assert "hunter2" not in problems[0] and "s3cr3t" not in problems[0] and "xoxb" not in problems[0]


def test_a_runbook_url_and_a_walg_prefix_carry_no_credential(write_spec) -> None:
    text = MINIMAL.replace(
        "https://runbooks.example.com/{service}/{alert}",
        "https://runbooks.example.com/{service}/{alert}?access_token=t",
    )
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:3: defaults.runbook_url: 'https://runbooks.example.com/{service}/{alert}?access_token=...' has the "
        "credential parameter 'access_token' in its query: the URL is committed in the generated files; keep the "
        "credential in a Kubernetes Secret and reference it instead (a webhook receiver: url_secret: {secret: "
        "<Secret name>, key: <key>})"
    ]
    env = "  prod:\n    labels: {env: prod}\n"
    walg = "    walg: {prefix: 's3://AKIAX:wJalr@bucket/p', credentials_secret: walg, image: 'r/w:1'}\n"
    assert problems_of(write_spec(MINIMAL.replace(env, env + walg))) == [
        "obskit.yaml:7: environments.prod.walg.prefix: 's3://bucket/p' holds credentials before '@' "
        "(user:password@ or token@): the prefix is committed in a generated ConfigMap; the storage credentials "
        "belong in the section's credentials_secret"
    ]


def test_a_url_holds_no_character_a_url_never_holds(write_spec) -> None:
    env = "  prod:\n    labels: {env: prod}\n"
    text = MINIMAL.replace(env, env + "    grafana_url: 'https://g.example.com/{{ $labels.x }}'\n")
    assert problems_of(write_spec(text)) == [
        "obskit.yaml:7: environments.prod.grafana_url: 'https://g.example.com/{{ $labels.x }}' holds '{', which a "
        "URL never holds unencoded: percent-encode it (e.g. %20 for a space, %7B for '{')"
    ]


def test_an_email_smarthost_carries_no_user(write_spec) -> None:
    env = "  prod:\n    labels: {env: prod}\n"
    alerting = (
        "    alerting:\n      receivers:\n"
        "        mail: {email: {to: a@example.com, from: am@example.com, smarthost: 'am:pw@smtp.example.com:587'}}\n"
        "      page: mail\n      ticket: mail\n"
    )
    message = (
        "obskit.yaml:9: environments.prod.alerting.receivers.mail.email.smarthost: 'smtp.example.com:587' holds "
        "credentials before '@': give host:port, the user as auth_username and the password as auth_password "
        "({secret: <Secret name>, key: <key>})"
    )
    assert problems_of(write_spec(MINIMAL.replace(env, env + alerting))) == [message]
    alerting = alerting.replace("am:pw@smtp", "token@smtp")
    assert problems_of(write_spec(MINIMAL.replace(env, env + alerting))) == [message]


def test_a_runbook_url_with_credentials_and_a_bad_placeholder_is_not_echoed(write_spec) -> None:
    text = MINIMAL.replace("https://runbooks.example.com/{service}/{alert}", "https://u:hunter2@r.example.com/{x}")
    (problem,) = problems_of(write_spec(text))
    assert "holds credentials before '@'" in problem and "hunter2" not in problem
