"""@frozen: the immutable value classes the policy's specs are made of."""

from __future__ import annotations

from typing import ClassVar

import pytest

from seal.errors import FrozenInstanceError
from seal.frozen import frozen


@frozen
class Point:
    """A test value."""

    kind: ClassVar[str] = "point"
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_construction_defaults_and_errors() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, ())
    assert Point(1, 2) == Point(x=1, y=2) == Point(y=2, x=1)
    assert Point.kind == "point" and Point.__match_args__ == ("x", "y", "tags")
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 3 positional arguments, 4 given"):
        Point(1, 2, (), 4)  # type: ignore[call-arg]


def test_equality_hash_repr_and_immutability() -> None:
    a, b, c = Point(1, 2), Point(1, 2), Point(2, 1)
    assert a == b and a != c and hash(a) == hash(b)
    assert len({a, b, c}) == 2
    assert a != (1, 2, ())  # type: ignore[comparison-overlap]
    assert repr(a) == "Point(x=1, y=2, tags=())"
    with pytest.raises(FrozenInstanceError):
        a.x = 5  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del a.y
    assert a.x == 1
    match c:
        case Point(x, y):
            assert (x, y) == (2, 1)
        case _:
            pytest.fail("Point does not take part in pattern matching")


def test_classes_that_cannot_be_frozen() -> None:
    with pytest.raises(TypeError, match="'y' without a default follows one with"):

        @frozen
        class Wrong:
            x: int = 0
            y: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="cannot inherit"):

        @frozen
        class Child(Point):
            z: int = 0
