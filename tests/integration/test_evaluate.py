"""`htr.evaluate` and `legajo eval` on synthesised ground truth read by the memorised model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from PIL import Image

from htr.calibration import CALIBRATION_FILE, load_calibration
from htr.evaluate import evaluate, find_ground_truth_pages, is_main_zone
from htr.evaluation_report import EvaluationError, EvaluationReport
from htr.recognizer import Recognizer, RecognizerSettings, load_recognizer
from htr.reliability_diagram import save_reliability_diagram
from tests.conftest import MEMORISED_TEXTS, render_line

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"

Region = tuple[str, Sequence[tuple[str, str]]]
"""A region type and its lines as (ground truth, text rendered on the page)."""


def write_page(folder: Path, name: str, regions: Sequence[Region]) -> Path:
    """Renders lines onto a page image and writes its PAGE 2019 XML; returns the image."""
    folder.mkdir(parents=True, exist_ok=True)
    rendered = [(zone, gt, render_line(text)) for zone, lines in regions for gt, text in lines]
    width = max(im.width for _, _, im in rendered) + 60
    height = 30 + 60 * len(rendered)
    page = Image.new("RGB", (width, height), "white")
    xml_regions: dict[int, list[str]] = {}
    y = 20
    line_number = 0
    for region_number, (_, lines) in enumerate(regions):
        for gt, _ in lines:
            image = rendered[line_number][2]
            line_number += 1
            x0, y0 = 30, y
            x1, y1 = x0 + image.width - 1, y0 + image.height - 1
            page.paste(image, (x0, y0))
            points = f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"
            xml_regions.setdefault(region_number, []).append(
                f'<TextLine id="l{line_number}"><Coords points="{points}"/>'
                f"<TextEquiv><Unicode>{escape(gt)}</Unicode></TextEquiv></TextLine>"
            )
            y += 60
    body = "".join(
        f'<TextRegion id="r{k}" custom="structure {{type:{regions[k][0]};}}">'
        f'<Coords points="0,0 {width - 1},0 {width - 1},{height - 1} 0,{height - 1}"/>'
        + "".join(lines)
        + "</TextRegion>"
        for k, lines in xml_regions.items()
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{PAGE_NS}"><Metadata>'
        "<Creator>test</Creator><Created>2024-01-01T00:00:00</Created>"
        "<LastChange>2024-01-01T00:00:00</LastChange></Metadata>"
        f'<Page imageFilename="{name}.png" imageWidth="{width}" imageHeight="{height}">'
        f"{body}</Page></PcGts>"
    )
    (folder / f"{name}.xml").write_text(xml, encoding="utf-8")
    image_path = folder / f"{name}.png"
    page.save(image_path)
    return image_path


def exact_page(folder: Path, name: str = "p1") -> Path:
    return write_page(folder, name, [("MainZone", [(t, t) for t in MEMORISED_TEXTS])])


def changed_page(folder: Path) -> Path:
    """Ground truth that differs from what is written: "dioz" (1 edit) and "Amen" (1 edit,
    none once normalised), the "Amen" line in the margin, and one empty ground-truth line."""
    return write_page(
        folder,
        "changed",
        [
            (
                "MainZone",
                [
                    ("en el nonbre de dioz", "en el nonbre de dios"),
                    ("sepan quantos esta carta", "sepan quantos esta carta"),
                    ("", "amen"),
                ],
            ),
            ("MarginTextZone", [("Amen", "amen")]),
        ],
    )


@pytest.fixture(scope="module")
def recognizer(memorised_checkpoint: Path) -> Recognizer:
    return load_recognizer(memorised_checkpoint, RecognizerSettings(beams=1, n_best=1))


def test_memorised_lines_have_no_errors(tmp_path: Path, recognizer: Recognizer) -> None:
    exact_page(tmp_path / "gt" / "ms")
    calls: list[tuple[int, int]] = []
    report = evaluate(
        recognizer, [tmp_path / "gt"], progress=lambda done, total, _: calls.append((done, total))
    )
    assert calls == [(1, 1)]
    assert report.pages == 1 and not report.pages_failed
    assert [line.hypothesis for line in report.lines] == list(MEMORISED_TEXTS)
    for scores in (report.all, report.main):
        assert scores.lines == 3
        assert scores.reference_chars == sum(len(t) for t in MEMORISED_TEXTS)
        assert (scores.cer, scores.wer, scores.normalised_cer) == (0.0, 0.0, 0.0)
    assert [f.folder for f in report.folders] == ["gt/ms"]
    confidence = report.confidence
    assert confidence.words == 10 and confidence.accuracy == 1.0
    assert all(w.correct for w in report.word_outcomes)
    mean = sum(w.confidence for w in report.word_outcomes) / 10
    assert confidence.ece == pytest.approx(1.0 - mean)  # all right: the gap is 1 - confidence
    assert sum(b.count for b in confidence.reliability) == 10
    assert report.lines_per_second is not None and report.lines_per_second > 0
    assert report.seconds >= report.recognition_seconds > 0
    json.dumps(report.to_dict())


def test_exact_cer_for_changed_ground_truth(tmp_path: Path, recognizer: Recognizer) -> None:
    changed_page(tmp_path / "gt" / "a")
    exact_page(tmp_path / "gt" / "b")
    report = evaluate(recognizer, [tmp_path / "gt"])
    assert report.pages == 2 and report.empty_lines == 1
    a, b = report.folders
    assert (a.folder, b.folder) == ("gt/a", "gt/b")
    # Folder a: 20 + 24 + 4 characters, 2 edits; the margin line "Amen" is not main zone.
    assert a.all.lines == 3 and a.main.lines == 2 and a.empty_lines == 1
    assert a.all.cer == pytest.approx(2 / 48)
    assert a.all.normalised_cer == pytest.approx(1 / 48)  # "Amen" = "amen" once normalised
    assert a.all.wer == pytest.approx(2 / 10)
    assert a.main.cer == pytest.approx(1 / 44)
    assert a.main.wer == pytest.approx(1 / 9)
    assert b.all.cer == 0.0
    # Overall: corpus-level, total edits / total characters.
    assert report.all.cer == pytest.approx(2 / 96)
    assert report.main.cer == pytest.approx(1 / 92)
    assert report.all.wer == pytest.approx(2 / 20)
    wrong = [w.text for w in report.word_outcomes if not w.correct]
    assert wrong == ["dios", "amen"]
    line = next(x for x in report.lines if x.line_id == "l1" and x.folder == "gt/a")
    assert (line.reference, line.hypothesis) == ("en el nonbre de dioz", "en el nonbre de dios")
    assert line.scores.char_edits == 1


def test_unreadable_pages_are_reported_not_fatal(tmp_path: Path, recognizer: Recognizer) -> None:
    gt = tmp_path / "gt"
    exact_page(gt / "good")
    broken_image = exact_page(gt / "bad", "broken")
    broken_image.write_bytes(b"this is not a PNG")
    broken_xml = exact_page(gt / "bad", "half")
    xml = broken_xml.with_suffix(".xml")
    xml.write_text(xml.read_text()[:400], encoding="utf-8")  # cut off: not well-formed
    report = evaluate(recognizer, [gt])
    assert report.pages == 1
    failed = {Path(f.image).name: f.reason for f in report.pages_failed}
    assert set(failed) == {"broken.png", "half.png"}
    assert "broken.png" in failed["broken.png"]
    assert "half.xml" in failed["half.png"]
    assert report.all.lines == 3 and report.all.cer == 0.0
    bad = next(f for f in report.folders if f.folder == "gt/bad")
    assert bad.pages == 0 and bad.pages_failed == 2 and bad.all.cer is None
    assert report.to_dict()["pages_failed"][0]["reason"]


def test_finding_pages(tmp_path: Path) -> None:
    image = exact_page(tmp_path / "gt" / "ms")
    Image.new("RGB", (10, 10)).save(tmp_path / "gt" / "ms" / "no_xml.jpg")
    pages = find_ground_truth_pages([tmp_path / "gt", tmp_path / "gt" / "ms"])
    assert [p.image for p in pages] == [image]  # found once, image without XML left out
    assert pages[0].layout == image.with_suffix(".xml")
    with pytest.raises(EvaluationError, match="no such"):
        find_ground_truth_pages([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvaluationError, match="no page images"):
        evaluate(_NoRecognizer(), [tmp_path / "empty"])


def test_main_zone_rule() -> None:
    assert is_main_zone("MainZone") and is_main_zone("MainZone:column") and is_main_zone(None)
    assert is_main_zone("paragraph") and is_main_zone("text")
    assert not is_main_zone("MarginTextZone") and not is_main_zone("NumberingZone")
    assert not is_main_zone("marginalia")


def test_reliability_diagram(tmp_path: Path, recognizer: Recognizer) -> None:
    changed_page(tmp_path / "gt")
    report = evaluate(recognizer, [tmp_path / "gt"])
    from htr.calibration import Calibration

    path = save_reliability_diagram(report, tmp_path / "raw.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 200
        raw_width = image.width
    calibrated = report.with_calibration(Calibration("temperature", temperature=2.0))
    assert calibrated.confidence.calibrated_ece is not None
    with Image.open(save_reliability_diagram(calibrated, tmp_path / "both.png")) as image:
        assert image.width == 2 * raw_width  # a second panel for calibrated confidences
    with pytest.raises(EvaluationError):
        save_reliability_diagram(report, tmp_path / "missing" / "x.png")


class _NoRecognizer:
    model_id = "none"

    def recognize(self, images: Sequence[Image.Image]) -> list:
        raise AssertionError("not called")

    def processing_step(self) -> object:
        raise AssertionError("not called")


# --- the command line ----------------------------------------------------------------------


def run_eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Runs `legajo eval` with `args`; returns the exit code, stdout and stderr."""
    from legajo.cli.main import main

    try:
        code = main(["eval", *args])
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path
) -> None:
    changed_page(tmp_path / "gt" / "ms")
    plot = tmp_path / "reliability.png"
    code, out, err = run_eval(
        capsys,
        "--gt",
        str(tmp_path / "gt"),
        "--model",
        str(memorised_checkpoint),
        "--beams",
        "1",
        "--json",
        "--plot",
        str(plot),
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["all_lines"]["cer"] == pytest.approx(2 / 48)
    assert data["main_zone"]["cer"] == pytest.approx(1 / 44)
    assert data["all_lines"]["normalised_cer"] == pytest.approx(1 / 48)
    assert data["empty_lines"] == 1 and data["pages"] == 1 and data["pages_failed"] == []
    assert data["folders"][0]["folder"] == "gt/ms"
    assert data["confidence"]["words"] == 10 and len(data["confidence"]["reliability"]) == 15
    assert data["recognizer"]["settings"]["beams"] == 1
    assert len(data["lines"]) == 3 and data["calibration_written"] is None
    assert plot.is_file()


def test_cli_text_output_and_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path
) -> None:
    exact_page(tmp_path / "gt" / "ms").write_bytes(b"")  # an empty image file
    exact_page(tmp_path / "gt" / "ms", "p2")
    model = ("--model", str(memorised_checkpoint), "--beams", "1")
    code, out, err = run_eval(capsys, "--gt", str(tmp_path / "gt"), *model)
    assert code == 3  # some pages failed, the report covers the others
    assert "p1.png" in err and "1 of 2 pages failed" in err
    assert "main zone" in out and "ECE" in out
    code, _, err = run_eval(capsys, "--gt", str(tmp_path / "nowhere"), *model)
    assert code == 2 and "nowhere" in err
    code, _, err = run_eval(capsys, "--gt", str(tmp_path / "gt"), "--limit-pages", "0", *model)
    assert code == 2


