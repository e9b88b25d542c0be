from django.apps import AppConfig


class IdpSiteConfig(AppConfig):
    name = "idp_site"
    default_auto_field = "django.db.models.BigAutoField"
