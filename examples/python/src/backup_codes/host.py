"""Loading the backup-code component with wasmtime-py and calling it safely.

The same guarantees as the Rust host (`host-shim/src/plugin.rs`):

- the component is compiled once per `Host` (and, with `cache_dir`, cached on
  disk by wasmtime, keyed by a hash of the component and the engine settings);
- every call runs in a fresh `Store` with a memory limit and an epoch deadline,
  and at most `max_concurrent` calls run at once;
- the only imports provided are `wasi:random/random@0.2.0` (`get-random-u64`, from
  `secrets`) and `wasi:clocks/wall-clock@0.2.0` (`now`, from `time` or the clock
  you pass); WASI itself is never linked, so a component that imports anything
  else does not load;
- any trap, timeout, limit or malformed result raises `HostError`: fail closed;
- a `verify` stopped by the deadline is counted at once with the engine's
  `interrupted` (no evaluation), its result attached to the `HostError` for the
  caller to store, so an attempt too costly to finish is not free;
- a WIT `error` raises `EngineError` carrying the case.

The engine decides everything about codes; this host only passes values.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import Config, Engine, Store, WasmtimeError
from wasmtime.component import Component, Linker, Record

from . import _abi
from .errors import EngineError, HostError, LoadError
from .secret import SecretCode
from .values import (
    CredentialStatus,
    Issuance,
    Policy,
    Verification,
    error_from_wasm,
    issuance_from_wasm,
    policy_from_wasm,
    policy_to_wasm,
    split_result,
    status_from_wasm,
    verification_from_wasm,
)

__all__ = ["Host", "HostConfig", "system_clock"]

ENGINE_INTERFACE = "authn:backup-codes/engine@0.3.0"
RANDOM_INTERFACE = "wasi:random/random@0.2.0"
CLOCK_INTERFACE = "wasi:clocks/wall-clock@0.2.0"
FUNCTIONS = ("default-policy", "issue", "activate", "verify", "interrupted", "status")

# Bounds on what the component may return (as in the Rust host).
MAX_CREDENTIAL_BYTES = 64 * 1024
MAX_EVENTS = 16
MAX_STRING_BYTES = 512
MAX_CODES = 64
# Epoch tick used for deadlines.
TICK_SECONDS = 0.010


def system_clock() -> int:
    """Seconds since the Unix epoch, from the system's wall clock."""
    return int(time.time())


@dataclass(frozen=True)
class HostConfig:
    """How the component is run (the Rust host's `PluginConfig`)."""

    #: Most linear memory one call may use, in bytes (must exceed argon2's memory).
    memory_limit: int = 64 << 20
    #: Longest a call may run before it is interrupted, in seconds.
    call_timeout: float = 10.0
    #: Calls that may run at once in this process.
    max_concurrent: int = 8
    #: Longest a call waits for a free slot before `HostError("busy")`, in seconds.
    queue_timeout: float = 5.0
    #: Where wasmtime caches compiled code (`None`: compile in every process).
    cache_dir: str | os.PathLike[str] | None = None
    #: Refuse to load a component whose SHA-256 (hex) differs.
    expected_sha256: str | None = None


