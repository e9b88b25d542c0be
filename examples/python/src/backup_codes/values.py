"""Typed values of the WIT contract `authn:backup-codes@0.3.0`, and their
conversion to and from the values wasmtime-py passes (records as objects with
kebab-case attributes, enums as `str`, variants as `Variant(tag, payload)`,
options as `None` or the value, `list<u8>` as `bytes`).

Conversion from the component is strict: anything not shaped as the contract
says raises `HostError("protocol")`, so a changed or hostile component fails
closed instead of being misread.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Union

from wasmtime.component import Record, Variant

from .errors import CodeFormatError, EngineError, ErrorCase, HostError
from .secret import SecretCode

__all__ = [
    "Accepted",
    "Activated",
    "CodeOrder",
    "CredentialStatus",
    "Event",
    "Exhausted",
    "ExhaustedEvent",
    "Failed",
    "FailureReason",
    "HashParams",
    "Issuance",
    "Issued",
    "IssuedCode",
    "Lock",
    "LockOpen",
    "LockPermanent",
    "LockUntil",
    "Locked",
    "LockedEvent",
    "Low",
    "Outcome",
    "Policy",
    "Rejected",
    "SetStatus",
    "Used",
    "UsedCode",
    "Verification",
]

U8, U16, U32, U64 = (1 << 8) - 1, (1 << 16) - 1, (1 << 32) - 1, (1 << 64) - 1


class CodeOrder(enum.Enum):
    """How the verifier asks for a code."""

    ANY_ORDER = "any-order"
    NUMBERED = "numbered"


class FailureReason(enum.Enum):
    """Why an attempt failed."""

    MISMATCH = "mismatch"
    ALREADY_USED = "already-used"
    WRONG_NUMBER = "wrong-number"
    #: 0.3.0: the host's deadline stopped a `verify`, and the host counted it
    #: with `Host.interrupted` (nothing was compared).
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class HashParams:
    """Argon2id cost parameters."""

    memory_kib: int
    iterations: int
    parallelism: int


@dataclass(frozen=True, slots=True)
class Policy:
    """What a host asks of a set and of verification. Get the recommended values
    from `Host.default_policy()` and change fields with `dataclasses.replace` or
    `policy.replace(...)`; the engine checks every field (`ErrorCase.INVALID_POLICY`)."""

    count: int
    symbols: int
    group_size: int
    order: CodeOrder
    hash: HashParams
    require_activation: bool
    free_failures: int
    lockout_base_seconds: int
    lockout_max_seconds: int
    max_failures: int
    low_water: int
    # 0.2.0: a used code is replaced by a new one at `verify`, returned once in
    # `Verification.replacement` (NIST SP 800-63B-4 section 4.2.1.1).
    replace_on_use: bool = False

    def replace(self, **changes: Any) -> Policy:
        """A copy with some fields changed (`hash=` also takes a dict of its
        fields and `order=` the WIT name, so overrides can come from JSON)."""
        hash_changes = changes.get("hash")
        if isinstance(hash_changes, dict):
            changes["hash"] = dataclasses.replace(self.hash, **hash_changes)
        if isinstance(changes.get("order"), str):
            changes["order"] = CodeOrder(changes["order"])
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """One newly issued code: its number and the code (shown once)."""

    number: int
    code: SecretCode


@dataclass(frozen=True, slots=True)
class Issued:
    """Event: a new set was issued (pending until activated when `pending`)."""

    set_id: str
    count: int
    pending: bool


@dataclass(frozen=True, slots=True)
class Activated:
    """Event: a pending set was activated and replaced the active set."""

    set_id: str


@dataclass(frozen=True, slots=True)
class Used:
    """Event: a code was used to log in."""

    set_id: str
    number: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Failed:
    """Event: an attempt failed and counted toward lockout."""

    set_id: str
    reason: FailureReason
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class LockedEvent:
    """Event: attempts are refused until `until` (`None`: until a new set)."""

    set_id: str
    until: int | None


@dataclass(frozen=True, slots=True)
class Low:
    """Event: few codes remain; prompt the user to regenerate."""

    set_id: str
    number: int
    remaining: int


@dataclass(frozen=True, slots=True)
class ExhaustedEvent:
    """Event: no codes remain."""

    set_id: str


@dataclass(frozen=True, slots=True)
class Replaced:
    """Event: the code just used was replaced by a new one of the same number."""

    set_id: str
    number: int


@dataclass(frozen=True, slots=True)
class Imported:
    """Event: a set was imported from another identity server."""

    set_id: str
    source: str
    count: int
    remaining: int
    legacy: bool


Event = Union[Issued, Activated, Used, Failed, LockedEvent, Low, ExhaustedEvent, Replaced, Imported]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The code was right (after `verify` it is used; after `activate` the set is
    active and the code still unused)."""

    number: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """The code was wrong; it counted toward lockout."""

    reason: FailureReason
    consecutive_failures: int
    locked_until: int | None
    permanent: bool


