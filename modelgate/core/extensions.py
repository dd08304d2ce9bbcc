"""Extension points: how a lower layer shows or runs something a higher app owns.

Dependencies point one way (monitoring -> governance -> registry -> modelgate).
Where a lower layer needs a higher app's facts (a panel on the version page, a
widget on the home page, a demo step), it declares an ``ExtensionPoint`` and the
higher app fills it in its ``AppConfig.ready()``. The lower layer never imports
the higher one, not even inside a function, and never names its modules as
strings; ``lint-imports`` checks the first, the absence of ``importlib`` the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    key: str
    order: int
    item: T


class ExtensionPoint(Generic[T]):
    """Named contributions in a stable order (``order``, then ``key``).

    Registering a key again replaces its entry, so a ``ready()`` that runs twice
    (tests reloading apps) changes nothing.
    """

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, _Entry[T]] = {}

    def register(self, key: str, item: T, *, order: int = 100) -> T:
        self._entries[key] = _Entry(key, order, item)
        return item

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)

    def __iter__(self) -> Iterator[T]:
        return (entry.item for entry in sorted(self._entries.values(), key=lambda e: (e.order, e.key)))

    def items(self) -> list[tuple[str, T]]:
        return [(e.key, e.item) for e in sorted(self._entries.values(), key=lambda e: (e.order, e.key))]

    def keys(self) -> list[str]:
        return [key for key, _ in self.items()]

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<ExtensionPoint {self.name}: {', '.join(self.keys()) or 'empty'}>"
