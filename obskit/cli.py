"""The obskit command line: options in, one pipeline call, output printed (the README's CLI table)."""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from obskit import pipeline
from obskit.generate.dashboards import DashboardError
from obskit.generate.parallel import available_cpus
from obskit.output.writer import OutputError, diff, write
from obskit.pipeline import load_plan, output_files
from obskit.plan.types import Plan
from obskit.spec.problems import SpecInvalid
from obskit.spec.resolve import UnknownEnvironment

DEFAULT_SPEC = Path("obskit.yaml")
DISTRIBUTION = "obskit-gen"  # the name on the package index; the command and the import stay obskit
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2  # failed: drift (gen --check) or a failed check (test)
T = TypeVar("T")

SPEC_OPTION = click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_SPEC,
    show_default=True,
    help="A spec file, or a directory whose *.yaml/*.yml files are merged.",
)


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(EXIT_INVALID)


def _invalid(what: str, err: SpecInvalid) -> NoReturn:
    count = len(err.problems)
    _fail(
        [f"obskit: {what}: {count} problem{'s' if count != 1 else ''} found, nothing written:"]
        + [f"  {problem}" for problem in err.problems]
    )


def _load_plan(spec_path: Path, environment: str, feasible: bool = True) -> Plan:
    return _guarded(spec_path, lambda: load_plan(spec_path, environment, feasible))


def _guarded(spec_path: Path, load: Callable[[], T]) -> T:
    try:
        return _without_gc_passes(load)
    except SpecInvalid as err:
        _invalid(str(spec_path), err)
    except UnknownEnvironment as err:
        _fail([f"obskit: {err}"])


def _without_gc_passes(load: Callable[[], T]) -> T:
    """Load with the cyclic collector paused, then exempt what was loaded from its passes.

    Loading builds hundreds of thousands of small objects that live until the command ends;
    every pass of the collector over the oldest generation walks them all again, which made
    rendering grow faster than the number of services (measured: benchmarks/README.md)."""
    gc.disable()
    try:
        return load()
    finally:
        gc.enable()
        gc.collect()  # what loading left unreachable (a few objects), rather than freezing it for good
        gc.freeze()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="obskit")
def main() -> None:
    """Generate monitoring and disaster-recovery config from one service spec.

    Describe each service once (tier, SLOs, datastores) in a spec; obskit writes the
    Prometheus rules, ServiceMonitors, dashboards and backup schedules for one
    environment into a directory you commit to your GitOps repo.
    """


@main.command()
@click.option("--env", "env_name", required=True, help="The environment to generate, as named under `environments:`.")
@SPEC_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output directory.  [default: ./out/ENV]",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 and list the files if the tree on disk differs from what would be generated.",
)
@click.option("--diff", "show_diff", is_flag=True, help="With --check: print a unified diff of every differing file.")
@click.option(
    "--force",
    is_flag=True,
    help="Adopt an OUT without obskit's manifest (say, after it was deleted): replace the files obskit "
    "generates, keep every other file.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that render a large environment in parts; the output is the same.  [default: CPUs available]",
)
def gen(
    env_name: str, spec_path: Path, out: Path | None, check: bool, show_diff: bool, force: bool, jobs: int | None
) -> None:
    """Write the output tree for one environment.

    The tree is built beside OUT and swapped in atomically; files an earlier run wrote
    that are no longer generated are removed. Exit codes: 0 ok (or no drift with
    --check), 1 drift (--check), 2 invalid spec, infeasible DR plan or unusable output directory.
    """
    if show_diff and not check:
        _fail(["obskit: --diff goes with --check"])
    plan = _load_plan(spec_path, env_name)
    from obskit.plan.report import grouped_notes

    for note in grouped_notes(plan):
        click.echo(f"note: {note}", err=True)
    out_dir = out if out is not None else Path("out") / env_name
    files = output_files(plan, jobs or available_cpus())
    try:
        drift = (
            diff(out_dir, files, patches=show_diff)
            if check
            else write(out_dir, files, force=force, protected=[spec_path])
        )
    except DashboardError as err:
        _fail([f"obskit: a dashboard template failed, nothing written:\n{err}"])
    except OutputError as err:
        _fail([f"obskit: {err}"])
    if check:
        if drift:
            given = f" --spec {spec_path}" if spec_path != DEFAULT_SPEC else ""
            given += f" --out {out}" if out is not None else ""
            click.echo(
                f"obskit: {out_dir} differs from what the spec generates (run `obskit gen --env {env_name}{given}`):"
            )
            for line in drift.lines():
                click.echo(f"  {line}")
            for patch in drift.patches.values():
                click.echo(patch, nl=False)
            sys.exit(EXIT_FAILED)
        click.echo(f"{out_dir}: up to date ({drift.files} files)")
        return
    summary = f"{len(drift.added)} added, {len(drift.changed)} changed, {len(drift.removed)} removed"
    click.echo(f"{out_dir}: {drift.files} files ({summary})")


