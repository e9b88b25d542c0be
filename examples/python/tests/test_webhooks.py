"""The shim's webhooks checked by an independent implementation of the Standard
Webhooks specification: its own Python library from PyPI (`standardwebhooks`).

The real shim binary (SHIM_BIN) runs with one endpoint pointing at a receiver
on loopback, in the middle of a secret rotation (a current and a previous
secret). Codes are issued, activated and used through the shim's command line
against the same store, so the serving shim's worker picks the events up from
the outbox. Every delivery must verify with either secret, and with no other;
a changed body or id must not verify; no body may hold a code.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def shim_binary() -> Path:
    value = os.environ.get("SHIM_BIN")
    if not value or not Path(value).is_file():
        pytest.fail("set SHIM_BIN to the backup-codes-shim binary")
    return Path(value)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records each POST's headers and raw body; answers 204."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.got.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rotation(tmp_path: Path):
    """A serving shim whose endpoint signs with a new and an old secret."""
    receiver = Receiver()
    current, previous = new_secret(), new_secret()
    port = free_port()
    config = tmp_path / "shim.toml"
    config.write_text(
        f'listen = "127.0.0.1:{port}"\n'
        f'database_url = "sqlite://{tmp_path}/store.db"\n'
        'log_filter = "warn"\n'
        "[webhooks]\ntimeout_ms = 2000\nlease_seconds = 5\npoll_interval_ms = 100\n"
        "retry_schedule_seconds = [1]\nretry_for_seconds = 60\n"
        "[tenants.acme]\n"
        'issuer = "https://idp.example"\naudience = "backup-codes"\nalgorithms = ["HS256"]\n'
        f'hs256_secret = "{secrets.token_hex(32)}"\n'
        "[tenants.acme.policy]\nhash_memory_kib = 1024\nhash_iterations = 1\n"
        "[tenants.acme.webhooks.endpoints.idp]\n"
        f'url = "{receiver.url}"\nsecret = "{current}"\nprevious_secret = "{previous}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_CODES_")}
    log = open(tmp_path / "shim.log", "wb")
    proc = subprocess.Popen(
        [shim_binary(), "--config", config, "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "shim.log").read_text())
            time.sleep(0.1)

    def cli(*args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [shim_binary(), "--config", config, *args],
            cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True, check=True,
        )
        return out.stdout

    yield receiver, current, previous, cli
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    receiver.close()


def test_every_delivery_verifies_with_the_specifications_library(rotation) -> None:
    receiver, current, previous, cli = rotation
    issued = cli("issue", "--tenant", "acme", "--subject", "alice")
    codes = re.findall(r"^\s+\d+\. (\S+)$", issued, re.MULTILINE)
    assert len(codes) == 10, issued
    cli("activate", "--tenant", "acme", "--subject", "alice", stdin=codes[0] + "\n")
    cli("verify", "--tenant", "acme", "--subject", "alice", stdin=codes[1] + "\n")

    deadline = time.monotonic() + 30
    while len(receiver.deliveries()) < 3:
        assert time.monotonic() < deadline, receiver.deliveries()
        time.sleep(0.1)
    got = receiver.deliveries()

    kinds = []
    for headers, body in got:
        # Both secrets of the rotation verify; the library parses the body.
        payload = Webhook(current).verify(body, headers)
        assert Webhook(previous).verify(body, headers) == payload
        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(current).verify(body.replace(b"alice", b"mallory"), headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(current).verify(body, {**headers, "webhook-id": "msg_other"})
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["content-type"] == "application/json"
        assert len(lower["webhook-signature"].split(" ")) == 2, "one signature per secret"
        assert payload["data"]["tenant"] == "acme"
        assert payload["data"]["subject"] == "alice"
        kinds.append(payload["type"])
        text = body.decode()
        for code in codes:
            assert code not in text and code.replace("-", "") not in text
    assert kinds == ["backup_codes.issued", "backup_codes.activated", "backup_codes.used"]
    ids = [{k.lower(): v for k, v in h.items()}["webhook-id"] for h, _ in got]
    assert len(set(ids)) == 3 and all(i.startswith("msg_") for i in ids)
    seqs = [json.loads(b)["data"]["seq"] for _, b in got]
    assert seqs == [1, 2, 3]
