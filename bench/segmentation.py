"""Line segmentation quality: `htr.segmentation.segment_page` against ground-truth lines.

For every page image with a PAGE XML or ALTO file (``*.chocomufin.xml`` twins are skipped),
predicted line boxes are matched one-to-one to ground-truth line boxes (greedy by IoU,
IoU >= 0.5). Prints precision, recall, F1 and seconds per page for each manuscript folder and
in total, measured twice:

- "all predictions" (the headline): every predicted line counts.
- "inside annotated regions": only predicted lines whose box centre lies inside an annotated
  text region (PAGE ``TextRegion/Coords@points``; ALTO ``TextBlock`` ``Shape/Polygon@POINTS``,
  else its HPOS/VPOS/WIDTH/HEIGHT box) count. Recall is the same in both; only precision
  changes. This drops lines in unannotated margins, running heads, catchwords, the edge of
  the facing page (e.g. bnf-esp-533: P 0.74 -> 1.00).

Partial ground truth on iforal, checked on the ``--draw`` overlays (regions green, truth red,
predictions blue): several charters are transcribed only in part, and there the region does
not help, because it covers the whole written area while only some of its lines carry
ground truth. foral_de_evora_1218/1: one region over both columns, only the lower half of the
right column transcribed; foral_de_castreicao_1217/1: one region over the page, only a short
block at the lower right transcribed; foral_de_contrasta_1217/1: one region over both
columns, only the left column transcribed; foral_de_condado_1255/1: one region over both
columns, only the right column below its first few lines transcribed. On such pages correct
lines count as false positives in both measurements, so precision on iforal is a lower bound.

    .venv/bin/python bench/segmentation.py [--data DIR] [--limit N] [--folder NAME] [--draw DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from htr.layout.files import read_layout_file  # noqa: E402
from htr.segmentation import segment_page  # noqa: E402

BoxArray = np.ndarray
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
IOU_THRESHOLD = 0.5


@dataclass
class PageResult:
    folder: str
    gt: int
    predicted: int
    matched: int
    seconds: float
    predicted_inside: int
    matched_inside: int


def find_pages(data: Path) -> Iterator[tuple[Path, Path]]:
    """Yields (xml, image) pairs under `data`."""
    for xml in sorted(data.rglob("*.xml")):
        if xml.name.endswith(".chocomufin.xml"):
            continue
        for suffix in IMAGE_SUFFIXES:
            image = xml.with_suffix(suffix)
            if image.exists():
                yield xml, image
                break


def read_gt_boxes(xml: Path) -> BoxArray:
    """Returns the ground-truth line boxes (x0, y0, x1, y1) of a PAGE or ALTO file."""
    layout = read_layout_file(xml)
    return np.array([line.bbox for line in layout.lines], dtype=np.float64).reshape(-1, 4)


def _points(text: str) -> np.ndarray:
    """Parses PAGE ``x,y x,y`` or ALTO ``x y x y`` point lists into an (N, 2) array."""
    values = [float(v) for v in re.split(r"[\s,]+", text.strip()) if v]
    return np.array(values[: len(values) // 2 * 2], dtype=np.float32).reshape(-1, 2)


def read_region_outlines(xml: Path) -> list[np.ndarray]:
    """Returns the outlines ((N, 2) arrays) of the annotated text regions of a PAGE/ALTO file."""
    root = etree.parse(str(xml)).getroot()
    outlines: list[np.ndarray] = []
    for region in root.iter("{*}TextRegion"):
        coords = region.find("{*}Coords")
        if coords is not None and coords.get("points"):
            outlines.append(_points(coords.get("points", "")))
    for block in root.iter("{*}TextBlock"):
        polygon = block.find("{*}Shape/{*}Polygon")
        if polygon is not None and polygon.get("POINTS"):
            outlines.append(_points(polygon.get("POINTS", "")))
            continue
        try:
            x, y = float(block.get("HPOS", "")), float(block.get("VPOS", ""))
            w, h = float(block.get("WIDTH", "")), float(block.get("HEIGHT", ""))
        except ValueError:
            continue
        outlines.append(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32))
    return [outline for outline in outlines if len(outline) >= 3]


def inside_regions(boxes: BoxArray, outlines: Sequence[np.ndarray]) -> np.ndarray:
    """For each box, whether its centre lies inside (or on) one of `outlines`."""
    inside = np.zeros(len(boxes), dtype=bool)
    for i, box in enumerate(boxes):
        centre = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
        inside[i] = any(cv2.pointPolygonTest(o, centre, False) >= 0 for o in outlines)
    return inside


def iou_matrix(a: BoxArray, b: BoxArray) -> np.ndarray:
    """Pairwise IoU of two box arrays."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def greedy_matches(iou: np.ndarray, threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one matches, best IoU first, above `threshold`."""
    pairs = np.argwhere(iou >= threshold)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]]) if len(pairs) else []
    used_a: set[int] = set()
    used_b: set[int] = set()
    matches: list[tuple[int, int]] = []
    for k in order:
        i, j = (int(v) for v in pairs[k])
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matches.append((i, j))
    return matches


