"""``dataclass`` as the standard library's, with frozen classes made without compiling source.

On Python 3.11 :func:`dataclasses.dataclass` writes each generated method (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``) as source text and
compiles it: about 4 million instructions a frozen class, paid on every start for every class
imported. A lookup imports some thirty, so that compiling was a quarter of a plain lookup's
work. Here the standard library still reads the fields (defaults, ``field()``, ``__match_args__``,
``__dataclass_fields__``), but a frozen class's methods are shared functions that loop over the
fields, made in microseconds; they behave as the generated ones do (same repr, equality, hash,
``FrozenInstanceError``, ``__post_init__``). A class this cannot serve exactly (``slots``,
``order``, ``kw_only`` or ``InitVar`` fields, a dataclass base, methods of its own the standard
library would refuse or keep, no docstring) goes to the standard library unchanged.

Type checkers see :func:`dataclasses.dataclass` itself.
"""

from __future__ import annotations

import _thread
import dataclasses
import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:

    def dataclass(cls: type | None = None, /, *, frozen: bool = False, **options: Any) -> Any:
        """:func:`dataclasses.dataclass`; frozen classes with default options made cheaply."""

        def wrap(cls: type) -> type:
            if frozen and not options and _servable(cls):
                return _frozen(cls)
            return dataclasses.dataclass(cls, frozen=frozen, **options)

        return wrap if cls is None else wrap(cls)


_OWN_METHODS = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__")


def _servable(cls: type) -> bool:
    if not cls.__doc__ or any(name in cls.__dict__ for name in _OWN_METHODS):
        return False
    if "__hash__" in cls.__dict__ or "__slots__" in cls.__dict__:
        return False
    return not any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:])


def _frozen(cls: type) -> type:
    # The standard library reads the fields and makes no method (nothing to generate).
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False)
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cls)
    special = [field.name for field in cls.__dataclass_fields__.values()  # type: ignore[attr-defined]
               if field.kw_only or repr(field._field_type) == "_FIELD_INITVAR"]
    if special:  # none in smsp: say so loudly rather than behave differently
        raise TypeError(f"{cls.__qualname__}: kw_only and InitVar fields are not served here")
    qualname = cls.__qualname__
    names = tuple(field.name for field in fields)
    takes = tuple(field.name for field in fields if field.init)
    compared = tuple(field.name for field in fields if field.compare)
    hashed = tuple(field.name for field in fields
                   if (field.compare if field.hash is None else field.hash))
    shown = tuple(field.name for field in fields if field.repr)
    post_init = hasattr(cls, "__post_init__")
    missing = dataclasses.MISSING
    setter = object.__setattr__

    # (name, taken by __init__, default, default factory) in field order; a class whose fields
    # are all taken and given positionally in full (the common call) skips every check.
    plan = tuple((field.name, field.init, field.default, field.default_factory)
                 for field in fields)
    all_taken = len(takes) == len(fields)
    taken = frozenset(takes)

    def given_values(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > len(takes):
            raise TypeError(f"{qualname}.__init__() takes {len(takes) + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        if not args and taken.issuperset(kwargs):
            return kwargs
        given = dict(zip(takes, args, strict=False))  # fewer args than fields is fine
        for name, value in kwargs.items():
            if name not in taken:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument "
                                f"{name!r}")
            if name in given:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument "
                                f"{name!r}")
            given[name] = value
        return given

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if all_taken and not kwargs and len(args) == len(takes):
            for name, value in zip(takes, args, strict=True):
                setter(self, name, value)
        else:
            given = given_values(args, kwargs)
            for name, init, default, factory in plan:
                if init and name in given:
                    value = given[name]
                elif factory is not missing:
                    value = factory()
                elif init and default is not missing:
                    value = default
                elif init:
                    raise TypeError(f"{qualname}.__init__() missing 1 required positional "
                                    f"argument: {name!r}")
                else:
                    continue  # init=False without a factory: the class attribute serves
                setter(self, name, value)
        if post_init:
            self.__post_init__()

    def __repr__(self: Any) -> str:
        inside = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inside})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return tuple(getattr(self, name) for name in compared) == tuple(
                getattr(other, name) for name in compared)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, name) for name in hashed))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    methods = {"__init__": __init__, "__repr__": _recursive_repr(__repr__), "__eq__": __eq__,
               "__hash__": __hash__, "__setattr__": __setattr__, "__delattr__": __delattr__}
    for name, method in methods.items():
        method.__qualname__ = f"{qualname}.{name}"
        setattr(cls, name, method)
    # What dataclasses.dataclass(frozen=True) would record: subclasses and readers see it so.
    cls.__dataclass_params__ = dataclasses._DataclassParams(  # type: ignore[attr-defined]
        init=True, repr=True, eq=True, order=False, unsafe_hash=False, frozen=True)
    return cls


def _recursive_repr(function: Any) -> Any:
    """``...`` for an object met again inside its own repr, as dataclasses' repr does."""
    running: set[tuple[int, int]] = set()

    @functools.wraps(function)
    def wrapper(self: Any) -> str:
        key = id(self), _thread.get_ident()
        if key in running:
            return "..."
        running.add(key)
        try:
            return str(function(self))
        finally:
            running.discard(key)

    return wrapper
