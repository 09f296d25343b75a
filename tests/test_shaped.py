"""`gen` renders services alike up to their names once per shape (obskit.generate.shaped): the
tree must be byte for byte the tree rendered service by service, whatever the names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import PLATFORM, SERVICE, write_spec
from obskit.generate import shaped
from obskit.generate.tree import generate_tree
from obskit.output.renaming import renamable
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES, budget

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


ROUTING = """\
    alerting:
      receivers:
        oncall: {webhook: {url: "http://bridge.example/oncall"}}
        own-pager: {webhook: {url: "http://bridge.example/own"}}
        tickets: {webhook: {url: "http://bridge.example/tickets"}}
      page: oncall
      ticket: tickets
"""


def _spec(directory: Path, services: list[tuple[str, str, str, str]], routed_team: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    platform = PLATFORM + (ROUTING if routed_team else "")
    if routed_team:
        platform = platform.replace("environments:", f"teams:\n  {routed_team}: {{page: own-pager}}\nenvironments:")
    (directory / "platform.yaml").write_text(platform)
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


# words of generated text and metric names among them: a name's part must not read as one
_PART = st.one_of(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), st.sampled_from(["up", "http", "db", "backup"]))
_WORD = st.builds(lambda first, rest: "-".join([first, *rest]), _PART, st.lists(_PART, max_size=2))
_LONG = st.builds(lambda word: (word + "-" + "x" * 60)[:60].rstrip("-"), _WORD)
_NAME = st.one_of(_WORD, _LONG).filter(lambda name: len(name) >= 3 and name[0].isalpha())


@settings(max_examples=budget(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(_NAME, min_size=2, max_size=5, unique=True),
    namespaces=st.lists(_WORD.filter(lambda name: len(name) >= 3), min_size=5, max_size=5),
    teams=st.lists(st.sampled_from(["pay", "ops", "platform-team"]), min_size=5, max_size=5),
    same_namespace=st.booleans(),
    routed=st.booleans(),
    tier=st.sampled_from(TIERS),
)
def test_any_names_render_as_they_would_one_by_one(
    tmp_path_factory, names, namespaces, teams, same_namespace: bool, routed: bool, tier: str
) -> None:
    services = [
        (name, name if same_namespace else namespace, team, tier)
        for name, namespace, team in zip(names, namespaces, teams, strict=False)
    ]
    plan = load_plan(_spec(tmp_path_factory.mktemp("spec"), services, services[0][2] if routed else None), "prod")
    assert generate_tree(plan) == generate_tree(plan, shaped=False)


def test_a_team_with_its_own_receivers_shares_a_shape_only_with_its_team(tmp_path: Path) -> None:
    services = [("abc", "qa-east", "qux", "tier1_critical"), ("checkout", "qa-west", "pay", "tier1_critical")]
    services += [("cart", "qa-north", "pay", "tier1_critical")]
    plan = load_plan(_spec(tmp_path, services, routed_team="pay"), "prod")
    renderer = shaped.ShapedRenderer(plan)
    assert renderer.rendered_directly == 1  # abc; checkout and cart share the team's receivers
    tree = generate_tree(plan)
    assert tree == generate_tree(plan, shaped=False)
    assert "(receiver `own-pager`)" in tree["runbooks/cart.md"]


def test_gen_and_test_rename_the_same_names() -> None:
    # one rule for both stages (obskit.output.renaming): what gen templates, test may share a run for
    for name in ("svc", "checkout", "orders-db", "a1-b2", "8 5-23/8 * * *", "0 3 * * 0"):
        assert renamable(name), name
    for name in ("ab", "inf", "nan", "yes", "off", "null", "true", "Checkout", "1svc", "svc_1", "*/5 * * * *"):
        assert not renamable(name), name