@dataclass(frozen=True, slots=True)
class Locked:
    """Attempts are refused without checking the code until `until` (`None`: until
    a new set is issued). Does not count as a failure."""

    until: int | None


@dataclass(frozen=True, slots=True)
class Exhausted:
    """Every code of the set is used; nothing was checked."""


Outcome = Union[Accepted, Rejected, Locked, Exhausted]


@dataclass(frozen=True, slots=True)
class LockOpen:
    """Attempts may be made now."""


@dataclass(frozen=True, slots=True)
class LockUntil:
    """Attempts are refused without checking until `until` (seconds since the epoch)."""

    until: int


@dataclass(frozen=True, slots=True)
class LockPermanent:
    """Attempts are refused until a new set is issued."""


#: Whether a set takes attempts after a call (WIT `lock`, 0.3.0).
Lock = Union[LockOpen, LockUntil, LockPermanent]


@dataclass(frozen=True, slots=True)
class Verification:
    """What `activate`, `verify` and `interrupted` return: everything a host
    answers an attempt with, from that one call (no `status` call after it).
    Store `credential` with compare-and-swap against the value passed in (it is
    equal to it when nothing changed), and record `events`."""

    #: The new credential value to store.
    credential: bytes
    #: What happened.
    outcome: Outcome
    #: Unused codes left in the active set after this call.
    remaining: int
    #: Events to record or notify on.
    events: tuple[Event, ...]
    #: The new code that replaced the one just used (`policy.replace_on_use`),
    #: shown once: wipe it (`replacement.code.wipe()`) once shown.
    replacement: IssuedCode | None
    #: The id of the set the code was checked against (the pending set at
    #: `activate`, the active one after it is accepted).
    set_id: str
    #: Short form of `set_id`, to show the user.
    fingerprint: str
    #: The active set's remaining count is at or below the policy's
    #: low-water mark after this call: prompt for a new set.
    low: bool
    #: No code of the active set remains after this call.
    exhausted: bool
    #: The code number to ask for next when codes are used in order (the
    #: policy's `NUMBERED`, or a set used in order whatever the policy).
    next_number: int | None
    #: Consecutive failures counted on the set checked, after this call.
    consecutive_failures: int
    #: Whether the set checked takes attempts after this call.
    lock: Lock
    #: A wrong code (`MISMATCH`) was one of the set the active set replaced
    #: (the `replaced` credential passed to `verify`), told from the same single
    #: evaluation: refused and counted like any wrong code, but the user may be
    #: told why it no longer works.
    replaced_set: bool


@dataclass(slots=True)
class Issuance:
    """What `issue` returns. The codes are shown once and never stored: call
    `wipe()` (or use the issuance as a context manager) once they are shown."""

    credential: bytes
    codes: tuple[IssuedCode, ...]
    set_id: str
    fingerprint: str
    events: tuple[Event, ...]

    def wipe(self) -> None:
        """Overwrite every code with zeros."""
        for c in self.codes:
            c.code.wipe()

    def __enter__(self) -> Issuance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()


@dataclass(frozen=True, slots=True)
class UsedCode:
    """A used code of a set: its number and when it was used."""

    number: int
    at: int


@dataclass(frozen=True, slots=True)
class SetStatus:
    """The state of one set."""

    set_id: str
    fingerprint: str
    issued_at: int
    activated_at: int | None
    total: int
    remaining: int
    used: tuple[UsedCode, ...]
    low: bool
    exhausted: bool
    hash_outdated: bool
    next_number: int | None
    source: str | None = None
    legacy: bool = False


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """What `status` returns."""

    active: SetStatus | None
    pending: SetStatus | None
    consecutive_failures: int
    locked_until: int | None
    locked_permanently: bool


# --- to the component ---------------------------------------------------------


