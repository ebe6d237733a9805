"""Teaching legajo an unseen hand: CER of the other pages before and after `legajo adapt`.

    python bench/adaptation.py [--manuscript DIR] [--pages 1 3 6] [--minutes 5 20]
                               [--eval-pages 3] [--work DIR] [--json FILE]

The manuscript (default: bnf-esp-229 of ``../shared/data/htromance-spain``, a validation
manuscript the bundled model was never trained on) is split in page order: its last
``--eval-pages`` pages are the *other* pages, indexed by the current model with their
ground-truth line polygons (``legajo index``, layout from the PAGE/ALTO file next to each
image); its first N pages are the *verified* pages, imported with their transcriptions
(``legajo import``). For every N and M, in a fresh home: ``legajo adapt --minutes M``,
``legajo reread``, then the CER of the other pages' stored lines against their ground truth,
before and after. The same other pages serve every N and M. Every step is the real command
line, run as a subprocess; the adapted model is activated whether or not it did better on
its held-back lines (``--activate``), so that the table shows what it reads.

It also checks what the loop must keep: page and line counts of the collection before and
after the reread, the verified lines of the imported pages untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "htromance-spain" / "data"
COLLECTION = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manuscript", type=Path, default=SHARED / "bnf-esp-229")
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 20.0])
    parser.add_argument("--eval-pages", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="keep the homes here")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()

    images = sorted(p for p in args.manuscript.glob("*.jpg") if _ground_truth(p) is not None)
    if not images:
        sys.exit(f"no page images with ground truth in {args.manuscript}")
    if max(args.pages) + args.eval_pages > len(images):
        sys.exit(
            f"{len(images)} pages: not enough for {max(args.pages)} verified pages "
            f"and {args.eval_pages} other pages"
        )
    work = args.work or Path(tempfile.mkdtemp(prefix="legajo-adaptation-"))
    other = _copy_pages(images[-args.eval_pages :], work / "other")
    truth = _truth(other)
    print(
        f"manuscript {args.manuscript.name}: {len(images)} pages; other pages "
        f"{', '.join(p.stem for p in images[-args.eval_pages :])} ({len(truth)} lines)",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    for pages in args.pages:
        verified = _copy_pages(images[:pages], work / f"verified-{pages}")
        for minutes in args.minutes:
            home = work / f"home-{pages}-{minutes:g}"
            shutil.rmtree(home, ignore_errors=True)
            row = _run(home, verified, other, truth, pages, minutes)
            rows.append(row)
            print(json.dumps(row), flush=True)
    _print_table(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


def _run(
    home: Path,
    verified: Path,
    other: Path,
    truth: dict[tuple[str, str], tuple[str, str | None]],
    pages: int,
    minutes: float,
) -> dict[str, Any]:
    """One loop in a fresh home: import, index, adapt, reread; CER before and after."""
    where = ["--collection", COLLECTION, "--home", str(home)]
    _legajo("import", str(verified), *where)
    _legajo("index", str(other), *where)
    counts_before = _counts(home)
    before = _cer(home, truth)
    started = time.monotonic()
    budget = ["--minutes", f"{minutes:g}"]
    adapted = json.loads(_legajo("adapt", *where, *budget, "--activate", "--json"))
    adapt_s = time.monotonic() - started
    reread = json.loads(_legajo("reread", *where, "--json"))
    after = _cer(home, truth)
    counts_after = _counts(home)
    return {
        "verified_pages": pages,
        "minutes": minutes,
        "train_lines": adapted["train_lines"],
        "held_back_lines": adapted["held_back_lines"],
        "held_cer_before": adapted["cer_before"],
        "held_cer_after": adapted["cer_after"],
        "adapt_wall_min": round(adapt_s / 60, 1),
        "cer_before": before["all"],
        "cer_after": after["all"],
        "cer_main_before": before["main"],
        "cer_main_after": after["main"],
        "reduction": round(1 - after["all"] / before["all"], 3) if before["all"] else None,
        "lines_changed": reread["lines_changed"],
        "lines_read": reread["lines_read"],
        "counts_unchanged": counts_before == counts_after,
        "verified_kept": before["verified"] == after["verified"],
    }


def _legajo(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "legajo", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"legajo {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _repository(home: Path) -> Any:
    from indexer.settings import sqlite_url
    from indexer.store.db import open_existing_database
    from indexer.store.repository import Repository

    return Repository(open_existing_database(sqlite_url(home / "legajo.db")))


def _counts(home: Path) -> tuple[int, int]:
    repository = _repository(home)
    try:
        pages = repository.pages(COLLECTION)
        return len(pages), sum(p.line_count for p in pages)
    finally:
        repository.database.close()


def _cer(home: Path, truth: dict[tuple[str, str], tuple[str, str | None]]) -> dict[str, Any]:
    """CER of the other pages' stored lines (all, main zone), and the verified texts."""
    from htr.metrics import corpus_cer
    from htr.training.config import MAIN_ZONE
    from indexer.transfer.transcriptions import IMPORT_MODEL

    repository = _repository(home)
    pairs: list[tuple[str, str, str | None]] = []
    verified: list[str] = []
    try:
        for page in repository.pages(COLLECTION):
            lines = repository.lines(page.id)
            if page.model == IMPORT_MODEL:
                verified += [s.line.text for s in lines]
                continue
            stem = Path(page.source_path).stem
            for stored in lines:
                reference = truth.get((stem, stored.line.id))
                if reference is not None and reference[0]:
                    pairs.append((reference[0], stored.line.text, reference[1]))
    finally:
        repository.database.close()
    main = [(r, h) for r, h, zone in pairs if zone == MAIN_ZONE]
    return {
        "all": round(corpus_cer([r for r, _, _ in pairs], [h for _, h, _ in pairs]), 4),
        "main": round(corpus_cer([r for r, _ in main], [h for _, h in main]), 4) if main else None,
        "verified": verified,
    }


def _truth(folder: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(page stem, line id) -> (ground-truth text, zone) of the pages in a folder."""
    from htr.layout.files import read_layout_file

    truth: dict[tuple[str, str], tuple[str, str | None]] = {}
    for xml in sorted(folder.glob("*.xml")):
        for line in read_layout_file(xml).lines:
            truth[(xml.stem, line.id)] = (line.text, line.zone)
    return truth


def _ground_truth(image: Path) -> Path | None:
    xml = image.with_suffix(".xml")
    return xml if xml.is_file() else None


def _copy_pages(images: list[Path], folder: Path) -> Path:
    """Copies page images with their ground truth (the diplomatic file, not the normalised)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for image in images:
        shutil.copy2(image, folder / image.name)
        xml = _ground_truth(image)
        assert xml is not None
        shutil.copy2(xml, folder / xml.name)
    return folder


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        "verified pages",
        "minutes",
        "lines trained",
        "held-back CER before → after",
        "other pages CER before → after",
        "main zone",
        "reduction",
    )
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        main = (
            f"{row['cer_main_before']:.3f} → {row['cer_main_after']:.3f}"
            if row["cer_main_before"] is not None
            else "-"
        )
        print(
            f"| {row['verified_pages']} | {row['minutes']:g} | {row['train_lines']} | "
            f"{row['held_cer_before']:.3f} → {row['held_cer_after']:.3f} | "
            f"{row['cer_before']:.3f} → {row['cer_after']:.3f} | {main} | "
            f"{row['reduction']:.0%} |"
        )


if __name__ == "__main__":
    main()
