"""Forms: the second factor at login (through `MFA_FORMS`) and the proof of saving.

    MFA_FORMS = {
        "authenticate": "backup_codes_allauth.forms.BackupCodeAuthenticateForm",
        "reauthenticate": "backup_codes_allauth.forms.BackupCodeReauthenticateForm",
    }

allauth's `mfa_authenticate` view, login stage and `save()` (`post_authentication`:
last use, the session's authentication record, the `authenticator_used` signal)
stay allauth's; only `clean_code` is replaced. It keeps allauth's rate limit by
calling allauth's own `check_rate_limit` (the one internal function this
integration imports), asks the engine, and sends allauth's public
`authentication_failed` signal for a wrong code.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.base.internal.flows import check_rate_limit
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator

from backup_codes import (
    Accepted,
    BackupCodesError,
    CodeFormatError,
    EngineError,
    ErrorCase,
    Exhausted,
    FailureReason,
    HostError,
    Locked,
    Rejected,
    SecretCode,
)

from . import service

logger = logging.getLogger("backup_codes_allauth")

# Generous: the engine refuses anything longer than a code as `too-long`.
MAX_TYPED = 256


def code_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Backup code"),
        max_length=MAX_TYPED,
        widget=forms.TextInput(
            attrs={
                "placeholder": gettext_lazy("Backup code"),
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "characters",
                "autocorrect": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )


def _when(ts: int) -> str:
    wait = max(0, ts - service.engine.get_host().now())
    at = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S UTC")
    if wait < 120:
        return _("in %(n)d seconds (at %(at)s)") % {"n": wait, "at": at}
    return _("in %(n)d minutes (at %(at)s)") % {"n": math.ceil(wait / 60), "at": at}


FORMAT_MESSAGES = {
    CodeFormatError.EMPTY: gettext_lazy("Enter a backup code."),
    CodeFormatError.TOO_LONG: gettext_lazy("That is longer than a backup code."),
    CodeFormatError.WRONG_LENGTH: gettext_lazy("That is not the length of a backup code: check it and try again."),
    CodeFormatError.INVALID_CHARACTER: gettext_lazy("That code contains a character backup codes never use."),
    CodeFormatError.CHECK_SYMBOL_MISMATCH: gettext_lazy(
        "That code has a typo (its last symbol does not match): check it and try again."
    ),
}


def refusal(e: BackupCodesError) -> ValidationError:
    """The error to show for an engine refusal or a failed call (fail closed)."""
    if isinstance(e, EngineError) and e.format_error is not None:
        return ValidationError(FORMAT_MESSAGES[e.format_error], code=e.format_error.value)
    if isinstance(e, EngineError) and e.case is ErrorCase.NO_PENDING_SET:
        return ValidationError(_("There is no new set to confirm: create one first."), code="no_pending_set")
    if isinstance(e, EngineError) and e.case is ErrorCase.NO_ACTIVE_SET:
        return ValidationError(_("Backup codes are not set up for this account."), code="no_active_set")
    # Corrupt credential, pepper mismatch, trap, timeout, busy...: never a login.
    logger.error("backup codes unavailable: %s", e)
    return ValidationError(_("Backup codes cannot be checked right now. Try again later."), code="unavailable")


def outcome_error(outcome: object, *, activation: bool, replaced_set: bool = False) -> ValidationError:
    """The error for a code the engine did not accept. `replaced_set`: the
    engine recognised a wrong code as one of the set a newer one replaced
    (`Verification.replaced_set`); it is refused and counted all the same."""
    if isinstance(outcome, Locked):
        if outcome.until is None:
            return ValidationError(
                _("Too many wrong codes: this set of backup codes is locked. Create a new set or contact support."),
                code="locked",
            )
        return ValidationError(
            _("Too many wrong codes. Try again %(when)s.") % {"when": _when(outcome.until)}, code="locked"
        )
    if isinstance(outcome, Exhausted):
        return ValidationError(_("All your backup codes are used."), code="exhausted")
    if isinstance(outcome, Rejected):
        if outcome.reason is FailureReason.ALREADY_USED:
            text = _("That code was already used: each backup code works once.")
        elif outcome.reason is FailureReason.WRONG_NUMBER:
            text = _("That is not the code that was asked for.")
        elif activation:
            text = _("That is not one of the new codes. Type one of the codes you saved.")
        elif replaced_set:
            text = _("That code is from a set of backup codes you have replaced: it no longer works. Use a code from your newest set.")
        else:
            text = _("Incorrect code.")
        if outcome.permanent:
            text += " " + _("This set of backup codes is now locked.")
        elif outcome.locked_until is not None:
            text += " " + _("Too many wrong codes. Try again %(when)s.") % {"when": _when(outcome.locked_until)}
        return ValidationError(text, code=outcome.reason.value)
    return ValidationError(_("Incorrect code."), code="incorrect_code")


class BackupCodeCheck:
    """`clean_code` for allauth's authenticate and reauthenticate forms."""

    user: object
    cleaned_data: dict[str, object]
    authenticator: Authenticator
    #: Sent with allauth's `authentication_failed` signal.
    reauthentication = False

    def clean_code(self) -> str:
        clear_rate_limit = check_rate_limit(self.user)
        typed = self.cleaned_data.pop("code", "")
        request = context.request
        try:
            with SecretCode.from_str(str(typed)) as code:
                attempt = service.verify(self.user.pk, code, request)  # type: ignore[attr-defined]
        except service.NotEnrolled:
            raise ValidationError(_("Incorrect code."), code="incorrect_code") from None
        except (EngineError, HostError) as e:
            raise refusal(e) from None
        except service.Contended:
            raise ValidationError(_("Please try again."), code="contended") from None
        finally:
            del typed
        v = attempt.verification
        row = Authenticator.objects.get(pk=attempt.authenticator_id)
        if not isinstance(v.outcome, Accepted):
            if isinstance(v.outcome, Rejected):
                mfa_signals.authentication_failed.send(
                    sender=Authenticator,
                    request=request,
                    user=self.user,
                    authenticator=row,
                    reauthentication=self.reauthentication,
                )
            raise outcome_error(v.outcome, activation=False, replaced_set=v.replaced_set)
        row.user = self.user
        self.authenticator = row
        clear_rate_limit()
        # "Few left" and "none left" are the engine's call (the verification's
        # `low` and `exhausted`), not a count here.
        if request is not None and v.exhausted:
            messages.warning(
                request,
                _("Backup code #%(n)d accepted. That was your last one: create a new set now.")
                % {"n": v.outcome.number},
            )
        elif request is not None and v.low:
            messages.warning(
                request,
                _("Backup code #%(n)d accepted. Only %(left)d left: create a new set.")
                % {"n": v.outcome.number, "left": v.remaining},
            )
        return ""


class BackupCodeAuthenticateForm(BackupCodeCheck, AuthenticateForm):
    """The code at allauth's second-factor stage of login."""

    code = code_field()


class BackupCodeReauthenticateForm(BackupCodeCheck, ReauthenticateForm):
    """A code to confirm a sensitive action (it is used up like at login)."""

    code = code_field()
    reauthentication = True


class ConfirmSavedForm(forms.Form):
    """Proof of saving: one code of the new (pending) set typed back."""

    code = code_field()

    def __init__(self, *args: object, user_id: int, **kwargs: object) -> None:
        self.user_id = user_id
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_code(self) -> str:
        typed = self.cleaned_data.pop("code", "")
        try:
            with SecretCode.from_str(str(typed)) as code:
                attempt = service.activate(self.user_id, code, context.request)
        except service.NotEnrolled:
            raise ValidationError(_("There is no new set to confirm: create one first."), code="no_pending_set") from None
        except (EngineError, HostError) as e:
            raise refusal(e) from None
        except service.Contended:
            raise ValidationError(_("Please try again."), code="contended") from None
        finally:
            del typed
        if not isinstance(attempt.verification.outcome, Accepted):
            raise outcome_error(attempt.verification.outcome, activation=True)
        self.attempt = attempt
        return ""
