"""The process-wide component host and the policy, from Django settings.

    BACKUP_CODES = {
        "COMPONENT": "/path/backup-codes.wasm",  # optional: default, the component in the package
        "SHA256": "...",                         # optional: refuse any other component
        "CACHE_DIR": "/var/cache/backup-codes",  # optional: wasmtime's compiled-code cache
        "POLICY": {"count": 10},                 # optional: overrides of the engine's default policy
        "PEPPER": b"...",                        # optional: 1..64 bytes given to argon2 as its secret
        "MEMORY_LIMIT": 64 << 20, "CALL_TIMEOUT": 10.0,
        "MAX_CONCURRENT": 8, "QUEUE_TIMEOUT": 5.0,
    }

The host is created on first use in each process (after a pre-fork server forks,
each worker compiles or loads from the cache once) and shared by its threads.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from backup_codes import Host, HostConfig, Policy

_lock = threading.Lock()
_host: Host | None = None
_policy: Policy | None = None


def _settings() -> dict[str, Any]:
    conf = getattr(settings, "BACKUP_CODES", {})
    if not isinstance(conf, dict):
        raise ImproperlyConfigured("settings.BACKUP_CODES must be a dict (it may be empty)")
    return conf


def get_host() -> Host:
    """The loaded component (created once per process)."""
    global _host
    if _host is None:
        with _lock:
            if _host is None:
                conf = _settings()
                defaults = HostConfig()
                host_config = HostConfig(
                    memory_limit=conf.get("MEMORY_LIMIT", defaults.memory_limit),
                    call_timeout=conf.get("CALL_TIMEOUT", defaults.call_timeout),
                    max_concurrent=conf.get("MAX_CONCURRENT", defaults.max_concurrent),
                    queue_timeout=conf.get("QUEUE_TIMEOUT", defaults.queue_timeout),
                    cache_dir=conf.get("CACHE_DIR"),
                    expected_sha256=conf.get("SHA256"),
                )
                path = conf.get("COMPONENT")
                _host = Host.from_file(path, host_config) if path else Host.bundled(host_config)
    return _host


def get_policy() -> Policy:
    """The engine's default policy with the configured overrides (the engine
    checks every field when it is used)."""
    global _policy
    if _policy is None:
        overrides = dict(_settings().get("POLICY") or {})
        _policy = get_host().default_policy().replace(**overrides)
    return _policy


def get_pepper() -> bytes | None:
    pepper = _settings().get("PEPPER")
    if pepper is not None and not isinstance(pepper, bytes):
        raise ImproperlyConfigured("settings.BACKUP_CODES['PEPPER'] must be bytes")
    return pepper


def use_host(host: Host | None, policy: Policy | None = None) -> None:
    """Replace the process's host (tests pass one with a clock they control);
    `None` goes back to the one from settings on next use."""
    global _host, _policy
    with _lock:
        _host, _policy = host, policy
