from django.apps import AppConfig


class BackupCodesAllauthConfig(AppConfig):
    name = "backup_codes_allauth"
    label = "backup_codes_allauth"
    verbose_name = "Backup codes (WebAssembly component)"
