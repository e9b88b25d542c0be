"""Time argon2id in the C reference implementation (libargon2, via argon2-cffi).

Usage: python3 argon2_c.py MEMORY_KIB ITERATIONS PARALLELISM
Prints "ready" after one warm-up evaluation, then for each line read on
standard input evaluates argon2id once and prints the wall-clock time in
seconds, so the Rust benchmark can interleave it with its own cells.
Same inputs as the Rust benchmark: a 14-byte code, a 16-byte salt, 32-byte output.
"""
import sys
import time

from argon2.low_level import Type, hash_secret_raw

m, t, p = (int(a) for a in sys.argv[1:4])
code, salt = b"0123456789ABCD", b"bench-salt-16byt"


def once():
    return hash_secret_raw(code, salt, time_cost=t, memory_cost=m,
                           parallelism=p, hash_len=32, type=Type.ID, version=19)


once()
print("ready", flush=True)
for _ in sys.stdin:
    start = time.perf_counter()
    once()
    print(time.perf_counter() - start, flush=True)
