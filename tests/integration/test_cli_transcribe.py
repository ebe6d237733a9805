"""`legajo transcribe` end to end on the real sample pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from htr.default_model import default_model_path
from htr.layout.files import read_layout_file
from legajo.cli.main import main
from tests.conftest import MEMORISED_TEXTS, REPO, SAMPLES, render_line

DEFAULT_MODEL = default_model_path()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list, str]:
    code = main(["transcribe", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in args and out.strip() else out), err


def inside(box: list[int], outer: list[int]) -> bool:
    return outer[0] <= box[0] <= box[2] <= outer[2] and outer[1] <= box[1] <= box[3] <= outer[3]


def test_sample_pages_to_json(capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path) -> None:
    code, pages, err = run_cli(
        capsys, str(SAMPLES), "--json", "--model", str(tiny_checkpoint), "--beams", "2"
    )
    assert code == 0, err
    assert sorted(Path(p["image"]).name for p in pages) == sorted(
        p.name for p in SAMPLES.glob("*.jpg")
    )
    for page in pages:
        assert page["frame"] == 0
        layout_xml = Path(page["image"]).with_suffix(".xml")
        kinds = [step["kind"] for step in page["steps"]]
        if layout_xml.exists():
            assert len(page["lines"]) == len(read_layout_file(layout_xml).lines)
            assert kinds == ["layout-import", "recognition"]
        else:
            assert len(page["lines"]) > 5  # our own segmentation found the text
            assert kinds == ["segmentation", "recognition"]
        assert page["steps"][1]["model_id"] == str(tiny_checkpoint)
        frame = [0, 0, page["width"], page["height"]]
        for line in page["lines"]:
            assert {"text", "confidence", "bbox", "polygon", "words", "alternatives"} <= set(line)
            assert inside(line["bbox"], frame)
            assert 0.0 <= line["confidence"] <= 1.0
            assert [w["text"] for w in line["words"]] == line["text"].split()
            for word in line["words"]:
                assert inside(word["bbox"], line["bbox"])
            if line["alternatives"]:
                assert sum(a["prob"] for a in line["alternatives"]) == pytest.approx(1.0)


def test_lines_mode_reads_whole_images(
    capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, tmp_path: Path
) -> None:
    paths = []
    for i, text in enumerate(MEMORISED_TEXTS):
        paths.append(tmp_path / f"línea {i}.PNG")
        render_line(text).save(paths[-1])
    code, pages, err = run_cli(
        capsys, *map(str, paths), "--lines", "--json", "--model", str(memorised_checkpoint)
    )
    assert code == 0, err
    assert [p["lines"][0]["text"] for p in pages] == list(MEMORISED_TEXTS)
    for page in pages:
        (line,) = page["lines"]
        assert line["bbox"] == [0, 0, page["width"], page["height"]]
        assert all(w["confidence"] > 0.5 for w in line["words"])
        xs = [w["bbox"][0] for w in line["words"]]
        assert xs == sorted(xs)


def test_multi_page_tiff_gives_one_entry_per_frame(
    capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, tmp_path: Path
) -> None:
    frames = [render_line(t) for t in MEMORISED_TEXTS]
    path = tmp_path / "bundle.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    code, pages, _ = run_cli(
        capsys, str(path), "--lines", "--json", "--model", str(memorised_checkpoint)
    )
    assert code == 0
    assert [(p["frame"], p["lines"][0]["text"]) for p in pages] == list(enumerate(MEMORISED_TEXTS))


def test_bad_files_are_named_and_the_rest_is_still_read(
    capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.png"
    render_line("amen").save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    fake = tmp_path / "notes.jpg"
    fake.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    render_line("amen").save(tmp_path / "whole.jpg")
    truncated.write_bytes((tmp_path / "whole.jpg").read_bytes()[:300])
    code, pages, err = run_cli(
        capsys,
        str(empty),
        str(good),
        str(fake),
        str(truncated),
        "--lines",
        "--json",
        "--model",
        str(memorised_checkpoint),
    )
    assert code == 3  # some inputs failed, the others were transcribed
    assert [p["lines"][0]["text"] for p in pages] == ["amen"]
    for name in ("empty.jpg", "notes.jpg", "cut.jpg"):
        assert name in err
    assert "3 of 4 inputs failed" in err
    # A path that does not exist is a usage error, as for `legajo index`.
    code, _, err = run_cli(capsys, str(good), str(tmp_path / "missing.png"), "--lines")
    assert code == 2 and "missing.png" in err


def test_xml_layout_required_but_missing(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, tmp_path: Path
) -> None:
    page = tmp_path / "page.jpg"
    shutil.copy(SAMPLES / "bnf-esp-225_chansonnier_cat_fv.jpg", page)
    code, _, err = run_cli(capsys, str(page), "--layout", "xml", "--model", str(tiny_checkpoint))
    assert code == 3  # the input failed (every input, here)
    assert "page.jpg" in err and "PAGE or ALTO" in err


def test_text_output_names_each_page(
    capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, tmp_path: Path
) -> None:
    path = tmp_path / "l.png"
    render_line("sepan quantos esta carta").save(path)
    code, out, _ = run_cli(capsys, str(path), "--lines", "--model", str(memorised_checkpoint))
    assert code == 0
    assert out.splitlines() == [f"== {path} ==", "sepan quantos esta carta"]


def test_unloadable_model_fails_cleanly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, str(SAMPLES), "--model", str(tmp_path / "no-model"))
    assert code == 1
    assert "no-model" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", "x.jpg", "--beams", "0"])
    assert exit_info.value.code == 2
    assert main([]) == 2


@pytest.mark.slow
def test_console_script_with_the_bundled_model() -> None:
    """The installed `legajo` command, the bundled default checkpoint, one real page."""
    assert (DEFAULT_MODEL / "config.json").is_file()
    legajo = Path(sys.executable).with_name("legajo")
    result = subprocess.run(
        [str(legajo), "transcribe", str(SAMPLES / "foral_de_estremoz_1_1258_11.jpg"), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (page,) = json.loads(result.stdout)
    assert len(page["lines"]) == 21
    assert page["steps"][1]["model_id"] == str(DEFAULT_MODEL)
    assert Image.open(SAMPLES / "foral_de_estremoz_1_1258_11.jpg").size == (
        page["width"],
        page["height"],
    )


def test_pdf_pages_are_read_one_by_one(
    capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path, tmp_path: Path
) -> None:
    frames = [render_line(t) for t in MEMORISED_TEXTS[:2]]
    path = tmp_path / "Legajo 12.PDF"
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=300)
    code, pages, err = run_cli(
        capsys, str(path), "--lines", "--json", "--model", str(memorised_checkpoint)
    )
    assert code == 0, err
    assert [(p["frame"], p["lines"][0]["text"]) for p in pages] == list(
        enumerate(MEMORISED_TEXTS[:2])
    )


def test_a_folder_of_line_images_is_read_in_batches_across_files(
    capsys: pytest.CaptureFixture[str],
    memorised_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from htr.trocr import TrOCRRecognizer
    from legajo.cli import transcribe

    folder = tmp_path / "lines"
    folder.mkdir()
    for i, text in enumerate(MEMORISED_TEXTS):
        render_line(text).save(folder / f"{i}.png")
    (folder / "1-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a PNG")
    batches: list[int] = []
    recognize = TrOCRRecognizer.recognize

    def counted(self: TrOCRRecognizer, images: list[Image.Image]) -> list:
        batches.append(len(images))
        return recognize(self, images)

    monkeypatch.setattr(TrOCRRecognizer, "recognize", counted)
    args = (str(folder), "--lines", "--json", "--model", str(memorised_checkpoint))
    code, pages, err = run_cli(capsys, *args)
    assert code == 3
    assert "1-broken.png" in err and "1 of 4 inputs failed" in err
    assert [p["lines"][0]["text"] for p in pages] == list(MEMORISED_TEXTS)
    assert [Path(p["image"]).name for p in pages] == ["0.png", "1.png", "2.png"]
    assert batches == [3]  # one batch for all files, the broken one left out

    batches.clear()
    monkeypatch.setattr(transcribe, "LINE_IMAGES_PER_BATCH", 2)
    code, pages, err = run_cli(capsys, *args)
    assert code == 3 and batches == [2, 1]
    assert [p["lines"][0]["text"] for p in pages] == list(MEMORISED_TEXTS)
