#!/usr/bin/env python3
"""The failover's DNS step: point a name at the DR region with an RFC 2136 dynamic update signed
by a TSIG key, then wait until the authoritative servers answer the new address with the TTL.

    failover_dns.py --server ns1.example.com[:53] --zone example.com --name api.example.com \\
        --type A --address 203.0.113.7 --ttl 60 --key-file /etc/obskit/tsig/key \\
        [--check-server HOST[:PORT] ...] [--timeout 120]

The key file is what `tsig-keygen -a hmac-sha256 NAME` prints (`key "NAME" { algorithm ...;
secret "..."; };`); nsupdate reads it with -k, so the secret is never on a command line. The
update is sent on nsupdate's stdin as one message that deletes the name's records of that type
and adds the new ones: the server applies it atomically, and BIND leaves the zone (and its serial)
untouched when it changes nothing. A run that finds every server already answering what it
wants sends nothing, so running the step twice, or again after a timeout, is safe.

The servers checked (--check-server, each authoritative server the public resolves from; the
--server alone by default) are asked with `dig +norecurse`, so they answer from the zone and the
TTL they give is the configured one. Exit codes: 0 the servers answer the new records, 1 the
update was refused or failed, 2 usage, 3 a server still answered otherwise at --timeout, 127
nsupdate or dig is missing. Only the standard library, nsupdate and dig (bind9-dnsutils).
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

TYPES = ("A", "AAAA", "CNAME")


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def server(text: str) -> Server:
    """HOST, HOST:PORT, or [IPv6]:PORT (a bare IPv6 address is a host)."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST[:PORT]")
    return Server(host, int(port))


def fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


def canonical(rrtype: str, data: str) -> str:
    if rrtype == "CNAME":
        return fqdn(data)
    return str(ipaddress.ip_address(data))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--server", type=server, required=True, help="the primary to update: HOST[:PORT]")
    parser.add_argument("--zone", required=True)
    parser.add_argument("--name", required=True, help="the name to point, inside --zone")
    parser.add_argument("--type", default="A", choices=TYPES, dest="rrtype")
    parser.add_argument("--address", action="append", required=True, help="the new data (repeat for several)")
    parser.add_argument("--ttl", type=int, required=True)
    parser.add_argument("--key-file", required=True, help="TSIG key in the format nsupdate -k reads")
    parser.add_argument("--check-server", type=server, action="append", default=[], help="HOST[:PORT] to verify")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the servers (default 120)")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between checks (default 0.5)")
    args = parser.parse_args(argv)
    zone, name = fqdn(args.zone), fqdn(args.name)
    if name != zone and not name.endswith("." + zone):
        parser.error(f"--name {args.name} is not inside --zone {args.zone}")
    if args.rrtype == "CNAME" and len(args.address) > 1:
        parser.error("a CNAME takes one --address")
    if not 0 <= args.ttl <= 2**31 - 1:
        parser.error(f"--ttl {args.ttl} is out of range")
    try:
        args.address = sorted({canonical(args.rrtype, a) for a in args.address})
    except ValueError as err:
        parser.error(f"--address: {err}")
    args.zone, args.name = zone, name
    args.check_server = args.check_server or [args.server]
    return args


def update_script(args: argparse.Namespace) -> str:
    """What nsupdate reads on stdin: one message, so the server applies it whole or not at all."""
    lines = [
        f"server {args.server.host} {args.server.port}",
        f"zone {args.zone}",
        f"update delete {args.name} {args.rrtype}",
        *(f"update add {args.name} {args.ttl} {args.rrtype} {data}" for data in args.address),
        "send",
    ]
    return "\n".join(lines) + "\n"


def answer(dig: str, at: Server, name: str, rrtype: str) -> list[tuple[int, str]] | str:
    """The (ttl, data) records `at` answers for name, or why there is no answer."""
    flags = ["+norecurse", "+noall", "+answer", "+time=2", "+tries=1"]
    done = subprocess.run(
        [dig, *flags, f"@{at.host}", "-p", str(at.port), name, rrtype],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    if done.returncode != 0:
        said = " / ".join(line.lstrip("; ") for line in (done.stdout + done.stderr).splitlines() if line.strip())
        return f"no answer (dig exit {done.returncode}: {said[-200:]})"
    records = []
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fqdn(fields[0]) == name and fields[3] == rrtype:
            records.append((int(fields[1]), canonical(rrtype, fields[4])))
    return sorted(records)


def describe(found: list[tuple[int, str]] | str) -> str:
    if isinstance(found, str):
        return found
    return ", ".join(f"{data} (TTL {ttl})" for ttl, data in found) or "no records"


def all_answer(dig: str, args: argparse.Namespace) -> dict[Server, list[tuple[int, str]] | str]:
    """Each checked server's answer, for those that do not yet answer what we want (empty: done)."""
    wanted = [(args.ttl, data) for data in args.address]
    answers = {at: answer(dig, at, args.name, args.rrtype) for at in args.check_server}
    return {at: found for at, found in answers.items() if found != wanted}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    programs = {name: shutil.which(name) for name in ("nsupdate", "dig")}
    missing = [name for name, path in programs.items() if path is None]
    if missing:
        print(f"failover_dns: {' and '.join(missing)} not found (Debian package bind9-dnsutils)", file=sys.stderr)
        return 127
    nsupdate, dig = str(programs["nsupdate"]), str(programs["dig"])
    want = f"{args.name} {args.rrtype} {', '.join(args.address)} TTL {args.ttl}"
    started = time.monotonic()

    behind = all_answer(dig, args)
    if not behind:
        print(f"failover_dns: {want}: already answered by {', '.join(map(str, args.check_server))}; nothing sent")
        return 0
    for at, found in behind.items():
        print(f"failover_dns: {at} answers {args.name} {args.rrtype}: {describe(found)}")

    sent = subprocess.run(
        [nsupdate, "-k", args.key_file, "-t", str(max(1, int(args.timeout)))],
        input=update_script(args),
        capture_output=True,
        text=True,
        timeout=args.timeout + 15,
        check=False,
    )
    updated = time.monotonic()
    if sent.returncode != 0:
        detail = " / ".join(line for line in (sent.stderr + sent.stdout).splitlines() if line.strip())
        detail = detail or f"exit {sent.returncode}"
        print(f"failover_dns: the update to {args.server} for {want} failed: {detail}", file=sys.stderr)
        return 1
    print(f"failover_dns: {args.server} accepted {want} in {updated - started:.2f}s")

    deadline = started + args.timeout
    while behind := all_answer(dig, args):
        if time.monotonic() >= deadline:
            for at, found in behind.items():
                print(
                    f"failover_dns: timed out after {args.timeout:g}s: {at} still answers {args.name}"
                    f" {args.rrtype}: {describe(found)}; wanted {', '.join(args.address)} (TTL {args.ttl})",
                    file=sys.stderr,
                )
            return 3
        time.sleep(args.poll)
    print(
        f"failover_dns: {', '.join(map(str, args.check_server))} answer {want}"
        f" {time.monotonic() - started:.2f}s after the step began"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