@pytest.mark.parametrize("method", ["temperature", "platt-length"])
def test_cli_fits_and_then_applies_a_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, method: str
) -> None:
    changed_page(tmp_path / "gt")
    model = tmp_path / "model"
    shutil.copytree(memorised_checkpoint, model)
    args = ("--gt", str(tmp_path / "gt"), "--beams", "1", "--json")
    fit = ("--fit-calibration", "--calibration-method", method)
    code, out, err = run_eval(capsys, *args, "--model", str(model), *fit)
    assert code == 0, err
    data = json.loads(out)
    assert data["calibration_written"] == str(model / CALIBRATION_FILE)
    calibration = load_calibration(model)
    assert calibration is not None and calibration.method == method
    assert data["confidence"]["calibration"]["method"] == method
    assert data["confidence"]["calibrated_ece"] <= data["confidence"]["ece"] + 1e-9
    # The next evaluation finds calibration.json and reports raw and calibrated figures.
    code, out, err = run_eval(capsys, *args, "--model", str(model))
    assert code == 0, err
    confidence = json.loads(out)["confidence"]
    assert confidence["calibration"] == calibration.to_dict()
    assert confidence["calibrated_ece"] == pytest.approx(data["confidence"]["calibrated_ece"])
    # A hub name has no directory to store a calibration in: a usage error, before any work.
    code, _, err = run_eval(
        capsys, *args, "--model", "microsoft/trocr-base-handwritten", "--fit-calibration"
    )
    assert code == 2 and "local model directory" in err


