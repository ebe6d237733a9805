"""A batch of real pages with bad and odd files, `legajo index` killed three times, then rerun.

The batch is built in a temporary folder:

- ``--pages`` real page images: bands of ``--lines-per-page`` consecutive lines cut from the
  manuscripts in ``../shared/data`` and ``data/samples`` (their PAGE/ALTO line polygons are
  moved into a PAGE XML written beside each band), so that every page is real handwriting,
  read along a real layout, and quick to recognise;
- one file of each bad or odd kind: a corrupt JPEG, a truncated PNG, an empty file, a text
  file named ``.jpg``, a dangling symlink, an HTML file named ``.xml`` beside an image, a
  billion-laughs PAGE XML beside an image, a PAGE XML naming another image beside an image,
  a 72-dpi PDF written by Pillow, and a two-page TIFF; and, for ``legajo import``, a PAGE
  file whose ``imageFilename`` points outside its folder (at an image that exists there).

`legajo index` (the real command, a subprocess, bundled model, beam 1) is killed with SIGKILL
three times, each time a random 0 to ``--kill-spread`` seconds after that run stored its
first page, and is then run again until it finishes. The database then says which pages
are stored, once or more; ``legajo errors`` and the runs' stderr say which files were named.
Finally the batch is indexed twice more into fresh databases, alone and beside a CPU-bound
process (a ``while True: pass`` loop), for the time per page.

- pages expected: the frames of every readable image (real bands, the TIFF's two frames, the
  PDF's page, the images beside bad XML files);
- lost: an expected page neither stored nor named as failed; duplicated: a file and frame, or
  a content hash and frame, stored more than once. Both must be 0 (exit code 1 otherwise);
- bad files named: the unreadable files (corrupt, truncated, empty, text, dangling link)
  whose name appears in ``legajo errors`` or on stderr.

    .venv/bin/python bench/robustness.py                   # 190 pages + 11 bad or odd (5 %)
    .venv/bin/python bench/robustness.py --pages 30 --seed 7
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from htr.document import Line  # noqa: E402
from htr.layout.files import read_layout_file  # noqa: E402
from indexer.settings import sqlite_url  # noqa: E402
from indexer.store.db import open_database  # noqa: E402
from indexer.store.repository import Repository  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SAMPLES = REPO / "data" / "samples"
INDEXED = re.compile(r"indexed (\d+) pages")
SECONDS = re.compile(r" in ([\d.]+) s")
FILES = re.compile(r"(\d+) files")
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
COLLECTION = "bench"


@dataclass
class Item:
    """A file of the batch and what is expected of it."""

    path: Path
    kind: str
    expected_frames: int
    """Frames that are readable page images and should end up stored or named."""
    bad: bool = False
    """An unreadable file, which must be named."""
    also_named_by: tuple[Path, ...] = ()
    """Other files whose name in a message counts for this one (its layout file)."""


@dataclass
class Runs:
    """What the `legajo index` runs of one database printed."""

    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    kills: list[tuple[float, int]] = field(default_factory=list)
    """(seconds into the run, pages the run had stored) for each SIGKILL."""
    finished_early: int = 0


# -- the batch ---------------------------------------------------------------------------------


def layout_sources() -> list[tuple[Path, Path]]:
    """(image, PAGE or ALTO file) of every real page at hand."""
    pairs = []
    for folder in (SHARED / "htromance-spain" / "data", SHARED / "iforal-sample" / "data", SAMPLES):
        if not folder.is_dir():
            continue
        for image in sorted(folder.rglob("*.jpg")):
            xml = image.with_suffix(".xml")
            if xml.is_file():
                pairs.append((image, xml))
    if not pairs:
        raise SystemExit("no page with a layout file in ../shared/data or data/samples")
    return pairs


def page_xml(name: str, width: int, height: int, lines: list[Line], entities: str = "") -> str:
    """A PAGE XML 2019 file with these lines (polygons and baselines, no text)."""
    body = []
    for number, line in enumerate(lines, 1):
        coords = " ".join(f"{x},{y}" for x, y in line.polygon)
        baseline = " ".join(f"{x},{y}" for x, y in line.baseline)
        text = "<TextEquiv><Unicode>&lol9;</Unicode></TextEquiv>" if entities else ""
        body.append(
            f'<TextLine id="l{number}"><Coords points="{coords}"/>'
            + (f'<Baseline points="{baseline}"/>' if len(line.baseline) > 1 else "")
            + f"{text}</TextLine>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{entities}'
        f'<PcGts xmlns="{PAGE_NS}"><Metadata><Creator>legajo bench</Creator>'
        "<Created>2024-01-01T00:00:00</Created><LastChange>2024-01-01T00:00:00</LastChange>"
        f'</Metadata><Page imageFilename="{name}" imageWidth="{width}" imageHeight="{height}">'
        f'<TextRegion id="r1"><Coords points="0,0 {width - 1},0 {width - 1},{height - 1} '
        f'0,{height - 1}"/>{"".join(body)}</TextRegion></Page></PcGts>\n'
    )


def moved(
    line: Line, scale: float, left: int, top: int, ratio: float, size: tuple[int, int]
) -> Line:
    """The line in the band's pixels: scaled to the decoded image, cropped, resized."""

    def point(x: float, y: float) -> tuple[int, int]:
        bx = round((x * scale - left) * ratio)
        by = round((y * scale - top) * ratio)
        return min(max(bx, 0), size[0] - 1), min(max(by, 0), size[1] - 1)

    polygon = tuple(point(x, y) for x, y in line.polygon)
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return Line(
        id=line.id,
        bbox=(min(xs), min(ys), max(xs) + 1, max(ys) + 1),
        polygon=polygon,
        baseline=tuple(point(x, y) for x, y in line.baseline),
    )


