"""Prepare the example provider: the OpenID signing key, a user and a client.

    python manage.py idp_setup --user alice --password '...' \
        --client-id demo-rp --client-secret '...' --redirect-uri http://127.0.0.1:8001/callback
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from allauth.idp.oidc.models import Client


def make_signing_key() -> bool:
    """Create the provider's RS256 key in the data directory, once. The settings
    read it at start-up."""
    key = Path(settings.DATA_DIR) / "oidc-signing-key.pem"
    if key.exists():
        return False
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = key.with_suffix(".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    os.replace(tmp, key)
    return True


class Command(BaseCommand):
    help = "Create the signing key (once), a user and an OpenID client for the example."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", action="append", required=True)
        parser.add_argument("--post-logout-redirect-uri", action="append", default=[])

    def handle(self, *args: object, **o: object) -> None:
        if make_signing_key():
            self.stdout.write("wrote the OpenID signing key; restart the provider to load it")
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=str(o["user"]))
        user.set_password(str(o["password"]))
        user.save()
        client, _ = Client.objects.get_or_create(id=str(o["client_id"]), defaults={"name": "Example app"})
        client.name = "Example app"
        client.type = Client.Type.CONFIDENTIAL
        client.set_secret(str(o["client_secret"]))
        client.set_scopes(["openid", "profile"])
        client.set_default_scopes(["openid"])
        client.set_grant_types([Client.GrantType.AUTHORIZATION_CODE])
        client.set_response_types(["code"])
        client.set_redirect_uris(list(o["redirect_uri"]))  # type: ignore[arg-type]
        if o["post_logout_redirect_uri"]:
            client.set_post_logout_redirect_uris(list(o["post_logout_redirect_uri"]))  # type: ignore[arg-type]
        client.skip_consent = True
        client.full_clean()
        client.save()
        self.stdout.write(f"user {user.username}, client {client.id} ready")