@main.command()
@SPEC_OPTION
@click.option("--env", "env_name", default=None, help="Check only this environment.  [default: every environment]")
def validate(spec_path: Path, env_name: str | None) -> None:
    """Run every spec check, the DR plan's feasibility included, and write nothing.

    Every problem is reported as FILE:LINE: field.path: what is wrong.
    Exit codes: 0 valid, 2 invalid.
    """
    spec = _guarded(spec_path, lambda: pipeline.validate(spec_path, env_name))
    services = {service.name for env in spec.environments for service in env.services}
    names = ", ".join(env.name for env in spec.environments)
    count = f"{len(services)} service{'s' if len(services) != 1 else ''}"
    click.echo(f"{spec_path}: valid ({count}; environments: {names})")


@main.command("test")
@click.option("--env", "env_name", required=True, help="The environment whose tree to check.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The tree to check.  [default: ./out/ENV]",
)
def test_command(env_name: str, out: Path | None) -> None:
    """Check a generated tree as CI would.

    promtool check rules (--lint-fatal) on every plain rule file and promtool test rules
    on every generated unit test, one promtool process each; every PrometheusRule holds
    the same groups as its plain file; custom resources survive a round trip through
    their typed models unchanged, and core objects (ConfigMap, CronJob) pass the
    Kubernetes schema strictly; with routing, amtool check-config on the Alertmanager
    configuration and `amtool config routes test` for every service and severity.
    Exit codes: 0 all passed, 1 something failed.
    """
    # Imported here: the typed object models take two seconds to import, and only `test` needs them.
    from obskit.verify import amtool, promtool
    from obskit.verify import tree as tree_check

    root = out if out is not None else Path("out") / env_name
    try:
        click.echo(f"using {promtool.find_promtool()} ({promtool.version()})")
        report = tree_check.check_tree(root)
    except (promtool.PromtoolMissing, amtool.AmtoolMissing) as err:
        click.echo(f"obskit: {err}", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as err:  # the tree changed under the checks, after they found it whole
        click.echo(f"obskit: {err.filename or root}: {err.strerror or 'cannot be read'}", err=True)
        sys.exit(EXIT_FAILED)
    for check in report.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.title}")
        if check.details:
            click.echo("\n".join(f"     {line}" for line in check.details.splitlines()))
    if not report.ok:
        sys.exit(EXIT_FAILED)


@main.command("plan")
@click.option("--env", "env_name", required=True, help="The environment to plan.")
@SPEC_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON instead of a table.")
def plan_command(env_name: str, spec_path: Path, as_json: bool) -> None:
    """Show the disaster-recovery plan: per service and datastore, the RPO and RTO targets
    against what the generated schedules achieve, with intervals and retention.

    Exit codes: 0 every target is met, 2 invalid spec or a target cannot be met.
    """
    from obskit.plan.report import plan_data, plan_table

    data = plan_data(_load_plan(spec_path, env_name, feasible=False))
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else plan_table(data), nl=not as_json)
    if as_json:
        click.echo()
    if not data["feasible"]:
        sys.exit(EXIT_INVALID)


@main.command("check")
@click.option("--env", "env_name", required=True, help="The environment the Prometheus serves.")
@click.option("--prometheus", "url", required=True, help="Base URL of its HTTP API, e.g. http://prometheus:9090.")
@SPEC_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="The generated tree: also compare the rule groups Prometheus has loaded with its rule files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--bearer-token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file holding the bearer token (or set $OBSKIT_PROMETHEUS_TOKEN).",
)
@click.option("--basic-auth-user", default=None, help="Basic auth user; the password from a file or the environment.")
@click.option(
    "--basic-auth-password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file holding the basic auth password (or set $OBSKIT_PROMETHEUS_PASSWORD).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request.")
