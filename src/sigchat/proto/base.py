"""Small building blocks of the sans-IO core that the send path also loads.

``Record`` and ``Choice`` stand in for ``dataclasses`` and ``enum`` in the modules
that a plain ``sigchat-send`` imports (``wire``, ``sender``): the start-up rule
is stated once, in ``sigchat.send``'s docstring. Server-side modules use the
standard library's ``dataclasses`` and ``enum`` as usual.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class for protocol misuse."""


class LocalProtocolError(ProtocolError):
    """The caller used the core wrongly (e.g. a message over the length field)."""


class Record:
    """A plain record: ``repr`` and ``==`` from its ``__slots__`` (a dataclass without
    the ~20 ms import of ``dataclasses``; see ``sigchat.send``)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def field_names(cls) -> list[str]:
        return [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.field_names())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.field_names())


class Choice:
    """A member of a closed set of named values (a subclass), like an ``enum.Enum`` member:
    ``name``, ``value``, compared by identity, and the same object after copy or pickle.

    Not ``enum``: importing it (with functools and collections) was about a quarter of
    ``sigchat-send``'s start-up (see ``sigchat.send``). ``@choices`` turns a subclass's UPPER_CASE attributes
    into its members, in order; ``members()`` lists them.
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    @classmethod
    def members(cls) -> list:
        return [member for member in vars(cls).values() if type(member) is cls]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

    def __reduce__(self) -> tuple:
        return getattr, (type(self), self.name)


def choices(cls: type[Choice]) -> type[Choice]:
    for name, value in list(vars(cls).items()):
        if name.isupper():
            setattr(cls, name, cls(name, value))
    return cls


class Timing:
    """``duration`` and payload ``bits_per_second`` of stats with ``length``, ``started_at`` and ``ended_at``."""

    __slots__ = ()

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def payload_bits(self) -> int:
        return 8 * (self.length or 0)

    @property
    def bits_per_second(self) -> float:
        """Payload bits per second (goodput) over the whole exchange."""
        duration = self.duration
        return self.payload_bits / duration if duration > 0 else 0.0
