"""`make reference`: rewrite docs/spec.md's field tables from the spec's declarations."""

from __future__ import annotations

from obskit.pipeline import KINDS
from obskit.spec import reference
from tests.conftest import EXAMPLES

PAGE = EXAMPLES.parent / "docs" / "spec.md"

if __name__ == "__main__":
    PAGE.write_text(reference.fill(PAGE.read_text(), KINDS))
    print(f"wrote {PAGE}")
