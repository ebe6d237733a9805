"""`legajo index` alone and beside a CPU-bound process, with and without OMP_WAIT_POLICY=PASSIVE.

Every run indexes the same N copies of a sample page (each made distinct by one pixel, each
with its PAGE XML, so the line polygons come from the file and the time goes to recognition)
in a fresh `legajo index` process and home folder, with beam 1. Conditions:

- load: ``none``, or a second CPU-bound process running the whole time (``--busy python``: a
  ``while True: pass`` loop; ``--busy torch``: a torch matrix-multiplication loop with torch's
  own default settings);
- policy: ``unset`` is legajo before it set the policy itself (the variable is removed again
  after ``import legajo``, so libgomp spins for a while at every wait, its default);
  ``PASSIVE`` is what legajo now sets by itself;
- threads: torch's intra-op threads; ``auto`` is legajo's default (every available CPU), ``1``
  sets ``OMP_NUM_THREADS=1``.

``index s`` is the indexing time that ``legajo index`` prints (files read, recognition,
storing; model loading excluded); ``wall s`` is the whole process, start-up included;
``x`` is index s over the same policy and threads without load. ``load1`` is the one-minute
load average before the run: figures taken on a machine that others use are upper bounds.

    .venv/bin/python bench/contention.py                 # 4 pages, python busy loop
    .venv/bin/python bench/contention.py --pages 8 --busy torch --repeats 3
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"indexed (\d+) pages, .* in ([\d.]+) s")
DEFAULT_PAGE = REPO / "data" / "samples" / "foral_de_estremoz_1_1258_11.jpg"
IMAGE_FILENAME = re.compile(r'imageFilename="[^"]*"')

UNSET_POLICY = (
    "import os, sys\n"
    "from legajo.cli.main import main  # legajo sets OMP_WAIT_POLICY=PASSIVE here...\n"
    "os.environ.pop('OMP_WAIT_POLICY', None)  # ...and it is undone before torch loads\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
BUSY = {
    "python": "while True: pass\n",
    "torch": ("import torch\na = torch.randn(256, 256)\nwhile True:\n    a = torch.tanh(a @ a)\n"),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One row of the table."""

    load: str
    policy: str
    threads: str


def make_pages(page: Path, folder: Path, count: int) -> None:
    """Copies of `page` (one pixel changed each) with its PAGE XML, which must exist."""
    layout = page.with_suffix(".xml")
    if not layout.is_file():
        raise SystemExit(f"{page}: needs a PAGE XML next to it ({layout.name})")
    xml = layout.read_text(encoding="utf-8")
    folder.mkdir(parents=True)
    template = Image.open(page).convert("RGB")
    for i in range(count):
        copy = template.copy()
        copy.putpixel((0, 0), (i % 256, (i // 256) % 256, 7))
        name = f"page_{i:03d}"
        copy.save(folder / f"{name}.jpg", quality=95)
        named = IMAGE_FILENAME.sub(f'imageFilename="{name}.jpg"', xml, count=1)
        (folder / f"{name}.xml").write_text(named, encoding="utf-8")


def load_average() -> float:
    return os.getloadavg()[0]


def run_index(
    pages: Path, home: Path, condition: Condition, extra: list[str]
) -> tuple[float, float]:
    """One `legajo index` under `condition`; returns (index seconds, wall seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env.pop("MKL_NUM_THREADS", None)
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    if condition.threads != "auto":
        env["OMP_NUM_THREADS"] = condition.threads
    entry = ["-c", UNSET_POLICY] if condition.policy == "unset" else ["-m", "legajo"]
    command = [sys.executable, *entry, "index", str(pages), "--home", str(home), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stdout + done.stderr)
    if done.returncode != 0 or not match:
        raise SystemExit(f"legajo index failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(match[2]), wall


def start_busy(kind: str) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("OMP_WAIT_POLICY", None)  # the other process keeps torch's own defaults
    return subprocess.Popen(
        [sys.executable, "-c", BUSY[kind]],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_busy(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", type=Path, default=DEFAULT_PAGE, help="page with a PAGE XML")
    parser.add_argument("--pages", type=int, default=4, help="copies indexed per run (default 4)")
    parser.add_argument("--model", help="checkpoint (default: the bundled model)")
    parser.add_argument("--beams", type=int, default=1, help="beam width (default 1)")
    parser.add_argument(
        "--busy", choices=sorted(BUSY), default="python", help="the second process (default python)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per condition (median)")
    parser.add_argument(
        "--no-one-thread", action="store_true", help="skip the OMP_NUM_THREADS=1 rows"
    )
    args = parser.parse_args()
    extra = ["--beams", str(args.beams), "--n-best", "1"]
    if args.model:
        extra += ["--model", args.model]
    threads = ["auto"] if args.no_one_thread else ["auto", "1"]
    conditions = [
        Condition(load, policy, thread)
        for load in ("none", args.busy)
        for thread in threads
        for policy in (("unset", "PASSIVE") if thread == "auto" else ("PASSIVE",))
    ]
    cpus = len(os.sched_getaffinity(0))
    print(
        f"page: {args.page.name} x {args.pages}; beams {args.beams}; {cpus} CPUs; "
        f"busy process: {args.busy}; repeats: {args.repeats}"
    )
    header = f"{'load':<7} {'policy':<8} {'threads':>7} {'index s':>8} {'s/page':>7}"
    print(f"{header} {'wall s':>7} {'x':>6} {'load1':>6}")
    alone: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="legajo-contention-") as tmp:
        work = Path(tmp)
        pages = work / "pages"
        make_pages(args.page, pages, args.pages)
        for number, condition in enumerate(conditions):
            busy = start_busy(condition.load) if condition.load != "none" else None
            try:
                if busy is not None:
                    time.sleep(1.0)  # let it get going
                load1 = load_average()
                runs = [
                    run_index(pages, work / f"home-{number}-{r}", condition, extra)
                    for r in range(args.repeats)
                ]
            finally:
                if busy is not None:
                    stop_busy(busy)
            seconds = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            key = (condition.policy, condition.threads)
            if condition.load == "none":
                alone[key] = seconds
            ratio = seconds / alone[key] if alone.get(key) else float("nan")
            print(
                f"{condition.load:<7} {condition.policy:<8} {condition.threads:>7} "
                f"{seconds:>8.1f} {seconds / args.pages:>7.2f} {wall:>7.1f} {ratio:>6.1f} "
                f"{load1:>6.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
