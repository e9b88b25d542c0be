"""Enrolment pages: status, create or regenerate a set (shown once, with copy,
download and print), and proof of saving (one code typed back).

The codes exist only in the response to the POST that created them: they are
never stored, put in the session or shown again. A reload shows no codes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from allauth.account.decorators import reauthentication_required

from backup_codes import EngineError, HostError

from . import engine, service
from .forms import ConfirmSavedForm, refusal

#: The pages that show or take codes allow no third-party anything.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _secure(response: HttpResponse) -> HttpResponse:
    # `never_cache` on every view adds Cache-Control: no-store (among others).
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "same-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _status_context(request: HttpRequest) -> dict[str, Any]:
    try:
        status = service.status(request.user.pk)
        error = None
    except (EngineError, HostError) as e:
        status, error = None, refusal(e).messages[0]
    return {"status": status, "status_error": error, "policy": engine.get_policy()}


@never_cache
@login_required
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    """The user's backup codes: how many are left, which were used and when."""
    return _secure(render(request, "backup_codes_allauth/index.html", _status_context(request)))


@never_cache
@login_required
@reauthentication_required(allow_get=True, app="allauth.mfa")
@require_http_methods(["GET", "POST"])
def generate(request: HttpRequest) -> HttpResponse:
    """GET: what a new set means. POST: issue it and show it, once. As for
    allauth's own recovery codes, the POST needs a recent reauthentication
    (`MFA_REAUTHENTICATION_REQUIRED`, on by default): password, or a code."""
    if request.method == "GET":
        return _secure(render(request, "backup_codes_allauth/generate.html", _status_context(request)))
    try:
        issued = service.issue(request.user.pk, request)
    except (EngineError, HostError) as e:
        messages.error(request, refusal(e).messages[0])
        return HttpResponseRedirect(reverse("backup_codes_index"))
    except service.Contended:
        messages.error(request, _("Please try again."))
        return HttpResponseRedirect(reverse("backup_codes_index"))
    with issued:
        policy = engine.get_policy()
        shown = [(c.number, c.code.reveal()) for c in issued.codes]
        context = {
            "codes": shown,
            "fingerprint": issued.fingerprint,
            "needs_confirmation": policy.require_activation,
            "form": ConfirmSavedForm(user_id=request.user.pk),
            "site": request.get_host(),
            "username": request.user.get_username(),
        }
        response = render(request, "backup_codes_allauth/codes.html", context)
        # The rendered page is the one copy that has to exist; the list of
        # revealed strings goes now, the issuance's buffers at the end of `with`.
        shown.clear()
        context.clear()
    return _secure(response)


@never_cache
@login_required
@require_http_methods(["POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """Proof of saving: a code of the new set typed back turns the set on."""
    form = ConfirmSavedForm(request.POST, user_id=request.user.pk)
    if form.is_valid():
        messages.success(request, _("Backup codes are on. Keep them somewhere safe."))
        return HttpResponseRedirect(reverse("backup_codes_index"))
    # The page needs nothing but the form: no `status` call after the attempt.
    return _secure(render(request, "backup_codes_allauth/confirm.html", {"form": form}, status=400))
