"""describe(): predicates as plain English."""
from __future__ import annotations

import datetime as dt

from targeting.compile.english import describe
from targeting.rules.model import All, AnyOf, Leaf, Not


def test_the_issue_example():
    tree = All((Leaf("country_of_origin", "in", ("CN", "HK")), Leaf("mode", "eq", "express"),
                Leaf("description", "contains_any", ("handbag", "purse")),
                All((Leaf("declared_value", "ge", 20), Leaf("declared_value", "lt", 800))),
                Not(Leaf("importer_id", "in_list", "trusted_importers"))))
    assert describe(tree) == (
        "country of origin is CN or HK, and mode is express, and description contains handbag "
        "or purse, and declared value is at least 20 and less than 800, and not (importer id is "
        "in the list trusted_importers)")


def test_every_operator_has_words():
    cases = {
        Leaf("a", "ne", "x"): "a is not x", Leaf("a", "not_in", ("x", "y", "z")): "a is none of x, y or z",
        Leaf("a", "le", 2.0): "a is at most 2", Leaf("a", "gt", 2.5): "a is more than 2.5",
        Leaf("a", "between", (dt.date(2021, 1, 1), dt.date(2021, 2, 1))):
            "a is between 2021-01-01 and 2021-02-01 (inclusive)",
        Leaf("a", "contains", "fishing reel"): 'a contains "fishing reel"',
        Leaf("a", "contains_all", ("x", "y")): "a contains x and y",
        Leaf("a", "startswith", "42"): "a starts with 42",
        Leaf("a", "startswith_any", ("42", "64")): "a starts with 42 or 64",
        Leaf("a", "endswith", "x"): "a ends with x",
        Leaf("a", "matches", "^x+$"): "a matches the pattern ^x+$",
        Leaf("a", "is_null", True): "a is missing", Leaf("a", "is_null", False): "a is present",
        Leaf("a", "eq", True): "a is true",
    }
    for leaf, words in cases.items():
        assert describe(leaf) == words


def test_nested_combinations_are_bracketed():
    tree = AnyOf((Leaf("mode", "eq", "mail"), All((Leaf("mode", "eq", "express"),
                                                  Leaf("value_usd", "gt", 800)))))
    assert describe(tree) == "mode is mail, or (mode is express and value usd is more than 800)"
