"""django-allauth with the component as its second factor, through Django's test
client and a real SQLite file: enrolment pages, the login stage, allauth's rate
limit and the engine's lockout, compare-and-swap between concurrent workers, and
failing closed."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_codes import Accepted, Failed, FailureReason, Host, HostConfig, Rejected, SecretCode

from conftest import ManualClock, component_path

IDP_DIR = Path(__file__).resolve().parent.parent / "idp"
PASSWORD = "correct horse battery staple"
CODE_RE = re.compile(r'<code data-number="(\d+)">([^<]+)</code>')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    data = tmp_path_factory.mktemp("idp-data")
    os.environ["IDP_DATA_DIR"] = str(data)
    os.environ["BACKUP_CODES_COMPONENT"] = str(component_path())
    os.environ["BACKUP_CODES_POLICY"] = json.dumps({"hash": {"memory_kib": 4096, "iterations": 1}})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp_site.settings")
    sys.path.insert(0, str(IDP_DIR))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.ALLOWED_HOSTS.append("testserver")
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    yield


@pytest.fixture
def clock(site: None) -> Iterator[ManualClock]:
    """The process's host, with a clock the test moves."""
    from backup_codes_allauth import engine

    c = ManualClock()
    h = Host.from_file(component_path(), HostConfig(), clock=c)
    engine.use_host(h)
    yield c
    engine.use_host(None)
    h.close()


@pytest.fixture
def user(clock: ManualClock):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    cache.clear()  # allauth's rate limits
    n = len(get_user_model().objects.all())
    return get_user_model().objects.create_user(username=f"user{n}", password=PASSWORD)


def login_password(client, user) -> object:  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})


def create_set(client) -> object:  # type: ignore[no-untyped-def]
    """POST new/; allauth asks for the password again first (reauthentication)
    and then resumes the stashed POST, whose response shows the codes."""
    r = client.post("/accounts/2fa/backup-codes/new/")
    if r.status_code == 302 and r["Location"].startswith("/accounts/reauthenticate/"):
        r = client.post(r["Location"], {"password": PASSWORD})
    assert r.status_code == 200 and CODE_RE.search(r.content.decode())
    return r


def enrol(client, user) -> list[str]:  # type: ignore[no-untyped-def]
    """Password login, then a set created and confirmed through the pages."""
    r = login_password(client, user)
    assert r.status_code == 302
    r = create_set(client)
    codes = [c for _, c in CODE_RE.findall(r.content.decode())]
    r = client.post("/accounts/2fa/backup-codes/confirm/", {"code": codes[0]})
    assert r.status_code == 302
    return codes


def error_text(r) -> str:  # type: ignore[no-untyped-def]
    m = re.search(r'id="code-error"[^>]*>(.*?)</p>', r.content.decode(), re.S)
    return m.group(1).strip() if m else ""