def test_two_real_pages_with_the_bundled_model(shared_data: Path) -> None:
    from htr.default_model import default_model_path

    manuscript = shared_data / "htromance-spain" / "data" / "bnf-esp-229"
    if not manuscript.is_dir():
        pytest.skip(f"{manuscript} is not available")
    recognizer = load_recognizer(
        default_model_path(), RecognizerSettings(beams=1, n_best=1, max_new_tokens=8)
    )
    report: EvaluationReport = evaluate(recognizer, [manuscript], limit_pages=2)
    assert report.pages + len(report.pages_failed) == 2
    assert report.pages == 2, report.pages_failed
    assert report.all.lines > 10 and report.all.lines >= report.main.lines > 0
    assert report.all.reference_chars > 0 and report.all.cer is not None
    assert report.all.cer > 0.5  # the bundled model has random weights
    assert [f.folder for f in report.folders] == ["bnf-esp-229"]
    assert 0.0 <= report.confidence.ece <= 1.0
    data = json.loads(json.dumps(report.to_dict()))
    assert len(data["lines"]) == report.all.lines


def test_evaluation_asks_for_raw_confidences_when_the_recognizer_can_calibrate() -> None:
    import dataclasses

    from htr.evaluate import raw_confidence_settings

    @dataclasses.dataclass(frozen=True)
    class WithSwitch:
        beams: int = 5
        calibrated: bool = True

    assert raw_confidence_settings(WithSwitch()) == WithSwitch(calibrated=False)  # type: ignore[arg-type]
    plain = RecognizerSettings(beams=2)
    assert raw_confidence_settings(plain) == plain or not getattr(
        raw_confidence_settings(plain), "calibrated", False
    )
