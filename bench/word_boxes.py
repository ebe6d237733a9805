"""Word-box quality and speed on synthetic handwritten lines with known word boxes.

Run: .venv/bin/python bench/word_boxes.py [--lines N] [--seed S]

Prints, per font and in total, for `htr.word_boxes.word_boxes` ("ours") and a naive baseline
(the line's ink extent split in proportion to the words' character counts): mean word IoU
with the true boxes, the share of words with IoU >= 0.5, and milliseconds per line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from htr.training.synthetic import SyntheticLine, available_fonts, iou, render_line
from htr.types import BBox
from htr.word_boxes import proportional_word_boxes, word_boxes

Method = Callable[[np.ndarray, Sequence[str]], list[BBox]]


def make_lines(count: int, seed: int) -> list[SyntheticLine]:
    rng = np.random.default_rng(seed)
    fonts = available_fonts()
    return [render_line(rng, fonts[i % len(fonts)]) for i in range(count)]


def evaluate(method: Method, lines: Sequence[SyntheticLine]) -> dict[str, list[float]]:
    """Per font (and "total"): [sum IoU, words, words with IoU >= 0.5, seconds, lines]."""
    stats: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    for line in lines:
        start = time.perf_counter()
        boxes = method(line.image, line.words)
        elapsed = time.perf_counter() - start
        scores = [iou(a, b) for a, b in zip(boxes, line.boxes, strict=True)]
        for key in (line.font, "total"):
            s = stats[key]
            s[0] += sum(scores)
            s[1] += len(scores)
            s[2] += sum(score >= 0.5 for score in scores)
            s[3] += elapsed
            s[4] += 1
    return stats


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500, help="synthetic lines (500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = parser.parse_args(argv)

    lines = make_lines(args.lines, args.seed)
    for method in (word_boxes, proportional_word_boxes):  # warm up
        method(lines[0].image, lines[0].words)
    methods: dict[str, Method] = {"ours": word_boxes, "proportional": proportional_word_boxes}
    results = {name: evaluate(method, lines) for name, method in methods.items()}

    shapes = np.array([line.image.shape for line in lines])
    words = sum(len(line.words) for line in lines)
    print(
        f"{args.lines} lines, {words} words, seed {args.seed}, "
        f"median crop {int(np.median(shapes[:, 0]))}x{int(np.median(shapes[:, 1]))} px"
    )
    header = f"{'font':<28} {'method':<13} {'lines':>5} {'words':>6} {'mean IoU':>9}"
    print(f"{header} {'IoU>=0.5':>9} {'ms/line':>8}")
    keys = [*sorted(k for k in results["ours"] if k != "total"), "total"]
    for key in keys:
        for name in methods:
            s = results[name][key]
            print(
                f"{key:<28} {name:<13} {int(s[4]):>5} {int(s[1]):>6} {s[0] / s[1]:>9.3f} "
                f"{s[2] / s[1]:>9.1%} {1000 * s[3] / s[4]:>8.2f}"
            )

    # Timing on the brief's reference size: a 40 x 1000 px line of ten words.
    rng = np.random.default_rng(args.seed)
    font = available_fonts()[0]
    ref = [render_line(rng, font, size=26, spacing=1.0, neighbours=True) for _ in range(50)]
    crops = [cv2.resize(line.image, (1000, 40), interpolation=cv2.INTER_AREA) for line in ref]
    start = time.perf_counter()
    for _ in range(4):
        for crop, line in zip(crops, ref, strict=True):
            word_boxes(crop, line.words)
    per_line = 1000 * (time.perf_counter() - start) / (4 * len(crops))
    print(f"ours on 40x1000 px crops: {per_line:.2f} ms/line")


if __name__ == "__main__":
    main()
