"""Hostile spec files and folders: one clear problem naming the file (and line), exit 2,
never a traceback, through `validate`, `gen` and `plan` alike (issue 25)."""

from __future__ import annotations

import datetime
import errno
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from obskit.cli import main
from obskit.pipeline import load_plan, output_tree
from obskit.shown import shown
from obskit.spec import yaml_lines
from tests.conftest import MINIMAL

COMMANDS = ("validate", "gen", "plan")


def obskit(command: str, spec: Path, out: Path) -> Result:
    args = [command, "--spec", str(spec)]
    if command in ("gen", "plan"):
        args += ["--env", "prod"]
    if command == "gen":
        args += ["--out", str(out)]
    return CliRunner().invoke(main, args)


def assert_refused(result: Result, *fragments: str) -> str:
    """Exit 2, no traceback, and each fragment (the path, what is wrong) in the message."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


def spec_file(tmp_path: Path, content: str | bytes, name: str = "obskit.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def spec_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "a.yaml").write_text(MINIMAL)
    return folder


# --- folders and paths -------------------------------------------------------------------


def dangling_link(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "team.yaml").symlink_to("../submodule/team.yaml")
    return folder, str(folder / "team.yaml"), "a symlink to ../submodule/team.yaml, which does not exist"


def looping_link(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "loop.yml").symlink_to("other.yml")
    (folder / "other.yml").symlink_to("loop.yml")
    return folder, str(folder / "loop.yml"), "a symlink that loops"


def folder_entry(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "more.yaml").mkdir()
    return folder, str(folder / "more.yaml"), "a folder named like a spec file"


def fifo_entry(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    os.mkfifo(folder / "pipe.yaml")
    return folder, str(folder / "pipe.yaml"), "a named pipe (FIFO), not a regular file"


def fifo_spec(tmp_path: Path) -> tuple[Path, str, str]:
    os.mkfifo(tmp_path / "obskit.yaml")
    return tmp_path / "obskit.yaml", str(tmp_path / "obskit.yaml"), "a named pipe (FIFO), not a regular file"


def device_spec(tmp_path: Path) -> tuple[Path, str, str]:
    return Path("/dev/null"), "/dev/null", "a character device, not a regular file"


def dangling_spec(tmp_path: Path) -> tuple[Path, str, str]:
    (tmp_path / "obskit.yaml").symlink_to("specs/obskit.yaml")
    return tmp_path / "obskit.yaml", str(tmp_path / "obskit.yaml"), "a symlink to specs/obskit.yaml, which does not"


LAYOUTS = [dangling_link, looping_link, folder_entry, fifo_entry, fifo_spec, device_spec, dangling_spec]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.__name__)
def test_a_path_that_is_not_a_spec_file_is_named(
    tmp_path: Path, layout: Callable[[Path], tuple[Path, str, str]], command: str
) -> None:
    spec, named, message = layout(tmp_path)
    started = time.monotonic()
    assert_refused(obskit(command, spec, tmp_path / "out"), f"{named}: (top level): {message}")
    assert time.monotonic() - started < 30  # a FIFO is never opened, so nothing waits for a writer
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_alert_catalog_folder_with_a_dangling_link_is_named(tmp_path: Path, command: str) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "team.yaml").symlink_to("../vendor/team.yaml")
    spec = spec_file(tmp_path, MINIMAL + "alert_catalogs: [alerts]\n")
    link = tmp_path / "alerts" / "team.yaml"
    assert_refused(obskit(command, spec, tmp_path / "out"), f"{link}: (top level): a symlink to ../vendor/team.yaml")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_alert_catalog_that_is_a_fifo_is_named(tmp_path: Path, command: str) -> None:
    os.mkfifo(tmp_path / "alerts.yaml")
    spec = spec_file(tmp_path, MINIMAL + "alert_catalogs: [alerts.yaml]\n")
    expected = f"{spec}:14: alert_catalogs[0]: 'alerts.yaml': a named pipe (FIFO), not a regular file"
    assert_refused(obskit(command, spec, tmp_path / "out"), expected)


def test_gen_keeps_the_services_of_a_file_behind_a_dangling_link(tmp_path: Path) -> None:
    """An uninitialised submodule used to drop its services silently: gen deleted their files."""
    folder = spec_folder(tmp_path)
    other = MINIMAL.split("services:")[1].replace("checkout", "payments").replace("shop", "pay")
    (tmp_path / "team.yaml").write_text("apiVersion: obskit/v1\nservices:" + other)
    (folder / "team.yaml").symlink_to(tmp_path / "team.yaml")
    out = tmp_path / "out"
    assert obskit("gen", folder, out).exit_code == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert any("payments" in str(p) for p in before)
    (tmp_path / "team.yaml").unlink()
    assert_refused(obskit("gen", folder, out), str(folder / "team.yaml"), "does not exist")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreadable_spec_file_is_named(tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = spec_folder(tmp_path)
    (folder / "secret.yaml").write_text(MINIMAL)
    real_open = os.open

    def refusing_open(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        if str(path).endswith("secret.yaml"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(yaml_lines.os, "open", refusing_open)
    assert_refused(obskit(command, folder, tmp_path / "out"), f"{folder / 'secret.yaml'}:1: ", "Permission denied")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_spec_folder_that_cannot_be_listed_is_named(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = spec_folder(tmp_path)
    real_iterdir = Path.iterdir

    def refusing_iterdir(path: Path) -> Iterator[Path]:
        if path == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_iterdir(path)

    monkeypatch.setattr(Path, "iterdir", refusing_iterdir)
    expected = f"{folder}: (top level): cannot list the folder: Permission denied"
    assert_refused(obskit(command, folder, tmp_path / "out"), expected)


# --- file contents -----------------------------------------------------------------------


def _alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _nested(levels: int) -> str:
    return "x:\n" + "".join(" " * level + "-\n" for level in range(1, levels)) + " " * levels + "- 1\n"


CONTENTS: dict[str, tuple[str | bytes, str]] = {
    "recursive alias in a list": (MINIMAL + "x: &a [*a]\n", ":14: x[0]: an alias (*name) inside"),
    "recursive alias in a mapping": (MINIMAL + "x: &a {y: *a}\n", ":14: x.y: an alias (*name) inside"),
    "recursive merge key": (MINIMAL + "x: &a {<<: *a}\n", ":14: x: an alias (*name) inside"),
    "alias bomb": (MINIMAL + _alias_bomb(), ":14: f[0][3][5][3][6][7]: YAML aliases expand to more than"),
    "100000 nested [": (MINIMAL + "x: " + "[" * 100_000 + "\n", ":14: (top level): YAML syntax at column 1003: nested"),
    "600 nested lists": (MINIMAL + _nested(600), ":17: x[0][0]: nested more than 100 levels deep"),
    "5001-digit integer": (MINIMAL + "x: 1" + "0" * 5000 + "\n", ":14: x: a number of 5001 characters"),
    "5001-digit tier": (
        MINIMAL.replace("tier1_critical", "1" + "0" * 5000),
        ":10: services.checkout.tier: a number of 5001 characters",
    ),
    "impossible date": (MINIMAL + "x: 2024-13-45\n", ":14: x: '2024-13-45' looks like a date but is not one; quote it"),
    "!!bool maybe": (MINIMAL + "x: !!bool maybe\n", ":14: x: 'maybe' is not a valid !!bool value"),
    "!!timestamp foo": (MINIMAL + "x: !!timestamp foo\n", ":14: x: 'foo' looks like a date but is not one"),
    "empty !!int": (MINIMAL + "x: !!int ''\n", ":14: x: '' is not a valid !!int value"),
    "!!str on a list": (MINIMAL + "x: !!str [a]\n", ":14: x: the YAML tag !!str does not fit a list"),
    "!!map on a list": (MINIMAL + "x: !!map [a]\n", ":14: x: the YAML tag !!map does not fit a list"),
    "not UTF-8": (MINIMAL.encode() + b"x: caf\xe9\n", ":14: (top level): not UTF-8 text (byte 0xe9"),
    "a NUL byte": (MINIMAL.encode() + b"x: a\x00b\n", ":14: (top level): a NUL byte in the text"),
    "UTF-16": ("\ufeff".encode("utf-16-le") + MINIMAL.encode("utf-16-le"), ":1: (top level): UTF-16 text"),
    "binary": (bytes(range(256)) * 4, ":1: (top level): binary file (contains NUL bytes)"),
    "python object on a list": (
        MINIMAL + "x: !!python/object/apply:os.system ['touch /tmp/obskit-pwned']\n",
        ":14: x: the YAML tag !!python/object/apply:os.system is not allowed",
    ),
    "python name": (
        MINIMAL.replace("tier1_critical", "!!python/name:os.system"),
        ":10: services.checkout.tier: the YAML tag !!python/name:os.system is not allowed",
    ),
    "set": (MINIMAL + "x: !!set {a, b}\n", ":14: x: the YAML tag !!set is not allowed"),
    "custom tag": (MINIMAL + "x: !vault secret/db\n", ":14: x: the YAML tag !vault is not allowed"),
    "tagged key": (MINIMAL + "!!python/none x: 1\n", ":14: (top level): the YAML tag !!python/none is not allowed"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CONTENTS, ids=list(CONTENTS))
def test_hostile_content_is_one_problem_at_its_line(tmp_path: Path, case: str, command: str) -> None:
    content, message = CONTENTS[case]
    spec = spec_file(tmp_path, content)
    started = time.monotonic()
    output = assert_refused(obskit(command, spec, tmp_path / "out"), f"{spec}{message}")
    assert time.monotonic() - started < 10
    assert "1 problem found" in output
    assert not (tmp_path / "out").exists()
    assert not Path("/tmp/obskit-pwned").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path, command: str) -> None:
    spec = spec_file(tmp_path, MINIMAL)
    with spec.open("r+b") as stream:
        stream.truncate(3 * 1024**3)  # sparse: 3 GB on paper, nothing on disk
    started = time.monotonic()
    assert_refused(
        obskit(command, spec, tmp_path / "out"),
        f"{spec}:1: (top level): file is 3221225472 bytes; a spec file may be at most 8 MiB",
    )
    assert time.monotonic() - started < 5  # reading 3 GB took minutes


def test_a_file_that_grows_after_its_size_was_checked_is_still_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_file(tmp_path, MINIMAL + "#" * 2000 + "\n")
    monkeypatch.setattr(yaml_lines, "MAX_FILE_BYTES", 1000)
    real_fstat = os.fstat

    def small_fstat(fd: int) -> os.stat_result:
        status = real_fstat(fd)
        return os.stat_result((status.st_mode, *[0] * 5, 10, *[0] * 3))

    monkeypatch.setattr(yaml_lines.os, "fstat", small_fstat)
    problem = yaml_lines.load_yaml_file(spec)
    assert isinstance(problem, yaml_lines.Problem)
    assert problem.message.startswith("file is 1001 bytes")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_utf8_byte_order_mark_is_allowed(tmp_path: Path, command: str) -> None:
    result = obskit(command, spec_file(tmp_path, b"\xef\xbb\xbf" + MINIMAL.encode()), tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_explicit_standard_tags_are_allowed(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, MINIMAL.replace("namespace: shop", "namespace: !!str shop"))
    result = obskit("validate", spec, tmp_path / "out")
    assert result.exit_code == 0, result.output


# --- values in messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime.date(2024, 1, 1), "2024-01-01"),
        (datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.UTC), "2024-01-01T10:00:00+00:00"),
        (b"hello", "!!binary aGVsbG8="),
        (True, "true"),
        (None, "null"),
        (float("inf"), ".inf"),
        (float("-inf"), "-.inf"),
        (float("nan"), ".nan"),
        (99.9, "99.9"),
        (Decimal("99.95"), "99.95"),
        ("shop", "'shop'"),
        ("it's", "'it''s'"),
        (r'x{code=~"5\d\d"}', r"""'x{code=~"5\d\d"}'"""),
        ("two\nlines", '"two\\nlines"'),
        ({"a": None, "b": [1, "x", "yes", "a b"]}, "{a: null, b: [1, x, 'yes', 'a b']}"),
        (10**5000, "a number of about 5000 digits"),
        ("x" * 300, "'" + "x" * 196 + "... (302 characters)"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_are_shown_as_yaml_text(value: object, text: str) -> None:
    assert shown(value) == text


VALUES_IN_MESSAGES: dict[str, tuple[str, str]] = {
    "a date where text is wanted": (
        MINIMAL.replace("tier: tier1_critical", "tier: 2024-01-01"),
        ":10: services.checkout.tier: must be a string, got 2024-01-01 (a date in YAML: quote it to make it text)",
    ),
    "a date and time": (
        MINIMAL.replace("namespace: shop", "namespace: 2024-01-01 10:00:00Z"),
        ":9: services.checkout.namespace: must be a string, got 2024-01-01T10:00:00+00:00 (a date and time in YAML",
    ),
    "binary data": (
        MINIMAL.replace("tier: tier1_critical", "tier: !!binary aGVsbG8="),
        ":10: services.checkout.tier: must be a string, got !!binary aGVsbG8=",
    ),
    "a date as objective": (
        MINIMAL + "    slos:\n      a:\n        objective: 2024-01-01\n"
        "        errors: 'x{job=\"a\"}'\n        total: 'y{job=\"a\"}'\n",
        ":16: services.checkout.slos.a.objective: 2024-01-01 must be a percentage strictly between 0 and 100",
    ),
    "a date as key": (
        MINIMAL.replace("  checkout:", "  2024-01-01:"),
        ":8: services: the key 2024-01-01 is read as a date; keys must be text: quote it",
    ),
    "a boolean key": (
        MINIMAL.replace("  checkout:", "  yes:"),
        ":8: services: the key yes is read as true/false; keys must be text: quote it",
    ),
    "a list as the file": ("- apiVersion: obskit/v1\n", ":1: (top level): a spec file must be a mapping, got a list"),
    "a quote in a name": (
        MINIMAL.replace("tier: tier1_critical", 'tier: "gold\'s"'),
        ":10: services.checkout.tier: unknown tier 'gold''s'",
    ),
}


@pytest.mark.parametrize("case", VALUES_IN_MESSAGES, ids=list(VALUES_IN_MESSAGES))
def test_messages_show_values_as_written_never_python_reprs(tmp_path: Path, case: str) -> None:
    content, message = VALUES_IN_MESSAGES[case]
    spec = spec_file(tmp_path, content)
    output = assert_refused(obskit("validate", spec, tmp_path / "out"), f"{spec}{message}")
    for python in ("datetime.", "b'", "None", "True", "{'", "tzinfo"):
        assert python not in output


# --- the SLO description -----------------------------------------------------------------

SLO = """\
    slos:
      availability:
        objective: 99.9
        description: DESCRIPTION
        errors: 'http_requests_total{job="checkout",code=~"5.."}'
        total: 'http_requests_total{job="checkout"}'
