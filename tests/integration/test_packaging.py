"""Packaging: plain transformers loads the bundled model; the wheel carries it, with the licence.

The first test loads ``data/models/legajo-default`` in a subprocess that imports transformers
but nothing of legajo (the model folder's remote code, ``trust_remote_code=True``) and checks
that it computes exactly what legajo's recognizer computes on a real line. The others build
the sdist and the wheel from a copy of the sources and look inside them.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image

from htr.default_model import DEFAULT_MODEL_NAME, default_model_path
from tests.conftest import REPO, SAMPLES

BUNDLED = REPO / "data" / "models" / DEFAULT_MODEL_NAME
LINE_PAGE = SAMPLES / "bnf-esp-285_linaje_ayala_v2.jpg"
LINE_BOX = (1591, 258, 1591 + 678, 258 + 78)
"""Line eSc_line_f79b893d of that page (its ALTO box): "ste esel linaje dondebienen fijos ⁊"."""
OUR_PACKAGES = ("htr", "indexer", "legajo", "ui")

PLAIN_TRANSFORMERS = r"""
import json
import math
import sys

import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoModel, AutoProcessor, LogitsProcessorList, VisionEncoderDecoderModel

folder, line, out, factor, margin, weight = sys.argv[1:7]
model = AutoModel.from_pretrained(folder, trust_remote_code=True, local_files_only=True).eval()
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True, local_files_only=True)
tokenizer = processor.tokenizer
modeling = sys.modules[type(model).__module__]
pixels = processor(images=[Image.open(line).convert("RGB")], return_tensors="pt").pixel_values
with torch.inference_mode():
    encoded = model.encoder(pixel_values=pixels)
    greedy = model.generate(pixels, num_beams=1, do_sample=False, max_new_tokens=80)
    logits = model(pixel_values=pixels, decoder_input_ids=greedy).logits
    # Joint CTC/attention greedy decoding, as legajo's recognizer does with one beam.
    log_probs = encoded.ctc_logits.float().log_softmax(dim=-1)
    blank = model.config.encoder.ctc_blank_id
    path = log_probs.argmax(dim=-1)[0].tolist()
    ctc_length = sum(1 for i, t in enumerate(path) if t != blank and (i == 0 or t != path[i - 1]))
    scorer = modeling.CTCPrefixScorer(
        log_probs, 1, blank_id=blank, eos_id=tokenizer.eos_token_id,
        excluded_ids=[tokenizer.bos_token_id, tokenizer.pad_token_id], weight=float(weight),
    )
    joint = model.generate(
        encoder_outputs=encoded, num_beams=1, do_sample=False,
        max_length=1 + math.ceil(float(factor) * ctc_length) + int(margin),
        logits_processor=LogitsProcessorList([scorer]),
    )
save_file(
    {
        "pixel_values": pixels.contiguous(),
        "last_hidden_state": encoded.last_hidden_state.contiguous(),
        "ctc_logits": encoded.ctc_logits.contiguous(),
        "greedy": greedy.contiguous(),
        "logits": logits.contiguous(),
    },
    out + ".safetensors",
)
report = {
    "ours": sorted(m for m in sys.modules if m.split(".")[0] in {"htr", "indexer", "legajo", "ui"}),
    "model": type(model).__module__ + "." + type(model).__name__,
    "is_vision_encoder_decoder": isinstance(model, VisionEncoderDecoderModel),
    "image_processor": type(processor.image_processor).__module__,
    "joint": tokenizer.decode(joint[0], skip_special_tokens=True).strip(),
}
with open(out + ".json", "w", encoding="utf-8") as stream:
    json.dump(report, stream)
