"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by
playwright; no browser is downloaded): the example identity provider
(django-allauth, OpenID provider, backup codes through the component) runs under
gunicorn with two worker processes on one SQLite file; a relying party signs a
user in with the authorization-code flow and checks the ID token.

The user signs in with a password, enrols backup codes (shown once; copy,
download, print; one typed back), signs in again with password + backup code
through allauth's second-factor stage, and the app validates the ID token. Wrong,
typo and used codes are refused, and two browsers sending the same code at the
same moment get one success between them. Screenshots go to
examples/python/screenshots/."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conftest import component_path

HERE = Path(__file__).resolve().parent.parent
IDP_DIR = HERE / "idp"
SHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As in examples/oidc-provider/src/chromium.js.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
CLIENT_ID = "example-app"

sys.path.insert(0, str(IDP_DIR))
from rp import RelyingParty  # noqa: E402


class Idp:
    """The example provider under gunicorn (two workers)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.env = {
            **os.environ,
            "IDP_DATA_DIR": str(data),
            "BACKUP_CODES_COMPONENT": str(component_path()),
            "DJANGO_SETTINGS_MODULE": "idp_site.settings",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("BACKUP_CODES_POLICY", None)  # the default policy: argon2id m=19456 KiB, t=2
        self.log_path = data / "gunicorn.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=IDP_DIR, env=self.env, check=True)

    def start(self) -> None:
        self.manage("migrate", "--verbosity", "0")
        self.manage("createcachetable")
        self.manage("idp_keygen")
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "idp_site.wsgi", "--bind", "127.0.0.1:0", "--workers", "2",
             "--timeout", "60", "--access-logfile", "-"],
            cwd=IDP_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.log())
            booted = self.log().count("Booting worker")
            if m and booted >= 2:
                self.base = f"http://localhost:{m.group(1)}"
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start:\n{self.log()}")
        # Both workers load the component on first use; warm them up.
        for _ in range(4):
            requests.get(f"{self.base}/.well-known/openid-configuration", timeout=30).raise_for_status()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, RelyingParty]]:
    idp = Idp(tmp_path_factory.mktemp("browser-idp"))
    rp: RelyingParty | None = None
    try:
        idp.start()
        secret = secrets.token_hex(32)
        rp = RelyingParty(idp.base, CLIENT_ID, secret).start()
        idp.manage(
            "idp_setup", "--user", "alice", "--password", PASSWORD,
            f"--client-id={CLIENT_ID}", f"--client-secret={secret}", f"--redirect-uri={rp.redirect_uri}",
        )
        yield idp, rp
    finally:
        # Also when set-up fails half way: no server outlives the test.
        if rp is not None:
            rp.stop()
        idp.stop()


def well_formed_code_of_another_set() -> str:
    """A code with a valid check symbol that is not one of alice's."""
    from backup_codes import Host

    with Host.from_file(component_path()) as h:
        p = h.default_policy().replace(hash={"memory_kib": 1024, "iterations": 1})
        with h.issue(None, p) as issued:
            return issued.codes[0].code.reveal()


def test_password_enrolment_backup_code_login_and_races(stack: tuple[Idp, RelyingParty]) -> None:
    asyncio.run(scenario(*stack))


