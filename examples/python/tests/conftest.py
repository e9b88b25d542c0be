"""Shared fixtures: the real component (built from source by the test set-up:
`backup-codes-shim component --out FILE`, named by BACKUP_CODES_COMPONENT) and a
host whose clock the test moves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backup_codes import Host, HostConfig, Policy


def component_path() -> Path:
    value = os.environ.get("BACKUP_CODES_COMPONENT")
    if not value:
        pytest.fail("set BACKUP_CODES_COMPONENT to the component file (backup-codes-shim component --out FILE)")
    path = Path(value)
    if not path.is_file():
        pytest.fail(f"BACKUP_CODES_COMPONENT={value} does not exist")
    return path


class ManualClock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self, now: int = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(scope="session")
def component_bytes() -> bytes:
    return component_path().read_bytes()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wasmtime-cache")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def host(component_bytes: bytes, clock: ManualClock, cache_dir: Path) -> Host:
    h = Host(component_bytes, HostConfig(cache_dir=cache_dir), clock=clock)
    yield h
    h.close()


@pytest.fixture
def policy(host: Host) -> Policy:
    """The default policy with cheaper hashing so the suite stays quick."""
    return host.default_policy().replace(hash={"memory_kib": 4096, "iterations": 1})
