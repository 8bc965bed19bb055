"""`@frozen`: immutable value classes for the policy's spec objects, cheap to define.

`dataclasses.dataclass(frozen=True)` compiles six methods for every class it
decorates; seal defines some forty spec classes and every `seal validate` pays
for them at start-up. `@frozen` gives the same behaviour (keyword or positional
construction with defaults, equality, hashing, repr, immutability,
`__match_args__`) from shared methods that read the class's field list, so
defining a class costs almost nothing. Type checkers treat it as a frozen
dataclass. Limits: no inheritance between frozen classes and no mutable
defaults (use an immutable value, such as another frozen instance or a tuple).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

from seal.errors import FrozenInstanceError

T = TypeVar("T")


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    names: tuple[str, ...] = self.__match_args__
    defaults: dict[str, Any] = self.__frozen_defaults__
    cls = type(self).__name__
    if len(args) > len(names):
        raise TypeError(f"{cls}() takes {len(names)} positional arguments, {len(args)} given")
    values = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{cls}() got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{cls}() got multiple values for argument {key!r}")
        values[key] = value
    for name in names:
        if name in values:
            object.__setattr__(self, name, values[name])
        elif name in defaults:
            object.__setattr__(self, name, defaults[name])
        else:
            raise TypeError(f"{cls}() missing required argument {name!r}")


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self.__match_args__)


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash((self.__class__.__name__, *_values(self)))


def _repr(self: Any) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
    return f"{self.__class__.__qualname__}({fields})"


def _refuse_set(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _is_class_var(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """Make `cls` an immutable value class of the fields it annotates."""
    if any(hasattr(base, "__frozen_defaults__") for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: frozen classes cannot inherit from each other")
    # The class's own annotations only (inspect.get_annotations would import inspect).
    annotations = vars(cls).get("__annotations__", {})
    names = tuple(name for name, kind in annotations.items() if not _is_class_var(kind))
    defaults: dict[str, Any] = {}
    for name in names:
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
        elif defaults:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with")
    methods: dict[str, Callable[..., Any] | tuple[str, ...] | dict[str, Any]] = {
        "__match_args__": names,
        "__frozen_defaults__": defaults,
        "__init__": _init,
        "__eq__": _eq,
        "__hash__": _hash,
        "__repr__": _repr,
        "__setattr__": _refuse_set,
        "__delattr__": _refuse_delete,
    }
    for key, value in methods.items():
        setattr(cls, key, value)
    return cls
