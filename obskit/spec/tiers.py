"""The built-in tier catalog (the README's tier table), as raw spec values.

A spec's `tiers:` section is merged over these field by field, and may add tiers.
"""

from __future__ import annotations

from typing import Any

from obskit import defaults

TIER_FIELDS: tuple[str, ...] = (
    "rto",
    "rpo",
    "scrape_interval",
    "slo_objective",
    "pages",
    "restore_drill_interval",
    "retention",
)

# Optional columns, and their value for a new tier that leaves them out.
OPTIONAL_TIER_DEFAULTS: dict[str, Any] = {"platform_alert_for": defaults.PLATFORM_ALERT_FOR}

BUILTIN_TIERS: dict[str, dict[str, Any]] = {
    "tier1_critical": {
        "rto": "15m",
        "rpo": "5m",
        "scrape_interval": "15s",
        "slo_objective": 99.95,
        "pages": True,
        "restore_drill_interval": "7d",
        "retention": "30d",
        "platform_alert_for": "2m",
    },
    "tier2_standard": {
        "rto": "1h",
        "rpo": "30m",
        "scrape_interval": "30s",
        "slo_objective": 99.9,
        "pages": True,
        "restore_drill_interval": "30d",
        "retention": "14d",
        "platform_alert_for": "5m",
    },
    "tier3_low": {
        "rto": "4h",
        "rpo": "24h",
        "scrape_interval": "60s",
        "slo_objective": 99.5,
        "pages": False,
        "restore_drill_interval": "90d",
        "retention": "7d",
        "platform_alert_for": "15m",
    },
}
