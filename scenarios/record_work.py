"""The per-record work of the database batch job: parse, validate, transform a JSON payload.

It is real Python work of the kind a batch job does next to its queries (about 1 ms of
CPU per record on a 2020s core): decode the order, check every field, price every line
with tax and discount, normalise the text, and encode the result. The CPU it costs is
the point: an event loop running it cannot run anything else meanwhile.

`make_payload(record_id)` builds the deterministic payload the seeder stores for a row;
`transform(text, passes)` is what the job does per record: `passes` times the work
(0 = none: the job is then only its queries, which shows what the database alone costs).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

ITEMS_PER_ORDER = 12
RESULT_BYTES = 280  # a result is 260-290 bytes; the seeded placeholder is as large, so that
# the first update of a row does not grow it (which would bill the first trial for it)
PENDING_RESULT = '{"status": "pending"}'.ljust(RESULT_BYTES)
TEMPLATES = 64  # distinct payload shapes; ids and emails make every row unique
COUNTRIES = ("DE", "FR", "NL", "SE", "IT", "ES", "PL", "AT")
TAX = {"DE": 0.19, "FR": 0.20, "NL": 0.21, "SE": 0.25, "IT": 0.22, "ES": 0.21, "PL": 0.23, "AT": 0.20}
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")
_EMAIL = re.compile(r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
_SKU = re.compile(r"^[A-Z]{3}-\d{5}$")


class InvalidPayload(ValueError):
    """A payload that fails validation: counted as an error of the record."""


def make_payload(record_id: int) -> str:
    """The JSON text stored for row `record_id` (deterministic: same id, same payload).

    Rows share one of TEMPLATES item lists and differ in ids and emails, so seeding
    50,000 rows costs a fraction of a second of Python.
    """
    text = _template_text(record_id % TEMPLATES)
    return text.replace('"__ID__"', str(record_id)).replace("__EMAIL__", f"{record_id}@example.com")


_TEXTS: dict[int, str] = {}


def _template_text(index: int) -> str:
    """One order's JSON with "__ID__" and "__EMAIL__" placeholders, built once per index."""
    if index not in _TEXTS:
        rng = random.Random(index)
        items = [
            {
                "sku": f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNOP')}{rng.choice('RSTUVW')}-"
                       f"{rng.randrange(100000):05d}",
                "qty": rng.randint(1, 9),
                "unit_price": round(rng.uniform(0.5, 250.0), 2),
                "discount_pct": rng.choice((0, 0, 0, 5, 10, 15)),
                "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))),
                "tags": [rng.choice(WORDS).upper() for _ in range(rng.randint(0, 3))],
            }
            for _ in range(ITEMS_PER_ORDER)
        ]
        _TEXTS[index] = json.dumps({
            "order_id": "__ID__",
            "customer": {"name": f"  {rng.choice(WORDS)} {rng.choice(WORDS)}  ",
                         "email": f"{rng.choice(WORDS)}.__EMAIL__", "country": rng.choice(COUNTRIES)},
            "currency": "EUR",
            "items": items,
        })
    return _TEXTS[index]


def transform(text: str, passes: int = 1) -> str:
    """The per-record work, `passes` times over; with 0 passes only the placeholder result."""
    result = PENDING_RESULT
    for _ in range(passes):
        result = process_payload(text)
    return result


def process_payload(text: str) -> str:
    """Parse, validate and transform one payload; returns the JSON written back as the result."""
    order = json.loads(text)
    customer = _customer(order.get("customer"))
    rate = TAX[customer["country"]]
    lines = [_line(item, rate) for item in order.get("items") or ()]
    if not lines:
        raise InvalidPayload(f"order {order.get('order_id')}: no items")
    net = round(sum(line["net"] for line in lines), 2)
    tax = round(sum(line["tax"] for line in lines), 2)
    tags = sorted({tag for line in lines for tag in line["tags"]})
    words: dict[str, int] = {}
    for line in lines:
        for word in line["title"].split():
            words[word] = words.get(word, 0) + 1
    document = json.dumps({
        "order_id": order["order_id"],
        "customer": customer,
        "lines": sorted(lines, key=lambda line: (-line["gross"], line["sku"])),
        "tags": tags,
    }, sort_keys=True)
    # What is written back: the totals and a fingerprint of the normalised order (a few
    # hundred bytes), so updating a row does not double its size.
    return json.dumps({
        "order_id": order["order_id"],
        "email": customer["email"],
        "net": net,
        "tax": tax,
        "gross": round(net + tax, 2),
        "lines": len(lines),
        "tags": len(tags),
        "top_words": sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        "payload_fnv": f"{_checksum(text):08x}",
        "document_fnv": f"{_checksum(document):08x}",
    }, sort_keys=True)


def _customer(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidPayload("customer missing")
    email = str(raw.get("email", "")).strip().lower()
    if not _EMAIL.match(email):
        raise InvalidPayload(f"bad email {email!r}")
    country = str(raw.get("country", "")).upper()
    if country not in TAX:
        raise InvalidPayload(f"unknown country {country!r}")
    return {"name": " ".join(raw.get("name", "").split()).title(), "email": email, "country": country}


def _line(item: Any, rate: float) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidPayload("item is not an object")
    sku, qty, price = item.get("sku"), item.get("qty"), item.get("unit_price")
    if not isinstance(sku, str) or not _SKU.match(sku):
        raise InvalidPayload(f"bad sku {sku!r}")
    if not isinstance(qty, int) or not 0 < qty < 1000:
        raise InvalidPayload(f"bad quantity {qty!r}")
    if not isinstance(price, int | float) or price < 0:
        raise InvalidPayload(f"bad price {price!r}")
    net = round(qty * price * (1 - item.get("discount_pct", 0) / 100), 2)
    tax = round(net * rate, 2)
    return {
        "sku": sku,
        "qty": qty,
        "net": net,
        "tax": tax,
        "gross": round(net + tax, 2),
        "title": " ".join(w.capitalize() for w in str(item.get("title", "")).split()),
        "tags": [t.strip().lower() for t in item.get("tags") or () if t.strip()],
    }


def _checksum(text: str) -> int:
    """FNV-1a over the payload: a stand-in for the record fingerprint real jobs compute."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h
