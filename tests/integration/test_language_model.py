"""A checkpoint's character language model: read with it, without it, and `legajo lm`."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from htr.char_lm import LM_FILE, load_language_model
from htr.default_model import default_model_path
from htr.images import load_page_images
from htr.layout.files import read_layout_file
from htr.line_images import crop_line
from htr.metrics import corpus_cer
from htr.recognizer import RecognizerSettings, load_recognizer
from htr.training.language_model import build_language_model
from htr.trocr import load_checkpoint_files
from legajo.cli.main import main
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow  # the bundled model reads real lines several times

PAGE = SAMPLES / "bnf-esp-285_linaje_ayala_v2.jpg"
OTHER_PAGE = SAMPLES / "foral_de_estremoz_1_1258_11.jpg"


@pytest.fixture(scope="module")
def page_lines() -> tuple[list[Image.Image], list[str]]:
    """Twelve lines of the sample page and their transcriptions."""
    page = load_page_images(PAGE)[0].image
    lines = [line for line in read_layout_file(PAGE.with_suffix(".xml")).lines if line.text]
    chosen = lines[:: max(1, len(lines) // 12)][:12]
    return [crop_line(page, line) for line in chosen], [line.text or "" for line in chosen]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Copies of the bundled model: one without a language model, one with a 5-gram model
    of the sample page's own transcriptions."""
    root = tmp_path_factory.mktemp("checkpoints")
    plain, fused = root / "plain", root / "fused"
    shutil.copytree(default_model_path(), plain)
    (plain / LM_FILE).unlink(missing_ok=True)
    shutil.copytree(plain, fused)
    model, processor = load_checkpoint_files(fused)
    language_model = build_language_model(
        _page_texts(), model, processor.tokenizer, order=5, weight=0.6
    )
    language_model.save(fused)
    return plain, fused


def _page_texts() -> list[str]:
    """The sample page's transcriptions, as `ground_truth_texts` reads them (NFD)."""
    layout = read_layout_file(PAGE.with_suffix(".xml"))
    return [unicodedata.normalize("NFD", line.text).strip() for line in layout.lines if line.text]


def test_a_checkpoint_reads_with_its_language_model(
    checkpoints: tuple[Path, Path], page_lines: tuple[list[Image.Image], list[str]]
) -> None:
    plain, fused = checkpoints
    images, truth = page_lines
    settings = RecognizerSettings(beams=3, n_best=3)
    without = load_recognizer(plain, settings)
    with_lm = load_recognizer(fused, settings)
    assert without.processing_step().settings["language_model"] is None
    assert with_lm.processing_step().settings["language_model"] == "5-gram, weight 0.6"
    plain_texts = [r.text for r in without.recognize(images)]
    fused_texts = [r.text for r in with_lm.recognize(images)]
    # A model of these very lines pulls the readings towards them.
    assert corpus_cer(truth, fused_texts) < corpus_cer(truth, plain_texts)


def test_weight_zero_reads_as_a_checkpoint_without_one(
    checkpoints: tuple[Path, Path], page_lines: tuple[list[Image.Image], list[str]]
) -> None:
    plain, fused = checkpoints
    images = page_lines[0][:6]
    off = load_recognizer(fused, RecognizerSettings(beams=3, n_best=3, lm_weight=0))
    assert off.processing_step().settings["language_model"] is None
    expected = load_recognizer(plain, RecognizerSettings(beams=3, n_best=3)).recognize(images)
    found = off.recognize(images)
    assert [r.text for r in found] == [r.text for r in expected]
    assert [r.confidence for r in found] == pytest.approx([r.confidence for r in expected])


def test_another_weight_overrides_the_stored_one(checkpoints: tuple[Path, Path]) -> None:
    recognizer = load_recognizer(checkpoints[1], RecognizerSettings(lm_weight=0.25))
    assert recognizer.processing_step().settings["language_model"] == "5-gram, weight 0.25"


def test_a_broken_language_model_file_stops_loading_with_its_name(
    checkpoints: tuple[Path, Path], tmp_path: Path
) -> None:
    from htr.errors import LegajoError

    broken = tmp_path / "broken"
    shutil.copytree(checkpoints[1], broken)
    (broken / LM_FILE).write_text("{not json")
    with pytest.raises(LegajoError, match=str(broken / LM_FILE)):
        load_recognizer(broken, RecognizerSettings())
    # Reading without it does not need it.
    load_recognizer(broken, RecognizerSettings(lm_weight=0))


def _ground_truth(tmp_path: Path) -> tuple[Path, Path]:
    """Two manuscript folders, each with one sample page and its XML."""
    first, second = tmp_path / "gt" / "ayala", tmp_path / "gt" / "estremoz"
    for folder, page in ((first, PAGE), (second, OTHER_PAGE)):
        folder.mkdir(parents=True)
        for path in (page, page.with_suffix(".xml")):
            shutil.copy(path, folder / path.name)
    return first, second


def test_legajo_lm_counts_the_ground_truth_without_the_validation_folders(
    checkpoints: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _ground_truth(tmp_path)
    model = tmp_path / "model"
    shutil.copytree(checkpoints[0], model)
    options = ["--order", "3", "--weight", "0.2"]
    rc = main(
        ["lm", "--model", str(model), "--gt", str(first.parent), "--val", str(second), *options]
    )
    out = capsys.readouterr().out
    assert rc == 0
    lines = len(_page_texts())
    assert f"3-gram, weight 0.2, {lines} lines" in out
    language_model = load_language_model(model, 230)
    assert language_model is not None
    assert (language_model.order, language_model.weight, language_model.lines) == (3, 0.2, lines)
    # Without --val both pages count.
    assert main(["lm", "--model", str(model), "--gt", str(first.parent)]) == 0
    both = load_language_model(model, 230)
    assert both is not None and both.lines > lines


@pytest.mark.parametrize(
    ("arguments", "rc", "message"),
    [
        (["--gt", "{missing}"], 2, "not a folder"),
        ([], 2, "give --gt folders"),
        (["--gt", "{gt}", "--sources", "data/training/sources.toml"], 2, "--snapshots"),
    ],
)
def test_legajo_lm_usage_errors(
    checkpoints: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    rc: int,
    message: str,
) -> None:
    first, _ = _ground_truth(tmp_path)
    values = {"missing": str(tmp_path / "missing"), "gt": str(first)}
    filled = [a.format(**values) for a in arguments]
    assert main(["lm", "--model", str(checkpoints[0]), *filled]) == rc
    assert message in capsys.readouterr().err
    assert not (checkpoints[0] / LM_FILE).exists()


def test_legajo_lm_needs_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = _ground_truth(tmp_path)
    assert main(["lm", "--model", str(tmp_path), "--gt", str(first)]) == 1
    assert "not a model directory" in capsys.readouterr().err
    assert not (tmp_path / LM_FILE).exists()


def test_greedy_reading_does_not_claim_the_language_model(checkpoints: tuple[Path, Path]) -> None:
    """Only beam search fuses it, so a greedy recognizer neither uses nor records it."""
    greedy = load_recognizer(checkpoints[1], RecognizerSettings(beams=1, n_best=1))
    assert greedy.processing_step().settings["language_model"] is None
