"""The operations the pages and the login stage use: read the user's credential,
run the engine on it, store the result with compare-and-swap, and start again
from the fresh value when another worker won. The engine decides everything about
codes; this layer keeps state and sends events."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.http import HttpRequest

from backup_codes import (
    Accepted,
    CredentialStatus,
    Event,
    Issuance,
    SecretCode,
    Verification,
)

from . import engine, signals, store

logger = logging.getLogger("backup_codes_allauth")

#: Compare-and-swap attempts before giving up with `Contended`.
MAX_SWAP_ATTEMPTS = 16


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
                stored = store.swap(current, issued.credential, active)
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
        if activation:
            v = host.activate(current.credential, code, policy, pepper)
        else:
            v = host.verify(current.credential, None, code, policy, pepper)
        if v.credential == current.credential:
            stored: store.Stored | None = current
        else:
            used = not activation and isinstance(v.outcome, Accepted)
            stored = store.swap(current, v.credential, _active(v.credential), used=used)
        if stored is not None:
            _send(user_id, v.events, request)
            return Attempt(v, current.authenticator_id)
        logger.info("backup codes: user %s: compare-and-swap conflict, checking again", user_id)
    raise Contended()


def verify(user_id: int, code: SecretCode, request: HttpRequest | None = None) -> Attempt:
    """Check a code typed at login (a right code works once)."""
    return _attempt(user_id, code, False, request)


def activate(user_id: int, code: SecretCode, request: HttpRequest | None = None) -> Attempt:
    """Proof of saving: one code of the pending set typed back."""
    return _attempt(user_id, code, True, request)


def remove(user_id: int) -> bool:
    return store.delete(user_id) > 0
