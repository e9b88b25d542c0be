"""django-allauth with its recovery codes replaced by the backup-code component.

Add `"backup_codes_allauth"` to `INSTALLED_APPS` *before* `"allauth"` (its
templates override `mfa/authenticate.html` and `mfa/index.html`), set
`MFA_ADAPTER = "backup_codes_allauth.adapter.BackupCodesMFAAdapter"`, `MFA_FORMS`
(see `backup_codes_allauth.forms`), `MFA_SUPPORTED_TYPES = []`, and include
`backup_codes_allauth.urls` under the account URLs. See examples/python/README.md.
"""
