"""Building JSON Schema fragments, and turning schema violations into located problems.

No I/O. jsonschema is imported only when a document may break the schema.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from seal.policy.document import Document
from seal.policy.problems import DocPath, did_you_mean

Schema = dict[str, Any]

#: Annotation on objects that hold exactly one key out of several (steps, actions...).
ONE_OF_KEYS = "x-seal-one-key"
#: The range of a number whose schema gives no bound of its own (on that side).
MAX_NUMBER = 2**31 - 1
#: The widest range a schema may give: numbers a float holds exactly.
MAX_EXACT = 2**53 - 1
_NUMBER_TYPES = {"number", "integer"}
_NON_FINITE = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}


def obj(
    properties: Mapping[str, Schema],
    *,
    required: Iterable[str] = (),
    description: str = "",
    nullable: bool = False,
) -> Schema:
    """An object with exactly these keys (unknown keys are errors)."""
    schema: Schema = {
        "type": ["object", "null"] if nullable else "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    required = list(required)
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def one_key(kind: str, options: Mapping[str, Schema], description: str = "") -> Schema:
    """An object with exactly one key out of `options`: a step, an action, a matcher..."""
    schema = obj(options, description=description)
    schema.update({"minProperties": 1, "maxProperties": 1, ONE_OF_KEYS: kind})
    return schema


def string(description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def number(description: str = "", *, integer: bool = False, **extra: Any) -> Schema:
    schema: Schema = {"type": "integer" if integer else "number", **extra}
    if description:
        schema["description"] = description
    return schema


def boolean(description: str = "", default: bool | None = None) -> Schema:
    schema: Schema = {"type": "boolean"}
    if description:
        schema["description"] = description
    if default is not None:
        schema["default"] = default
    return schema


def array(items: Schema, description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "array", "items": items, **extra}
    if description:
        schema["description"] = description
    return schema


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def _describe_number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(value)]
    if isinstance(value, int) and abs(value) >= 10**20:
        try:
            digits = len(str(abs(value)))
        except ValueError:  # beyond the interpreter's int-to-text limit
            return "a number of thousands of digits"
        return f"a number of {digits} digits"
    return str(value)


def describe(value: Any) -> str:
    """How a value reads in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _describe_number(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'"{shown}"'
    return str(value)


def _names(expected: str | list[str]) -> list[str]:
    return [expected] if isinstance(expected, str) else list(expected)


def _type_words(expected: str | list[str]) -> str:
    return " or ".join(_TYPE_WORDS.get(n, n) for n in _names(expected))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _out_of_range(value: Any) -> bool:
    """A number no field of the format accepts: not finite, or beyond the widest range."""
    return _is_number(value) and (not _is_finite(value) or abs(value) > MAX_EXACT)


def _unknown_keys(doc: Document, path: DocPath, instance: dict[str, Any], schema: Schema) -> None:
    known = schema.get("properties", {})
    kind = schema.get(ONE_OF_KEYS)
    for key in instance:
        if key in known:
            continue
        what = f"unknown {kind} '{key}'" if kind else f"unknown key '{key}'"
        homes = [
            name
            for name, sub in known.items()
            if isinstance(sub, dict) and key in sub.get("properties", {})
        ]
        hint = f"; it belongs under '{homes[0]}:'" if homes else did_you_mean(key, known)
        if not hint and known:
            hint = "; expected " + ", ".join(f"'{k}'" for k in sorted(known))
        doc.problem((*path, key), what + hint, key=True)


def _one_key_count(doc: Document, path: DocPath, instance: dict[str, Any], schema: Schema) -> None:
    kind = schema[ONE_OF_KEYS]
    known = sorted(schema.get("properties", {}))
    if not instance:
        doc.problem(path, f"an empty {kind}; give one of: {', '.join(known)}")
        return
    given = [k for k in instance if k in schema.get("properties", {})]
    if len(given) > 1:
        found = ", ".join(repr(k) for k in given)
        doc.problem(path, f"a {kind} has exactly one key; found {found}")


def _message(validator: str, value: Any, instance: Any, schema: Schema) -> str:
    if validator == "type":
        numeric = _NUMBER_TYPES & set(_names(value))
        finite = "; a number must be finite" if numeric and not _is_finite(instance) else ""
        return f"must be {_type_words(value)}, got {describe(instance)}{finite}"
    if validator == "enum":
        options = ", ".join(str(v) for v in value)
        hint = did_you_mean(str(instance), [str(v) for v in value])
        return f"must be one of {options}; got {describe(instance)}{hint}"
    if validator == "const":
        return f"must be {describe(value)}, got {describe(instance)}"
    bounds = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
    }
    if validator in bounds:
        return f"must be {bounds[validator]} {value}, got {describe(instance)}"
    if validator == "minLength":
        unit = "character" if value == 1 else "characters"
        return f"must be at least {value} {unit} long, got {describe(instance)}"
    if validator == "maxLength":
        return f"must be at most {value} characters long, got {len(instance)} characters"
    if validator == "minItems":
        return f"must have at least {value} item(s)"
    if validator == "maxItems":
        return f"must have at most {value} item(s)"
    if validator == "pattern":
        return f"{describe(instance)} does not have the expected form ({value})"
    return str(schema.get("description") or validator)


