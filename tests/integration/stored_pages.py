"""Pages of given lines stored in a test database, and a runner of legajo commands.

Shared by the index tests (`test_reindex_check.py`, `test_index_shards.py`): each line gets
word boxes and a second reading with one letter swapped, so that searches over alternative
readings have something to find.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from indexer.store.repository import ModelKey, Repository, SourceFile
from legajo.cli.main import build_parser, run_command_line

STEP = ProcessingStep("recognition", "legajo 0.1.0", model_id="m", model_revision="r1")
LINE_PITCH = 50
"""Pixels from one line's top to the next."""

LegajoRunner = Callable[..., tuple[int, str, str]]
"""Runs a legajo command line; returns (exit code, stdout, stderr)."""


def text_page(name: str, texts: list[str], swap: tuple[str, str]) -> tuple[SourceFile, Page]:
    """A recognised page of `texts`, one line each, 400 px wide.

    Args:
        name: The page image's name (its source file is named after it).
        texts: The lines' text.
        swap: (letter, replacement) that makes each line's second reading.
    """
    lines = []
    for number, text in enumerate(texts):
        top = number * LINE_PITCH
        lines.append(
            Line(
                id=f"l{number}",
                bbox=(0, top, 400, top + 40),
                polygon=((0, top), (399, top), (399, top + 39)),
                baseline=((0, top + 30), (399, top + 30)),
                text=text,
                confidence=0.9,
                words=tuple(
                    Word(w, 0.9, (12 * i, top, 12 * i + 10, top + 40))
                    for i, w in enumerate(text.split())
                ),
                alternatives=(Alternative(text, 0.7), Alternative(text.replace(*swap), 0.3)),
            )
        )
    height = LINE_PITCH * (len(texts) + 1)
    page = Page(image=name, frame=0, width=400, height=height, lines=tuple(lines), steps=(STEP,))
    return SourceFile(name, hashlib.sha256(name.encode()).hexdigest(), 100), page


def store_texts(
    repository: Repository, name: str, texts: list[str], swap: tuple[str, str] = ("u", "v")
) -> None:
    """Stores a page of `texts` (`text_page`) in the collection "legajo 1"."""
    source, page = text_page(name, texts, swap)
    collection = repository.ensure_collection("legajo 1")
    repository.store_page(collection, None, source, page, ModelKey.of(STEP))


def legajo_runner(home: Path, capsys: pytest.CaptureFixture[str]) -> LegajoRunner:
    """A runner of legajo commands on the data folder `home`, output captured."""
    parser: argparse.ArgumentParser = build_parser()

    def run(*argv: str) -> tuple[int, str, str]:
        code = run_command_line(parser, [*argv, "--home", str(home)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
