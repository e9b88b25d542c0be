"""The two ways a call can fail: the engine refused (a WIT `error`), or the call
itself failed (trap, deadline, limit, malformed result) and the caller must fail
closed. Neither message ever contains a code, a pepper or credential bytes."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCase(enum.Enum):
    """The cases of the WIT `variant error`."""

    INVALID_POLICY = "invalid-policy"
    MALFORMED_CREDENTIAL = "malformed-credential"
    UNSUPPORTED_VERSION = "unsupported-version"
    INVALID_CODE = "invalid-code"
    NO_ACTIVE_SET = "no-active-set"
    NO_PENDING_SET = "no-pending-set"
    PEPPER_MISMATCH = "pepper-mismatch"
    HOST_FAILURE = "host-failure"
    INVALID_IMPORT = "invalid-import"


class CodeFormatError(enum.Enum):
    """Why a typed code was refused before hashing (WIT `code-format-error`)."""

    EMPTY = "empty"
    TOO_LONG = "too-long"
    INVALID_CHARACTER = "invalid-character"
    WRONG_LENGTH = "wrong-length"
    CHECK_SYMBOL_MISMATCH = "check-symbol-mismatch"


class BackupCodesError(Exception):
    """Base class of everything this package raises."""


class LoadError(BackupCodesError):
    """The component could not be loaded (hash mismatch, bad configuration,
    imports other than the two this host provides, or wasmtime refused it)."""


class EngineError(BackupCodesError):
    """The engine refused the input: one WIT `error` case and its payload.

    `detail` is the payload: the policy field and its range for
    `INVALID_POLICY`, the format version for `UNSUPPORTED_VERSION`, a
    `CodeFormatError` for `INVALID_CODE`, else `None`. None of these errors
    changes the credential.
    """

    case: ErrorCase
    detail: str | int | CodeFormatError | None

    def __init__(self, case: ErrorCase, detail: str | int | CodeFormatError | None = None) -> None:
        self.case = case
        self.detail = detail
        text = case.value
        if isinstance(detail, CodeFormatError):
            text += f" ({detail.value})"
        elif detail is not None:
            text += f" ({detail})"
        super().__init__(f"refused by the backup-code engine: {text}")

    @property
    def format_error(self) -> CodeFormatError | None:
        """For `INVALID_CODE`: why the code was refused before hashing."""
        return self.detail if isinstance(self.detail, CodeFormatError) else None


class HostError(BackupCodesError):
    """The call did not produce a result; callers fail closed.

    `kind` is one of:
    - `"timeout"`: the call ran past its deadline (epoch interruption);
    - `"memory"`: instantiation needed more memory than the limit allows;
    - `"trap"`: the component trapped (including a `memory.grow` refused by
      the limit during the call, which the guest turns into a trap), or a
      host function (random source, clock) failed;
    - `"oversized"`: the result exceeds the host's bounds;
    - `"busy"`: every call slot stayed taken for the whole queue timeout;
    - `"protocol"`: the result does not have the contract's shape.

    For a `verify` stopped by the deadline (`"timeout"`), `counted` is the
    engine's `interrupted` answer for the same credential: the attempt counted
    as a failure (a `Verification`), to store with compare-and-swap like any
    attempt's, or `None` when counting failed too. Every other error has
    `counted = None`.
    """

    KINDS = ("timeout", "memory", "trap", "oversized", "busy", "protocol")

    kind: str
    #: A `backup_codes.Verification` or `None` (typed loosely: `values` imports this module).
    counted: Any

    def __init__(self, kind: str, message: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown HostError kind {kind!r}")
        self.kind = kind
        self.counted = None
        super().__init__(f"the backup-code engine call failed ({kind}): {message}")