@click.option(
    "--max-time", type=click.FloatRange(min=1), default=120.0, show_default=True, help="Seconds for the whole check."
)
def check_command(
    env_name: str,
    url: str,
    spec_path: Path,
    out: Path | None,
    as_json: bool,
    bearer_token_file: Path | None,
    basic_auth_user: str | None,
    basic_auth_password_file: Path | None,
    timeout: float,
    max_time: float,
) -> None:
    """Hold the spec against a live Prometheus (read-only): SLI selectors that match nothing, gauges
    where counters belong, a missing `le` bucket, targets and scrape intervals, retention shorter
    than the SLO windows, colliding external labels, absent DR inputs, and with --out the rules it
    has loaded against the tree's.

    Exit codes: 0 everything holds, 1 findings (a table: what was found, what to do), 2 invalid
    spec or Prometheus unreachable.
    """
    from obskit.verify.live import api as live_api
    from obskit.verify.live import report
    from obskit.verify.live.checks import TreeUnreadable, all_checks

    plan = _load_plan(spec_path, env_name)
    try:
        headers = live_api.auth_header(bearer_token_file, basic_auth_user, basic_auth_password_file)
        client = live_api.PrometheusAPI(url, headers, timeout, max_time)
        findings = all_checks(client, plan, out)
    except (live_api.CredentialsError, TreeUnreadable) as err:
        _fail([f"obskit: {err}"])
    except (live_api.PrometheusUnavailable, live_api.QueryError) as err:
        _fail([f"obskit: cannot check against Prometheus: {err}"])
    if as_json:
        click.echo(report.as_json(url, env_name, findings))
    elif findings:
        click.echo(report.table(findings))
    else:
        slos = sum(len(service_plan.slos) for service_plan in plan.services)
        click.echo(f"every check holds: {len(plan.services)} services, {slos} SLOs against {url}")
    if findings:
        sys.exit(EXIT_FAILED)


@main.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
def init_command(directory: Path) -> None:
    """Write a commented starter spec, DIRECTORY/obskit.yaml (default: the current directory).

    One service with one SLO in one environment, a backup commented out; it validates and
    generates as written. An existing file is never overwritten.
    Exit codes: 0 written, 1 the file exists (or is a symlink), 2 the folder cannot be written.
    """
    target = directory / "obskit.yaml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _fail([f"obskit: {directory}: cannot create the folder: {err.strerror}; nothing written"])
    try:
        _create(target, pipeline.starter_spec())
    except FileExistsError:
        click.echo(f"obskit: {target} exists; nothing written (edit it, or remove it first)", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as err:
        _fail([f"obskit: {target}: cannot write it: {err.strerror}; nothing written"])
    click.echo(f"wrote {target}; next: obskit validate --spec {target} && obskit gen --env prod --spec {target}")


def _create(target: Path, text: str) -> None:
    """Write a new file: never over an existing one, never through a symlink (even a dangling one)."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as created:
        created.write(text)


@main.group("import")
def import_group() -> None:
    """Turn SLOs written for another tool into an obskit spec (commented, with TODOs to fill)."""


_IMPORT_FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
_IMPORT_OUT = click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the spec to this new file (never over an existing one).  [default: standard output]",
)


def _import(tool: str, files: tuple[Path, ...], out: Path | None) -> None:
    label = ", ".join(str(path) for path in files)
    try:
        text = pipeline.imported_spec(tool, list(files))
    except SpecInvalid as err:
        _invalid(label, err)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        _create(out, text)
    except FileExistsError:
        _fail([f"obskit: {out} exists; nothing written (choose another --out, or remove it first)"])
    except OSError as err:
        _fail([f"obskit: {out}: cannot write it: {err.strerror}; nothing written"])
    click.echo(f"wrote {out}; next: replace its TODOs, then obskit validate", err=True)


@import_group.command("openslo")
@_IMPORT_FILES
@_IMPORT_OUT
def import_openslo(files: tuple[Path, ...], out: Path | None) -> None:
    """OpenSLO v1 files (Service, DataSource, SLI, SLO, AlertPolicy, AlertCondition) as an obskit spec.

    Ratio SLIs of Prometheus counters (good or bad over total), rolling windows, Occurrences
    budgeting; burn-rate alert conditions map onto obskit's page and ticket alerts where their
    lookback windows are obskit's. Anything else is refused at FILE:LINE, naming the feature.
    Exit codes: 0 written, 2 unsupported or invalid.
    """
    _import("openslo", files, out)


@import_group.command("sloth")
@_IMPORT_FILES
@_IMPORT_OUT
def import_sloth(files: tuple[Path, ...], out: Path | None) -> None:
    """Sloth specs (version: prometheus/v1, or the Kubernetes PrometheusServiceLevel) as an obskit spec.

    Event SLIs keep their queries ({{.window}} becomes {{window}}); the page and ticket alerts
    follow the spec's disable flags. Exit codes: 0 written, 2 unsupported or invalid.
    """
    _import("sloth", files, out)


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of a spec file, for editors.

    Save it and name it in the spec's first line for yaml-language-server:
    `# yaml-language-server: $schema=./obskit.schema.json`. Exit code: 0.
    """
    click.echo(json.dumps(pipeline.spec_json_schema(), indent=2, sort_keys=True))
