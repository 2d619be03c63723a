"""smsp's ``dataclass``: a frozen class behaves as the standard library's would, made without
compiling source; anything else is the standard library's own."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smsp_cli.fastclasses import dataclass


@dataclass(frozen=True)
class Held:
    """A record as smsp's are: defaults, a factory, a field left out of repr and equality."""

    number: str
    name: str | None = None
    lines: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    note: str = dataclasses.field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class Checked:
    """Its __post_init__ runs after the fields are set."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


def test_a_frozen_class_is_made_without_compiling_source(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    original = exec

    def counting(source: Any, *args: Any) -> None:
        compiled.append(str(source)[:40])
        original(source, *args)

    monkeypatch.setattr("builtins.exec", counting)

    @dataclass(frozen=True)
    class Made:
        """Two fields."""

        first: int
        second: str = "b"

    assert compiled == []
    assert Made(1) == Made(1, "b")


def test_repr_equality_hash_and_fields_are_the_standard_librarys() -> None:
    held = Held("9000000009", "Smith", ("1 Road",), note="kept out")
    assert repr(held) == "Held(number='9000000009', name='Smith', lines=('1 Road',))"
    assert held == Held("9000000009", "Smith", ("1 Road",), note="another")
    assert held != Held("9000000009", "Jones", ("1 Road",))
    assert held.__eq__("9000000009") is NotImplemented
    assert hash(held) == hash(("9000000009", "Smith", ("1 Road",)))
    assert Held.__match_args__ == ("number", "name", "lines", "note")
    assert [field.name for field in dataclasses.fields(Held)] == ["number", "name", "lines", "note"]
    assert dataclasses.asdict(Held("1")) == {"number": "1", "name": None, "lines": (), "note": ""}
    assert dataclasses.replace(held, name="Jones").name == "Jones"
    assert dataclasses.is_dataclass(Held)
    assert Held.__dataclass_params__.frozen is True  # type: ignore[attr-defined]


def test_assigning_or_deleting_a_field_is_refused() -> None:
    held = Held("1")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        held.name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'number'"):
        del held.number  # type: ignore[misc]


def test_arguments_are_bound_as_a_generated_init_binds_them() -> None:
    assert Held(number="1", lines=("a",)).lines == ("a",)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'number'"):
        Held()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nhs'"):
        Held("1", nhs="2")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'number'"):
        Held("1", number="2")  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 5 positional arguments but 6 were given"):
        Held("1", "n", (), "", "extra")  # type: ignore[call-arg]


def test_post_init_runs() -> None:
    assert Checked(1, 2).high == 2
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)


def test_a_class_of_its_own_methods_or_options_goes_to_the_standard_library() -> None:
    @dataclass(frozen=True, order=True)
    class Ordered:
        """Ordering asked for."""

        rank: int

    @dataclass
    class Loose:
        """Not frozen."""

        rank: int

    assert Ordered(1) < Ordered(2)
    loose = Loose(1)
    loose.rank = 2
    assert loose == Loose(2)
    assert "Ordered.__lt__" in Ordered.__lt__.__qualname__
