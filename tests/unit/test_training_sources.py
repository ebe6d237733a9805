"""The sources file of the training data: reading, checks, finding the copies, the model card."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from htr.training.config import LineModelShape, TrainConfig
from htr.training.data import gt_lines
from htr.training.sources import SourcesError, load_sources, locate_sources
from htr.training.trainer import train

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "data" / "training" / "sources.toml"
SAMPLES = REPO / "data" / "samples"

HEADER = """schema = 1
licences = ["CC BY 4.0"]
never = ["Kept/evaluation"]
"""


def _source(repository: str = "Owner/pages", **extra: str) -> str:
    fields = {
        "name": repository.split("/")[-1],
        "repository": repository,
        "commit": "0" * 40,
        "licence": "CC BY 4.0",
        "licence_file": "LICENSE",
        **extra,
    }
    body = "\n".join(f"{key} = {value!r}".replace("'", '"') for key, value in fields.items())
    return f'\n[[source]]\n{body}\nfolders = ["data"]\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_models_sources_are_allowed_and_hold_out_the_validation_manuscripts() -> None:
    sources = load_sources(SOURCES)
    repositories = {s.repository for s in sources.sources}
    assert "HTRogene/spanish" not in repositories
    spain = [s for s in sources.sources if s.repository == "HTRomance-Project/middle-ages-in-spain"]
    # only through the split of ../shared/data, whose validation manuscripts stay held out
    assert [s.local for s in spain] == ["htromance-spain"]
    assert spain[0].validation == ("data/bnf-esp-229", "data/bnf-esp-368")
    assert all(s.commit and len(s.commit) == 40 for s in sources.sources if s.local is None)
    assert all(s.lines and s.pages for s in sources.sources)
    assert {r for r, _ in sources.skipped} >= {"HTRogene/french"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + _source(licence="CC BY-NC 4.0"), "not among the allowed licences"),
        (HEADER + _source("Kept/evaluation"), "kept for independent evaluation"),
        (HEADER + _source() + _source(), "used twice"),
        (HEADER, "no [[source]]"),
        ("schema = 2\n" + _source(), "schema must be 1"),
        (HEADER + _source("nopath"), "not OWNER/NAME"),
        (HEADER + _source().replace('["data"]', '["../outside"]'), "stay inside"),
        (HEADER + "[[source]]\nname = 'x'\n", "lacks or misstates"),
        ("schema = = 1", "not valid TOML"),
    ],
)
def test_a_bad_sources_file_is_refused_with_its_name(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SourcesError, match=r"sources\.toml") as error:
        load_sources(path)
    assert message in str(error.value)


def test_copies_are_found_by_owner_and_name_or_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + _source("Owner/pages") + _source("Other/lines"))
    first, second = tmp_path / "snapshots", tmp_path / "clones"
    (first / "Owner+pages" / "data").mkdir(parents=True)
    (second / "lines" / "data").mkdir(parents=True)
    located = locate_sources(load_sources(path), [first, second])
    assert [s.root for s in located] == [first / "Owner+pages", second / "lines"]
    assert located[1].train == (second / "lines" / "data",)

    shutil.rmtree(second / "lines")
    with pytest.raises(SourcesError, match="Other/lines") as error:
        locate_sources(load_sources(path), [first, second])
    assert "Owner/pages" not in str(error.value)


def test_a_local_split_is_never_taken_from_a_copy_of_the_whole_repository(tmp_path: Path) -> None:
    text = HEADER + _source("Owner/pages", local="pages-split").replace(
        'folders = ["data"]', 'folders = ["data"]\nvalidation = ["data/held"]'
    )
    path = _write(tmp_path, text)
    (tmp_path / "Owner+pages" / "data" / "held").mkdir(parents=True)
    with pytest.raises(SourcesError, match="not found"):
        locate_sources(load_sources(path), [tmp_path])
    (tmp_path / "pages-split" / "data" / "held").mkdir(parents=True)
    (located,) = locate_sources(load_sources(path), [tmp_path])
    assert located.validation == (tmp_path / "pages-split" / "data" / "held",)


def test_a_clone_at_another_commit_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clone = tmp_path / "pages"
    (clone / "data").mkdir(parents=True)
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (clone / "data" / "a.txt").write_text("a")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    path = _write(tmp_path, HEADER + _source("Owner/pages"))
    with caplog.at_level(logging.WARNING, logger="htr.training.sources"):
        locate_sources(load_sources(path), [tmp_path])
    assert "the sources file lists 000000000000" in caplog.text


def test_a_run_from_a_sources_file_trains_on_its_folders_and_credits_them(tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    for name, stem in (("Owner+pages", "bnf-esp-285_linaje_ayala_v2"), ("iforal", "foral_de")):
        folder = snapshots / name / "data" / "ms"
        folder.mkdir(parents=True)
        for file in SAMPLES.glob(f"{stem}*"):
            shutil.copy(file, folder)
    text = HEADER + _source("Owner/pages") + _source("Arch-W/iforal", licence_file="iforal.yml")
    located = locate_sources(load_sources(_write(tmp_path, text)), [snapshots])
    config = TrainConfig(
        out=tmp_path / "model",
        gt=tuple(folder for source in located for folder in source.train),
        val=(snapshots / "iforal" / "data",),
        sources=tuple(located),
        oversample=((snapshots / "Owner+pages" / "data", 3),),
        steps=2,
        batch_size=2,
        shape=LineModelShape(
            image_height=16, hidden_size=32, encoder_layers=1, decoder_layers=1, heads=2
        ),
        cache_dir=tmp_path / "cache",
        val_lines=4,
        threads=1,
    )
    card = (train(config) / "README.md").read_text(encoding="utf-8")
    row = next(line for line in card.splitlines() if line.startswith("| pages |"))
    trained, held = (int(cell) for cell in row.strip("| ").split(" | ")[-2:])
    # Oversampled lines are drawn three times but counted once.
    lines = gt_lines([snapshots / "Owner+pages"], tmp_path / "cache", height=16)
    assert trained == len(lines) > 20 and held == 0
    assert f"- {trained} ground-truth lines" in card
    assert "- Oversampled: training lines under `" in card and "drawn 3 times" in card
    row = next(line for line in card.splitlines() if line.startswith("| iforal |"))
    trained, held = (int(cell) for cell in row.strip("| ").split(" | ")[-2:])
    assert trained == 0 and held > 10
    assert "- Arch-W/iforal: CC BY 4.0 (stated in its `iforal.yml`)" in card
    assert '  - "Owner/pages"' in card.split("---\n")[1]