class _Ticker:
    """Increments the engine's epoch every tick on a daemon thread, restarted in
    a child after `fork()` (threads do not survive it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.start()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (t := ref()) is not None and t._after_fork())

    def start(self) -> None:
        self._stop = threading.Event()
        stop, engine = self._stop, self._engine

        def run() -> None:
            while not stop.wait(TICK_SECONDS):
                engine.increment_epoch()

        self._thread = threading.Thread(target=run, name="backup-codes-epoch", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        if not self._stop.is_set():
            self.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


def _cache_config(directory: Path) -> str:
    """A wasmtime cache configuration file for a cache under `directory`. The
    compiled code goes to `directory/wasmtime/` (wasmtime's cleanup deletes files
    it does not know, so the configuration file stays outside it)."""
    cache = directory.resolve() / "wasmtime"
    cache.mkdir(parents=True, exist_ok=True)
    path = directory / "wasmtime-cache.toml"
    text = "[cache]\ndirectory = " + json.dumps(str(cache)) + "\n"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


def _engine_config(config: HostConfig) -> Config:
    c = Config()
    c.epoch_interruption = True
    c.wasm_simd = True
    c.wasm_component_model = True
    if config.cache_dir is not None:
        c.cache = _cache_config(Path(config.cache_dir))
    return c


#: The component's file inside the package (a wheel from `scripts/dist` has it).
BUNDLED_COMPONENT = "backup-codes.wasm"


def bundled_component() -> bytes:
    """The component this package was built with: the same bytes as the shim of
    the same version embeds (`backup-codes-shim component --digest` prints their
    SHA-256). A source checkout has none until `scripts/dist` puts it there."""
    resource = importlib.resources.files(__package__).joinpath(BUNDLED_COMPONENT)
    try:
        return resource.read_bytes()
    except FileNotFoundError:
        raise LoadError(
            "this installation has no bundled component: install the wheel scripts/dist builds, "
            "or load a file with Host.from_file (backup-codes-shim component --out FILE)"
        ) from None


class Host:
    """The loaded component, ready for calls from any thread.

    `Host(bytes)` or `Host.from_file(path)` (the file `backup-codes-shim component
    --out FILE` writes). `clock` returns seconds since the epoch and lets tests
    move time; it is called by the component through `wasi:clocks/wall-clock`.
    """

    def __init__(
        self,
        component: bytes,
        config: HostConfig | None = None,
        *,
        clock: Callable[[], int] = system_clock,
    ) -> None:
        config = config or HostConfig()
        if not isinstance(component, (bytes, bytearray)):
            raise TypeError("component must be bytes (use Host.from_file for a path)")
        digest = hashlib.sha256(component).hexdigest()
        if config.expected_sha256 is not None and config.expected_sha256.lower() != digest:
            raise LoadError(f"component SHA-256 {digest} does not match the configured {config.expected_sha256}")
        if config.max_concurrent < 1 or config.memory_limit < (1 << 20) or config.call_timeout <= 0:
            raise LoadError("max_concurrent must be >= 1, memory_limit >= 1 MiB and call_timeout > 0")
        self.config = config
        self.sha256 = digest
        self._clock = clock
        try:
            self._engine = Engine(_engine_config(config))
            self._component = Component(self._engine, bytes(component))
            self._linker = self._make_linker()
            iface = self._component.get_export_index(ENGINE_INTERFACE)
            if iface is None:
                raise LoadError(f"the component does not export {ENGINE_INTERFACE}")
            self._exports = {}
            for name in FUNCTIONS:
                index = self._component.get_export_index(name, iface)
                if index is None:
                    raise LoadError(f"the component does not export {ENGINE_INTERFACE}#{name}")
                self._exports[name] = index
        except WasmtimeError as e:
            raise LoadError(f"loading the component failed: {_first_line(e)}") from None
        self.imports = sorted(self._component.type.imports(self._engine))
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._deadline_ticks = max(1, math.ceil(config.call_timeout / TICK_SECONDS))
        self._ticker = _Ticker(self._engine)
        # Instantiate once now: a component importing anything this host does not
        # provide is refused here, not at the first login.
        try:
            self.default_policy()
        except HostError as e:
            self.close()
            raise LoadError(f"the component does not run in this host: {e}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], config: HostConfig | None = None, **kw: Any) -> Host:
        """Load the component file the shim writes (`backup-codes-shim component --out FILE`)."""
        return cls(Path(path).read_bytes(), config, **kw)

    @classmethod
    def bundled(cls, config: HostConfig | None = None, **kw: Any) -> Host:
        """Load the component this package was built with (see `bundled_component`)."""
        return cls(bundled_component(), config, **kw)

    def now(self) -> int:
        """The time the component sees (the host's clock), seconds since the epoch:
        for "try again in ..." messages that agree with the engine's lockout, and
        for host-side ages (a kept replaced credential) on the engine's clock.

        A clock that fails or returns anything but whole seconds raises
        `HostError("trap")`, as it makes a component call fail: callers fail
        closed either way."""
        try:
            seconds = self._clock()
        except Exception as e:
            raise HostError("trap", f"the clock failed: {type(e).__name__}") from None
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds < 1 << 64:
            raise HostError("trap", "the clock must return whole seconds since the epoch")
        return seconds

    def close(self) -> None:
        """Stop the deadline ticker. Calls after `close` are not interrupted."""
        self._ticker.stop()

    def __del__(self) -> None:
        ticker = getattr(self, "_ticker", None)
        if ticker is not None:
            ticker._stop.set()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Host(sha256={self.sha256[:16]}..., config={self.config!r})"

    # --- the host's two capabilities -------------------------------------------

    def _make_linker(self) -> Linker:
        linker = Linker(self._engine)
        # wasmtime-py keeps host functions in a process-wide table for as long as
        # the linker lives: a weak reference lets an unused Host be collected.
        ref = weakref.ref(self)

        def now(_store: Any) -> Record:
            host = ref()
            if host is None:
                raise RuntimeError("the host is gone")
            return host._now()

        with linker.root() as root:
            with root.add_instance(RANDOM_INTERFACE) as random:
                random.add_func("get-random-u64", _random_u64)
            with root.add_instance(CLOCK_INTERFACE) as clock:
                clock.add_func("now", now)
        return linker

    def _now(self) -> Record:
        seconds = self._clock()
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds < 1 << 64:
            raise ValueError("the clock must return whole seconds since the epoch")
        r = Record()
        r.seconds = seconds
        r.nanoseconds = 0
        return r

    # --- one call ------------------------------------------------------------------

    def _call(
        self,
        name: str,
        args: list[Any],
        *,
        secret_args: dict[int, bytearray] | None = None,
        take_codes: bool = False,
    ) -> tuple[Any, list[SecretCode]]:
        if not self._slots.acquire(timeout=self.config.queue_timeout):
            raise HostError("busy", "every call slot is taken")
        store = Store(self._engine)
        try:
            store.set_limits(
                memory_size=self.config.memory_limit,
                table_elements=16 * 1024,
                instances=16,
                tables=16,
                memories=4,
            )
            store.set_epoch_deadline(self._deadline_ticks)
            try:
                instance = self._linker.instantiate(store, self._component)
            except WasmtimeError as e:
                text = _cause(str(e))
                raise HostError("memory" if "memory" in text and "limit" in text else "trap", text) from None
            func = instance.get_func(store, self._exports[name])
            if func is None:
                raise HostError("protocol", f"{name} is not a function")
            try:
                return _abi.call(store, func, args, secret_args=secret_args, take_codes=take_codes)
            except _abi.CallFailed as e:
                text = _cause(e.message)
                if e.cause is not None:
                    raise HostError("trap", f"host function failed: {type(e.cause).__name__}") from None
                raise HostError("timeout" if "wasm trap: interrupt" in text else "trap", text) from None
            except (TypeError, ValueError, OverflowError) as e:
                raise HostError("protocol", f"{type(e).__name__} converting {name}") from None
        finally:
            # Frees the instance and its linear memory now rather than at the next GC.
            store.close()
            self._slots.release()

    def _result(self, name: str, value: Any) -> Any:
        ok, payload = split_result(value)
        if not ok:
            raise error_from_wasm(payload, MAX_STRING_BYTES)
        return payload

    # --- the contract --------------------------------------------------------------

    def default_policy(self) -> Policy:
        """The engine's recommended policy."""
        value, _ = self._call("default-policy", [])
        return policy_from_wasm(value)

    def issue(self, current: bytes | None, policy: Policy, pepper: bytes | None = None) -> Issuance:
        """Issue a new set (see the WIT `issue`): pending beside `current`'s active set,
        or a new credential when `current` is `None`. Wipe the result's codes once
        shown (`with host.issue(...) as issued:`)."""
        args = [_opt_bytes(current, "current"), policy_to_wasm(policy), _opt_bytes(pepper, "pepper")]
        value, codes = self._call("issue", args, take_codes=True)
        try:
            record = self._result("issue", value)
            return issuance_from_wasm(
                record,
                codes,
                max_credential=MAX_CREDENTIAL_BYTES,
                max_events=MAX_EVENTS,
                max_string=MAX_STRING_BYTES,
                max_codes=MAX_CODES,
            )
        except BaseException:
            for c in codes:
                c.wipe()
            raise

    def activate(
        self,
        current: bytes,
        set_id: str | None,
        code: SecretCode | str,
        policy: Policy,
        pepper: bytes | None = None,
    ) -> Verification:
        """Prove the pending set was saved (see the WIT `activate`): one call
        answers the attempt (`Verification`). With `set_id`, only the pending
        set of that id (the one the user was shown) may be activated; another
        is `EngineError("no-pending-set")`, before any evaluation."""
        if set_id is not None and not isinstance(set_id, str):
            raise TypeError("set_id must be a str or None")
        return self._attempt("activate", current, set_id, code, policy, pepper)

    def verify(
        self,
        current: bytes,
        replaced: bytes | None,
        code: SecretCode | str,
        policy: Policy,
        pepper: bytes | None = None,
    ) -> Verification:
        """Check a typed code against the active set (see the WIT `verify`): one
        call, one argon2 evaluation, and everything the host answers with in the
        returned `Verification`.

        `replaced` is the credential as it was before its active set was last
        replaced, if the caller keeps it (else `None`): a wrong code that was one
        of that set's is reported as `Verification.replaced_set`, from the same
        evaluation; it is never accepted.

        A `SecretCode` is left intact (the caller may need it again after a
        compare-and-swap conflict; wipe it when done); a `str` is copied into one
        that is wiped before this returns.

        When the deadline stops the call, the attempt is counted as a failure
        (`interrupted`, against `current`) before `HostError("timeout")` is
        raised; the error's `counted` is that `Verification` (or `None` if
        counting failed too): store its credential as for any attempt."""
        return self._attempt("verify", current, _opt_bytes(replaced, "replaced"), code, policy, pepper)

    def interrupted(self, current: bytes, policy: Policy) -> Verification:
        """Count an attempt at `verify` the deadline stopped as a failure of the
        active set (see the WIT `interrupted`): no evaluation, reason
        `FailureReason.INTERRUPTED`, lockout as for any failure. `verify` calls
        it itself; call it again on the fresh credential when storing its
        result lost a compare-and-swap."""
        value, replacement = self._call(
            "interrupted", [_bytes(current, "current"), policy_to_wasm(policy)], take_codes=True
        )
        return self._verification("interrupted", value, replacement)

    def status(self, current: bytes, policy: Policy) -> CredentialStatus:
        """Describe a credential without changing it."""
        value, _ = self._call("status", [_bytes(current, "current"), policy_to_wasm(policy)])
        return status_from_wasm(self._result("status", value), max_codes=MAX_CODES, max_string=MAX_STRING_BYTES)

    def _verification(self, name: str, value: Any, replacement: list[SecretCode]) -> Verification:
        try:
            return verification_from_wasm(
                self._result(name, value),
                replacement,
                max_credential=MAX_CREDENTIAL_BYTES,
                max_events=MAX_EVENTS,
                max_string=MAX_STRING_BYTES,
            )
        except BaseException:
            for c in replacement:
                c.wipe()
            raise

    def _attempt(
        self,
        name: str,
        current: bytes,
        second: bytes | str | None,
        code: SecretCode | str,
        policy: Policy,
        pepper: bytes | None,
    ) -> Verification:
        """One `verify` (`second`: the replaced credential) or `activate`
        (`second`: the set id shown)."""
        owned = isinstance(code, str)
        secret = SecretCode.from_str(code) if isinstance(code, str) else code
        if not isinstance(secret, SecretCode):
            raise TypeError("code must be a SecretCode or a str")
        try:
            current = _bytes(current, "current")
            head = [current, second]
            # The code's position holds a placeholder: `_abi.call` lowers it from
            # the SecretCode's buffer.
            args = [*head, None, policy_to_wasm(policy), _opt_bytes(pepper, "pepper")]
            try:
                value, replacement = self._call(
                    name, args, secret_args={len(head): secret.buffer()}, take_codes=True
                )
            except HostError as e:
                if name == "verify" and e.kind == "timeout":
                    e.counted = self._count_interrupted(current, policy)
                raise
            return self._verification(name, value, replacement)
        finally:
            if owned:
                secret.wipe()

    def _count_interrupted(self, current: bytes, policy: Policy) -> Verification | None:
        """`interrupted` for a verify the deadline stopped; `None` when that
        call fails too (the attempt has failed closed either way)."""
        try:
            return self.interrupted(current, policy)
        except (HostError, EngineError):
            return None


def _random_u64(_store: Any) -> int:
    return secrets.randbits(64)


def _bytes(value: Any, name: str) -> bytes:
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    return value


def _opt_bytes(value: Any, name: str) -> bytes | None:
    return None if value is None else _bytes(value, name)


def _cause(message: str) -> str:
    """The reason in a wasmtime error: the lines after "Caused by:" (the wasm
    backtrace before them names functions only), else the first line."""
    head, sep, cause = message.partition("Caused by:")
    lines = [line.strip() for line in (cause if sep else head).splitlines() if line.strip()]
    return "; ".join(lines) if sep else (lines[0] if lines else "unknown error")


def _first_line(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
