"""The findings of `obskit check` as a table for people or JSON for tools."""

from __future__ import annotations

import json
from dataclasses import asdict

from obskit.verify.live.checks import Finding

COLUMNS = ("service", "slo/datastore", "check", "found", "what to do")


def table(findings: list[Finding]) -> str:
    rows = [COLUMNS, *((f.service, f.subject, f.check, f.found, f.remedy) for f in findings)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows
    )


def as_json(url: str, environment: str, findings: list[Finding]) -> str:
    return json.dumps(
        {
            "prometheus": url,
            "environment": environment,
            "ok": not findings,
            "findings": [asdict(finding) for finding in findings],
        },
        indent=2,
        sort_keys=True,
    )