@functools.cache
def _validator_class() -> Any:
    """The JSON Schema validator seal checks with: every number must be finite, and a
    number whose schema sets no bound on a side stays within +-MAX_NUMBER on that side.

    Checked with the type, so that every number of the format is covered in one place,
    whatever its field, and NaN cannot slip past `minimum`/`maximum` (it compares false).
    """
    import jsonschema
    from jsonschema import ValidationError

    base = jsonschema.Draft202012Validator
    check_type = base.VALIDATORS["type"]

    def typed(validator: Any, types: Any, instance: Any, schema: Schema) -> Iterator[Any]:
        if not (_is_number(instance) and _NUMBER_TYPES & set(_names(types))):
            yield from check_type(validator, types, instance, schema)
        elif not _is_finite(instance):
            yield ValidationError("not finite", validator="type", validator_value=types)
        elif instance > MAX_NUMBER and not {"maximum", "exclusiveMaximum"} & set(schema):
            yield ValidationError("too large", validator="maximum", validator_value=MAX_NUMBER)
        elif instance < -MAX_NUMBER and not {"minimum", "exclusiveMinimum"} & set(schema):
            yield ValidationError("too small", validator="minimum", validator_value=-MAX_NUMBER)
        else:
            yield from check_type(validator, types, instance, schema)

    return jsonschema.validators.extend(base, {"type": typed})  # type: ignore[no-untyped-call]


def check_schema(doc: Document, schema: Schema) -> set[DocPath]:
    """Add a located problem for every schema violation; return the paths that had one.

    A document `seal.policy.quick_check` finds conforming has none: jsonschema, and its
    import, are only for documents that may have some (it then says which)."""
    from seal.policy.quick_check import conforms

    try:
        if conforms(schema, doc.data):
            return set()
    except (TypeError, ValueError, RecursionError):
        pass  # a case the quick check does not handle: jsonschema decides
    validator = _validator_class()(schema)
    bad: set[DocPath] = set()
    for error in validator.iter_errors(doc.data):
        path: DocPath = tuple(error.absolute_path)
        bad.add(path)
        doc.rejected.add(path)
        kind = error.validator
        if kind == "additionalProperties" and isinstance(error.instance, dict):
            _unknown_keys(doc, path, error.instance, error.schema)
        elif kind in ("minProperties", "maxProperties") and ONE_OF_KEYS in error.schema:
            _one_key_count(doc, path, error.instance, error.schema)
        elif kind == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            for key in missing:
                doc.problem(path, f"missing required key '{key}'")
        else:
            message = _message(str(kind), error.validator_value, error.instance, error.schema)
            doc.problem(path, message)
            if _out_of_range(error.instance) or (kind == "type" and _is_number(error.instance)):
                doc.settled.add(path)  # one problem per number: later ones would repeat it
    return bad
