"""A quick yes to "does this document satisfy the schema?", for the schemas seal builds.

`conforms(schema, data)` is True only when jsonschema (Draft 2020-12, with seal's number
rules, see `seal.policy.schema`) would find no error at all; on anything else it is
False, and the caller checks with jsonschema, which says what is wrong. It is stricter
than jsonschema on purpose wherever exactness would cost care (a float for an integer,
an enum value of another type, a number near the edges, a keyword it does not know): a
False costs only the jsonschema check. So a valid policy is checked without importing
jsonschema, and an invalid one gets exactly the messages it always got. No I/O.
"""

from __future__ import annotations

import math
from typing import Any

#: the keywords `conforms` knows: those it checks, and those that say nothing about
#: validity; a schema with any other keyword is left to jsonschema
_KNOWN = frozenset(
    {
        "$schema",
        "title",
        "description",
        "default",
        "x-seal-one-key",
        "type",
        "properties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "enum",
    }
)
#: the widest number taken here: within seal's default bounds (see seal.policy.schema)
_LIMIT = 2**31 - 1
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "null": type(None),
    "boolean": bool,
}


def _is_type(name: str, value: Any) -> bool:
    if name in ("integer", "number"):
        # a number of the policy is a finite int or float well inside seal's bounds
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and (name == "integer" or not math.isfinite(value)):
            return False  # jsonschema's answer (1.0 is an integer, inf fails) it is then
        return -_LIMIT <= value <= _LIMIT
    wanted = _TYPES.get(name)
    if wanted is bool:
        return isinstance(value, bool)
    return wanted is not None and isinstance(value, wanted)


def _type_ok(schema: dict[str, Any], value: Any) -> bool:
    names = schema.get("type")
    if names is None:
        # seal's number rules apply through the type; without one, no number is taken here
        return isinstance(value, dict | list | str | type(None))
    return any(_is_type(n, value) for n in ([names] if isinstance(names, str) else names))


def _number_ok(schema: dict[str, Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    return (
        (low is None or value >= low)
        and (high is None or value <= high)
        and (above is None or value > above)
        and (below is None or value < below)
    )


def _size_ok(schema: dict[str, Any], size: int, low: str, high: str) -> bool:
    return size >= schema.get(low, 0) and (high not in schema or size <= schema[high])


def _enum_ok(schema: dict[str, Any], value: Any) -> bool:
    if "enum" not in schema:
        return True
    if not isinstance(value, str | int | type(None)):
        return False  # floats, lists, mappings: jsonschema's equality it is
    return any(type(option) is type(value) and option == value for option in schema["enum"])


def _object_ok(schema: dict[str, Any], value: dict[Any, Any]) -> bool:
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if not _size_ok(schema, len(value), "minProperties", "maxProperties"):
        return False
    if any(key not in value for key in schema.get("required", ())):
        return False
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        sub = props.get(key, extra)
        if sub is False or not conforms(sub, item):
            return False
    return True


def conforms(schema: Any, value: Any) -> bool:
    """True only if `value` satisfies `schema`; False when it does not, or when telling
    would take a keyword or a case this module leaves to jsonschema."""
    if schema is True:
        return True
    if not isinstance(schema, dict) or not schema.keys() <= _KNOWN:
        return False
    if not _type_ok(schema, value) or not _enum_ok(schema, value):
        return False
    if isinstance(value, dict):
        return _object_ok(schema, value)
    if isinstance(value, list):
        items = schema.get("items", True)
        return _size_ok(schema, len(value), "minItems", "maxItems") and all(
            conforms(items, item) for item in value
        )
    if isinstance(value, str):
        return _size_ok(schema, len(value), "minLength", "maxLength")
    return _number_ok(schema, value)
