"""Where each file of the output tree goes: the one spelling of its paths, for the generators
that write the files and the checks that read them back (README's "The output tree")."""

from __future__ import annotations

PROMETHEUS_RULES = "prometheus/rules"  # PrometheusRule objects, one per service
RULE_FILES = "prometheus/rulefiles"  # the same groups as plain rule files, for promtool
TEST_FILES = "prometheus/tests"  # promtool unit tests of the rule files
SERVICE_MONITORS = "prometheus/servicemonitors"
RULE_FILE_SUFFIX = ".rules.yaml"
TEST_FILE_SUFFIX = ".test.yaml"

ALERTMANAGER_CONFIG = "alertmanager/alertmanager.yaml"  # for amtool and a plain Alertmanager
ALERTMANAGER_RESOURCE = "alertmanager/alertmanagerconfig.yaml"  # the operator's AlertmanagerConfig
ROUTE_TESTS = "alertmanager/routes.test.yaml"

GRAFANA_DASHBOARDS = "grafana/dashboards"  # <uid>.json
GRAFANA_CONFIGMAPS = "grafana/configmaps"  # <uid>.yaml, the same dashboard for Grafana's sidecar
RUNBOOKS = "runbooks"
BACKUP = "backup"  # backup/velero/<service>.yaml, backup/<engine folder>/<service>-<datastore>.yaml
VELERO = f"{BACKUP}/velero"
PATCHES = "patches"  # for the user's own database workloads, not objects of the tree
PROBES = "prometheus/probes"  # Probe objects, one file per service that fails over
MIMIR_RULES = "mimir/rules"  # rules.target mimir: a namespace per service, for `mimirtool rules sync`
MIMIR_SYNC = "mimir/sync.sh"
DR_CLUSTER = "failover"  # the DR region's cluster: its objects and kustomization live in this folder


def prometheus_rule(service: str) -> str:
    return f"{PROMETHEUS_RULES}/{service}.yaml"


def rule_file(service: str) -> str:
    return f"{RULE_FILES}/{service}{RULE_FILE_SUFFIX}"


def test_file(service: str, kind: str = "") -> str:
    """The service's promtool tests; `kind` names a file of its own (e.g. one evaluated at a coarser step)."""
    return f"{TEST_FILES}/{service}{'.' + kind if kind else ''}{TEST_FILE_SUFFIX}"


def rule_file_from_tests(service: str) -> str:
    """The rule file as a test file names it: relative to the test file's folder, a sibling of
    the rule files' folder."""
    return f"../{RULE_FILES.rpartition('/')[2]}/{service}{RULE_FILE_SUFFIX}"


def mimir_rules(service: str) -> str:
    return f"{MIMIR_RULES}/{service}.yaml"


def probes(service: str) -> str:
    return f"{PROBES}/{service}.yaml"


def failover(service: str) -> str:
    """The DR region's objects of a service that fails over."""
    return f"{DR_CLUSTER}/{service}.yaml"
