"""Native CPU work that releases the GIL: compress and hash ~1 MiB per record.

zlib's deflate and hashlib's SHA-256 run in C and drop the GIL while they work on a
buffer that large, so threads run records on every core at once, as processes do,
without the cost of sending data between processes. concur should call it CPU-bound
and add the "releases-GIL" refinement when it measures threads scaling like processes.

`concur run scenarios/native_compress.py --models sequential,threads,processes --concurrency 2`
"""

from __future__ import annotations

import hashlib
import random
import zlib

from profiler.workload import Workload

BLOCK_BYTES = 1 << 20
LEVEL = 1
_block: bytes | None = None


def block() -> bytes:
    """1 MiB of half-compressible bytes (text-like runs and noise), built once per process."""
    global _block
    if _block is None:
        rng = random.Random(1)
        words = [rng.randbytes(rng.randint(3, 9)) for _ in range(512)]
        parts: list[bytes] = []
        size = 0
        while size < BLOCK_BYTES:
            part = b" ".join(rng.choices(words, k=64)) if rng.random() < 0.6 else rng.randbytes(256)
            parts.append(part)
            size += len(part)
        _block = b"".join(parts)[:BLOCK_BYTES]
    return _block


def compress(record: int) -> dict[str, object]:
    data = block()
    cut = (record * 4099) % len(data)
    packed = zlib.compress(memoryview(data)[cut:], LEVEL) + zlib.compress(memoryview(data)[:cut], LEVEL)
    return {
        "record": record,
        "ratio": round(len(packed) / len(data), 4),
        "sha256": hashlib.sha256(packed).hexdigest(),
    }


def setup() -> None:
    block()  # built before the timed window, once per worker process


workload = Workload(name="native_compress", handle=compress, setup=setup)
