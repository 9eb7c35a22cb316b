"""The packaged JSON Schema: current with the model, and every bundled rule conforms."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from targeting.rules.model import OPERATORS
from targeting.rules.schema import build_schema, load_schema

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p for folder in ("rules", "queries") for p in (ROOT / folder).glob("**/*.y*ml"))


def as_json(path: Path):
    # Editors see YAML dates as text; so does the schema.
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_packaged_schema_is_current():
    assert load_schema() == build_schema(), "run: python -m targeting.schema"


def test_schema_operators_equal_the_model():
    assert list(load_schema()["$defs"]["operators"]["properties"]) == list(OPERATORS)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(load_schema())


@pytest.mark.skipif(not BUNDLED, reason="no bundled rules yet")
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_rules_conform(path: Path):
    jsonschema.validate(as_json(path), load_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(load_schema())
    base = {"id": "Q-1", "kind": "query", "title": "t"}
    assert validator.is_valid({**base, "where": {"mode": {"contains": "x"}, "not": {"a": 1}}})
    for where in ({"mode": {"containz": "x"}}, {"mode": {"in": []}}, {"any": []},
                  {"a": {"between": [1]}}, {"not": [{"a": 1}]}, {}):
        assert not validator.is_valid({**base, "where": where}), where
    assert not validator.is_valid({**base, "where": {"a": 1}, "rationle": "x"})
