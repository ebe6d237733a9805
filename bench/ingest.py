"""Indexing throughput and memory: pages/min and peak RSS of `legajo index` for N pages.

Each N runs in a fresh `legajo index` process on a fresh SQLite database, so the peak resident
memory (from wait4) is that run's alone; flat peaks as N grows mean nothing accumulates per
page. The pages are copies of one page image, each made distinct by one pixel (identical
files would be skipped as already indexed).

    .venv/bin/python bench/ingest.py                      # N = 10, 50, 200, tiny model, --lines
    .venv/bin/python bench/ingest.py --sizes 10,50 --layout own \
        --page data/samples/foral_de_estremoz_1_1258_11.jpg --model data/models/legajo-default

By default the model is a tiny random-weight TrOCR built on the fly and every image is read
as one line (``--lines``): the figures then measure legajo's own per-page cost (hashing,
decoding, storing, bookkeeping), not the recognizer's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"indexed (\d+) pages, .* in ([\d.]+) s")


def tiny_model(folder: Path) -> Path:
    from htr.model_factory import (
        ModelShape,
        alphabet_of,
        build_char_tokenizer,
        new_trocr_model,
        save_checkpoint,
    )

    tokenizer = build_char_tokenizer(alphabet_of(["abcdefghijklmnopqrstuvwxyz .,"]))
    shape = ModelShape(
        image_height=16,
        image_width=64,
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        heads=2,
        max_length=8,
    )
    model, processor = new_trocr_model(tokenizer, shape)
    return save_checkpoint(model, processor, folder / "tiny-model")


def line_image() -> Image.Image:
    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_path), 28) if font_path.exists() else None
    image = Image.new("RGB", (420, 40), "white")
    ImageDraw.Draw(image).text((10, 6), "en el nonbre de dios", font=font, fill="black")
    return image


def make_pages(template: Image.Image, folder: Path, count: int, suffix: str) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        page = template.copy()
        page.putpixel((0, 0), (i % 256, (i // 256) % 256, 128))
        page.save(folder / f"page_{i:04d}{suffix}")


def run_index(pages: Path, home: Path, model: Path, extra: list[str]) -> tuple[int, float, float]:
    """Runs `legajo index`; returns pages indexed, indexing seconds, peak RSS in MiB."""
    command = [sys.executable, "-m", "legajo", "index", str(pages), "--home", str(home)]
    command += ["--model", str(model), "--beams", "1", "--n-best", "1", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    match = SUMMARY.search(text)
    if process.returncode != 0 or not match:
        raise SystemExit(f"legajo index failed ({process.returncode}): {text}")
    return int(match[1]), float(match[2]), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10,50,200", help="comma-separated N (default 10,50,200)"
    )
    parser.add_argument("--page", type=Path, help="page image to copy (default: a rendered line)")
    parser.add_argument("--model", type=Path, help="checkpoint (default: a tiny random one)")
    parser.add_argument(
        "--layout", choices=["lines", "auto", "own"], default="lines", help="default: lines"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    template = Image.open(args.page).convert("RGB") if args.page else line_image()
    extra = ["--lines"] if args.layout == "lines" else ["--layout", args.layout]
    with tempfile.TemporaryDirectory(prefix="legajo-bench-") as tmp:
        work = Path(tmp)
        model = args.model or tiny_model(work)
        print(
            f"model: {model if args.model else 'tiny random TrOCR'}; layout: {args.layout}; "
            f"page: {template.width}x{template.height}"
        )
        print(f"{'N':>5}  {'pages/min':>10}  {'index s':>8}  {'wall s':>7}  {'peak RSS MiB':>12}")
        for n in sizes:
            pages = work / f"pages-{n}"
            make_pages(template, pages, n, ".png")
            started = time.perf_counter()
            indexed, seconds, peak = run_index(pages, work / f"home-{n}", model, extra)
            wall = time.perf_counter() - started
            assert indexed == n, f"indexed {indexed} of {n}"
            rate = 60 * n / seconds if seconds else float("inf")
            print(f"{n:>5}  {rate:>10.0f}  {seconds:>8.1f}  {wall:>7.1f}  {peak:>12.0f}")


if __name__ == "__main__":
    main()
