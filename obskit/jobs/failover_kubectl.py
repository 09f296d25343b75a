#!/usr/bin/env python3
"""The failover's Kubernetes steps, run in the DR region's cluster by kubectl with the step's own
ServiceAccount (a Role on the service's namespace only):

    failover_kubectl.py scale --namespace NS --deployment NAME --replicas N [--timeout SECONDS]
    failover_kubectl.py apply --file PATH

`scale` sets the Deployment's replicas, then waits until the rollout has them ready (`kubectl
rollout status`), so that the step ends when the DR region serves, not when it was asked to.
`apply` applies a manifest obskit wrote for the moment of failover (the external-dns DNSEndpoint
that points the service's name at the DR region). Running either twice is safe: both only
converge on the state asked for. Exit codes: kubectl's on failure, 2 for usage, 127 without kubectl.
Only the standard library and kubectl.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence


def commands(args: argparse.Namespace) -> list[list[str]]:
    if args.step == "apply":
        return [["kubectl", "apply", f"--filename={args.file}"]]
    target = [f"--namespace={args.namespace}", f"deployment/{args.deployment}"]
    return [
        ["kubectl", "scale", f"--replicas={args.replicas}", *target],
        ["kubectl", "rollout", "status", f"--timeout={args.timeout}s", *target],
    ]


def parser() -> argparse.ArgumentParser:
    parsed = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parsed.add_subparsers(dest="step", required=True)
    scale = steps.add_parser("scale", help="scale a Deployment and wait for its rollout")
    scale.add_argument("--namespace", required=True)
    scale.add_argument("--deployment", required=True)
    scale.add_argument("--replicas", type=int, required=True)
    scale.add_argument("--timeout", type=int, default=300, help="seconds to wait for the rollout (default 300)")
    apply = steps.add_parser("apply", help="apply a manifest")
    apply.add_argument("--file", required=True)
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.step == "scale" and args.replicas < 1:
        print("failover_kubectl.py: --replicas must be at least 1", file=sys.stderr)
        return 2
    if shutil.which("kubectl") is None:
        print("failover_kubectl.py: kubectl is not on PATH (the failover image must have it)", file=sys.stderr)
        return 127
    for command in commands(args):
        print("+ " + " ".join(command), flush=True)
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            print(f"failover_kubectl.py: {command[1]} failed with exit code {done.returncode}", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
