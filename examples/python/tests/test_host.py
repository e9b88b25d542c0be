"""The real component through the Python host: the contract, the host's
guarantees (imports, limits, deadline, fail closed) and what it does with codes."""

from __future__ import annotations

import ctypes
import hashlib
import pickle
import threading
import time

import pytest
from wasmtime import Store, WasmtimeError
from wasmtime.component import Component

import backup_codes._abi as abi
from backup_codes import (
    Accepted,
    CodeFormatError,
    CodeOrder,
    EngineError,
    ErrorCase,
    Exhausted,
    Failed,
    FailureReason,
    Host,
    HostConfig,
    HostError,
    Issuance,
    Issued,
    LoadError,
    Locked,
    LockedEvent,
    LockOpen,
    LockPermanent,
    LockUntil,
    Low,
    Rejected,
    SecretCode,
    Used,
    Verification,
)
from backup_codes.values import lock_from_wasm
from wasmtime.component import Variant

from conftest import ManualClock


def issue_active(host: Host, policy, count: int | None = None) -> Issuance:
    p = policy.replace(require_activation=False, **({"count": count, "low_water": min(policy.low_water, count)} if count else {}))
    return host.issue(None, p)


def codes_of(issued: Issuance) -> list[str]:
    return [c.code.reveal() for c in issued.codes]