def test_enrolment_pages(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    c = client_factory()
    assert login_password(c, user).status_code == 302
    page = c.get("/accounts/2fa/backup-codes/")
    assert "Backup codes are off." in page.content.decode()
    assert "no-store" in page["Cache-Control"] and "script-src 'self'" in page["Content-Security-Policy"]

    r = c.post("/accounts/2fa/backup-codes/new/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/reauthenticate/"), "allauth asks again"
    r = create_set(c)
    html = r.content.decode()
    shown = CODE_RE.findall(html)
    assert [int(n) for n, _ in shown] == list(range(1, 11))
    codes = [code for _, code in shown]
    assert all(re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{4}", code) for code in codes)
    assert "no-store" in r["Cache-Control"] and "frame-ancestors 'none'" in r["Content-Security-Policy"]
    assert 'id="download-codes"' in html and 'id="print-codes"' in html and 'id="copy-codes"' in html

    # Shown once: the same page again has no codes.
    again = c.get("/accounts/2fa/backup-codes/new/").content.decode()
    assert not CODE_RE.search(again) and not any(code in again for code in codes)
    # Pending only: 2FA is not on yet.
    assert "Backup codes are off." in c.get("/accounts/2fa/backup-codes/").content.decode()

    other = user.__class__.objects.create_user(username=user.username + "-other", password=PASSWORD)
    c2 = client_factory()
    login_password(c2, other)
    foreign = CODE_RE.findall(create_set(c2).content.decode())[0][1]

    r = c.post("/accounts/2fa/backup-codes/confirm/", {"code": foreign})
    assert r.status_code == 400 and "not one of the new codes" in error_text(r)
    r = c.post("/accounts/2fa/backup-codes/confirm/", {"code": codes[1][:-1] + ("7" if codes[1][-1] != "7" else "8")})
    assert r.status_code == 400 and "typo" in error_text(r)
    r = c.post("/accounts/2fa/backup-codes/confirm/", {"code": codes[1].lower().replace("-", " ")})
    assert r.status_code == 302
    status = c.get("/accounts/2fa/backup-codes/").content.decode()
    assert "10 of 10 codes left" in status
    for code in codes:
        assert code not in status

    # The credential is in allauth's Authenticator row, as opaque bytes.
    from allauth.mfa.models import Authenticator

    row = Authenticator.objects.get(user=user)
    assert row.type == Authenticator.Type.RECOVERY_CODES
    assert row.data["format"] == "authn:backup-codes@0.1.0" and row.data["active"] is True
    assert not any(code.replace("-", "") in json.dumps(row.data) for code in codes)


@pytest.fixture
def client_factory(site: None):  # type: ignore[no-untyped-def]
    from django.test import Client

    return Client


def test_login_through_allauths_second_factor_stage(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    codes = enrol(client_factory(), user)
    c = client_factory()
    r = login_password(c, user)
    assert r.status_code == 302 and r["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in c.session
    page = c.get("/accounts/2fa/authenticate/").content.decode()
    assert "Enter a backup code" in page and 'autocomplete="one-time-code"' in page

    other = user.__class__.objects.create_user(username=user.username + "-x", password=PASSWORD)
    wrong = codes_for(client_factory, other)[0]
    r = c.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert r.status_code == 200 and error_text(r) == "Incorrect code."
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[2][:-1] + ("7" if codes[2][-1] != "7" else "8")})
    assert "typo" in error_text(r)
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[2]})
    assert r.status_code == 302 and r["Location"] == "/accounts/2fa/backup-codes/"
    assert c.session["_auth_user_id"] == str(user.pk)
    records = c.session.get("account_authentication_methods", [])
    assert [m["method"] for m in records] == ["password", "mfa"]

    c = client_factory()
    login_password(c, user)
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[2]})
    assert "already used" in error_text(r) and "_auth_user_id" not in c.session


