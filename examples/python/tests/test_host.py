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
    Low,
    Rejected,
    SecretCode,
    Used,
)

from conftest import ManualClock


def issue_active(host: Host, policy, count: int | None = None) -> Issuance:
    p = policy.replace(require_activation=False, **({"count": count, "low_water": min(policy.low_water, count)} if count else {}))
    return host.issue(None, p)


def codes_of(issued: Issuance) -> list[str]:
    return [c.code.reveal() for c in issued.codes]


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
        host.verify(issued.credential, codes[0], policy)
    assert e.value.case is ErrorCase.NO_ACTIVE_SET

    activated = host.activate(issued.credential, codes[0], policy)
    assert activated.outcome == Accepted(1)
    status = host.status(activated.credential, policy)
    assert status.active is not None and status.pending is None and status.active.remaining == 10

    clock.now += 5
    first = host.verify(activated.credential, codes[1], policy)
    assert first.outcome == Accepted(2) and first.remaining == 9
    assert Used(issued.set_id, 2, 9) in first.events

    again = host.verify(first.credential, codes[1], policy)
    assert isinstance(again.outcome, Rejected) and again.outcome.reason is FailureReason.ALREADY_USED

    status = host.status(again.credential, policy)
    assert status.active is not None
    assert status.active.remaining == 9
    assert [(u.number, u.at) for u in status.active.used] == [(2, 1_800_000_005)]
    # A repeat inside the engine's reuse grace (a double submit) is refused but not counted.
    assert status.consecutive_failures == 0 and again.credential == first.credential

    clock.now += 61
    later = host.verify(again.credential, codes[1], policy)
    assert isinstance(later.outcome, Rejected) and later.outcome.reason is FailureReason.ALREADY_USED
    assert host.status(later.credential, policy).consecutive_failures == 1

    other = issue_active(host, policy)
    wrong = host.verify(later.credential, other.codes[0].code, policy)
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
    assert isinstance(host.verify(second.credential, old[0], policy).outcome, Accepted)
    confirmed = host.activate(second.credential, new[3], policy).credential
    s = host.status(confirmed, policy)
    assert s.active is not None and s.active.set_id == second.set_id and s.pending is None
    stale = host.verify(confirmed, old[1], policy).outcome
    assert isinstance(stale, Rejected) and stale.reason is FailureReason.MISMATCH
    # The code used to confirm stays usable.
    assert host.verify(confirmed, new[3], policy).outcome == Accepted(4)