def real_bands(count: int, per_page: int, max_width: int) -> list[tuple[Image.Image, list[Line]]]:
    """`count` bands of `per_page` consecutive lines, from as many pages as possible."""
    sources = layout_sources()
    bands: list[tuple[Image.Image, list[Line]]] = []
    per_source = -(-count // len(sources))
    for image_path, xml_path in sources:
        if len(bands) >= count:
            break
        try:
            lines = [line for line in read_layout_file(xml_path).lines if len(line.polygon) > 2]
        except Exception as error:  # a source that cannot be used is skipped
            print(f"(skipping {xml_path}: {error})", file=sys.stderr)
            continue
        if len(lines) < per_page:
            continue
        page = Image.open(image_path)
        original = page.size
        page.draft("RGB", (original[0] // 2, original[1] // 2))  # JPEG: decode at half size
        page = page.convert("RGB")
        scale = page.width / original[0]
        starts = range(0, len(lines) - per_page + 1, per_page)
        for start in list(starts)[:per_source]:
            chosen = lines[start : start + per_page]
            x0 = max(0, int(min(line.bbox[0] for line in chosen) * scale) - 8)
            y0 = max(0, int(min(line.bbox[1] for line in chosen) * scale) - 8)
            x1 = min(page.width, int(max(line.bbox[2] for line in chosen) * scale) + 8)
            y1 = min(page.height, int(max(line.bbox[3] for line in chosen) * scale) + 8)
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            band = page.crop((x0, y0, x1, y1))
            ratio = min(1.0, max_width / band.width)
            if ratio < 1.0:
                band = band.resize(
                    (max(1, round(band.width * ratio)), max(1, round(band.height * ratio)))
                )
            band_lines = [moved(line, scale, x0, y0, ratio, band.size) for line in chosen]
            bands.append((band, band_lines))
    while len(bands) < count:  # few sources: the same bands again, one pixel changed
        image, lines = bands[len(bands) % max(1, len(bands))]
        copy = image.copy()
        copy.putpixel((0, 0), (len(bands) % 256, 3, 5))
        bands.append((copy, lines))
    return bands[:count]


def build_batch(root: Path, pages: int, per_page: int, max_width: int) -> tuple[list[Item], Path]:
    """Writes the batch under ``root/batch`` and the import folder; returns items and it."""
    batch = root / "batch"
    batch.mkdir(parents=True)
    bands = real_bands(pages + 6, per_page, max_width)
    items: list[Item] = []
    for number, (image, lines) in enumerate(bands[:pages]):
        name = f"page_{number:04d}.jpg"
        image.save(batch / name, quality=90)
        (batch / f"page_{number:04d}.xml").write_text(
            page_xml(name, image.width, image.height, lines), encoding="utf-8"
        )
        items.append(Item(batch / name, "real page", 1))
    spare = iter(bands[pages:])
    odd = batch / f"page_{pages // 2:04d}_odd"  # sorts mid-batch
    odd.mkdir()

    # Unreadable files.
    jpeg = io.BytesIO()
    next(spare)[0].save(jpeg, "JPEG", quality=90)
    data = bytearray(jpeg.getvalue())
    noise = random.Random(0).randbytes(len(data) - 600)
    (odd / "corrupt.jpg").write_bytes(bytes(data[:600]) + noise)
    items.append(Item(odd / "corrupt.jpg", "corrupt JPEG", 0, bad=True))
    png = io.BytesIO()
    next(spare)[0].save(png, "PNG")
    (odd / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    items.append(Item(odd / "truncated.png", "truncated PNG", 0, bad=True))
    (odd / "empty.jpg").write_bytes(b"")
    items.append(Item(odd / "empty.jpg", "empty file", 0, bad=True))
    (odd / "notes.jpg").write_text("not an image, just notes\n", encoding="utf-8")
    items.append(Item(odd / "notes.jpg", "text file named .jpg", 0, bad=True))
    (odd / "dangling.jpg").symlink_to(odd / "no-such-scan.jpg")
    items.append(Item(odd / "dangling.jpg", "dangling symlink", 0, bad=True))

    # Readable images beside layout files that are not what they seem.
    image, lines = next(spare)
    image.save(odd / "beside_html.jpg", quality=90)
    html = "<!DOCTYPE html><html><head><title>Scan</title></head><body>404</body></html>\n"
    (odd / "beside_html.xml").write_text(html, encoding="utf-8")
    items.append(
        Item(
            odd / "beside_html.jpg",
            "HTML named .xml beside an image",
            1,
            False,
            (odd / "beside_html.xml",),
        )
    )
    image, lines = next(spare)
    image.save(odd / "beside_laughs.jpg", quality=90)
    laughs = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    entities = f'<!DOCTYPE PcGts [<!ENTITY lol0 "lol">{laughs}]>\n'
    (odd / "beside_laughs.xml").write_text(
        page_xml("beside_laughs.jpg", image.width, image.height, lines, entities), encoding="utf-8"
    )
    items.append(
        Item(
            odd / "beside_laughs.jpg",
            "billion-laughs PAGE beside an image",
            1,
            False,
            (odd / "beside_laughs.xml",),
        )
    )
    image, _ = next(spare)
    other, other_lines = next(spare)
    image.save(odd / "beside_other.jpg", quality=90)
    (odd / "beside_other.xml").write_text(
        page_xml("page_9999.jpg", other.width, other.height, other_lines), encoding="utf-8"
    )
    items.append(
        Item(
            odd / "beside_other.jpg",
            "PAGE naming another image",
            1,
            False,
            (odd / "beside_other.xml",),
        )
    )

    # Odd but readable: a PDF of 72 dpi from Pillow, a TIFF of two pages.
    first, second = bands[0][0], bands[1 % len(bands)][0]
    first.save(odd / "pillow_72dpi.pdf", resolution=72)
    items.append(Item(odd / "pillow_72dpi.pdf", "72-dpi PDF from Pillow", 1))
    first.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        odd / "two_pages.tif", save_all=True, append_images=[second.rotate(180)]
    )
    items.append(Item(odd / "two_pages.tif", "two-page TIFF", 2))

    # For `legajo import`: a PAGE file whose image is outside its folder (and exists there).
    outside = root / "outside"
    outside.mkdir()
    image, lines = bands[2 % len(bands)]
    image.save(outside / "secret.jpg", quality=90)
    imports = root / "import"
    imports.mkdir()
    xml = page_xml("../outside/secret.jpg", image.width, image.height, lines)
    xml = xml.replace("</TextLine>", "<TextEquiv><Unicode>texto</Unicode></TextEquiv></TextLine>")
    (imports / "escape.xml").write_text(xml, encoding="utf-8")
    return items, imports


# -- running legajo ----------------------------------------------------------------------------


def legajo(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "legajo", *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}


def stored_rows(database: Path) -> int:
    """Rows of the pages table so far (0 before the database exists)."""
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
        try:
            return int(connection.execute("SELECT count(*) FROM pages").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def index_command(batch: Path, home: Path, beams: int) -> list[str]:
    return legajo(
        "index", str(batch), "--home", str(home), "--collection", COLLECTION,
        "--beams", str(beams), "--n-best", "1",
    )  # fmt: skip


def killed_runs(
    batch: Path, home: Path, beams: int, kills: int, spread: float, rng: random.Random
) -> Runs:
    """Runs `legajo index`, SIGKILLs it `kills` times, then lets a last run finish."""
    runs = Runs()
    database = home / "legajo.db"
    for attempt in range(kills + 1):
        last = attempt == kills
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            started = time.monotonic()
            before = stored_rows(database)
            process = subprocess.Popen(
                index_command(batch, home, beams),
                cwd=REPO,
                env=environment(),
                stdout=out,
                stderr=err,
            )
            if not last:
                while process.poll() is None and stored_rows(database) <= before:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, spread))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    runs.kills.append((time.monotonic() - started, stored_rows(database) - before))
                else:
                    runs.finished_early += 1
            process.wait()
            out.seek(0)
            err.seek(0)
            runs.stdout.append(out.read())
            runs.stderr.append(err.read())
    return runs


def timed_run(batch: Path, home: Path, beams: int, busy: bool) -> tuple[int, float, float]:
    """One full `legajo index`; returns (pages indexed, index seconds, wall seconds)."""
    spinner = None
    if busy:
        spinner = subprocess.Popen(
            [sys.executable, "-c", "while True: pass"], start_new_session=True
        )
        time.sleep(1.0)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            index_command(batch, home, beams),
            cwd=REPO,
            env=environment(),
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
    finally:
        if spinner is not None:
            spinner.send_signal(signal.SIGKILL)
            spinner.wait()
    text = done.stdout + done.stderr
    indexed = INDEXED.search(text)
    seconds = SECONDS.search(text)
    return (
        int(indexed[1]) if indexed else 0,
        float(seconds[1]) if seconds else wall,
        wall,
    )


# -- counting ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of the batch."""

    stored: dict[tuple[str, int], int]
    by_content: dict[tuple[str, int, str], int]
    failed: dict[str, str]
    named_text: str


def outcome(home: Path, runs: Runs) -> Outcome:
    database = open_database(sqlite_url(home / "legajo.db"))
    try:
        repository = Repository(database)
        pages = [p for p in repository.pages(COLLECTION) if p.status == "indexed"]
        failures = repository.failures(COLLECTION)
    finally:
        database.close()
    errors = subprocess.run(
        legajo("errors", "--home", str(home), "--collection", COLLECTION),
        cwd=REPO, env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    stored = collections.Counter((p.source_path, p.frame) for p in pages)
    by_content = collections.Counter((p.sha256, p.frame, str(p.model)) for p in pages)
    failed = {f.source_path: f"{f.kind}: {f.reason}" for f in failures}
    return Outcome(dict(stored), dict(by_content), failed, errors.stdout + "\n".join(runs.stderr))


def describe(item: Item, result: Outcome) -> tuple[int, str, bool]:
    """(pages stored, what happened, named) for one file of the batch."""
    keys = {str(item.path), str(item.path.resolve()), str(item.path.absolute())}
    stored = sum(n for (path, _), n in result.stored.items() if path in keys)
    names = [item.path.name, *(p.name for p in item.also_named_by)]
    reason = next((r for path, r in result.failed.items() if path in keys), None)
    named = reason is not None or any(name in result.named_text for name in names)
    if reason is None and named:
        line = next(
            (line for line in result.named_text.splitlines() if any(n in line for n in names)), ""
        )
        reason = line.strip()
    if stored and reason:
        what = f"stored {stored}; named: {reason}"
    elif stored:
        what = f"stored {stored}"
    elif reason:
        what = f"named: {reason}"
    else:
        what = "nothing: neither stored nor named"
    return stored, what, named


def run_import(imports: Path, home: Path, root: Path) -> str:
    """`legajo import` of the file whose image is outside its folder; what it did."""
    done = subprocess.run(
        legajo("import", str(imports), "--home", str(home), "--collection", "imported"),
        cwd=REPO, env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    database = open_database(sqlite_url(home / "legajo.db"))
    try:
        pages = Repository(database).pages("imported")
    finally:
        database.close()
    outside = root / "outside"
    attached = [p for p in pages if Path(p.source_path).resolve().is_relative_to(outside.resolve())]
    said = " | ".join(line.strip() for line in done.stderr.splitlines() if "escape" in line)
    summary = next(
        (line for line in (done.stdout + done.stderr).splitlines() if "imported" in line), ""
    )
    verdict = "image OUTSIDE the folder attached" if attached else "no outside image attached"
    return f"exit {done.returncode}; {len(pages)} page(s), {verdict}; {said or summary}"


def short(message: str, root: Path, width: int = 160) -> str:
    """A message without the temporary folder's path, cut to `width` characters."""
    message = message.replace(f"{root}/", "").replace(str(root), ".")
    return message if len(message) <= width else message[: width - 1] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=190, help="real pages (default 190)")
    parser.add_argument("--lines-per-page", type=int, default=3, help="lines per page (default 3)")
    parser.add_argument("--max-width", type=int, default=1000, help="page width cap in px")
    parser.add_argument("--beams", type=int, default=1, help="beam width (default 1)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs (default 3)")
    parser.add_argument(
        "--kill-spread", type=float, default=3.0, help="max s after a run's first page (default 3)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the kill moments")
    parser.add_argument("--no-timing", action="store_true", help="skip the two timed runs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="legajo-robustness-") as tmp:
        root = Path(tmp)
        items, imports = build_batch(root, args.pages, args.lines_per_page, args.max_width)
        batch = root / "batch"
        odd = [item for item in items if item.kind != "real page"]
        share = 100 * (len(odd) + 1) / (len(items) + 1)  # + the import file
        print(
            f"batch: {args.pages} real pages ({args.lines_per_page} lines each, from "
            f"{'../shared/data and ' if SHARED.is_dir() else ''}data/samples) + {len(odd)} bad "
            f"or odd files + 1 import file ({share:.1f} %); bundled model, beam {args.beams}; "
            f"{cpus} CPUs, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        home = root / "home"
        runs = killed_runs(batch, home, args.beams, args.kills, args.kill_spread, rng)
        result = outcome(home, runs)
        final = runs.stdout[-1] + runs.stderr[-1]
        files_tried = FILES.search(final)
        rows = [(item, *describe(item, result)) for item in items]
        expected = sum(item.expected_frames for item in items)
        lost = sum(
            max(0, item.expected_frames - stored)
            for item, stored, _, named in rows
            if not named and item.expected_frames
        )
        stored_pages = sum(result.stored.values())
        duplicated = sum(n - 1 for n in result.stored.values() if n > 1) + sum(
            n - 1 for n in result.by_content.values() if n > 1
        )
        real_failed = sum(
            1 for item, stored, _, _ in rows if item.kind == "real page" and not stored
        )
        named_failed = sum(
            max(0, item.expected_frames - stored) for item, stored, _, named in rows if named
        )
        bad = [row for row in rows if row[0].bad]
        named_bad = sum(1 for row in bad if row[3])
        moments = ", ".join(f"{s:.1f} s ({n} stored)" for s, n in runs.kills)

        print(f"kills: {len(runs.kills)} SIGKILL at {moments or '-'}; ", end="")
        print(f"{runs.finished_early} run(s) finished before their kill; {len(runs.stdout)} runs")
        print()
        print(f"{'files tried':<32}{files_tried[1] if files_tried else '?':>8}")
        print(f"{'pages expected':<32}{expected:>8}")
        print(f"{'pages stored':<32}{stored_pages:>8}")
        print(f"{'expected pages failed, named':<32}{named_failed:>8}")
        print(f"{'real pages not stored':<32}{real_failed:>8}")
        print(f"{'bad files named':<32}{f'{named_bad} of {len(bad)}':>8}")
        print(f"{'lost':<32}{lost:>8}")
        print(f"{'duplicated':<32}{duplicated:>8}")
        if not args.no_timing:
            for label, busy in (("alone", False), ("with a busy process", True)):
                pages, seconds, wall = timed_run(
                    batch, root / f"home-{label[:5]}", args.beams, busy
                )
                per_page = (
                    f"{wall / max(1, pages):.2f} s wall, {seconds / max(1, pages):.2f} s index"
                )
                print(f"{'time/page ' + label:<32}{per_page}  ({pages} pages)", flush=True)
        print()
        print(f"{'bad or odd file':<22} {'kind':<36} outcome")
        for item, _, what, _ in [row for row in rows if row[0].kind != "real page"]:
            print(f"{item.path.name:<22} {item.kind:<36} {short(what, root)}")
        imported = run_import(imports, root / "home-import", root)
        kind = "PAGE imageFilename outside folder"
        print(f"{'import/escape.xml':<22} {kind:<36} {short(imported, root, 400)}")
    return 1 if lost or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