"""


def _line_image(folder: Path) -> Path:
    path = folder / "line.png"
    with Image.open(LINE_PAGE) as page:
        page.crop(LINE_BOX).convert("RGB").save(path)
    return path


def _child_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(folder / "hf-modules"))
    return env


def test_plain_transformers_loads_the_bundled_model_and_reads_like_legajo(
    tmp_path: Path,
) -> None:
    import torch
    from safetensors.torch import load_file

    from htr.recognizer import RecognizerSettings, load_recognizer
    from htr.trocr import CTC_LENGTH_FACTOR, CTC_LENGTH_MARGIN, CTC_WEIGHT

    assert default_model_path() == BUNDLED
    line = _line_image(tmp_path)
    out = tmp_path / "plain"
    arguments = [str(BUNDLED), str(line), str(out)]
    arguments += [str(CTC_LENGTH_FACTOR), str(CTC_LENGTH_MARGIN), str(CTC_WEIGHT)]
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_TRANSFORMERS, *arguments],
        cwd=tmp_path,
        env=_child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    plain = load_file(out.with_suffix(".safetensors"))
    assert report["ours"] == []
    assert report["model"].startswith("transformers_modules.")
    assert report["model"].endswith(".modeling_legajo_line.LineVisionEncoderDecoderModel")
    assert report["is_vision_encoder_decoder"]
    assert report["image_processor"].endswith(".image_processing_legajo_line")

    settings = RecognizerSettings(beams=1, n_best=1, device="cpu", calibrated=False)
    recognizer = load_recognizer(BUNDLED, settings)
    model, processor = recognizer._model, recognizer._processor  # legajo's own loading
    with Image.open(line) as image:
        pixels = processor(images=[image.convert("RGB")], return_tensors="pt").pixel_values
        (reading,) = recognizer.recognize([image.copy()])
    with torch.inference_mode():
        encoded = model.encoder(pixel_values=pixels)
        greedy = model.generate(pixels, num_beams=1, do_sample=False, max_new_tokens=80)
        logits = model(pixel_values=pixels, decoder_input_ids=greedy).logits
    assert torch.equal(plain["pixel_values"], pixels)
    assert torch.equal(plain["last_hidden_state"], encoded.last_hidden_state)
    assert torch.equal(plain["ctc_logits"], encoded.ctc_logits)
    assert torch.equal(plain["greedy"], greedy)
    assert torch.equal(plain["logits"], logits)
    assert report["joint"] == reading.text
    assert reading.text  # a real reading, not an empty line
    assert math.isfinite(reading.confidence)


def _copy_sources(target: Path) -> None:
    """The files a build reads, without the checkout's build leftovers (build/, egg-info)."""
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "LICENSE", "README.md"):
        shutil.copy2(REPO / name, target / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for package in OUR_PACKAGES:
        shutil.copytree(REPO / package, target / package, ignore=skip)
    shutil.rmtree(target / "htr" / "models", ignore_errors=True)  # a stray build copy
    shutil.copytree(BUNDLED, target / "data" / "models" / DEFAULT_MODEL_NAME, ignore=skip)


def _cannot_build(reason: str) -> NoReturn:
    """Skips here; fails in CI, where the dev extra installs what the build needs."""
    if os.environ.get("CI"):
        pytest.fail(f"the wheel cannot be built in CI: {reason}")
    pytest.skip(reason)


def _build(tmp_path: Path, *command: str) -> Path:
    """Runs a build in a copy of the sources; skips when this environment cannot build.

    ``{dist}`` in `command` stands for the output folder, which is returned.
    """
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        _cannot_build("setuptools is not installed: no offline build")
    if int(version.split(".")[0]) < 77:
        _cannot_build(f"setuptools {version} is older than the 77 that pyproject.toml needs")
    source = tmp_path / "source"
    source.mkdir()
    _copy_sources(source)
    dist = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, *(part.format(dist=dist) for part in command)],
        cwd=source,
        env=_child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if "No module named pip" in done.stderr:
        _cannot_build("pip is not installed: no offline build")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dist


def test_the_wheel_carries_the_model_the_licence_and_the_console_script(tmp_path: Path) -> None:
    pip_wheel = ("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index")
    dist = _build(tmp_path, *pip_wheel, "--wheel-dir", "{dist}", ".")
    (wheel,) = dist.glob("legajo-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        model = f"htr/models/{DEFAULT_MODEL_NAME}"
        for path in BUNDLED.iterdir():
            if path.is_file():
                assert archive.getinfo(f"{model}/{path.name}").file_size == path.stat().st_size
        (info,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
        assert archive.read(f"{info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
        # the page viewer, OpenSeadragon included: the browser gets it from the package
        viewer = "ui/viewer/frontend"
        assert {f"{viewer}/index.html", f"{viewer}/viewer.js", f"{viewer}/viewer.css"} <= names
        osd = REPO / viewer / "vendor" / "openseadragon"
        for path in (osd / "openseadragon.min.js", osd / "images" / "home_rest.png"):
            name = path.relative_to(REPO).as_posix()
            assert archive.getinfo(name).file_size == path.stat().st_size
        archive.extractall(tmp_path / "installed")
    assert "legajo = legajo.cli.main:main" in entry_points
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Repository, https://github.com/legajo-project/legajo" in metadata
    assert {"legajo/__init__.py", "legajo/cli/main.py", "htr/line_model.py"} <= names
    assert {name.split("/")[0] for name in names} == {*OUR_PACKAGES, info}

    # From the unpacked wheel (ahead of the editable checkout on the path), the default model
    # is the packaged one.
    installed = tmp_path / "installed"
    probe = "import htr.default_model as d; print(d.__file__); print(d.default_model_path())"
    env = _child_env(tmp_path) | {"PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    module, folder = done.stdout.split()
    assert Path(module).is_relative_to(installed)
    assert Path(folder) == installed / "htr" / "models" / DEFAULT_MODEL_NAME


def test_the_sdist_carries_the_model_and_the_build_hook(tmp_path: Path) -> None:
    build_sdist = "import sys, setuptools.build_meta as b; b.build_sdist(sys.argv[1])"
    dist = _build(tmp_path, "-c", build_sdist, "{dist}")
    (sdist,) = dist.glob("legajo-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    expected = {"setup.py", "MANIFEST.in", "LICENSE", "pyproject.toml", "htr/line_model.py"}
    expected |= {"ui/viewer/package-lock.json", "ui/viewer/frontend/viewer.js"}
    expected |= {"ui/viewer/frontend/vendor/openseadragon/openseadragon.min.js"}
    expected |= {f"data/models/{DEFAULT_MODEL_NAME}/{p.name}" for p in BUNDLED.iterdir()}
    assert expected <= names
    assert not any(name.startswith("htr/models/") for name in names)
    assert not any("node_modules" in name for name in names)