async def scenario(idp: Idp, rp: RelyingParty) -> None:
    from playwright.async_api import async_playwright

    SHOTS.mkdir(exist_ok=True)
    n = 0

    async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        nonlocal n
        n += 1
        await page.screenshot(path=str(SHOTS / f"{n:02d}-{name}.png"), full_page=True)

    async def sign_in_with_password(page) -> None:  # type: ignore[no-untyped-def]
        await page.goto(f"{rp.base}/")
        await page.click("#login")
        await page.wait_for_url(f"{idp.base}/accounts/login/**")
        await page.fill("input[name=login]", "alice")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")

    async def claims(page) -> dict:  # type: ignore[no-untyped-def]
        await page.wait_for_url(f"{rp.base}/")
        await page.wait_for_selector("#claims, #error", timeout=30_000)
        if await page.locator("#error").count():
            raise AssertionError(f"the app refused the sign-in: {await page.locator('#error').text_content()}")
        return json.loads(await page.locator("#claims").text_content() or "{}")

    async def code_error(page) -> str:  # type: ignore[no-untyped-def]
        return (await page.locator("#code-error").text_content(timeout=30_000) or "").strip()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(accept_downloads=True)
            await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=idp.base)
            page = await ctx.new_page()

            # 1. First sign-in: password only (no second factor yet); the app
            # validates the ID token (signature via JWKS, iss, aud, nonce, exp).
            await sign_in_with_password(page)
            c = await claims(page)
            assert c["iss"] == idp.base and c["aud"] == CLIENT_ID and c["sub"]
            sub = c["sub"]
            await shot(page, "app-after-password")

            # 2. Enrol at the provider: codes shown once, copy / download / print.
            await page.goto(f"{idp.base}/accounts/2fa/backup-codes/")
            assert "Backup codes are off" in await page.locator("#status-summary").text_content()
            await page.click("#generate")
            await page.wait_for_selector("#create-codes")
            await shot(page, "enrol-start")
            await page.click("#create-codes")
            # allauth asks for the password again before a new set (as for its own
            # recovery codes), then resumes the request.
            await page.wait_for_url(f"{idp.base}/accounts/reauthenticate/**")
            await shot(page, "reauthenticate")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_selector("ol.codes")
            await shot(page, "codes-shown-once")
            codes = await page.locator("ol.codes code").all_text_contents()
            numbers = await page.locator("ol.codes code").evaluate_all("els => els.map(e => Number(e.dataset.number))")
            assert numbers == list(range(1, 11)) and len(set(codes)) == 10
            fingerprint = await page.locator("#codes").get_attribute("data-fingerprint")
            assert fingerprint and re.fullmatch(r"[0-9A-Z]{4,}", fingerprint)

            async with page.expect_download() as info:
                await page.click("#download-codes")
            download = await info.value
            assert download.suggested_filename == f"backup-codes-{fingerprint}.txt"
            text = Path(await download.path()).read_text()
            for i, code in enumerate(codes):
                assert f"{i + 1:>2}. {code}" in text
            await page.click("#copy-codes")
            await page.wait_for_selector("#copy-status:has-text('copied')")
            assert await page.evaluate("navigator.clipboard.readText()") == text
            await page.emulate_media(media="print")
            assert await page.locator("ol.codes").is_visible()
            assert not await page.locator("#confirm-codes").is_visible()
            await shot(page, "codes-print-view")
            await page.emulate_media(media="screen")

            # Proof of saving: a typo first, then code #2 typed loosely.
            await page.fill("#code", codes[1][:-1] + ("7" if codes[1][-1] != "7" else "8"))
            await page.click("#confirm-codes")
            assert "typo" in await code_error(page)
            assert await page.locator("ol.codes").count() == 0, "codes are not shown again"
            await shot(page, "confirm-typo")
            await page.fill("#code", codes[1].lower().replace("-", " "))
            await page.click("#confirm-codes")
            await page.wait_for_selector("#status-summary:has-text('10 of 10 codes left')")
            await shot(page, "codes-on")
            await ctx.close()

            # 3. A new browser: password, then allauth's second-factor stage.
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await sign_in_with_password(page)
            await page.wait_for_url(f"{idp.base}/accounts/2fa/authenticate/**")
            # The code field takes the focus (autofocus), once the page has settled.
            await page.wait_for_function("document.activeElement?.id === 'code'", timeout=5_000)
            await shot(page, "code-entry")

            wrong = well_formed_code_of_another_set()
            await page.fill("#code", codes[2][:-1] + ("7" if codes[2][-1] != "7" else "8"))
            await page.click("#submit-code")
            assert "typo" in await code_error(page)
            assert await page.locator("#code").get_attribute("aria-invalid") == "true"
            await shot(page, "code-typo")
            await page.fill("#code", wrong)
            await page.click("#submit-code")
            assert (await code_error(page)).startswith("Incorrect code.")
            await shot(page, "code-wrong")
            await page.fill("#code", f"  {codes[2].replace('-', '').lower()}  ")
            await page.click("#submit-code")
            c = await claims(page)
            assert (c["iss"], c["aud"], c["sub"]) == (idp.base, CLIENT_ID, sub)
            assert c["exp"] > time.time()
            await shot(page, "app-signed-in-with-backup-code")
            await ctx.close()

            # 4. The same code again is refused.
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await sign_in_with_password(page)
            await page.wait_for_url(f"{idp.base}/accounts/2fa/authenticate/**")
            await page.fill("#code", codes[2])
            await page.click("#submit-code")
            assert "already used" in await code_error(page)
            await shot(page, "code-reused-refused")
            await ctx.close()

            # 5. Two browsers, one code, the same moment: one success.
            pages = []
            contexts = []
            for _ in range(2):
                cx = await browser.new_context()
                contexts.append(cx)
                p = await cx.new_page()
                await sign_in_with_password(p)
                await p.wait_for_url(f"{idp.base}/accounts/2fa/authenticate/**")
                await p.fill("#code", codes[5])
                pages.append(p)
            await asyncio.gather(*(p.click("#submit-code", no_wait_after=True) for p in pages))

            async def result(p) -> str:  # type: ignore[no-untyped-def]
                await p.wait_for_function(
                    "() => document.querySelector('#claims') || document.querySelector('#code-error')",
                    timeout=30_000,
                )
                if await p.locator("#claims").count():
                    return "signed-in"
                return (await p.locator("#code-error").text_content() or "").strip()

            outcomes = await asyncio.gather(*(result(p) for p in pages))
            assert sorted(outcomes, key=lambda o: o != "signed-in")[0] == "signed-in", outcomes
            assert outcomes.count("signed-in") == 1, outcomes
            assert any("already used" in o for o in outcomes), outcomes
            for i, p in enumerate(pages):
                await shot(p, f"race-{i}")
            for cx in contexts:
                await cx.close()
        finally:
            await browser.close()

    log = idp.log()
    for code in codes:
        assert code not in log and code.replace("-", "") not in log, "a code reached the provider's log"
    # Which worker lost the race shows as a compare-and-swap retry (when both
    # read the credential before either wrote; otherwise the second simply saw
    # the code used).
    print(f"compare-and-swap retries in the provider's log: {log.count('compare-and-swap conflict')}")