def _record(**fields: Any) -> Record:
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def _uint(value: Any, limit: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise TypeError(f"policy field {name} must be an integer in 0..={limit}")
    return value


def policy_to_wasm(p: Policy) -> Record:
    """Lower a `Policy` (range checks beyond the integer width are the engine's)."""
    if not isinstance(p, Policy):
        raise TypeError("expected a backup_codes.Policy")
    if not isinstance(p.order, CodeOrder) or not isinstance(p.hash, HashParams):
        raise TypeError("policy.order must be a CodeOrder and policy.hash a HashParams")
    if not isinstance(p.require_activation, bool):
        raise TypeError("policy field require_activation must be a bool")
    h = p.hash
    return _record(
        count=_uint(p.count, U8, "count"),
        symbols=_uint(p.symbols, U8, "symbols"),
        group_size=_uint(p.group_size, U8, "group_size"),
        order=p.order.value,
        hash=_record(
            memory_kib=_uint(h.memory_kib, U32, "hash.memory_kib"),
            iterations=_uint(h.iterations, U32, "hash.iterations"),
            parallelism=_uint(h.parallelism, U32, "hash.parallelism"),
        ),
        require_activation=p.require_activation,
        free_failures=_uint(p.free_failures, U32, "free_failures"),
        lockout_base_seconds=_uint(p.lockout_base_seconds, U32, "lockout_base_seconds"),
        lockout_max_seconds=_uint(p.lockout_max_seconds, U32, "lockout_max_seconds"),
        max_failures=_uint(p.max_failures, U32, "max_failures"),
        low_water=_uint(p.low_water, U8, "low_water"),
        replace_on_use=bool(p.replace_on_use),
    )


# --- from the component -------------------------------------------------------


def _bad(what: str) -> HostError:
    return HostError("protocol", f"unexpected {what} from the component")


def _field(r: Any, name: str) -> Any:
    if not isinstance(r, Record) or not hasattr(r, name):
        raise _bad(f"record (no field {name})")
    return getattr(r, name)


def _int(v: Any, limit: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= limit:
        raise _bad(what)
    return v


def _opt_int(v: Any, limit: int, what: str) -> int | None:
    return None if v is None else _int(v, limit, what)


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise _bad(what)
    return v


def _str(v: Any, limit: int, what: str) -> str:
    if not isinstance(v, str) or len(v.encode("utf-8")) > limit:
        raise HostError("oversized", f"{what} too long") if isinstance(v, str) else _bad(what)
    return v


def _enum(cls: type[enum.Enum], v: Any, what: str) -> Any:
    try:
        return cls(v)
    except ValueError:
        raise _bad(what) from None


def _variant(v: Any, what: str) -> tuple[str, Any]:
    if not isinstance(v, Variant) or not isinstance(v.tag, str):
        raise _bad(what)
    return v.tag, v.payload


def policy_from_wasm(r: Any) -> Policy:
    h = _field(r, "hash")
    return Policy(
        count=_int(_field(r, "count"), U8, "policy.count"),
        symbols=_int(_field(r, "symbols"), U8, "policy.symbols"),
        group_size=_int(_field(r, "group-size"), U8, "policy.group-size"),
        order=_enum(CodeOrder, _field(r, "order"), "policy.order"),
        hash=HashParams(
            memory_kib=_int(_field(h, "memory-kib"), U32, "hash.memory-kib"),
            iterations=_int(_field(h, "iterations"), U32, "hash.iterations"),
            parallelism=_int(_field(h, "parallelism"), U32, "hash.parallelism"),
        ),
        require_activation=_bool(_field(r, "require-activation"), "policy.require-activation"),
        free_failures=_int(_field(r, "free-failures"), U32, "policy.free-failures"),
        lockout_base_seconds=_int(_field(r, "lockout-base-seconds"), U32, "policy.lockout-base-seconds"),
        lockout_max_seconds=_int(_field(r, "lockout-max-seconds"), U32, "policy.lockout-max-seconds"),
        max_failures=_int(_field(r, "max-failures"), U32, "policy.max-failures"),
        low_water=_int(_field(r, "low-water"), U8, "policy.low-water"),
        replace_on_use=_bool(_field(r, "replace-on-use"), "policy.replace-on-use"),
    )


def event_from_wasm(v: Any, max_string: int) -> Event:
    tag, p = _variant(v, "event")
    set_id = _str(_field(p, "set-id"), max_string, "event set id")
    if tag == "issued":
        return Issued(set_id, _int(_field(p, "count"), U8, "issued.count"), _bool(_field(p, "pending"), "issued.pending"))
    if tag == "activated":
        return Activated(set_id)
    if tag in ("used", "low"):
        cls = Used if tag == "used" else Low
        return cls(set_id, _int(_field(p, "number"), U8, "event number"), _int(_field(p, "remaining"), U8, "event remaining"))
    if tag == "failed":
        return Failed(
            set_id,
            _enum(FailureReason, _field(p, "reason"), "failed.reason"),
            _int(_field(p, "consecutive-failures"), U32, "failed.consecutive-failures"),
        )
    if tag == "locked":
        return LockedEvent(set_id, _opt_int(_field(p, "until"), U64, "locked.until"))
    if tag == "exhausted":
        return ExhaustedEvent(set_id)
    if tag == "replaced":
        return Replaced(set_id, _int(_field(p, "number"), U8, "replaced.number"))
    if tag == "imported":
        return Imported(
            set_id,
            _str(_field(p, "source"), max_string, "imported.source"),
            _int(_field(p, "count"), U8, "imported.count"),
            _int(_field(p, "remaining"), U8, "imported.remaining"),
            _bool(_field(p, "legacy"), "imported.legacy"),
        )
    raise _bad(f"event case {tag!r}")


def outcome_from_wasm(v: Any) -> Outcome:
    tag, p = _variant(v, "outcome")
    if tag == "accepted":
        return Accepted(_int(p, U8, "accepted number"))
    if tag == "rejected":
        return Rejected(
            reason=_enum(FailureReason, _field(p, "reason"), "rejection.reason"),
            consecutive_failures=_int(_field(p, "consecutive-failures"), U32, "rejection.consecutive-failures"),
            locked_until=_opt_int(_field(p, "locked-until"), U64, "rejection.locked-until"),
            permanent=_bool(_field(p, "permanent"), "rejection.permanent"),
        )
    if tag == "locked":
        return Locked(_opt_int(p, U64, "locked until"))
    if tag == "exhausted" and p is None:
        return Exhausted()
    raise _bad(f"outcome case {tag!r}")


def lock_from_wasm(v: Any) -> Lock:
    """Lift a WIT `lock`."""
    tag, p = _variant(v, "lock")
    if tag == "open" and p is None:
        return LockOpen()
    if tag == "until":
        return LockUntil(_int(p, U64, "lock until"))
    if tag == "permanent" and p is None:
        return LockPermanent()
    raise _bad(f"lock case {tag!r}")


def _bytes(v: Any, limit: int, what: str) -> bytes:
    if not isinstance(v, bytes):
        raise _bad(what)
    if len(v) > limit:
        raise HostError("oversized", f"{what} of {len(v)} bytes")
    return v


def _events(v: Any, max_events: int, max_string: int) -> tuple[Event, ...]:
    if not isinstance(v, list):
        raise _bad("event list")
    if len(v) > max_events:
        raise HostError("oversized", f"{len(v)} events")
    return tuple(event_from_wasm(e, max_string) for e in v)


def verification_from_wasm(
    r: Any, replacement: list[SecretCode], *, max_credential: int, max_events: int, max_string: int
) -> Verification:
    """`replacement` is the replacement code the host lifted into a wipeable
    buffer (none or one); the record's own `code` field was zeroed first."""
    listed = _field(r, "replacement")
    if (listed is None) != (not replacement) or len(replacement) > 1:
        raise _bad("replacement")
    new = None
    if listed is not None:
        if len(replacement[0]) > max_string:
            raise HostError("oversized", "replacement code too long")
        new = IssuedCode(number=_int(_field(listed, "number"), U8, "replacement number"), code=replacement[0])
    return Verification(
        credential=_bytes(_field(r, "credential"), max_credential, "credential"),
        outcome=outcome_from_wasm(_field(r, "outcome")),
        remaining=_int(_field(r, "remaining"), U8, "remaining"),
        events=_events(_field(r, "events"), max_events, max_string),
        replacement=new,
        set_id=_str(_field(r, "set-id"), max_string, "set id"),
        fingerprint=_str(_field(r, "fingerprint"), max_string, "fingerprint"),
        low=_bool(_field(r, "low"), "low"),
        exhausted=_bool(_field(r, "exhausted"), "exhausted"),
        next_number=_opt_int(_field(r, "next-number"), U8, "next-number"),
        consecutive_failures=_int(_field(r, "consecutive-failures"), U32, "consecutive-failures"),
        lock=lock_from_wasm(_field(r, "lock")),
        replaced_set=_bool(_field(r, "replaced-set"), "replaced-set"),
    )


def issuance_from_wasm(
    r: Any, codes: list[SecretCode], *, max_credential: int, max_events: int, max_string: int, max_codes: int
) -> Issuance:
    """`codes` are the code strings the host lifted into wipeable buffers, in
    order; the record's own `code` fields were zeroed before conversion."""
    listed = _field(r, "codes")
    if not isinstance(listed, list) or len(listed) != len(codes):
        raise _bad("code list")
    if len(listed) > max_codes:
        raise HostError("oversized", f"{len(listed)} codes")
    issued = []
    for entry, code in zip(listed, codes):
        if len(code) > max_string:
            raise HostError("oversized", "code too long")
        issued.append(IssuedCode(number=_int(_field(entry, "number"), U8, "code number"), code=code))
    return Issuance(
        credential=_bytes(_field(r, "credential"), max_credential, "credential"),
        codes=tuple(issued),
        set_id=_str(_field(r, "set-id"), max_string, "set id"),
        fingerprint=_str(_field(r, "fingerprint"), max_string, "fingerprint"),
        events=_events(_field(r, "events"), max_events, max_string),
    )


def _set_status(r: Any, max_codes: int, max_string: int) -> SetStatus | None:
    if r is None:
        return None
    used = _field(r, "used")
    if not isinstance(used, list):
        raise _bad("used-code list")
    if len(used) > max_codes:
        raise HostError("oversized", f"{len(used)} used codes")
    return SetStatus(
        set_id=_str(_field(r, "set-id"), max_string, "set id"),
        fingerprint=_str(_field(r, "fingerprint"), max_string, "fingerprint"),
        issued_at=_int(_field(r, "issued-at"), U64, "issued-at"),
        activated_at=_opt_int(_field(r, "activated-at"), U64, "activated-at"),
        total=_int(_field(r, "total"), U8, "total"),
        remaining=_int(_field(r, "remaining"), U8, "remaining"),
        used=tuple(
            UsedCode(_int(_field(u, "number"), U8, "used number"), _int(_field(u, "at"), U64, "used at")) for u in used
        ),
        low=_bool(_field(r, "low"), "low"),
        exhausted=_bool(_field(r, "exhausted"), "exhausted"),
        hash_outdated=_bool(_field(r, "hash-outdated"), "hash-outdated"),
        next_number=_opt_int(_field(r, "next-number"), U8, "next-number"),
        source=None if _field(r, "source") is None else _str(_field(r, "source"), max_string, "source"),
        legacy=_bool(_field(r, "legacy"), "legacy"),
    )


def status_from_wasm(r: Any, *, max_codes: int, max_string: int) -> CredentialStatus:
    return CredentialStatus(
        active=_set_status(_field(r, "active"), max_codes, max_string),
        pending=_set_status(_field(r, "pending"), max_codes, max_string),
        consecutive_failures=_int(_field(r, "consecutive-failures"), U32, "consecutive-failures"),
        locked_until=_opt_int(_field(r, "locked-until"), U64, "locked-until"),
        locked_permanently=_bool(_field(r, "locked-permanently"), "locked-permanently"),
    )


_ERROR_PAYLOADS = {
    ErrorCase.INVALID_POLICY: "string",
    ErrorCase.UNSUPPORTED_VERSION: "u16",
    ErrorCase.INVALID_CODE: "format",
    ErrorCase.INVALID_IMPORT: "import",
}


def error_from_wasm(v: Any, max_string: int) -> EngineError:
    tag, p = _variant(v, "error")
    case = _enum(ErrorCase, tag, "error case")
    kind = _ERROR_PAYLOADS.get(case)
    if kind is None:
        if p is not None:
            raise _bad(f"payload on error {tag}")
        return EngineError(case)
    if kind == "string":
        return EngineError(case, _str(p, max_string, "error message"))
    if kind == "u16":
        return EngineError(case, _int(p, U16, "error version"))
    if kind == "import":
        return EngineError(case, _str(p, max_string, "import-error"))
    return EngineError(case, _enum(CodeFormatError, p, "code-format-error"))


def split_result(v: Any) -> tuple[bool, Any]:
    """A `result<record, error>` as wasmtime-py 50 gives it: the ok record as a
    `Record`, the error as a `Variant` (the ok and error Python types do not
    overlap, so the result itself is untagged). A tagged `Variant('ok'|'err')`
    is accepted too, should a later wasmtime-py tag it."""
    if isinstance(v, Record):
        return True, v
    if isinstance(v, Variant) and v.tag == "ok" and isinstance(v.payload, Record):
        return True, v.payload
    if isinstance(v, Variant) and v.tag == "err" and isinstance(v.payload, Variant):
        return False, v.payload
    if isinstance(v, Variant):
        return False, v
    raise _bad("result")
