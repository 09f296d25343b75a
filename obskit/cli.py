"""The obskit command line: gen and validate (SPEC.md section 3)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from obskit.generate import generate_tree
from obskit.model import Spec
from obskit.plan import build_plan
from obskit.problems import SpecInvalid
from obskit.resolve import UnknownEnvironment, load_spec
from obskit.writer import OutputError, diff, with_manifest, write

EXIT_OK, EXIT_DRIFT, EXIT_INVALID = 0, 1, 2

SPEC_OPTION = click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path),
    default=Path("obskit.yaml"),
    show_default=True,
    help="A spec file, or a directory whose *.yaml/*.yml files are merged.",
)


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(EXIT_INVALID)


def _load(spec_path: Path, environments: list[str] | None) -> Spec:
    try:
        return load_spec(spec_path, environments)
    except SpecInvalid as err:
        count = len(err.problems)
        _fail(
            [f"obskit: {spec_path}: {count} problem{'s' if count != 1 else ''} found, nothing written:"]
            + [f"  {problem}" for problem in err.problems]
        )
    except UnknownEnvironment as err:
        _fail([f"obskit: {err}"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="obskit")
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
def gen(env_name: str, spec_path: Path, out: Path | None, check: bool) -> None:
    """Write the output tree for one environment.

    The tree is built beside OUT and swapped in atomically; files an earlier run wrote
    that are no longer generated are removed. Exit codes: 0 ok (or no drift with
    --check), 1 drift (--check), 2 invalid spec or unusable output directory.
    """
    spec = _load(spec_path, [env_name])
    out_dir = out if out is not None else Path("out") / env_name
    tree = with_manifest(generate_tree(build_plan(spec, env_name)))
    drift = diff(out_dir, tree)
    if check:
        if drift:
            click.echo(f"obskit: {out_dir} differs from what the spec generates (run `obskit gen --env {env_name}`):")
            for line in drift.lines():
                click.echo(f"  {line}")
            sys.exit(EXIT_DRIFT)
        click.echo(f"{out_dir}: up to date ({len(tree)} files)")
        return
    try:
        write(out_dir, tree)
    except OutputError as err:
        _fail([f"obskit: {err}"])
    summary = f"{len(drift.added)} added, {len(drift.changed)} changed, {len(drift.removed)} removed"
    click.echo(f"{out_dir}: {len(tree)} files ({summary})")


@main.command()
@SPEC_OPTION
@click.option("--env", "env_name", default=None, help="Check only this environment.  [default: every environment]")
def validate(spec_path: Path, env_name: str | None) -> None:
    """Run every spec check and write nothing.

    Every problem is reported as FILE:LINE: field.path: what is wrong.
    Exit codes: 0 valid, 2 invalid.
    """
    spec = _load(spec_path, [env_name] if env_name else None)
    services = {service.name for env in spec.environments for service in env.services}
    names = ", ".join(env.name for env in spec.environments)
    click.echo(f"{spec_path}: valid ({len(services)} services; environments: {names})")
