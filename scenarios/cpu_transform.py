"""Pure-Python CPU work: turn one text record into features, about 2–3 ms per record.

Each record is a ~4 KB support ticket (built from a template, so no I/O): the handler
tokenises it, normalises the words, counts words and bigrams, scores the ticket against
keyword lists and fingerprints it. All of it is Python bytecode holding the GIL, so
threads cannot run two records at once; only processes use a second core.

`concur run scenarios/cpu_transform.py --models sequential,threads,processes --concurrency 2,4`
"""

from __future__ import annotations

import re

from profiler.workload import Workload

_WORDS = ("login", "error", "timeout", "invoice", "refund", "password", "crash", "slow",
          "export", "report", "billing", "account", "upgrade", "cancel", "network", "disk",
          "the", "a", "is", "when", "after", "my", "our", "please", "again", "since")
_URGENT = frozenset({"crash", "error", "timeout", "down", "cancel", "refund"})
_BILLING = frozenset({"invoice", "refund", "billing", "upgrade", "cancel"})
_TOKEN = re.compile(r"[a-z]+")
REPEATS = 76  # sentences per ticket: sets the CPU per record


def ticket(record: int) -> str:
    """The text of ticket `record` (deterministic)."""
    n = len(_WORDS)
    sentences = []
    for i in range(REPEATS):
        k = (record * 31 + i * 7) % n
        sentences.append(" ".join(_WORDS[(k + j * j) % n].capitalize() if j == 0
                                  else _WORDS[(k + j * j) % n] for j in range(12)) + ".")
    return f"Ticket {record}: " + " ".join(sentences)


def transform(record: int) -> dict[str, object]:
    tokens = _TOKEN.findall(ticket(record).lower())
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    bigrams: dict[tuple[str, str], int] = {}
    for pair in zip(tokens, tokens[1:], strict=False):
        bigrams[pair] = bigrams.get(pair, 0) + 1
    urgent = sum(c for w, c in counts.items() if w in _URGENT)
    billing = sum(c for w, c in counts.items() if w in _BILLING)
    fingerprint = 0x811C9DC5
    for token in tokens:
        for ch in token:
            fingerprint = ((fingerprint ^ ord(ch)) * 0x01000193) & 0xFFFFFFFF
    top = sorted(bigrams.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return {
        "record": record,
        "tokens": len(tokens),
        "distinct": len(counts),
        "queue": "billing" if billing > urgent else ("urgent" if urgent else "general"),
        "top_bigrams": [" ".join(pair) for pair, _ in top],
        "fingerprint": f"{fingerprint:08x}",
    }


workload = Workload(name="cpu_transform", handle=transform)
