"""The credential, kept in allauth's own `Authenticator` row of type
`recovery_codes` (one per user: allauth's unique constraint), written with
compare-and-swap.

`data` holds `{"format": "authn:backup-codes@0.1.0", "credential": <base64>,
"version": <n>, "active": <bool>}`, and, for a while after a new set replaced
the active one, `"replaced": <base64>, "replaced_at": <seconds>`. The
credential is the engine's opaque value (argon2id digests, never a code).
`version` grows by one with every write; a write succeeds only if the row still
has the version that was read, in one `UPDATE` (atomic on SQLite and PostgreSQL
alike), so of two workers that read the same value only one can store its
result - the other reads again and re-runs the engine on the fresh value.
`active` (whether an active set exists) lets `is_mfa_enabled` answer without a
component call.

`replaced` is the credential as it was before its active set was last replaced
(a confirmed regeneration), kept beside the current one in the same row and
written by the same compare-and-swap; `verify` is given it so that a code of
the old set is told from a wrong one by the same single evaluation. The service
passes it on for `service.REPLACED_SET_MEMORY` (30 days, as the Rust shim) and
drops it at the first write after that.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from allauth.mfa.models import Authenticator

# The credential format of the component family, not the contract's version:
# 0.2.0 and 0.3.0 read what 0.1.0 wrote (and 0.3.0 still writes it for sets of
# its own), so rows keep this marker.
FORMAT = "authn:backup-codes@0.1.0"
TYPE = Authenticator.Type.RECOVERY_CODES


@dataclass(frozen=True)
class Replaced:
    """The credential before its active set was replaced, and when that was."""

    #: The engine's credential value (digests of the old set, never a code).
    credential: bytes
    #: When the new set replaced it, seconds since the epoch (the host's clock).
    at: int

    def __repr__(self) -> str:
        return f"Replaced(credential=<{len(self.credential)} bytes>, at={self.at})"


@dataclass(frozen=True)
class Stored:
    """One read of a user's row."""

    authenticator_id: int
    #: The engine's credential, or `None` when the row is not ours (allauth's own
    #: seed-based recovery codes, from before the switch): treated as not enrolled
    #: and replaced at the next enrolment.
    credential: bytes | None
    #: The version read (`None`: a row not written by this module).
    version: int | None
    active: bool
    #: The credential its active set replaced, if one was kept (however old:
    #: the service decides whether it is recent enough to use).
    replaced: Replaced | None = None


def _data(credential: bytes, version: int, active: bool, replaced: Replaced | None) -> dict[str, object]:
    data: dict[str, object] = {
        "format": FORMAT,
        "credential": base64.b64encode(credential).decode("ascii"),
        "version": version,
        "active": active,
    }
    if replaced is not None:
        data["replaced"] = base64.b64encode(replaced.credential).decode("ascii")
        data["replaced_at"] = replaced.at
    return data


def _replaced(data: dict[str, object]) -> Replaced | None:
    """The kept replaced credential; `None` when absent or unreadable (it only
    tells users why an old code fails, so it is dropped rather than refused)."""
    value, at = data.get("replaced"), data.get("replaced_at")
    if not isinstance(value, str) or isinstance(at, bool) or not isinstance(at, int):
        return None
    try:
        return Replaced(base64.b64decode(value, validate=True), at)
    except (ValueError, binascii.Error):
        return None


def load(user_id: int) -> Stored | None:
    row = Authenticator.objects.filter(user_id=user_id, type=TYPE).only("id", "data").first()
    if row is None:
        return None
    data = row.data if isinstance(row.data, dict) else {}
    if data.get("format") != FORMAT:
        return Stored(row.pk, None, None, False)
    try:
        credential = base64.b64decode(data["credential"], validate=True)
        version = int(data["version"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        # Unreadable: hand the engine something it will call malformed, so the
        # user gets the engine's typed error and nothing is overwritten silently.
        version = data.get("version")
        return Stored(row.pk, b"", version if isinstance(version, int) else -1, bool(data.get("active")))
    return Stored(row.pk, credential, version, bool(data.get("active")), _replaced(data))


def create(user_id: int, credential: bytes, active: bool) -> Stored | None:
    """Insert the first row; `None` if another writer inserted one first."""
    try:
        with transaction.atomic():
            row = Authenticator.objects.create(user_id=user_id, type=TYPE, data=_data(credential, 1, active, None))
    except IntegrityError:
        return None
    return Stored(row.pk, credential, 1, active)


def swap(
    current: Stored, credential: bytes, active: bool, replaced: Replaced | None, *, used: bool = False
) -> Stored | None:
    """Write `credential` (and `replaced` beside it, or none) if the row is
    still at `current.version`; `None` if another writer got there first."""
    rows = Authenticator.objects.filter(pk=current.authenticator_id, type=TYPE)
    if current.version is None:
        rows = rows.exclude(data__has_key="format")
        version = 1
    else:
        rows = rows.filter(data__format=FORMAT, data__version=current.version)
        version = current.version + 1
    changes: dict[str, object] = {"data": _data(credential, version, active, replaced)}
    if used:
        changes["last_used_at"] = timezone.now()
    if rows.update(**changes) != 1:
        return None
    return Stored(current.authenticator_id, credential, version, active, replaced)


def has_active_set(user_id: int) -> bool:
    return Authenticator.objects.filter(
        user_id=user_id, type=TYPE, data__format=FORMAT, data__active=True
    ).exists()


def delete(user_id: int) -> int:
    return Authenticator.objects.filter(user_id=user_id, type=TYPE).delete()[0]
