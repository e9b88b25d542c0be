"""A typed Python host for the backup-code WebAssembly component
(`authn:backup-codes@0.3.0`), on wasmtime-py.

    from backup_codes import Host, SecretCode

    host = Host.bundled()                              # compiled once (or Host.from_file(path))
    policy = host.default_policy()
    with host.issue(None, policy) as issued:           # codes wiped at the end
        show(issued.codes)                             # shown once
        store(issued.credential)                       # opaque bytes
    with SecretCode.from_str(typed) as code:           # one call per attempt:
        v = host.verify(credential, replaced, code, policy)  # replaced: bytes or None
    if isinstance(v.outcome, Accepted): ...            # and v.low, v.lock, v.replaced_set...

See examples/python/README.md.
"""

from importlib import metadata as _metadata

from .errors import BackupCodesError, CodeFormatError, EngineError, ErrorCase, HostError, LoadError
from .host import Host, HostConfig, bundled_component, system_clock
from .secret import SecretCode
from .values import (
    Accepted,
    Activated,
    CodeOrder,
    CredentialStatus,
    Event,
    Exhausted,
    ExhaustedEvent,
    Failed,
    FailureReason,
    HashParams,
    Issuance,
    Issued,
    IssuedCode,
    Lock,
    LockOpen,
    LockPermanent,
    LockUntil,
    Locked,
    LockedEvent,
    Low,
    Outcome,
    Policy,
    Rejected,
    SetStatus,
    Used,
    UsedCode,
    Verification,
)

# One version for every artifact: Cargo.toml's, which pyproject.toml repeats
# (scripts/dist refuses to build when they differ).
__version__ = _metadata.version("authn-backup-codes")

__all__ = [
    "Accepted",
    "Activated",
    "BackupCodesError",
    "CodeFormatError",
    "CodeOrder",
    "CredentialStatus",
    "EngineError",
    "ErrorCase",
    "Event",
    "Exhausted",
    "ExhaustedEvent",
    "Failed",
    "FailureReason",
    "HashParams",
    "Host",
    "HostConfig",
    "HostError",
    "Issuance",
    "Issued",
    "IssuedCode",
    "LoadError",
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
    "SecretCode",
    "SetStatus",
    "Used",
    "UsedCode",
    "Verification",
    "bundled_component",
    "system_clock",
]
