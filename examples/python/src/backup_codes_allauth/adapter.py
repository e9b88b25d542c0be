"""allauth's MFA adapter, told about backup codes.

allauth starts its second-factor stage only for users with TOTP or WebAuthn
(`is_mfa_enabled(user, [TOTP, WEBAUTHN])`): its own recovery codes never count as
a factor by themselves. Here a user with an *active* set of backup codes has
two-factor login on, whatever `types` asks for; a set that is issued but not yet
confirmed (pending) does not turn it on, so an unfinished enrolment cannot lock
anyone out.
"""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from . import store


class BackupCodesMFAAdapter(DefaultMFAAdapter):
    def is_mfa_enabled(self, user, types=None) -> bool:  # type: ignore[no-untyped-def]
        if user is None or user.is_anonymous:
            return False
        others = Authenticator.objects.filter(user_id=user.pk).exclude(type=store.TYPE)
        if types is not None:
            others = others.filter(type__in=types)
        return others.exists() or store.has_active_set(user.pk)
