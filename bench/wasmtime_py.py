"""Time verify through the Python host (wasmtime-py, examples/python) as a cell
of the Rust benchmark, like argon2_c.py does for C libargon2.

Usage: python3 wasmtime_py.py COMPONENT MEMORY_KIB ITERATIONS PARALLELISM COUNT
The first line on standard input is "CREDENTIAL_HEX CODE NUMBER": the fixture
the Rust cells verify (a set issued with the same policy, activation not
required). Prints "ready" after one warm-up verify, then for each further line
verifies CODE against the unchanged credential in a fresh store (the returned
credential is discarded, as in the Rust cells) and prints the wall-clock and
thread CPU seconds of `Host.verify`, measured around the whole call: store,
instantiation, lowering, the argon2 evaluation, lifting and typed results.
A line "trivial" times `Host.default_policy()` instead: the per-call overhead
(new store + instantiate + a call that computes nothing).
"""
import sys
import time

from backup_codes import Accepted, Host, HostConfig, SecretCode

path, m, t, p, count = sys.argv[1], *(int(a) for a in sys.argv[2:6])
host = Host.from_file(path, HostConfig(memory_limit=max(64 << 20, m * 1024 + (32 << 20)), call_timeout=600))
policy = host.default_policy().replace(
    count=count,
    low_water=min(host.default_policy().low_water, count),
    require_activation=False,
    hash={"memory_kib": m, "iterations": t, "parallelism": p},
)
credential_hex, code_text, number = sys.stdin.readline().split()
credential, number = bytes.fromhex(credential_hex), int(number)
code = SecretCode.from_str(code_text)
del code_text


def once():
    v = host.verify(credential, None, code, policy)
    if v.outcome != Accepted(number):
        raise SystemExit(f"expected accepted({number}), got {v.outcome}")


def trivial():
    host.default_policy()


once()
trivial()
print("ready", flush=True)
for line in sys.stdin:
    call = trivial if line.strip() == "trivial" else once
    wall, cpu = time.perf_counter(), time.thread_time()
    call()
    print(time.perf_counter() - wall, time.thread_time() - cpu, flush=True)
