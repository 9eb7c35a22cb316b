"""The JSON Schema of a rule file, for editors (yaml-language-server) and other tools.

`build_schema()` derives it from the model, so operators, kinds and statuses cannot drift;
the packaged `rule.schema.json` is its output (a test keeps the two equal). Regenerate with
`python -m targeting.rules.schema`.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from targeting.files import write_atomic
from targeting.rules.loader import META_KEYS
from targeting.rules.model import KINDS, LIST_OPERATORS, NAMED_LIST_OPERATORS, OPERATORS, STATUSES

SCHEMA_FILE = "rule.schema.json"
FIELD_NAME = r"^(?!(all|any|not)$)[A-Za-z_][A-Za-z0-9_]*$"

_SCALAR = {"type": ["string", "number", "boolean"]}


def load_schema() -> dict[str, Any]:
    """The packaged schema."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def schema_text() -> str:
    """The packaged schema as printed by `targeting schema`."""
    return resources.files("targeting.rules").joinpath(SCHEMA_FILE).read_text("utf-8")


def build_schema() -> dict[str, Any]:
    """The rule-file schema (draft 2020-12) built from the model's vocabulary."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "targeting rule",
        "description": "A customs targeting rule: an officer query or a UDR.",
        "type": "object",
        "required": ["id", "kind", "title", "where"],
        "additionalProperties": False,
        "properties": _rule_properties(),
        "$defs": {
            "scalar": _SCALAR,
            "predicate": _predicate(),
            "condition": _condition(),
            "operators": _operators(),
        },
    }


def _rule_properties() -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "pattern": r"^[A-Z0-9]+(-[A-Z0-9]+)*$",
               "description": "Capitals, digits and single dashes, such as Q-4701-0012."},
        "kind": {"enum": list(KINDS)},
        "title": {"type": "string", "minLength": 1},
        "owner": {"type": "string", "minLength": 1},
        "port": {"type": ["string", "integer"], "description": "Port code; queries only."},
        "status": {"enum": list(STATUSES), "default": "active"},
        "created": {"type": "string", "format": "date"},
        "priorities": {"type": "array", "items": {"type": "string"}},
        "rationale": {"type": "string"},
        "where": {"$ref": "#/$defs/predicate"},
        "tests": {
            "type": "object", "additionalProperties": False,
            "properties": {k: {"type": "array", "items": {"type": "object"}}
                           for k in ("match", "no_match")},
        },
    }
    props.update({key: {"description": "Written by targeting promote/retire."} for key in META_KEYS})
    return props


def _predicate() -> dict[str, Any]:
    items = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/predicate"}}
    return {
        "description": "The AND of its entries: all/any/not combine, any other key is a field.",
        "type": "object", "minProperties": 1,
        "properties": {"all": items, "any": items, "not": {"$ref": "#/$defs/predicate"}},
        "patternProperties": {FIELD_NAME: {"$ref": "#/$defs/condition"}},
        "additionalProperties": False,
    }


def _condition() -> dict[str, Any]:
    return {"oneOf": [
        {"$ref": "#/$defs/scalar", "description": "equals"},
        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/scalar"}, "description": "in"},
        {"$ref": "#/$defs/operators"},
    ]}


def _operators() -> dict[str, Any]:
    return {"type": "object", "minProperties": 1, "additionalProperties": False,
            "properties": {op: _operand(op) for op in OPERATORS}}


def _operand(op: str) -> dict[str, Any]:
    kinds = ", ".join(OPERATORS[op])
    if op in LIST_OPERATORS:
        schema: dict[str, Any] = {"type": "array", "minItems": 1, "items": _SCALAR}
    elif op == "between":
        schema = {"type": "array", "minItems": 2, "maxItems": 2, "items": _SCALAR}
    elif op == "is_null":
        schema = {"type": "boolean"}
    elif op == "matches" or op in NAMED_LIST_OPERATORS:
        schema = {"type": "string"}
    else:
        schema = dict(_SCALAR)
    return {**schema, "description": f"{op}; for {kinds} fields"}


def write_schema(path: Path) -> None:
    """Write the built schema to `path` atomically."""
    text = json.dumps(build_schema(), indent=2) + "\n"
    write_atomic(path, text)


if __name__ == "__main__":
    write_schema(Path(__file__).with_name(SCHEMA_FILE))