def draw(
    image: np.ndarray,
    gt: BoxArray,
    pred: BoxArray,
    path: Path,
    outlines: Sequence[np.ndarray] = (),
) -> None:
    """Writes an overlay: regions green, ground-truth lines red, predicted lines blue."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(2, max(image.shape) // 1000)
    for outline in outlines:
        cv2.polylines(canvas, [outline.astype(np.int32)], True, (0, 160, 0), 2 * thickness)
    for box in gt.astype(int):
        cv2.rectangle(canvas, tuple(box[:2]), tuple(box[2:]), (0, 0, 255), thickness)
    for box in pred.astype(int):
        cv2.rectangle(canvas, tuple(box[:2]), tuple(box[2:]), (255, 0, 0), thickness)
    scale = 1600 / max(canvas.shape)
    canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), canvas)


def run(data: Path, limit: int | None, folder: str | None, draw_dir: Path | None) -> None:
    results: list[PageResult] = []
    pages = [p for p in find_pages(data) if folder is None or p[0].parent.name == folder]
    for xml, image_path in pages[:limit]:
        image = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            print(f"skipped unreadable {image_path}")
            continue
        gt = read_gt_boxes(xml)
        outlines = read_region_outlines(xml)
        start = time.perf_counter()
        lines = segment_page(image)
        seconds = time.perf_counter() - start
        pred = np.array([line.bbox for line in lines], dtype=np.float64).reshape(-1, 4)
        matches = greedy_matches(iou_matrix(pred, gt))
        inside = inside_regions(pred, outlines)
        matched_inside = len(greedy_matches(iou_matrix(pred[inside], gt)))
        results.append(
            PageResult(
                xml.parent.name,
                len(gt),
                len(pred),
                len(matches),
                seconds,
                int(inside.sum()),
                matched_inside,
            )
        )
        if draw_dir is not None:
            draw_dir.mkdir(parents=True, exist_ok=True)
            draw(image, gt, pred, draw_dir / f"{xml.parent.name}_{xml.stem}.png", outlines)
    print("all predictions")
    print_table(results, inside=False)
    print()
    print("inside annotated regions (predicted lines centred outside every text region ignored)")
    print_table(results, inside=True)


def _counts(row: PageResult, inside: bool) -> tuple[int, int]:
    """(predicted, matched) of one page, counting all predictions or only those inside."""
    return (row.predicted_inside, row.matched_inside) if inside else (row.predicted, row.matched)


def _scores(rows: Sequence[PageResult], inside: bool) -> tuple[float, float, float]:
    gt = sum(r.gt for r in rows)
    predicted = sum(_counts(r, inside)[0] for r in rows)
    matched = sum(_counts(r, inside)[1] for r in rows)
    precision = matched / predicted if predicted else 0.0
    recall = matched / gt if gt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def print_table(results: Sequence[PageResult], inside: bool) -> None:
    groups: dict[str, list[PageResult]] = defaultdict(list)
    for result in results:
        groups[result.folder].append(result)
    header = f"{'manuscript':28s} {'pages':>5s} {'gt':>6s} {'pred':>6s} {'P':>6s} {'R':>6s}"
    header += f" {'F1':>6s} {'s/page':>7s}"
    print(header)
    print("-" * len(header))
    rows = [(name, groups[name]) for name in sorted(groups)] + [("TOTAL", list(results))]
    for name, group in rows:
        if name == "TOTAL":
            print("-" * len(header))
        p, r, f1 = _scores(group, inside)
        seconds = sum(g.seconds for g in group) / max(len(group), 1)
        predicted = sum(_counts(g, inside)[0] for g in group)
        print(
            f"{name:28s} {len(group):5d} {sum(g.gt for g in group):6d} "
            f"{predicted:6d} {p:6.3f} {r:6.3f} {f1:6.3f} {seconds:7.2f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="at most this many pages")
    parser.add_argument("--folder", default=None, help="only this manuscript folder")
    parser.add_argument(
        "--draw",
        type=Path,
        default=None,
        help="write overlays (PNG) here: regions green, truth red, predictions blue",
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data at {args.data}; nothing to measure")
        return 0
    run(args.data, args.limit, args.folder, args.draw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
