"""The operations the pages and the login stage use: read the user's credential,
run the engine on it, store the result with compare-and-swap, and start again
from the fresh value when another worker won. The engine decides everything about
codes; this layer keeps state and sends events.

An attempt (`verify`, `activate`) is one component call: everything the form
answers with (low, exhausted, the lock, whether a wrong code belonged to the
replaced set) is in the engine's `Verification`, and nothing is asked of the
engine after it. A `verify` the host's deadline stopped is counted as a failure
(the host's `interrupted`) and that count is stored like any attempt's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.http import HttpRequest

from backup_codes import (
    Accepted,
    Activated,
    CredentialStatus,
    EngineError,
    Event,
    HostError,
    Issuance,
    Issued,
    SecretCode,
    Verification,
)

from . import engine, signals, store

logger = logging.getLogger("backup_codes_allauth")

#: Compare-and-swap attempts before giving up with `Contended`.
MAX_SWAP_ATTEMPTS = 16

#: How long the credential a new set replaced is kept and passed to `verify`,
#: so that a code of the old set is recognised (30 days, as the Rust shim).
REPLACED_SET_MEMORY = 30 * 24 * 3600


class NotEnrolled(Exception):
    """The user has no backup codes of this engine."""


class Contended(Exception):
    """Other writers kept winning the compare-and-swap; nothing was stored."""


@dataclass(frozen=True)
class Attempt:
    """A checked code: the engine's verification, as stored."""

    verification: Verification
    authenticator_id: int


def _active(credential: bytes) -> bool:
    return engine.get_host().status(credential, engine.get_policy()).active is not None


def _send(user_id: int, events: tuple[Event, ...], request: HttpRequest | None) -> None:
    for e in events:
        # Events carry set ids and numbers, never a code.
        logger.info("backup codes: user %s: %s", user_id, e)
        signals.event.send(sender=Attempt, user_id=user_id, event=e, request=request)


def _replaces(events: tuple[Event, ...]) -> bool:
    """Does a write with these events replace the active set (a confirmed new
    set, or one issued without confirmation)?"""
    return any(isinstance(e, Activated) or (isinstance(e, Issued) and not e.pending) for e in events)


def _kept(current: store.Stored, now: int) -> store.Replaced | None:
    """The replaced credential to pass to `verify` and to keep at the next
    write: the stored one while it is recent enough, else none."""
    r = current.replaced
    return r if r is not None and now - r.at <= REPLACED_SET_MEMORY else None


def _replaced_after(current: store.Stored, events: tuple[Event, ...], now: int) -> store.Replaced | None:
    """What to keep as the replaced credential once `events` are stored: the
    value read, when its active set is the one being replaced; else the one
    already kept."""
    if _replaces(events) and current.credential is not None and current.active:
        return store.Replaced(current.credential, now)
    return _kept(current, now)


def status(user_id: int) -> CredentialStatus | None:
    """The engine's description of the stored credential (`None`: not enrolled)."""
    current = store.load(user_id)
    if current is None or current.credential is None:
        return None
    return engine.get_host().status(current.credential, engine.get_policy())


def issue(user_id: int, request: HttpRequest | None = None) -> Issuance:
    """A new set: pending beside the active one (or a first credential). The
    caller shows the codes once and wipes the issuance."""
    host, policy, pepper = engine.get_host(), engine.get_policy(), engine.get_pepper()
    for _ in range(MAX_SWAP_ATTEMPTS):
        current = store.load(user_id)
        issued = host.issue(current.credential if current else None, policy, pepper)
        try:
            active = _active(issued.credential)
            if current is None:
                stored = store.create(user_id, issued.credential, active)
            else:
                replaced = _replaced_after(current, issued.events, host.now())
                stored = store.swap(current, issued.credential, active, replaced)
        except BaseException:
            issued.wipe()
            raise
        if stored is not None:
            _send(user_id, issued.events, request)
            return issued
        issued.wipe()
        logger.info("backup codes: user %s: compare-and-swap conflict on issue, retrying", user_id)
    raise Contended()


def _attempt(user_id: int, code: SecretCode, activation: bool, request: HttpRequest | None) -> Attempt:
    host, policy, pepper = engine.get_host(), engine.get_policy(), engine.get_pepper()
    for _ in range(MAX_SWAP_ATTEMPTS):
        current = store.load(user_id)
        if current is None or current.credential is None:
            raise NotEnrolled()
        now = host.now()
        kept = _kept(current, now)
        if activation:
            v = host.activate(current.credential, None, code, policy, pepper)
        else:
            try:
                v = host.verify(current.credential, kept.credential if kept else None, code, policy, pepper)
            except HostError as e:
                if e.kind == "timeout":
                    _store_interrupted(user_id, current, e.counted, now, request)
                raise
        if v.credential == current.credential:
            stored: store.Stored | None = current
        else:
            used = not activation and isinstance(v.outcome, Accepted)
            # A verify that answered has an active set; an activation turns one
            # on only when accepted. No `status` call is needed to know.
            active = (not activation) or isinstance(v.outcome, Accepted) or current.active
            stored = store.swap(current, v.credential, active, _replaced_after(current, v.events, now), used=used)
        if stored is not None:
            _send(user_id, v.events, request)
            return Attempt(v, current.authenticator_id)
        logger.info("backup codes: user %s: compare-and-swap conflict, checking again", user_id)
    raise Contended()


def _store_interrupted(
    user_id: int, current: store.Stored, counted: Verification | None, now: int, request: HttpRequest | None
) -> None:
    """Store the count of a verify the deadline stopped (`counted`, the host's
    `interrupted` answer for `current`); after a lost compare-and-swap, count it
    again on the fresh value. Best effort: the attempt has already failed
    closed, so a failure here is logged, not raised."""
    host, policy = engine.get_host(), engine.get_policy()
    for _ in range(MAX_SWAP_ATTEMPTS):
        if counted is None:
            logger.error("backup codes: user %s: an interrupted attempt could not be counted", user_id)
            return
        # `interrupted` answered, so there is an active set.
        if counted.credential == current.credential or store.swap(
            current, counted.credential, True, _kept(current, now)
        ):
            _send(user_id, counted.events, request)
            return
        fresh = store.load(user_id)
        if fresh is None or fresh.credential is None:
            return
        current = fresh
        try:
            counted = host.interrupted(current.credential, policy)
        except (EngineError, HostError) as e:
            logger.error("backup codes: user %s: counting an interrupted attempt failed: %s", user_id, e)
            return
    logger.error("backup codes: user %s: an interrupted attempt could not be stored (contended)", user_id)


def verify(user_id: int, code: SecretCode, request: HttpRequest | None = None) -> Attempt:
    """Check a code typed at login (a right code works once). One component
    call; the credential the active set replaced (kept for
    `REPLACED_SET_MEMORY`) is passed along so an old code is recognised."""
    return _attempt(user_id, code, False, request)


def activate(user_id: int, code: SecretCode, request: HttpRequest | None = None) -> Attempt:
    """Proof of saving: one code of the pending set typed back (one component call)."""
    return _attempt(user_id, code, True, request)


def remove(user_id: int) -> bool:
    """Delete the user's backup codes (and the replaced credential kept with them)."""
    return store.delete(user_id) > 0