def calls_of(host: Host, monkeypatch) -> list[str]:
    """The component functions `host` calls from now on, in order."""
    names: list[str] = []
    original = host._call

    def spy(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        names.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(host, "_call", spy)
    return names


# --- loading --------------------------------------------------------------------


def test_imports_are_exactly_random_and_wall_clock(host: Host) -> None:
    assert host.imports == ["wasi:clocks/wall-clock@0.2.0", "wasi:random/random@0.2.0"]


def test_nothing_else_is_linked(host: Host) -> None:
    # A component importing a WASI interface the host does not provide cannot be
    # instantiated with the host's linker: WASI is never added.
    wat = """(component
      (import "wasi:cli/environment@0.2.0" (instance
        (export "get-arguments" (func (result (list string))))))
    )"""
    other = Component(host._engine, wat)
    store = Store(host._engine)
    with pytest.raises(WasmtimeError, match="wasi:cli/environment"):
        host._linker.instantiate(store, other)


def test_default_policy_matches_the_contract(host: Host) -> None:
    p = host.default_policy()
    assert (p.count, p.symbols, p.group_size) == (10, 13, 5)
    assert (p.hash.memory_kib, p.hash.iterations, p.hash.parallelism) == (19456, 2, 1)
    assert p.order is CodeOrder.ANY_ORDER
    assert p.require_activation
    assert (p.free_failures, p.lockout_base_seconds, p.lockout_max_seconds, p.max_failures) == (5, 30, 3600, 100)


def test_component_hash_is_checked(component_bytes: bytes) -> None:
    with pytest.raises(LoadError, match="does not match"):
        Host(component_bytes, HostConfig(expected_sha256="00" * 32))
    digest = hashlib.sha256(component_bytes).hexdigest()
    with Host(component_bytes, HostConfig(expected_sha256=digest.upper())) as h:
        assert h.sha256 == digest


def test_compiled_code_is_cached_on_disk(component_bytes: bytes, tmp_path) -> None:
    with Host(component_bytes, HostConfig(cache_dir=tmp_path / "c")) as h:
        h.default_policy()
    cached = [p for p in (tmp_path / "c").rglob("*") if p.is_file() and p.suffix != ".toml"]
    assert cached, "wasmtime wrote no compiled code to the cache directory"
    start = time.perf_counter()
    with Host(component_bytes, HostConfig(cache_dir=tmp_path / "c")) as h:
        assert h.default_policy().count == 10
    assert time.perf_counter() - start < 30  # loads (from the cache); no timing claim here


def test_bad_configuration_is_refused(component_bytes: bytes) -> None:
    with pytest.raises(LoadError):
        Host(component_bytes, HostConfig(max_concurrent=0))
    with pytest.raises(LoadError, match="loading the component failed"):
        Host(b"\0asm not a component")


# --- the contract ---------------------------------------------------------------------


def test_issue_activate_verify_once(host: Host, policy, clock: ManualClock) -> None:
    issued = host.issue(None, policy)
    assert len(issued.codes) == 10 and [c.number for c in issued.codes] == list(range(1, 11))
    assert issued.events == (Issued(issued.set_id, 10, True),)
    codes = codes_of(issued)
    assert len(set(codes)) == 10
    for text in (repr(issued), str(issued)):
        assert not any(c in text for c in codes), "a code appears in repr()"

    with pytest.raises(EngineError) as e:
        host.verify(issued.credential, None, codes[0], policy)
    assert e.value.case is ErrorCase.NO_ACTIVE_SET

    activated = host.activate(issued.credential, None, codes[0], policy)
    assert activated.outcome == Accepted(1)
    status = host.status(activated.credential, policy)
    assert status.active is not None and status.pending is None and status.active.remaining == 10

    clock.now += 5
    first = host.verify(activated.credential, None, codes[1], policy)
    assert first.outcome == Accepted(2) and first.remaining == 9
    assert Used(issued.set_id, 2, 9) in first.events

    again = host.verify(first.credential, None, codes[1], policy)
    assert isinstance(again.outcome, Rejected) and again.outcome.reason is FailureReason.ALREADY_USED

    status = host.status(again.credential, policy)
    assert status.active is not None
    assert status.active.remaining == 9
    assert [(u.number, u.at) for u in status.active.used] == [(2, 1_800_000_005)]
    # A repeat inside the engine's reuse grace (a double submit) is refused but not counted.
    assert status.consecutive_failures == 0 and again.credential == first.credential

    clock.now += 61
    later = host.verify(again.credential, None, codes[1], policy)
    assert isinstance(later.outcome, Rejected) and later.outcome.reason is FailureReason.ALREADY_USED
    assert host.status(later.credential, policy).consecutive_failures == 1

    other = issue_active(host, policy)
    wrong = host.verify(later.credential, None, other.codes[0].code, policy)
    assert wrong.outcome == Rejected(FailureReason.MISMATCH, 2, None, False)
    assert any(isinstance(ev, Failed) and ev.consecutive_failures == 2 for ev in wrong.events)


def test_regenerate_replaces_the_set_only_when_confirmed(host: Host, policy) -> None:
    first = issue_active(host, policy)
    old = codes_of(first)
    second = host.issue(first.credential, policy)
    new = codes_of(second)
    s = host.status(second.credential, policy)
    assert s.active is not None and s.pending is not None and s.active.set_id == first.set_id
    # Old codes still work until the new set is confirmed.
    assert isinstance(host.verify(second.credential, None, old[0], policy).outcome, Accepted)
    confirmed = host.activate(second.credential, None, new[3], policy).credential
    s = host.status(confirmed, policy)
    assert s.active is not None and s.active.set_id == second.set_id and s.pending is None
    stale = host.verify(confirmed, None, old[1], policy).outcome
    assert isinstance(stale, Rejected) and stale.reason is FailureReason.MISMATCH
    # Given the credential from before the replacement, the old code is still
    # refused (and counted), and told apart from a wrong one.
    told = host.verify(confirmed, second.credential, old[1], policy)
    assert told.outcome == Rejected(FailureReason.MISMATCH, 1, None, False) and told.replaced_set
    # The code used to confirm stays usable.
    assert host.verify(confirmed, None, new[3], policy).outcome == Accepted(4)


def test_normalisation_case_separators_and_lookalikes(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    for i, code in enumerate(codes_of(issued)):
        typed = code.lower().replace("0", "o").replace("1", "l").replace("-", " \u2013 ")
        assert host.verify(issued.credential, None, f"  {typed}\t", policy).outcome == Accepted(i + 1)


def test_check_symbol_catches_typos_without_counting(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    code = codes_of(issued)[0]
    last = code[-1]
    one_wrong = code[:-1] + ("7" if last != "7" else "8")
    compact = code.replace("-", "")
    i = next(k for k in range(len(compact) - 1) if compact[k] != compact[k + 1])
    swapped = compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :]
    for typo in (one_wrong, swapped):
        with pytest.raises(EngineError) as e:
            host.verify(issued.credential, None, typo, policy)
        assert e.value.case is ErrorCase.INVALID_CODE
        assert e.value.format_error is CodeFormatError.CHECK_SYMBOL_MISMATCH
        assert typo not in str(e.value)
    assert host.status(issued.credential, policy).consecutive_failures == 0


def test_malformed_codes_get_their_own_error(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    code = codes_of(issued)[0]
    cases = {
        "": CodeFormatError.EMPTY,
        " - - ": CodeFormatError.EMPTY,
        "A" * 10_000: CodeFormatError.TOO_LONG,
        code.replace("-", "")[:-2]: CodeFormatError.WRONG_LENGTH,
        "ABCDU-" + code[6:]: CodeFormatError.INVALID_CHARACTER,
        code.replace(code[0], "\u0410", 1): CodeFormatError.INVALID_CHARACTER,  # Cyrillic A
    }
    for typed, expected in cases.items():
        with pytest.raises(EngineError) as e:
            host.verify(issued.credential, None, typed, policy)
        assert (e.value.case, e.value.format_error) == (ErrorCase.INVALID_CODE, expected), typed[:20]


def test_lockout_follows_the_clock_the_test_controls(host: Host, policy, clock: ManualClock) -> None:
    issued = issue_active(host, policy)
    wrong = issue_active(host, policy).codes[0].code
    right = codes_of(issued)[0]
    cred = issued.credential
    for n in range(1, policy.free_failures + 1):
        v = host.verify(cred, None, wrong, policy)
        cred = v.credential
        assert isinstance(v.outcome, Rejected) and v.outcome.consecutive_failures == n
    until = clock.now + policy.lockout_base_seconds
    assert v.outcome.locked_until == until
    assert LockedEvent(issued.set_id, until) in v.events

    locked = host.verify(cred, None, right, policy)
    assert locked.outcome == Locked(until)
    assert locked.credential == cred, "a refused attempt changes nothing"

    clock.now = until - 1
    assert host.verify(cred, None, right, policy).outcome == Locked(until)
    clock.now = until
    assert host.verify(cred, None, right, policy).outcome == Accepted(1)

    # The next failure doubles the lockout.
    v = host.verify(cred, None, wrong, policy)
    assert isinstance(v.outcome, Rejected) and v.outcome.locked_until == clock.now + 2 * policy.lockout_base_seconds


def test_permanent_lock_after_max_failures(host: Host, policy, clock: ManualClock) -> None:
    p = policy.replace(require_activation=False, free_failures=1, max_failures=3, lockout_base_seconds=1)
    issued = host.issue(None, p)
    wrong = host.issue(None, p).codes[0].code
    cred = issued.credential
    for _ in range(3):
        clock.now += 3600
        v = host.verify(cred, None, wrong, p)
        cred = v.credential
    assert isinstance(v.outcome, Rejected) and v.outcome.permanent
    clock.now += 10 * 86400
    assert host.verify(cred, None, issued.codes[0].code, p).outcome == Locked(None)
    assert host.status(cred, p).locked_permanently


def test_exhausted_and_low(host: Host, policy) -> None:
    issued = issue_active(host, policy, count=2)
    cred = issued.credential
    first = host.verify(cred, None, issued.codes[0].code, policy.replace(count=2, low_water=1))
    assert any(isinstance(e, Low) for e in first.events)
    last = host.verify(first.credential, None, issued.codes[1].code, policy.replace(count=2, low_water=1))
    assert last.remaining == 0
    assert host.verify(last.credential, None, issued.codes[0].code, policy.replace(count=2, low_water=1)).outcome == Exhausted()


def test_one_call_answers_low_exhausted_and_the_set(host: Host, policy, monkeypatch) -> None:
    p = policy.replace(require_activation=False, count=3, low_water=1)
    issued = host.issue(None, p)
    calls = calls_of(host, monkeypatch)
    cred = issued.credential
    seen = []
    for code in issued.codes:
        v = host.verify(cred, None, code.code, p)
        cred = v.credential
        assert (v.set_id, v.fingerprint) == (issued.set_id, issued.fingerprint)
        assert (v.consecutive_failures, v.lock, v.replaced_set) == (0, LockOpen(), False)
        seen.append((v.outcome, v.remaining, v.low, v.exhausted))
    assert seen == [
        (Accepted(1), 2, False, False),
        (Accepted(2), 1, True, False),
        (Accepted(3), 0, True, True),
    ]
    v = host.verify(cred, None, issued.codes[0].code, p)
    assert (v.outcome, v.remaining, v.low, v.exhausted, v.lock) == (Exhausted(), 0, True, True, LockOpen())
    assert v.credential == cred
    assert calls == ["verify"] * 4, "one component call per attempt, no status after it"


def test_activate_answers_for_the_pending_set(host: Host, policy) -> None:
    first = issue_active(host, policy)
    second = host.issue(first.credential, policy)
    wrong = host.activate(second.credential, None, first.codes[0].code, policy)
    assert isinstance(wrong.outcome, Rejected)
    # The set checked at `activate` is the pending one.
    assert (wrong.set_id, wrong.fingerprint, wrong.consecutive_failures) == (second.set_id, second.fingerprint, 1)
    right = host.activate(wrong.credential, None, second.codes[0].code, policy)
    assert right.outcome == Accepted(1)
    assert (right.set_id, right.remaining, right.low, right.exhausted) == (second.set_id, 10, False, False)
    assert (right.consecutive_failures, right.lock) == (0, LockOpen())


def test_activate_takes_only_the_set_the_user_was_shown(host: Host, policy) -> None:
    first = issue_active(host, policy)
    second = host.issue(first.credential, policy)
    # A stale page names another set: refused before anything is evaluated.
    with pytest.raises(EngineError) as stale:
        host.activate(second.credential, first.set_id, second.codes[0].code, policy)
    assert stale.value.case is ErrorCase.NO_PENDING_SET
    right = host.activate(second.credential, second.set_id, second.codes[0].code, policy)
    assert right.outcome == Accepted(1)


def test_the_next_number_comes_with_the_verification(host: Host, policy) -> None:
    p = policy.replace(require_activation=False, order=CodeOrder.NUMBERED)
    issued = host.issue(None, p)
    v = host.verify(issued.credential, None, issued.codes[0].code, p)
    assert (v.outcome, v.next_number) == (Accepted(1), 2)
    any_order = policy.replace(require_activation=False)
    issued = host.issue(None, any_order)
    v = host.verify(issued.credential, None, issued.codes[0].code, any_order)
    assert v.next_number is None


def test_failures_and_the_lock_come_with_the_verification(host: Host, policy, clock: ManualClock, monkeypatch) -> None:
    p = policy.replace(require_activation=False, free_failures=2, max_failures=3, lockout_base_seconds=30)
    issued = host.issue(None, p)
    wrong = host.issue(None, p).codes[0].code
    calls = calls_of(host, monkeypatch)
    v = host.verify(issued.credential, None, wrong, p)
    assert (v.consecutive_failures, v.lock, v.set_id) == (1, LockOpen(), issued.set_id)
    v = host.verify(v.credential, None, wrong, p)
    assert (v.consecutive_failures, v.lock) == (2, LockUntil(clock.now + 30))
    locked = host.verify(v.credential, None, issued.codes[0].code, p)
    assert locked.outcome == Locked(clock.now + 30) and locked.lock == LockUntil(clock.now + 30)
    assert locked.consecutive_failures == 2 and locked.credential == v.credential
    clock.now += 30
    last = host.verify(v.credential, None, wrong, p)
    assert isinstance(last.outcome, Rejected) and last.outcome.permanent
    assert (last.consecutive_failures, last.lock) == (3, LockPermanent())
    assert host.verify(last.credential, None, issued.codes[0].code, p).lock == LockPermanent()
    assert calls == ["verify"] * 5


def test_a_code_of_the_replaced_set_is_told_from_one_call(host: Host, policy, monkeypatch) -> None:
    first = issue_active(host, policy)
    second = host.issue(first.credential, policy)
    before = second.credential  # what the host stored before the new set replaced the active one
    confirmed = host.activate(before, None, second.codes[0].code, policy).credential
    stranger = issue_active(host, policy).codes[0].code
    calls = calls_of(host, monkeypatch)
    old = host.verify(confirmed, before, first.codes[4].code, policy)
    assert old.outcome == Rejected(FailureReason.MISMATCH, 1, None, False), "refused and counted"
    assert old.replaced_set and old.set_id == second.set_id
    assert any(isinstance(e, Failed) and e.reason is FailureReason.MISMATCH for e in old.events)
    wrong = host.verify(old.credential, before, stranger, policy)
    assert isinstance(wrong.outcome, Rejected) and not wrong.replaced_set
    assert wrong.consecutive_failures == 2
    # Without the replaced credential the same code is just wrong.
    assert not host.verify(confirmed, None, first.codes[4].code, policy).replaced_set
    # A code of the current set is accepted whatever is passed as replaced.
    assert host.verify(confirmed, before, second.codes[1].code, policy).outcome == Accepted(2)
    # The replaced credential never accepts its own codes.
    assert not isinstance(host.verify(confirmed, first.credential, first.codes[5].code, policy).outcome, Accepted)
    assert calls == ["verify"] * 5


def test_verify_takes_the_replaced_credential_second(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    with pytest.raises(TypeError, match="replaced"):
        host.verify(issued.credential, codes_of(issued)[0], policy, None)  # the 0.2.0 argument order
    with pytest.raises(TypeError):
        host.verify(issued.credential, codes_of(issued)[0], policy)  # type: ignore[call-arg]


def test_interrupted_counts_toward_lockout(host: Host, policy, clock: ManualClock) -> None:
    issued = issue_active(host, policy)
    cred = issued.credential
    for n in range(1, policy.free_failures + 1):
        v = host.interrupted(cred, policy)
        assert isinstance(v, Verification) and v.credential != cred
        cred = v.credential
        assert isinstance(v.outcome, Rejected) and v.outcome.reason is FailureReason.INTERRUPTED
        assert v.outcome.consecutive_failures == n == v.consecutive_failures
        assert Failed(issued.set_id, FailureReason.INTERRUPTED, n) in v.events
    until = clock.now + policy.lockout_base_seconds
    assert v.lock == LockUntil(until) and LockedEvent(issued.set_id, until) in v.events
    # The lockout it started refuses a right code, and a further interrupted call changes nothing.
    assert host.verify(cred, None, codes_of(issued)[0], policy).outcome == Locked(until)
    again = host.interrupted(cred, policy)
    assert again.outcome == Locked(until) and again.credential == cred
    assert host.status(cred, policy).consecutive_failures == policy.free_failures
    clock.now = until
    ok = host.verify(cred, None, codes_of(issued)[0], policy)
    assert ok.outcome == Accepted(1) and ok.consecutive_failures == 0
    with pytest.raises(EngineError) as e:
        host.interrupted(host.issue(None, policy).credential, policy)  # only a pending set
    assert e.value.case is ErrorCase.NO_ACTIVE_SET


def test_lock_values_are_lifted_strictly() -> None:
    assert lock_from_wasm(Variant("open", None)) == LockOpen()
    assert lock_from_wasm(Variant("until", 5)) == LockUntil(5)
    assert lock_from_wasm(Variant("permanent", None)) == LockPermanent()
    for bad in (Variant("closed", None), Variant("until", None), Variant("until", -1), Variant("open", 1), "open"):
        with pytest.raises(HostError) as e:
            lock_from_wasm(bad)
        assert e.value.kind == "protocol"


def test_replace_on_use_returns_a_new_code_once(host: Host, policy) -> None:
    nist = policy.replace(replace_on_use=True)
    issued = issue_active(host, nist)
    codes = codes_of(issued)
    v = host.verify(issued.credential, None, codes[2], nist)
    assert v.outcome == Accepted(3)
    assert v.remaining == len(codes), "the set keeps its size"
    assert v.replacement is not None and v.replacement.number == 3
    new = v.replacement.code.reveal()
    assert new not in codes
    assert any(type(e).__name__ == "Replaced" and e.number == 3 for e in v.events)
    # The old code is gone; the new one works once (and is replaced in turn).
    assert isinstance(host.verify(v.credential, None, codes[2], nist).outcome, Rejected)
    again = host.verify(v.credential, None, new, nist)
    assert again.outcome == Accepted(3) and again.replacement is not None
    assert isinstance(host.verify(again.credential, None, new, nist).outcome, Rejected)
    v.replacement.code.wipe()
    assert v.replacement.code.reveal() == ""
    # Without the policy there is no replacement.
    assert host.verify(issued.credential, None, codes[2], policy).replacement is None


def test_corrupt_credential_is_a_typed_error(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    for corrupt in (issued.credential[:-7], b"garbage", b"", issued.credential[:6] + bytes(40)):
        with pytest.raises(EngineError) as e:
            host.verify(corrupt, None, "ABCDE", policy)
        assert e.value.case is ErrorCase.MALFORMED_CREDENTIAL
        with pytest.raises(EngineError) as e:
            host.status(corrupt, policy)
        assert e.value.case is ErrorCase.MALFORMED_CREDENTIAL
    newer = issued.credential[:4] + (3).to_bytes(2, "big") + issued.credential[6:]
    with pytest.raises(EngineError) as e:
        host.status(newer, policy)
    assert (e.value.case, e.value.detail) == (ErrorCase.UNSUPPORTED_VERSION, 3)


def test_invalid_policy_and_pepper_mismatch(host: Host, policy) -> None:
    with pytest.raises(EngineError) as e:
        host.issue(None, policy.replace(count=65))
    assert e.value.case is ErrorCase.INVALID_POLICY and str(e.value.detail).startswith("count")
    with pytest.raises(TypeError):
        host.issue(None, policy.replace(count=300))  # does not fit the WIT u8
    p = policy.replace(require_activation=False)
    peppered = host.issue(None, p, pepper=b"k" * 32)
    code = peppered.codes[0].code
    assert host.verify(peppered.credential, None, code, p, pepper=b"k" * 32).outcome == Accepted(1)
    for wrong in (None, b"k" * 31, b"j" * 32):
        try:
            v = host.verify(peppered.credential, None, code, p, pepper=wrong)
        except EngineError as err:
            assert err.case is ErrorCase.PEPPER_MISMATCH
        else:  # same length, other bytes: just a wrong code
            assert isinstance(v.outcome, Rejected)


# --- fail closed -----------------------------------------------------------------------


def test_deadline_interrupts_and_the_host_recovers(component_bytes: bytes, cache_dir, policy) -> None:
    with Host(component_bytes, HostConfig(call_timeout=0.05, cache_dir=cache_dir)) as h:
        heavy = policy.replace(require_activation=False, hash={"memory_kib": 32768, "iterations": 16})
        start = time.perf_counter()
        with pytest.raises(HostError) as e:
            h.issue(None, heavy)
        assert e.value.kind == "timeout"
        assert time.perf_counter() - start < 5
        assert h.default_policy().count == 10


def test_a_verify_stopped_by_the_deadline_is_counted(
    component_bytes: bytes, cache_dir, host: Host, policy, clock: ManualClock
) -> None:
    # One code, hashed at a cost the short deadline below cannot finish.
    heavy = policy.replace(require_activation=False, count=1, low_water=0, hash={"memory_kib": 32768, "iterations": 8})
    issued = host.issue(None, heavy)
    code = codes_of(issued)[0]
    with Host(component_bytes, HostConfig(call_timeout=0.05, cache_dir=cache_dir), clock=clock) as h:
        with pytest.raises(HostError) as e:
            h.verify(issued.credential, None, code, heavy)
        assert e.value.kind == "timeout"
        counted = e.value.counted
        assert isinstance(counted, Verification), "the interrupted attempt was counted"
        assert counted.outcome == Rejected(FailureReason.INTERRUPTED, 1, None, False)
        assert counted.credential != issued.credential and counted.consecutive_failures == 1
        assert Failed(issued.set_id, FailureReason.INTERRUPTED, 1) in counted.events
        assert code not in str(e.value) and code not in repr(counted)
        # Activation is not counted this way (the WIT counts verify only).
        pending = host.issue(None, heavy.replace(require_activation=True))
        with pytest.raises(HostError) as e:
            h.activate(pending.credential, None, pending.codes[0].code, heavy)
        assert e.value.kind == "timeout" and e.value.counted is None
    assert host.status(counted.credential, heavy).consecutive_failures == 1
    # The stored count leaves the code usable (within the free failures).
    assert host.verify(counted.credential, None, code, heavy).outcome == Accepted(1)


def test_memory_limit_fails_closed(component_bytes: bytes, cache_dir, policy) -> None:
    # argon2's 19 MiB do not fit in 8 MiB: the guest's allocation fails and the
    # engine reports `host-failure` (or, should the guest trap, the host does).
    with Host(component_bytes, HostConfig(memory_limit=8 << 20, cache_dir=cache_dir)) as h:
        with pytest.raises((HostError, EngineError)) as e:
            h.issue(None, policy.replace(hash={"memory_kib": 19456}))
        if isinstance(e.value, EngineError):
            assert e.value.case is ErrorCase.HOST_FAILURE
        else:
            assert e.value.kind in ("trap", "memory")
        assert h.issue(None, policy).codes, "the host still works within the limit"


def test_busy_when_every_slot_is_taken(component_bytes: bytes, cache_dir, policy) -> None:
    with Host(component_bytes, HostConfig(max_concurrent=1, queue_timeout=0.01, cache_dir=cache_dir)) as h:
        slow = policy.replace(hash={"memory_kib": 19456, "iterations": 4})
        started = threading.Event()
        done: list[object] = []

        def long_call() -> None:
            started.set()
            done.append(h.issue(None, slow))

        t = threading.Thread(target=long_call)
        t.start()
        started.wait()
        time.sleep(0.05)
        with pytest.raises(HostError) as e:
            h.default_policy()
        assert e.value.kind == "busy"
        t.join()
        assert isinstance(done[0], Issuance)


def test_failing_clock_fails_closed(component_bytes: bytes, cache_dir, policy) -> None:
    ticking = ManualClock()
    h = Host(component_bytes, HostConfig(cache_dir=cache_dir), clock=ticking)
    issued = h.issue(None, policy.replace(require_activation=False))

    def broken() -> int:
        raise OSError("clock unavailable")

    h._clock = broken
    with pytest.raises(HostError) as e:
        h.verify(issued.credential, None, issued.codes[0].code, policy)
    assert e.value.kind == "trap"
    with pytest.raises(HostError) as e:
        h.now()  # the host's own reading of the clock fails closed alike
    assert e.value.kind == "trap"
    h._clock = lambda: -1
    with pytest.raises(HostError):
        h.verify(issued.credential, None, issued.codes[0].code, policy)
    with pytest.raises(HostError):
        h.now()
    h.close()


def test_calls_from_threads_run_at_once(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    results: list[object] = []

    def run(i: int) -> None:
        results.append(host.verify(issued.credential, None, issued.codes[i].code, policy).outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.number for r in results) == [1, 2, 3, 4]  # type: ignore[attr-defined]


# --- what happens to codes -----------------------------------------------------------------


def test_secret_code_never_shows_itself() -> None:
    code = SecretCode.from_str("7KQ2M-9XDTA-RWF3")
    assert "7KQ2M" not in repr(code) + str(code) + f"{code}"
    with pytest.raises(TypeError):
        pickle.dumps(code)
    with pytest.raises(ValueError):
        SecretCode(bytearray(b"\xff\xfe"))
    with code:
        assert code.reveal() == "7KQ2M-9XDTA-RWF3"
    assert code.wiped


def test_the_code_argument_is_wiped_on_the_c_side(host: Host, policy, monkeypatch) -> None:
    issued = issue_active(host, policy)
    code = codes_of(issued)[0]
    seen: list[bytes] = []
    original = abi.ffi.wasmtime_component_val_delete

    def spy(ptr):  # type: ignore[no-untyped-def]
        val = ptr._obj if hasattr(ptr, "_obj") else ptr.contents
        if val.kind == abi._STRING and val.of.string.size:
            seen.append(ctypes.string_at(val.of.string.data, val.of.string.size))
        return original(ptr)

    monkeypatch.setattr(abi.ffi, "wasmtime_component_val_delete", spy)
    secret = SecretCode.from_str(code)
    assert host.verify(issued.credential, None, secret, policy).outcome == Accepted(1)
    assert seen == [bytes(len(code))], "the lowered code must be zeros when freed"
    assert secret.reveal() == code, "a caller's SecretCode is left to the caller"
    secret.wipe()
    assert bytes(secret.buffer()) == b""


def test_issued_codes_never_become_python_strings_inside_the_host(host: Host, policy, monkeypatch) -> None:
    lifted: list[str] = []
    original = abi.ffi.to_str

    def spy(vec):  # type: ignore[no-untyped-def]
        s = original(vec)
        lifted.append(s)
        return s

    monkeypatch.setattr(abi.ffi, "to_str", spy)
    issued = host.issue(None, policy)
    monkeypatch.undo()
    codes = codes_of(issued)
    assert not set(codes) & set(lifted), "wasmtime-py lifted a code into a str"
    assert lifted.count("\0" * len(codes[0])) == len(codes), "each code's C buffer was zeroed before lifting"
    with issued:
        pass
    assert all(c.code.wiped for c in issued.codes)


def test_a_str_code_is_copied_and_wiped(host: Host, policy, monkeypatch) -> None:
    issued = issue_active(host, policy)
    wiped: list[int] = []
    original = SecretCode.wipe

    def spy(self: SecretCode) -> None:
        wiped.append(len(self))
        original(self)

    monkeypatch.setattr(SecretCode, "wipe", spy)
    host.verify(issued.credential, None, codes_of(issued)[0], policy)
    assert wiped == [len(codes_of(issued)[0])]
