"""A code held in a wipeable buffer.

Python's `str` and `bytes` are immutable: once a code is in one, it stays in
memory until the allocator reuses that memory, and nothing can (safely) clear it.
A `SecretCode` keeps the code's UTF-8 bytes in a `bytearray`, which can be
overwritten in place: the host passes those bytes to the component without
making a `str` or `bytes` copy, and wipes its own C-side copy after each call.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["SecretCode"]


def _is_utf8(buf: bytearray) -> bool:
    """Whether `buf` is well-formed UTF-8 (RFC 3629), checked without decoding
    it into a `str` (which could not be wiped)."""
    i, n = 0, len(buf)
    while i < n:
        b = buf[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif b == 0xED:
            need, lo, hi = 2, 0x80, 0x9F  # no UTF-16 surrogates
        elif b == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF
        elif 0xF1 <= b <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F  # <= U+10FFFF
        else:
            return False
        if i + need >= n:
            return False
        if not lo <= buf[i + 1] <= hi:
            return False
        for k in range(2, need + 1):
            if not 0x80 <= buf[i + k] <= 0xBF:
                return False
        i += need + 1
    return True


class SecretCode:
    """One backup code (typed by a user or issued by the engine).

    It never shows itself: `repr`, `str` and `format` are redacted, it cannot be
    pickled (so it cannot land in a session or a cache by accident), and equality
    is identity. `wipe()` overwrites the buffer with zeros; the host calls it on
    codes it owns, and `with SecretCode.from_str(typed) as code:` wipes at the
    end of the block. `reveal()` gives a `str` for display, which is the one copy
    this class cannot wipe: call it only where the code must be shown.
    """

    __slots__ = ("_buf", "__weakref__")

    def __init__(self, buf: bytearray) -> None:
        """Take ownership of `buf` (no copy): the caller must not keep using it."""
        if not isinstance(buf, bytearray):
            raise TypeError("SecretCode takes a bytearray; use SecretCode.from_str for a str")
        if not _is_utf8(buf):
            raise ValueError("a code must be UTF-8")
        self._buf = buf

    @classmethod
    def from_str(cls, text: str) -> SecretCode:
        """Copy a typed code out of a `str` (the `str` itself cannot be wiped)."""
        if not isinstance(text, str):
            raise TypeError("expected a str")
        # encode() makes one temporary bytes object, freed at once; a bytearray
        # built from it is the only copy that lives on.
        return cls(bytearray(text, "utf-8"))

    @classmethod
    def _adopt(cls, buf: bytearray) -> SecretCode:
        """Wrap a buffer the host filled from the component (already UTF-8)."""
        code = cls.__new__(cls)
        code._buf = buf
        return code

    def buffer(self) -> bytearray:
        """The UTF-8 bytes, in place (for hosts that lower them without copying)."""
        return self._buf

    def reveal(self) -> str:
        """The code as a `str`, for showing it once. This copy cannot be wiped."""
        return self._buf.decode("utf-8")

    def wipe(self) -> None:
        """Overwrite the code with zeros and forget its length."""
        buf = self._buf
        for i in range(len(buf)):
            buf[i] = 0
        # Shrinking after the overwrite: a resize may move the bytes, but only
        # zeros are left to move.
        del buf[:]

    @property
    def wiped(self) -> bool:
        """Whether `wipe()` has run (or the code was empty)."""
        return len(self._buf) == 0

    def __len__(self) -> int:
        return len(self._buf)

    def __enter__(self) -> SecretCode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def __del__(self) -> None:
        buf = getattr(self, "_buf", None)
        if buf:
            for i in range(len(buf)):
                buf[i] = 0

    def __repr__(self) -> str:
        return "SecretCode([REDACTED])"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretCode cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a SecretCode cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("a SecretCode cannot be copied")
