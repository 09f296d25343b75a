"""The bundled example generates exactly the committed golden tree (`make golden` rewrites it)."""

from __future__ import annotations

import pytest

from tests.golden_tree import ENVIRONMENTS, GOLDEN, differences, generated, on_disk


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_example_generates_the_golden_tree(environment: str) -> None:
    expected = on_disk(GOLDEN / environment)
    assert expected, f"tests/golden/{environment} is empty: run `make golden`"
    diff = differences(expected, generated(environment))
    assert not diff, "the generated tree differs from tests/golden (run `make golden` if intended):\n" + "\n".join(diff)