def component_calls(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The component functions the process's host calls from now on."""
    from backup_codes_allauth import engine

    host = engine.get_host()
    names: list[str] = []
    original = host._call

    def spy(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        names.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(host, "_call", spy)
    return names


def test_an_attempt_is_one_component_call(client_factory, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = client_factory()
    login_password(c, user)
    codes = [code for _, code in CODE_RE.findall(create_set(c).content.decode())]
    other = user.__class__.objects.create_user(username=user.username + "-1", password=PASSWORD)
    wrong = codes_for(client_factory, other)[0]
    calls = component_calls(monkeypatch)
    r = c.post("/accounts/2fa/backup-codes/confirm/", {"code": wrong})
    assert r.status_code == 400 and calls == ["activate"], "a refused proof of saving: one call"
    calls.clear()
    assert c.post("/accounts/2fa/backup-codes/confirm/", {"code": codes[0]}).status_code == 302
    assert calls == ["activate"]

    c = client_factory()
    login_password(c, user)
    calls.clear()
    r = c.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert error_text(r) == "Incorrect code." and calls == ["verify"], "a wrong code: one call"
    calls.clear()
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[1]})
    assert r.status_code == 302 and calls == ["verify"], "a right code: one call"


def test_a_code_of_the_replaced_set_is_recognised(client_factory, user, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from allauth.mfa.models import Authenticator

    from backup_codes_allauth import service

    c = client_factory()
    old = enrol(c, user)
    assert "replaced" not in Authenticator.objects.get(user=user).data
    new = [code for _, code in CODE_RE.findall(create_set(c).content.decode())]
    # Kept only once the new set replaces the active one (at its confirmation).
    assert "replaced" not in Authenticator.objects.get(user=user).data
    assert c.post("/accounts/2fa/backup-codes/confirm/", {"code": new[0]}).status_code == 302
    data = Authenticator.objects.get(user=user).data
    assert data["replaced_at"] == clock.now and data["replaced"] != data["credential"]
    assert not any(code.replace("-", "") in json.dumps(data) for code in old + new)

    c = client_factory()
    login_password(c, user)
    r = c.post("/accounts/2fa/authenticate/", {"code": old[3]})
    assert r.status_code == 200 and "from a set of backup codes you have replaced" in error_text(r)
    assert "_auth_user_id" not in c.session
    status = service.status(user.pk)
    assert status.consecutive_failures == 1, "refused and counted like any wrong code"

    # Remembered for 30 days, then an old code is just wrong and the copy goes at the next write.
    clock.now += service.REPLACED_SET_MEMORY + 1
    r = c.post("/accounts/2fa/authenticate/", {"code": old[4]})
    assert error_text(r) == "Incorrect code."
    assert "replaced" not in Authenticator.objects.get(user=user).data
    assert service.status(user.pk).consecutive_failures == 2
    r = c.post("/accounts/2fa/authenticate/", {"code": new[1]})
    assert r.status_code == 302 and c.session["_auth_user_id"] == str(user.pk)


def test_a_verify_stopped_by_the_deadline_is_counted(client_factory, user, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from backup_codes_allauth import engine, service, signals

    host = engine.get_host()
    # Two codes at a cost (about 0.25 s each) a 50 ms deadline cannot finish.
    heavy = host.default_policy().replace(count=2, low_water=1, hash={"memory_kib": 32768, "iterations": 8})
    engine.use_host(host, heavy)
    codes = enrol(client_factory(), user)
    events: list[object] = []

    def on_event(event: object, **kwargs: object) -> None:
        events.append(event)

    signals.event.connect(on_event)
    slow = Host.from_file(component_path(), HostConfig(call_timeout=0.05), clock=clock)
    engine.use_host(slow, heavy)
    try:
        c = client_factory()
        login_password(c, user)
        r = c.post("/accounts/2fa/authenticate/", {"code": codes[1]})
        assert "cannot be checked right now" in error_text(r) and "_auth_user_id" not in c.session
    finally:
        signals.event.disconnect(on_event)
        engine.use_host(host, heavy)
        slow.close()
    assert [e for e in events if isinstance(e, Failed)] == [Failed(events[0].set_id, FailureReason.INTERRUPTED, 1)]
    assert service.status(user.pk).consecutive_failures == 1, "the interrupted attempt was stored"
    # The code itself was never used.
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[1]})
    assert r.status_code == 302 and c.session["_auth_user_id"] == str(user.pk)


def test_an_interrupted_count_survives_a_lost_compare_and_swap(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    from backup_codes_allauth import engine, service, store

    codes = enrol(client_factory(), user)
    host, policy = engine.get_host(), engine.get_policy()
    stale = store.load(user.pk)
    counted = host.interrupted(stale.credential, policy)  # what a stopped verify carries
    other = user.__class__.objects.create_user(username=user.username + "-i", password=PASSWORD)
    with SecretCode.from_str(codes_for(client_factory, other)[0]) as wrong:
        service.verify(user.pk, wrong)  # another worker's failure, written first
    service._store_interrupted(user.pk, stale, counted, host.now(), None)
    # Counted again on the fresh value: neither failure is lost, nothing stale overwrote it.
    assert service.status(user.pk).consecutive_failures == 2
    assert store.load(user.pk).version == stale.version + 2


def codes_for(client_factory, user) -> list[str]:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()
    return enrol(client_factory(), user)


def test_pending_set_does_not_turn_on_two_factor(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    c = client_factory()
    login_password(c, user)
    create_set(c)  # never confirmed
    c2 = client_factory()
    r = login_password(c2, user)
    assert r.status_code == 302 and r["Location"] != "/accounts/2fa/authenticate/"
    assert c2.session["_auth_user_id"] == str(user.pk)


def test_allauth_rate_limit_and_engine_lockout(client_factory, user, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    codes = enrol(client_factory(), user)
    other = user.__class__.objects.create_user(username=user.username + "-w", password=PASSWORD)
    wrong = codes_for(client_factory, other)[0]
    c = client_factory()
    login_password(c, user)
    for _ in range(5):
        r = c.post("/accounts/2fa/authenticate/", {"code": wrong})
        assert error_text(r).startswith("Incorrect code.")
    assert "Try again in 30 seconds" in error_text(r)
    # allauth's own limit (5 per 5 minutes per user) refuses the next attempt first.
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert "Too many failed login attempts" in r.content.decode()
    # Without it (a new window), the engine's lockout still refuses a right code.
    cache.clear()
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert "Too many wrong codes. Try again in 30 seconds" in error_text(r)
    assert "_auth_user_id" not in c.session
    clock.now += 30
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert r.status_code == 302 and c.session["_auth_user_id"] == str(user.pk)


def _race(user_id: int, codes: list[str], barrier_parties: int) -> list[object]:
    """Run service.verify for each code on its own thread (own DB connection);
    every thread computes its result from the same stored value before any
    writes, as two workers would."""
    from django.db import connection

    from backup_codes_allauth import engine, service

    host = engine.get_host()
    barrier = threading.Barrier(barrier_parties)
    original = host.verify
    first_round = threading.local()

    def verify_then_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
        v = original(*args, **kwargs)
        if not getattr(first_round, "done", False):
            first_round.done = True
            barrier.wait(timeout=30)
        return v

    host.verify = verify_then_wait  # type: ignore[method-assign]
    results: list[object] = [None] * len(codes)

    def run(i: int) -> None:
        try:
            with SecretCode.from_str(codes[i]) as code:
                results[i] = service.verify(user_id, code).verification.outcome
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(codes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        del host.verify
    return results


def test_two_concurrent_verifies_of_one_code_one_success(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    from backup_codes_allauth import service, store

    codes = enrol(client_factory(), user)
    before = store.load(user.pk)
    outcomes = _race(user.pk, [codes[4], codes[4]], 2)
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    rejected = [o for o in outcomes if isinstance(o, Rejected)]
    assert accepted == [Accepted(5)] and len(rejected) == 1
    assert rejected[0].reason is FailureReason.ALREADY_USED
    after = store.load(user.pk)
    # The winner's write only: the loser's re-check is a repeat inside the reuse grace, which
    # changes nothing, so nothing is written.
    assert after.version == before.version + 1
    status = service.status(user.pk)
    assert status.active.remaining == 9 and [u.number for u in status.active.used] == [5]


def test_concurrent_verifies_of_two_codes_lose_no_update(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    from backup_codes_allauth import service

    codes = enrol(client_factory(), user)
    outcomes = _race(user.pk, [codes[0], codes[1]], 2)
    assert sorted(o.number for o in outcomes) == [1, 2]  # type: ignore[attr-defined]
    status = service.status(user.pk)
    assert sorted(u.number for u in status.active.used) == [1, 2], "one worker's write was lost"


def test_corrupt_stored_credential_fails_closed(client_factory, user) -> None:  # type: ignore[no-untyped-def]
    from allauth.mfa.models import Authenticator

    codes = enrol(client_factory(), user)
    row = Authenticator.objects.get(user=user)
    row.data = {**row.data, "credential": "QktDMQAB"}  # "BKC1" + version 1, truncated
    row.save()
    c = client_factory()
    login_password(c, user)
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert "cannot be checked right now" in error_text(r)
    assert "_auth_user_id" not in c.session


def test_engine_failure_fails_closed(client_factory, user, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from backup_codes_allauth import engine

    codes = enrol(client_factory(), user)
    c = client_factory()
    login_password(c, user)
    host = engine.get_host()

    def broken() -> int:
        raise OSError("no clock")

    host._clock = broken
    try:
        r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    finally:
        host._clock = clock
    assert "cannot be checked right now" in error_text(r) and "_auth_user_id" not in c.session
    r = c.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert r.status_code == 302 and c.session["_auth_user_id"] == str(user.pk)


def test_few_codes_left_notice_and_failure_signal(client_factory, user, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from allauth.mfa import signals as mfa_signals

    from backup_codes_allauth import engine

    host = engine.get_host()
    engine.use_host(host, host.default_policy().replace(count=4, low_water=3, hash={"memory_kib": 4096, "iterations": 1}))
    codes = enrol(client_factory(), user)
    assert len(codes) == 4
    failed: list[dict] = []

    def on_failed(**kwargs: object) -> None:
        failed.append(kwargs)

    mfa_signals.authentication_failed.connect(on_failed)
    try:
        c = client_factory()
        login_password(c, user)
        other = user.__class__.objects.create_user(username=user.username + "-f", password=PASSWORD)
        wrong = codes_for(client_factory, other)[0]
        c.post("/accounts/2fa/authenticate/", {"code": wrong})
        assert len(failed) == 1 and failed[0]["user"] == user and failed[0]["reauthentication"] is False
        r = c.post("/accounts/2fa/authenticate/", {"code": codes[3]}, follow=True)
        assert "Backup code #4 accepted. Only 3 left: create a new set." in r.content.decode()
        for n, code in enumerate(codes[:3], start=1):
            c = client_factory()
            login_password(c, user)
            r = c.post("/accounts/2fa/authenticate/", {"code": code}, follow=True)
            html = r.content.decode()
            if n < 3:
                assert f"Backup code #{n} accepted. Only {3 - n} left: create a new set." in html
            else:
                assert "Backup code #3 accepted. That was your last one: create a new set now." in html
    finally:
        mfa_signals.authentication_failed.disconnect(on_failed)
