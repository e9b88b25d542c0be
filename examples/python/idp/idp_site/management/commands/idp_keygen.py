"""Create the example provider's OpenID signing key (once), before it starts."""

from django.core.management.base import BaseCommand

from .idp_setup import make_signing_key


class Command(BaseCommand):
    help = "Create the OpenID signing key in the data directory if there is none."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write("created the signing key" if make_signing_key() else "the signing key exists")
