"""A reference to a credential: the spec names where a secret lives, never its value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRef:
    """A key of a Kubernetes Secret, where a credential lives; the spec never holds its value."""

    secret: str
    key: str


def secret_ref(value: Mapping[str, str]) -> SecretRef:
    return SecretRef(value["secret"], value["key"])
