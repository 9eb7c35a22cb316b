"""The national projection: port conditions relaxed so it matches all the query matches, anywhere."""
from __future__ import annotations

import itertools

import polars as pl
import pytest

from targeting.compile.polars_expr import compile_polars
from targeting.decide.projection import TRUE, has_port_condition, national_projection, without_ports
from targeting.rules.model import All, AnyOf, Leaf, Not, Rule

PORT = Leaf("port_code", "eq", "1111")
OTHER_PORT = Leaf("port_code", "in", ("2222", "3333"))
BAG = Leaf("description", "contains", "bag")
CN = Leaf("country_of_origin", "eq", "CN")


@pytest.mark.parametrize("node, expected", [
    (PORT, TRUE),
    (BAG, BAG),
    (All((PORT, BAG)), BAG),
    (All((PORT, BAG, CN)), All((BAG, CN))),
    (All((PORT,)), TRUE),
    # Under one `not` a port leaf becomes false: not(port and bag) -> not(bag) would narrow the
    # match, so the whole conjunction is false and its negation true.
    (Not(All((PORT, BAG))), TRUE),
    (Not(PORT), TRUE),
    (All((Not(PORT), BAG)), BAG),
    # Under `any`, a relaxed port leaf makes the whole disjunction true.
    (AnyOf((PORT, BAG)), TRUE),
    (All((AnyOf((PORT, OTHER_PORT)), BAG)), BAG),
    # Two `not`s: the leaf is back in a positive position.
    (Not(Not(PORT)), TRUE),
    (All((Not(AnyOf((Not(PORT), CN))), BAG)), All((Not(CN), BAG))),
    # Under an odd number of `not`s inside an `any`: false drops out of the disjunction.
    (Not(AnyOf((PORT, CN))), Not(CN)),
    (All((BAG, Not(AnyOf((PORT, OTHER_PORT)))),), BAG),
])
def test_port_leaves_relax_by_polarity(node, expected):
    assert without_ports(node) == expected


def test_no_port_condition_is_unchanged():
    node = All((BAG, Not(CN), AnyOf((CN, BAG))))
    assert without_ports(node) == node
    assert not has_port_condition(node)
    assert has_port_condition(All((BAG, Not(PORT))))


SHAPES = [
    All((PORT, BAG)), AnyOf((PORT, BAG)), Not(All((PORT, BAG))), All((Not(PORT), BAG)),
    All((Not(AnyOf((Not(PORT), CN))), BAG)), AnyOf((All((PORT, CN)), All((OTHER_PORT, BAG)))),
    Not(AnyOf((PORT, All((CN, Not(OTHER_PORT)))))), All((BAG, Not(AnyOf((PORT, OTHER_PORT))))),
]


@pytest.mark.parametrize("node", SHAPES)
def test_projection_matches_what_the_query_matches_at_any_port(node):
    """Over every combination of fields, each shipment the query matches is matched by the
    projection, and the projection's answer never depends on the port."""
    rows = list(itertools.product(["1111", "2222", "3333", "4444"], ["a bag", "a toy"], ["CN", "DE"]))
    frame = pl.DataFrame(rows, schema=["port_code", "description", "country_of_origin"], orient="row")
    got = frame.with_columns(query=compile_polars(node), national=compile_polars(without_ports(node)))
    assert got.filter(pl.col("query") & ~pl.col("national")).height == 0
    per_place = got.group_by("description", "country_of_origin").agg(pl.col("national").n_unique())
    assert per_place["national"].max() == 1
    assert not has_port_condition(without_ports(node))


def test_national_projection_of_a_rule_drops_its_home_port():
    rule = Rule(id="Q-1111-0001", kind="query", title="Bags", where=All((PORT, BAG)), path="q.yaml",
                port="1111")
    national = national_projection(rule)
    assert national.where == BAG and national.port is None
    assert (national.id, national.kind, national.title) == (rule.id, rule.kind, rule.title)
