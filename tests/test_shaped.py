"""`gen` renders services alike up to their names once per shape (obskit.generate.shaped): the
tree must be byte for byte the tree rendered service by service, whatever the names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import PLATFORM, SERVICE, write_spec
from obskit.generate import shaped
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES

TIERS = ("tier1_critical", "tier3_low")


def test_the_example_trees_are_the_same_rendered_by_shape() -> None:
    for env in ("prod", "staging"):
        plan = load_plan(EXAMPLES, env)
        assert generate_tree(plan) == generate_tree(plan, shaped=False)


def test_services_alike_up_to_their_names_share_one_rendering(tmp_path: Path) -> None:
    plan = load_plan(write_spec(tmp_path / "spec", 9), "prod")
    renderer = shaped.ShapedRenderer(plan)
    tree = generate_tree(plan)
    for service_plan in plan.services:
        renderer.render(service_plan)
    assert len(renderer._templates) == 3 and all(renderer._templates.values())  # three tiers, three shapes
    assert tree == generate_tree(plan, shaped=False)


def _spec(directory: Path, services: list[tuple[str, str, str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "platform.yaml").write_text(PLATFORM)
    body = ""
    for name, namespace, team, tier in services:
        block = SERVICE.format(i=0, team=0, tier=tier).replace("svc-00000", name)
        body += (
            block.replace("team-000", "@@")
            .replace("namespace: @@", f"namespace: {namespace}")
            .replace("team: @@", f"team: {team}")
        )
    (directory / "services.yaml").write_text(f"apiVersion: obskit/v1\nservices:\n{body}")
    return directory


_WORD = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
_LONG = st.builds(lambda word: (word + "-" + "x" * 60)[:60].rstrip("-"), _WORD)
_NAME = st.one_of(_WORD, _LONG).filter(lambda name: len(name) >= 3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(_NAME, min_size=2, max_size=5, unique=True),
    namespaces=st.lists(_WORD, min_size=5, max_size=5),
    same_namespace=st.booleans(),
    tier=st.sampled_from(TIERS),
)
def test_any_names_render_as_they_would_one_by_one(
    tmp_path_factory, names: list[str], namespaces: list[str], same_namespace: bool, tier: str
) -> None:
    services = [
        (name, name if same_namespace else namespace, namespace, tier)
        for name, namespace in zip(names, namespaces, strict=False)
    ]
    plan = load_plan(_spec(tmp_path_factory.mktemp("spec"), services), "prod")
    assert generate_tree(plan) == generate_tree(plan, shaped=False)
