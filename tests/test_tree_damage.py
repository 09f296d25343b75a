"""`obskit test` on a damaged tree: every file the manifest lists must be there, inside the tree,
readable text holding what its kind needs. Each damage ends in exit 1 with a message naming the
path, never in a traceback, and a path leading outside the tree is never opened."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from obskit.cli import main
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from tests.conftest import EXAMPLES

# obskit test runs promtool and amtool on the trees that pass the manifest check
pytestmark = pytest.mark.tools("promtool", "amtool")

WALG = "backup/walg/checkout-orders-db.yaml"
TEST = "prometheus/tests/checkout.test.yaml"
RULES = "prometheus/rulefiles/checkout.rules.yaml"
CRD = "prometheus/rules/checkout.yaml"
MANIFEST = ".obskit-manifest"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tree = tmp_path_factory.mktemp("pristine") / "prod"
    write(tree, output_tree(load_plan(EXAMPLES, "prod")))
    return {p.relative_to(tree).as_posix(): p.read_text() for p in tree.rglob("*") if p.is_file()}


def edit(tree: Path, relative: str, change: Callable[[str], str]) -> None:
    path = tree / relative
    path.write_text(change(path.read_text()))


def listed(tree: Path, line: str) -> None:
    edit(tree, MANIFEST, lambda text: text + line + "\n")


def outside_fifo(tree: Path) -> Path:
    """A FIFO outside the tree: opening it for reading would block the command for ever."""
    fifo = tree.parent / "outside.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    return fifo


def without_cronjobs(text: str) -> str:
    return text[: text.index("apiVersion: batch/v1\nkind: CronJob")].rstrip("-\n") + "\n"


def dropped_resource(text: str) -> str:
    return text.replace(f"- {WALG}\n", "")


def symlink_out(tree: Path) -> None:
    (tree / TEST).unlink()
    (tree / TEST).symlink_to(outside_fifo(tree))


def folder_out(tree: Path) -> None:
    """The whole tests folder a symlink to a folder outside holding a FIFO named like a test."""
    folder = tree.parent / "elsewhere"
    folder.mkdir(exist_ok=True)
    if not (folder / "evil.test.yaml").exists():
        os.mkfifo(folder / "evil.test.yaml")
    for path in (tree / "prometheus/tests").iterdir():
        path.rename(folder / path.name)
    (tree / "prometheus/tests").rmdir()
    (tree / "prometheus/tests").symlink_to(folder)


def fifo_inside(tree: Path) -> None:
    (tree / TEST).unlink()
    os.mkfifo(tree / TEST)


def directory_instead(tree: Path) -> None:
    (tree / RULES).unlink()
    (tree / RULES).mkdir()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "a test file deleted": (lambda t: (t / TEST).unlink(), f"{TEST}: listed in {MANIFEST} but missing"),
    "the WAL-G CronJob file deleted": (lambda t: (t / WALG).unlink(), f"{WALG}: listed in {MANIFEST} but missing"),
    "the CronJobs cut from their file": (
        lambda t: edit(t, WALG, without_cronjobs),
        f"{WALG}: not a datastore's backup CronJobs (no line `kind: CronJob`)",
    ),
    "the CronJob file dropped from the kustomization": (
        lambda t: edit(t, "kustomization.yaml", dropped_resource),
        f"{WALG}: not among kustomization.yaml's resources (kustomize would not apply it)",
    ),
    "a kustomization that is not YAML": (
        lambda t: edit(t, "kustomization.yaml", lambda text: text + "resources: [\n"),
        "kustomization.yaml: not YAML at line",
    ),
    "a kustomization resource outside the tree": (
        lambda t: edit(t, "kustomization.yaml", lambda text: text + "- ../../../etc/passwd\n"),
        f"kustomization.yaml: resource ../../../etc/passwd is not a file {MANIFEST} lists",
    ),
    "a binary test file": (
        lambda t: (t / TEST).write_bytes(b"rule_files:\n\0\1\2\ntests:\n"),
        f"{TEST}: a binary file",
    ),
    "a test file that is not UTF-8": (
        lambda t: (t / TEST).write_bytes(b"rule_files:\ntests:\n\xff\xfe"),
        f"{TEST}: not UTF-8 text",
    ),
    "a directory where a rule file should be": (directory_instead, f"{RULES}: a directory where a file should be"),
    "a FIFO where a test file should be": (fifo_inside, f"{TEST}: not a regular file"),
    "no manifest": (lambda t: (t / MANIFEST).unlink(), f"no {MANIFEST}: run `obskit gen` first"),
    "a manifest that is not UTF-8": (lambda t: (t / MANIFEST).write_bytes(b"\xff\xfe\n"), f"{MANIFEST}: not UTF-8"),
    "an absolute manifest line": (
        lambda t: listed(t, "/etc/passwd"),
        "/etc/passwd: points outside the tree (not read)",
    ),
    "a manifest line with ..": (
        lambda t: listed(t, "runbooks/../../outside.fifo"),
        "runbooks/../../outside.fifo: points outside the tree (not read)",
    ),
    "a listed file that is a symlink leaving the tree": (
        symlink_out,
        f"{TEST}: a symlink that leads outside the tree (not read)",
    ),
    "the tests folder a symlink leaving the tree": (
        folder_out,
        "prometheus/tests/evil.test.yaml: a symlink that leads outside the tree (not read) (not in the manifest)",
    ),
    "a unit test's rule file outside the tree": (
        lambda t: edit(t, TEST, lambda text: text.replace("- ../rulefiles/checkout.rules.yaml", "- /etc/passwd")),
        f"{TEST}: names /etc/passwd, outside the tree (not read)",
    ),
    "the routing tests' config outside the tree": (
        lambda t: edit(t, "alertmanager/routes.test.yaml", lambda text: re.sub(r"config: .*", "config: ../../x", text)),
        "alertmanager/routes.test.yaml: names ../../x, outside the tree (not read)",
    ),
    "a dashboard that is not JSON": (
        lambda t: edit(t, "grafana/dashboards/obskit-prod-slo.json", lambda text: text[:100]),
        "grafana/dashboards/obskit-prod-slo.json: not JSON",
    ),
}


def damaged(tmp_path: Path, pristine: dict[str, str], damage: Callable[[Path], None]) -> Path:
    tree = tmp_path / "prod"
    write(tree, pristine)
    outside_fifo(tree)
    damage(tree)
    return tree


def obskit_test(tree: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["test", "--env", "prod", "--out", str(tree)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_tree_fails_naming_the_path(tmp_path: Path, pristine: dict[str, str], case: str) -> None:
    damage, message = DAMAGE[case]
    code, output = obskit_test(damaged(tmp_path, pristine, damage))
    assert code == 1, output
    assert message in output, output
    assert "the other checks did not run" in output


# Damage the listing cannot see without parsing every file: the checks that parse it report it.
PARSED: dict[str, tuple[str, Callable[[str], str], str]] = {
    "a PrometheusRule that is not YAML": (CRD, lambda text: text + "  broken: [\n", f"{CRD}: not YAML"),
    "a rule file that is not YAML": (RULES, lambda text: text + "  broken: [\n", RULES),
    "a test nested past the parser's stack": (
        TEST,
        lambda text: text + "- nested: " + "[" * 50_000 + "]" * 50_000 + "\n",
        TEST,
    ),
}


# promtool runs on the whole example for each case: make test-fast keeps the nesting past the
# parser's stack (obskit's own parsing of the tests), and test_a_prometheusrule_that_is_not_yaml_is_named
# below checks the PrometheusRule's case without promtool
FAST_PARSED = {"a test nested past the parser's stack"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "case", [case if case in FAST_PARSED else pytest.param(case, marks=pytest.mark.slow) for case in sorted(PARSED)]
)
def test_a_file_that_does_not_parse_fails_naming_it(tmp_path: Path, pristine: dict[str, str], case: str) -> None:
    relative, change, message = PARSED[case]
    code, output = obskit_test(damaged(tmp_path, pristine, lambda tree: edit(tree, relative, change)))
    assert code == 1, output
    assert message in output, output


def test_a_prometheusrule_that_is_not_yaml_is_named(tmp_path: Path, pristine: dict[str, str]) -> None:
    """The check `obskit test` runs on the PrometheusRules, on the damage of the first PARSED case."""
    from obskit.verify.tree import _same_rules_check

    relative, change, message = PARSED["a PrometheusRule that is not YAML"]
    checked = _same_rules_check(damaged(tmp_path, pristine, lambda tree: edit(tree, relative, change)))
    assert not checked.ok
    assert checked.details.startswith(message), checked.details


# test_rules' test_the_generated_rules_and_tests_pass_on_each_prometheus_version[prod-2.x] runs
# the same checks on the same tree in make test-fast
@pytest.mark.slow
def test_the_pristine_tree_passes(tmp_path: Path, pristine: dict[str, str]) -> None:
    code, output = obskit_test(damaged(tmp_path, pristine, lambda tree: None))
    assert code == 0, output


def test_object_problems_are_plain_words_not_python_reprs() -> None:
    from obskit.verify.objects import object_problems

    assert object_problems({"apiVersion": "v1", "kind": "Nope"}) == ['no model for apiVersion "v1" kind "Nope"']
    schedule = {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "x"}}
    schedule["spec"] = {"schedule": "0 * * * *", "template": {"ttl": date(2024, 1, 1)}}
    assert object_problems(schedule) == [
        "rejected by the Schedule model: spec.template.ttl: Input should be a valid string"
    ]