def test_normalisation_case_separators_and_lookalikes(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    for i, code in enumerate(codes_of(issued)):
        typed = code.lower().replace("0", "o").replace("1", "l").replace("-", " \u2013 ")
        assert host.verify(issued.credential, f"  {typed}\t", policy).outcome == Accepted(i + 1)


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
            host.verify(issued.credential, typo, policy)
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
            host.verify(issued.credential, typed, policy)
        assert (e.value.case, e.value.format_error) == (ErrorCase.INVALID_CODE, expected), typed[:20]


def test_lockout_follows_the_clock_the_test_controls(host: Host, policy, clock: ManualClock) -> None:
    issued = issue_active(host, policy)
    wrong = issue_active(host, policy).codes[0].code
    right = codes_of(issued)[0]
    cred = issued.credential
    for n in range(1, policy.free_failures + 1):
        v = host.verify(cred, wrong, policy)
        cred = v.credential
        assert isinstance(v.outcome, Rejected) and v.outcome.consecutive_failures == n
    until = clock.now + policy.lockout_base_seconds
    assert v.outcome.locked_until == until
    assert LockedEvent(issued.set_id, until) in v.events

    locked = host.verify(cred, right, policy)
    assert locked.outcome == Locked(until)
    assert locked.credential == cred, "a refused attempt changes nothing"

    clock.now = until - 1
    assert host.verify(cred, right, policy).outcome == Locked(until)
    clock.now = until
    assert host.verify(cred, right, policy).outcome == Accepted(1)

    # The next failure doubles the lockout.
    v = host.verify(cred, wrong, policy)
    assert isinstance(v.outcome, Rejected) and v.outcome.locked_until == clock.now + 2 * policy.lockout_base_seconds


def test_permanent_lock_after_max_failures(host: Host, policy, clock: ManualClock) -> None:
    p = policy.replace(require_activation=False, free_failures=1, max_failures=3, lockout_base_seconds=1)
    issued = host.issue(None, p)
    wrong = host.issue(None, p).codes[0].code
    cred = issued.credential
    for _ in range(3):
        clock.now += 3600
        v = host.verify(cred, wrong, p)
        cred = v.credential
    assert isinstance(v.outcome, Rejected) and v.outcome.permanent
    clock.now += 10 * 86400
    assert host.verify(cred, issued.codes[0].code, p).outcome == Locked(None)
    assert host.status(cred, p).locked_permanently


def test_exhausted_and_low(host: Host, policy) -> None:
    issued = issue_active(host, policy, count=2)
    cred = issued.credential
    first = host.verify(cred, issued.codes[0].code, policy.replace(count=2, low_water=1))
    assert any(isinstance(e, Low) for e in first.events)
    last = host.verify(first.credential, issued.codes[1].code, policy.replace(count=2, low_water=1))
    assert last.remaining == 0
    assert host.verify(last.credential, issued.codes[0].code, policy.replace(count=2, low_water=1)).outcome == Exhausted()


def test_replace_on_use_returns_a_new_code_once(host: Host, policy) -> None:
    nist = policy.replace(replace_on_use=True)
    issued = issue_active(host, nist)
    codes = codes_of(issued)
    v = host.verify(issued.credential, codes[2], nist)
    assert v.outcome == Accepted(3)
    assert v.remaining == len(codes), "the set keeps its size"
    assert v.replacement is not None and v.replacement.number == 3
    new = v.replacement.code.reveal()
    assert new not in codes
    assert any(type(e).__name__ == "Replaced" and e.number == 3 for e in v.events)
    # The old code is gone; the new one works once (and is replaced in turn).
    assert isinstance(host.verify(v.credential, codes[2], nist).outcome, Rejected)
    again = host.verify(v.credential, new, nist)
    assert again.outcome == Accepted(3) and again.replacement is not None
    assert isinstance(host.verify(again.credential, new, nist).outcome, Rejected)
    v.replacement.code.wipe()
    assert v.replacement.code.reveal() == ""
    # Without the policy there is no replacement.
    assert host.verify(issued.credential, codes[2], policy).replacement is None


def test_corrupt_credential_is_a_typed_error(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    for corrupt in (issued.credential[:-7], b"garbage", b"", issued.credential[:6] + bytes(40)):
        with pytest.raises(EngineError) as e:
            host.verify(corrupt, "ABCDE", policy)
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
    assert host.verify(peppered.credential, code, p, pepper=b"k" * 32).outcome == Accepted(1)
    for wrong in (None, b"k" * 31, b"j" * 32):
        try:
            v = host.verify(peppered.credential, code, p, pepper=wrong)
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
        h.verify(issued.credential, issued.codes[0].code, policy)
    assert e.value.kind == "trap"
    h._clock = lambda: -1
    with pytest.raises(HostError):
        h.verify(issued.credential, issued.codes[0].code, policy)
    h.close()


def test_calls_from_threads_run_at_once(host: Host, policy) -> None:
    issued = issue_active(host, policy)
    results: list[object] = []

    def run(i: int) -> None:
        results.append(host.verify(issued.credential, issued.codes[i].code, policy).outcome)

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
    assert host.verify(issued.credential, secret, policy).outcome == Accepted(1)
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
    host.verify(issued.credential, codes_of(issued)[0], policy)
    assert wiped == [len(codes_of(issued)[0])]
