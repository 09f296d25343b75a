"""What a generator hands back: files by path, and whether each is a Kubernetes object (listed in
its cluster's kustomization)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class File:
    path: str  # relative to the output directory
    content: str
    kubernetes: bool = False
    cluster: str = ""  # a Kubernetes object's cluster: "" this one, else the folder of another's kustomization
