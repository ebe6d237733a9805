"""Scale-out: pages/min of `legajo index` with the local engine vs Ray with 1 and 2 workers.

One run indexes the same N pages three (or more) times, each into a fresh SQLite database:
``--engine local``, then ``--engine ray --workers W`` for each W (a local Ray cluster started
by the command itself). It prints pages per minute (from the command's own summary, which
for Ray includes starting the cluster and the workers' model loads), the wall time of the
whole command, the driver's peak RSS (wait4) and each Ray worker's peak RSS (sampled from
/proc every 0.2 s while it runs).

    .venv/bin/python bench/scale_out.py                   # 24 pages, bundled model, --lines
    .venv/bin/python bench/scale_out.py --pages 40 --workers 1,2,4

The pages are rendered text lines (one line each, read with ``--lines``), made distinct by one
pixel (identical files would be skipped), read by the bundled model: the figures measure
recognition spread over workers. Needs Ray (``pip install 'legajo[ray]'``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from ingest import line_image, make_pages  # noqa: E402

SUMMARY = re.compile(r"indexed (\d+) pages, .* in ([\d.]+) s")
WORKER_TITLE = b"ray::MapWorker"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def worker_rss() -> dict[int, float]:
    """RSS in MiB of each running Ray Data actor process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(WORKER_TITLE):
                continue
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = pages * PAGE_SIZE / 2**20
    return found


def run_index(pages: Path, home: Path, model: Path, extra: list[str]) -> dict[str, object]:
    """Runs `legajo index`; returns pages, seconds, wall seconds, driver and worker RSS."""
    command = [sys.executable, "-m", "legajo", "index", str(pages), "--home", str(home)]
    command += ["--model", str(model), "--beams", "1", "--n-best", "1", "--lines", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.setdefault("RAY_AUTH_MODE", "disabled")
    peaks: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            for pid, rss in worker_rss().items():
                peaks[pid] = max(peaks.get(pid, 0.0), rss)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.DEVNULL
        )
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        text = out.read()
    match = SUMMARY.search(text)
    if os.waitstatus_to_exitcode(status) != 0 or match is None:
        raise SystemExit(f"legajo index {' '.join(extra)} failed:\n{text}")
    return {
        "pages": int(match[1]),
        "seconds": float(match[2]),
        "wall": wall,
        "driver_mib": usage.ru_maxrss / 1024,
        "workers_mib": sorted(peaks.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--workers", default="1,2", help="Ray worker counts, comma-separated")
    parser.add_argument("--model", type=Path, default=REPO / "data" / "models" / "legajo-default")
    args = parser.parse_args()
    engines = [("local", [])] + [
        (f"ray, {w} worker{'s' * (int(w) > 1)}", ["--engine", "ray", "--workers", w])
        for w in args.workers.split(",")
    ]
    with tempfile.TemporaryDirectory() as scratch:
        pages = Path(scratch) / "pages"
        make_pages(line_image(), pages, args.pages, ".png")
        rows = []
        for number, (name, extra) in enumerate(engines):
            result = run_index(pages, Path(scratch) / f"home{number}", args.model, extra)
            rows.append((name, result))
    print(f"{args.pages} one-line pages, model {args.model.name}, {os.cpu_count()} CPUs\n")
    header = ("engine", "pages/min", "run s", "wall s", "driver MiB", "per worker MiB")
    table = [header]
    for name, r in rows:
        workers = ", ".join(f"{m:.0f}" for m in r["workers_mib"]) or "-"  # type: ignore[attr-defined]
        table.append(
            (
                name,
                f"{60 * r['pages'] / r['seconds']:.1f}",  # type: ignore[operator]
                f"{r['seconds']:.1f}",
                f"{r['wall']:.1f}",
                f"{r['driver_mib']:.0f}",
                workers,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
