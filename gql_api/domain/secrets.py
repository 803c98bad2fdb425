"""Secret: a string that does not leak by accident (tokens, client secrets)."""

from __future__ import annotations

import secrets
from typing import NoReturn


class Secret:
    """A string that refuses to be printed or serialised by accident; `.reveal()` is deliberate."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values are not picklable")