"""


def with_description(tmp_path: Path, description: str) -> Path:
    return spec_file(tmp_path, MINIMAL + SLO.replace("DESCRIPTION", description))


def alerts(rules: str) -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(rules)["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_slo_description_ends_the_burn_alerts_description(tmp_path: Path) -> None:
    """It was read and then dropped; it is the team's own words for the on-call."""
    spec = with_description(tmp_path, "'Checkout payments that go through.'")
    tree = output_tree(load_plan(spec, "prod"))
    rules = alerts(tree["prometheus/rulefiles/checkout.rules.yaml"])
    burns = [alert for alert in rules if alert["alert"] == "ErrorBudgetBurn"]
    assert burns
    for alert in burns:
        assert alert["annotations"]["description"].endswith(". Checkout payments that go through.")
    for alert in rules:
        if alert["alert"] != "ErrorBudgetBurn":
            assert "Checkout payments" not in alert["annotations"]["description"]


@pytest.mark.tools("promtool")
def test_a_description_with_odd_characters_passes_promtool(tmp_path: Path) -> None:
    spec = with_description(tmp_path, "\"Paid: 100% of $orders}} <b>, 'quoted' & a\\\\backslash.\"")
    out = tmp_path / "out"
    assert obskit("gen", spec, out).exit_code == 0
    result = CliRunner().invoke(main, ["test", "--env", "prod", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rules = alerts((out / "prometheus/rulefiles/checkout.rules.yaml").read_text())
    burn = next(rule for rule in rules if rule["alert"] == "ErrorBudgetBurn")
    assert burn["annotations"]["description"].endswith(" Paid: 100% of $orders}} <b>, 'quoted' & a\\backslash.")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_template_in_the_slo_description_is_refused(tmp_path: Path, command: str) -> None:
    spec = with_description(tmp_path, "'Payments {{ .Value }} ok'")
    assert_refused(
        obskit(command, spec, tmp_path / "out"),
        f"{spec}:17: services.checkout.slos.availability.description: holds '{{{{', which Prometheus would expand",
    )
    assert not (tmp_path / "out").exists()


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    """A key, a value or a file name holding a line break or an escape sequence stays on its
    problem's line, escaped: a spec cannot forge or colour lines of CI's log."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "a.yaml").write_text(MINIMAL + '"x\\e[31m\\nobskit: forged": 1\n')
    (folder / "evil\x1b[2J\nname.yaml").write_text("apiVersion: obskit/v1\nservices:\n  'bad\tname': {}\n")
    output = assert_refused(obskit("validate", folder, tmp_path / "out"))
    assert "\x1b" not in output and "\t" not in output
    lines = output.splitlines()
    assert lines[0].startswith("obskit: ") and "7 problems found" in lines[0]
    assert all(line.startswith(("  /", '  "/')) and (":14: " in line or ":3: " in line) for line in lines[1:])
    assert lines[1].endswith(': "x\\u001b[31m\\nobskit: forged": unknown field "x\\u001b[31m\\nobskit: forged"')
    assert lines[2].startswith(f'  "{folder}/evil\\u001b[2J\\nname.yaml":3: services."bad\\tname": "bad\\tname" is not')


PARSER_KILLERS = {
    "nested brackets": "(" * 20000 + "up" + ")" * 20000,
    "a long operator chain": "up + " * 60000 + "up",
    "a long unary chain": "-" * 200000 + "up",
}


@pytest.mark.parametrize("what", sorted(PARSER_KILLERS))
def test_promql_the_parser_cannot_survive_is_refused_before_it_is_parsed(tmp_path: Path, what: str) -> None:
    """promql-parser overflows its stack (the process dies with SIGSEGV, no traceback to catch) or
    takes minutes on such text; the spec is refused at its line instead. Run as a process of its
    own, as a crash would take pytest down with it."""
    import subprocess
    import sys

    query = PARSER_KILLERS[what]
    spec = spec_file(
        tmp_path,
        MINIMAL
        + "    slos:\n      availability:\n"
        + f"        error_query: 'sum(rate(({query})[{{{{window}}}}]))'\n"
        + "        total_query: 'sum(rate(up[{{window}}]))'\n",
    )
    obskit_command = str(Path(sys.executable).with_name("obskit"))
    result = subprocess.run(
        [obskit_command, "validate", "--spec", str(spec)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr
    assert "obskit.yaml:16: services.checkout.slos.availability.error_query" in result.stderr
    assert "at most" in result.stderr
