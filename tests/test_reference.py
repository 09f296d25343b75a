"""docs/spec.md's field tables are written from the spec's declarations (obskit/spec/declare.py)."""

from __future__ import annotations

import pytest

from obskit.pipeline import KINDS
from obskit.spec import declare, model, reference
from tests.reference_page import PAGE


def test_the_field_tables_are_current() -> None:
    page = PAGE.read_text()
    assert reference.missing(page, KINDS) == []
    assert reference.fill(page, KINDS) == page, "docs/spec.md's tables are stale: run `make reference`"


def test_a_marker_without_a_table_is_an_error() -> None:
    with pytest.raises(KeyError):
        reference.fill("<!-- fields: nothing -->\n<!-- /fields -->\n", KINDS)


DECLARED = [model.SpecFile, model.Tier, model.Environment, model.Alerting, model.Integrations, model.Routes,
            model.Service, model.Metrics, model.SLO, model.LatencySLI, model.SLOAlerts, model.Backup,
            model.Datastore, model.Velero] + [cls for kind in KINDS for cls in (kind.fields, kind.section_fields)]  # fmt: skip


@pytest.mark.parametrize("cls", DECLARED, ids=lambda cls: cls.__name__)
def test_every_declared_field_is_documented(cls: type) -> None:
    for field in declare.fields(cls):
        assert field.declared.doc.what, f"{cls.__name__}.{field.attribute} has no documentation"
