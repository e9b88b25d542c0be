"""A small OpenID Connect relying party: authorization code flow with PKCE, the
code exchanged with client_secret_basic, the ID token checked with PyJWT
against the provider's JWKS (RS256 only; iss, aud, exp, iat, sub and nonce
required; nonce and state single use).

    python rp.py --issuer http://localhost:8000 --client-id demo-rp --client-secret ... --port 8001
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import secrets
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests

SESSION_COOKIE = "rp_session"


class RelyingParty:
    def __init__(self, issuer: str, client_id: str, client_secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self._sessions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self.base = f"http://{host}:{self._server.server_address[1]}"
        self.redirect_uri = f"{self.base}/callback"
        self._meta: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._thread: threading.Thread | None = None

    # --- provider metadata -----------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            r = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
            r.raise_for_status()
            meta = r.json()
            if meta.get("issuer") != self.issuer:
                raise ValueError(f"discovery issuer {meta.get('issuer')!r} is not {self.issuer!r}")
            self._meta = meta
            self._jwks = jwt.PyJWKClient(meta["jwks_uri"])
        return self._meta

    # --- the flow -------------------------------------------------------------------

    def start_login(self, session: dict[str, Any]) -> str:
        meta = self.metadata()
        verifier = secrets.token_urlsafe(48)
        session["state"] = secrets.token_urlsafe(24)
        session["nonce"] = secrets.token_urlsafe(24)
        session["verifier"] = verifier
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid profile",
                "state": session["state"],
                "nonce": session["nonce"],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{meta['authorization_endpoint']}?{query}"

    def finish_login(self, session: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        state, nonce, verifier = session.pop("state", None), session.pop("nonce", None), session.pop("verifier", None)
        if "error" in params:
            raise PermissionError(f"{params['error']}: {params.get('error_description', '')}")
        if not state or not secrets.compare_digest(params.get("state", ""), state):
            raise PermissionError("state mismatch")
        meta = self.metadata()
        r = requests.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        if r.status_code != 200:
            raise PermissionError(f"token endpoint said {r.status_code}: {r.text[:200]}")
        tokens = r.json()
        id_token = tokens["id_token"]
        assert self._jwks is not None
        key = self._jwks.get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "nonce"]},
        )
        if not secrets.compare_digest(str(claims.get("nonce", "")), str(nonce or "")):
            raise PermissionError("nonce mismatch")
        return claims

    # --- HTTP -------------------------------------------------------------------------

    def _session(self, handler: BaseHTTPRequestHandler) -> tuple[str, dict[str, Any]]:
        cookie = SimpleCookie(handler.headers.get("Cookie", ""))
        sid = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else ""
        with self._lock:
            if sid not in self._sessions:
                sid = secrets.token_urlsafe(24)
                self._sessions[sid] = {}
            return sid, self._sessions[sid]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, sid: str, location: str | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Set-Cookie", f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax")
                self.send_header("Cache-Control", "no-store")
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                sid, session = rp._session(self)
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/login":
                    self._send(302, "", sid, rp.start_login(session))
                elif url.path == "/callback":
                    try:
                        session["claims"] = rp.finish_login(session, params)
                        session.pop("error", None)
                    except Exception as e:  # shown to the user of this demo app
                        session.pop("claims", None)
                        session["error"] = f"{type(e).__name__}: {e}"
                    self._send(302, "", sid, "/")
                elif url.path == "/logout":
                    session.clear()
                    self._send(302, "", sid, "/")
                elif url.path == "/":
                    self._send(200, page(session), sid)
                else:
                    self._send(404, "not found", sid)

        return Handler

    def start(self) -> RelyingParty:
        self._thread = threading.Thread(target=self._server.serve_forever, name="rp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def page(session: dict[str, Any]) -> str:
    parts = ["<!doctype html><meta charset=utf-8><title>Example app</title><h1>Example app</h1>"]
    if "error" in session:
        parts.append(f'<p>Sign-in failed:</p><pre id="error">{html.escape(session["error"])}</pre>')
    if "claims" in session:
        claims = json.dumps(session["claims"], indent=2, sort_keys=True)
        parts.append(f'<p>Signed in. ID token claims:</p><pre id="claims">{html.escape(claims)}</pre>')
        parts.append('<p><a id="logout" href="/logout">Sign out of the app</a></p>')
    else:
        parts.append('<p><a id="login" href="/login">Sign in</a></p>')
    return "".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--issuer", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--port", type=int, default=8001)
    a = p.parse_args()
    rp = RelyingParty(a.issuer, a.client_id, a.client_secret, port=a.port)
    print(f"app at {rp.base}/ (redirect URI {rp.redirect_uri})", flush=True)
    rp._server.serve_forever()


if __name__ == "__main__":
    main()
