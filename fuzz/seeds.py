#!/usr/bin/env python3
"""Write the seed inputs of the normalise and credential_decode targets.

The http_api seeds are hand-written request texts (fuzz/corpus/http_api/).
Deterministic: running it again rewrites the same files.

    python3 fuzz/seeds.py
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ALPHABET = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def gf32_mul(a, b):
    """Multiply in GF(2^5) modulo x^5 + x^2 + 1 (as plugin/src/alphabet.rs)."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0x20:
            a ^= 0x25
    return product & 0x1F


def check_symbol(data):
    total, weight = 0, 1
    for value in data:
        weight = gf32_mul(weight, 2)
        total ^= gf32_mul(value & 0x1F, weight)
    return total


def display(values, group):
    out = ""
    for i, v in enumerate(values):
        if group and i and i % group == 0:
            out += "-"
        out += chr(ALPHABET[v])
    return out


def normalise_seeds():
    """Byte 0: symbol count, byte 1: display group, then the typed text."""
    rng = random.Random(6)
    seeds = {}
    for n, g in [(13, 5), (4, 2), (30, 6), (8, 4), (0, 0), (1, 0), (31, 0), (60, 0)]:
        data = [rng.randrange(32) for _ in range(n)]
        seeds[f"valid-{n}-g{g}"] = bytes([n, g]) + display(data + [check_symbol(data)], g).encode()
    data = [rng.randrange(32) for _ in range(13)]
    shown = display(data + [check_symbol(data)], 5)
    typed = shown.lower().replace("0", "o").replace("1", "l").replace("-", " \u2013 ")
    seeds["typed-lower-confusables"] = bytes([13, 5]) + typed.encode()
    seeds["wrong-check"] = bytes([13, 5]) + display(data + [check_symbol(data) ^ 1], 5).encode()
    seeds["invalid-U"] = bytes([13, 5]) + b"ABCDU-EFGH0-1234"
    seeds["cyrillic-A"] = bytes([13, 5]) + shown.replace(shown[0], "\u0410", 1).encode()
    seeds["separators-only"] = bytes([13, 5]) + " - \u00ad\u2212\ufe63\u3000".encode()
    seeds["too-long"] = bytes([13, 5]) + b"A" * 129
    seeds["empty"] = bytes([13, 5])
    return seeds


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def option(value):
    return b"\x00" if value is None else b"\x01" + varint(value)


def code_set(n, activated, used=(), failures=0, locked=None, permanent=False,
             symbols=13, memory=19456, iterations=2, parallelism=1, pepper=0):
    """postcard encoding of state::CodeSet (fields in declaration order)."""
    out = bytes(range(10)) + varint(1_800_000_000) + option(activated) + bytes([symbols])
    out += varint(memory) + varint(iterations) + varint(parallelism)
    out += bytes([7] * 16) + bytes([pepper]) + varint(n)
    for i in range(n):
        out += bytes([i] * 32) + option(1_800_000_500 + i if i in used else None)
    return out + varint(failures) + option(locked) + bytes([1 if permanent else 0])


def credential_seeds():
    """Each valid body twice: with the `BKC1` + version 1 header, and bare (the
    target also decodes every input behind a valid header)."""
    header = b"BKC1\x00\x01"
    bodies = {
        "empty": b"\x00\x00",
        "active-10": b"\x01" + code_set(10, 1_800_000_100) + b"\x00",
        "active-used-locked": b"\x01"
        + code_set(10, 1_800_000_100, used=(0, 3), failures=7, locked=1_800_000_900) + b"\x00",
        "active-and-pending": b"\x01" + code_set(10, 1_800_000_100, used=(1,))
        + b"\x01" + code_set(12, None, symbols=20),
        "pending-only-64": b"\x00\x01"
        + code_set(64, None, symbols=30, memory=1024, iterations=1, parallelism=4, pepper=32),
        "locked-permanently": b"\x01"
        + code_set(1, 1_800_000_100, failures=100, permanent=True, symbols=4) + b"\x00",
    }
    seeds = {}
    for name, body in bodies.items():
        seeds[f"full-{name}"] = header + body
        seeds[f"body-{name}"] = body
    seeds["future-version"] = b"BKC1\x00\x02" + bodies["active-10"]
    seeds["not-a-credential"] = b"not a credential"
    return seeds


def write(target, seeds):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("normalise", normalise_seeds())
    write("credential_decode", credential_seeds())
