"""`--input` is streamed: concur's memory follows the records measured, not the file's size.

    python benchmarks/input_streaming.py [--mib 1024] [--records 50] [--format csv|jsonl|parquet]

Writes an input file of about `--mib` MiB (rows of an id and a 100-character payload) into
a temporary folder, then runs `concur run` on a 2 ms handler with `--input FILE --records N`
(sequential×1, no report) as a separate process, and prints its wall time, the peak RSS of
concur's own process and of its whole tree (concur and its trial child, summed), read by
psutil every 20 ms, and the size of the trials' temp copy of the records. Issue 24 measured 48 s and 4.5 GiB for a 1 GB CSV at --records 50 when the file
was read, copied and unpickled whole; the target is a peak under ~200 MB at any size.
Figures are printed, not asserted (tests/test_hostile_inputs.py pins the behaviour).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDLER = "import time\n\ndef handle(record):\n    time.sleep(0.002)\n"
PAYLOAD = "x" * 100


def write_input(folder: Path, kind: str, mib: int) -> Path:
    rows = mib * 2**20 // (len(PAYLOAD) + 12)
    path = folder / f"rows.{kind}"
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, pa.schema([("id", pa.int64()), ("payload", pa.string())])) as out:
            for start in range(0, rows, 500_000):
                n = min(500_000, rows - start)
                out.write_table(pa.table({"id": list(range(start, start + n)), "payload": [PAYLOAD] * n}))
        return path
    with open(path, "w") as fh:
        if kind == "csv":
            fh.write("id,payload\n")
        block = 100_000
        for start in range(0, rows, block):
            end = min(rows, start + block)
            if kind == "csv":
                fh.write("".join(f"{i},{PAYLOAD}\n" for i in range(start, end)))
            else:
                fh.write("".join(json.dumps({"id": i, "payload": PAYLOAD}) + "\n" for i in range(start, end)))
    return path


def watch(pid: int, tmp: Path, stop: threading.Event, peaks: dict[str, int]) -> None:
    """Peaks of concur's RSS, its tree's summed RSS, and the records' temp copy's size."""
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            own = root.memory_info().rss
            tree = own + sum(c.memory_info().rss for c in root.children(recursive=True))
        except psutil.Error:
            own = tree = 0
        peaks["own"], peaks["tree"] = max(peaks["own"], own), max(peaks["tree"], tree)
        for p in tmp.glob("concur-records-*"):
            try:
                peaks["copy"] = max(peaks["copy"], p.stat().st_size)
            except OSError:
                pass
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="concur-bench-input-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        path = write_input(tmp, args.format, args.mib)
        print(f"input: {path.stat().st_size / 2**20:,.0f} MiB {args.format} "
              f"(written in {time.monotonic() - started:.1f} s)")
        (tmp / "job.py").write_text(HANDLER)
        stop, peaks = threading.Event(), {"own": 0, "tree": 0, "copy": 0}
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "profiler", "run", "job.py:handle", "--input", str(path),
             "--records", str(args.records), "--models", "sequential", "--concurrency", "1",
             "--no-report", "--out", str(tmp / "out"), "--quiet"],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TMPDIR": str(tmp)})
        watcher = threading.Thread(target=watch, args=(proc.pid, tmp, stop, peaks), daemon=True)
        watcher.start()
        _, err = proc.communicate()
        wall = time.monotonic() - started
        stop.set()
        watcher.join()
        mib = {k: v / 2**20 for k, v in peaks.items()}
        print(f"concur run --input … --records {args.records}: exit {proc.returncode}, {wall:.1f} s, "
              f"peak RSS {mib['own']:,.0f} MiB (concur), {mib['tree']:,.0f} MiB (its whole tree), "
              f"records temp copy {mib['copy']:,.2f} MiB")
        if proc.returncode:
            print(err[-2000:])


if __name__ == "__main__":
    main()
