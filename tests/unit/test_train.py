"""`htr.training` and `htr.line_model`: a tiny training run, round trips, manuscript splits."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr.metrics import corpus_cer
from htr.model_factory import new_line_model
from htr.training.config import LineModelShape, TrainConfig, TrainProgress
from htr.training.data import (
    LineSample,
    augment,
    gt_lines,
    split_by_manuscript,
    synthetic_lines,
)
from htr.training.trainer import train

TINY = LineModelShape(
    image_height=16, hidden_size=32, encoder_layers=1, decoder_layers=1, heads=2, max_length=64
)
REPO = Path(__file__).resolve().parents[2]


def test_tiny_training_run_lowers_the_loss_and_writes_a_loadable_checkpoint(
    tmp_path: Path,
) -> None:
    from htr.recognizer import RecognizerSettings, load_recognizer

    reports: list[TrainProgress] = []
    config = TrainConfig(
        out=tmp_path / "model",
        synthetic=6,
        steps=60,
        batch_size=6,
        lr=3e-3,
        warmup_steps=5,
        augment=False,
        curriculum=0.0,
        shape=TINY,
        cache_dir=None,
        threads=1,
    )
    out = train(config, reports.append)

    losses = [r.loss for r in reports if r.phase == "train" and r.loss is not None]
    assert len(losses) >= 5
    assert losses[-1] < 0.8 * losses[0]
    assert reports[-1].phase == "done"
    assert (out / "model.safetensors").is_file()
    card = (out / "README.md").read_text()
    front = card.split("---\n")[1]
    assert card.startswith("---\n") and "license: apache-2.0" in front
    assert "metrics: [cer, wer]" in front and "custom_code" in front
    assert "base_model" not in front  # trained from scratch
    # plain transformers can load a line model from the code files written beside it
    assert (out / "modeling_legajo_line.py").is_file()
    assert "auto_map" in json.loads((out / "config.json").read_text())
    assert (config.run_path / "trainer_state" / "state.pt").is_file()
    assert not (out / "trainer_state").exists()

    recognizer = load_recognizer(out, RecognizerSettings(beams=2, n_best=2, device="cpu"))
    readings = recognizer.recognize([Image.new("RGB", (120, 30), "white")] * 2)
    assert len(readings) == 2
    assert all(isinstance(r.text, str) for r in readings)


def test_training_resumes_from_its_trainer_state(tmp_path: Path) -> None:
    base = TrainConfig(
        out=tmp_path / "model", synthetic=4, steps=4, batch_size=2, shape=TINY, cache_dir=None
    )
    train(base)
    more = TrainConfig(
        out=tmp_path / "model",
        synthetic=4,
        steps=8,
        batch_size=2,
        shape=TINY,
        cache_dir=None,
        resume=True,
    )
    reports: list[TrainProgress] = []
    train(more, reports.append)
    steps = [r.step for r in reports if r.phase == "done"]
    assert steps == [8]


def test_line_model_round_trips_through_save_and_load(tmp_path: Path) -> None:
    import torch
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    from htr.line_model import LineEncoderModel, has_ctc_head
    from htr.line_processor import LineImageProcessor
    from htr.model_factory import save_checkpoint

    model, processor = new_line_model(["abc q̃ ꝑ"], TINY)
    save_checkpoint(model, processor, tmp_path)
    loaded = VisionEncoderDecoderModel.from_pretrained(tmp_path)
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)

    assert isinstance(loaded.encoder, LineEncoderModel)
    assert has_ctc_head(loaded)
    assert isinstance(loaded_processor.image_processor, LineImageProcessor)
    assert loaded_processor.image_processor.height == 16
    assert loaded_processor.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    pixels = loaded_processor(
        images=[Image.new("RGB", (90, 20), "white"), Image.new("RGB", (40, 30), "grey")],
        return_tensors="pt",
    ).pixel_values
    assert pixels.shape[:3] == (2, 1, 16)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        a = model.encoder(pixel_values=pixels)
        b = loaded.encoder(pixel_values=pixels)
    assert torch.allclose(a.last_hidden_state, b.last_hidden_state, atol=1e-6)
    assert torch.allclose(a.ctc_logits, b.ctc_logits, atol=1e-6)
    assert a.last_hidden_state.shape[1] == pixels.shape[3] // 4


def _sample(source: str) -> LineSample:
    return LineSample(np.full((16, 32), 255, dtype=np.uint8), "a", source)


def test_split_never_shares_a_manuscript_folder(tmp_path: Path) -> None:
    folders = [str(tmp_path / "ms" / f"m{i}") for i in range(10)]
    samples = [_sample(folders[i % 10]) for i in range(100)]

    train_lines, val_lines = split_by_manuscript(samples, [tmp_path / "ms" / "m3"])
    assert {s.source for s in val_lines} == {folders[3]}
    assert folders[3] not in {s.source for s in train_lines}
    assert len(train_lines) + len(val_lines) == 100

    for seed in range(5):
        train_lines, val_lines = split_by_manuscript(samples, [], seed=seed)
        assert val_lines
        assert not {s.source for s in train_lines} & {s.source for s in val_lines}


def test_oversampling_repeats_the_lines_of_a_folder(tmp_path: Path) -> None:
    from htr.training.config import TrainingError
    from htr.training.run_data import oversample

    spain, other = tmp_path / "spain", tmp_path / "other"
    samples = [
        _sample(str(spain / "ms1")),
        _sample(str(other / "ms2")),
        _sample(str(spain / "ms3")),
    ]

    drawn = oversample(samples, [(spain, 3)])
    assert len(drawn) == 7
    assert sum(s.source.startswith(str(spain)) for s in drawn) == 6
    # The larger weight wins when two folders hold a line; other lines keep theirs.
    drawn = oversample(samples, [(spain, 2), (spain / "ms1", 4)])
    assert [s.source for s in drawn].count(str(spain / "ms1")) == 4
    assert [s.source for s in drawn].count(str(spain / "ms3")) == 2
    assert [s.source for s in drawn].count(str(other / "ms2")) == 1
    with pytest.raises(TrainingError, match="nowhere: no training lines"):
        oversample(samples, [(tmp_path / "nowhere", 2)])
    with pytest.raises(ValueError, match="at least 1"):
        TrainConfig(out=tmp_path / "m", steps=1, oversample=((spain, 0),))


def test_ground_truth_lines_are_cut_cached_and_nfd(tmp_path: Path) -> None:
    sample = REPO / "data" / "samples" / "foral_de_estremoz_1_1258_11"
    if not sample.with_suffix(".jpg").is_file():
        pytest.skip("sample page missing")
    folder = tmp_path / "pages"
    folder.mkdir()
    for suffix in (".jpg", ".xml"):
        shutil.copy(sample.with_suffix(suffix), folder / f"p{suffix}")
    cache = tmp_path / "cache"

    first = gt_lines([folder], cache, height=32)
    second = gt_lines([folder], cache, height=32)

    assert first
    assert len(list(cache.glob("*.npz"))) == 1
    assert [s.text for s in first] == [s.text for s in second]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True))
    assert all(s.image.shape[0] == 32 and s.text.strip() for s in first)
    import unicodedata

    assert all(unicodedata.is_normalized("NFD", s.text) for s in first)


def test_synthetic_lines_and_augmentation_keep_the_height() -> None:
    lines = synthetic_lines(3, ["en el nonbre de dios amen"], seed=1, height=32)
    assert len(lines) == 3
    rng = np.random.default_rng(0)
    for line in lines:
        assert line.image.shape[0] == 32 and line.text
        assert augment(line.image, rng).shape[0] == 32


def test_cer_counts_edits_on_nfc_text() -> None:
    assert corpus_cer(references=["abc"], hypotheses=["abc"]) == 0.0
    assert corpus_cer(references=["abc", "xy"], hypotheses=["abd", ""]) == pytest.approx(3 / 5)
    assert corpus_cer(references=["\u00f1"], hypotheses=["n\u0303"]) == 0.0


def test_train_command_parses_its_options(tmp_path: Path) -> None:
    from legajo.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(
        [
            "train",
            "--gt",
            "a",
            "b",
            "--val",
            "b",
            "--synthetic",
            "5",
            "--out",
            str(tmp_path),
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--lr",
            "0.002",
            "--seed",
            "7",
        ]
    )
    assert args.gt == [Path("a"), Path("b")] and args.val == [Path("b")]
    assert (args.synthetic, args.steps, args.batch_size, args.lr, args.seed) == (5, 3, 4, 0.002, 7)
    assert args.base is None and not args.from_db and args.oversample == []
    args = parser.parse_args(
        [
            "train",
            "--out",
            str(tmp_path),
            "--steps",
            "1",
            "--oversample",
            "a=b=3",
            "--oversample",
            "c=2",
        ]
    )
    assert args.oversample == [(Path("a=b"), 3), (Path("c"), 2)]
    for bad in ("a", "a=0", "a=x", "=2"):
        with pytest.raises(SystemExit):
            parser.parse_args(
                ["train", "--out", str(tmp_path), "--steps", "1", "--oversample", bad]
            )
    # --from-db and its database options: tests/integration/test_train_from_db.py.
    assert parser.parse_args(["train", "--out", str(tmp_path), "--steps", "1", "--from-db"]).from_db


def test_ctc_prefix_scores_add_up_to_the_ctc_likelihood() -> None:
    import torch
    import torch.nn.functional as functional

    from htr.line_model import CTCPrefixScorer

    torch.manual_seed(0)
    vocabulary, steps, blank, eos, start = 7, 12, 0, 2, 1
    log_probs = torch.randn(1, steps, vocabulary).log_softmax(dim=-1)
    target = [3, 3, 4, 5]
    scorer = CTCPrefixScorer(
        log_probs, 1, blank_id=blank, eos_id=eos, weight=1.0, candidates=vocabulary
    )
    total = 0.0
    for length, token in enumerate([*target, eos]):
        prefix = torch.tensor([[start, *target[:length]]])
        scores = scorer(prefix, torch.zeros(1, vocabulary))
        total += float(scores[0, token])
    expected = -functional.ctc_loss(
        log_probs.transpose(0, 1),
        torch.tensor([target]),
        torch.tensor([steps]),
        torch.tensor([len(target)]),
        blank=blank,
        reduction="sum",
    )
    assert total == pytest.approx(float(expected), abs=1e-4)


def test_fine_tunes_a_standard_trocr_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from htr.recognizer import load_recognizer

    config = TrainConfig(
        out=tmp_path / "tuned",
        base=tiny_checkpoint,
        synthetic=4,
        steps=3,
        batch_size=2,
        cache_dir=None,
        threads=1,
    )
    out = train(config)
    readings = load_recognizer(out).recognize([Image.new("RGB", (120, 30), "white")])
    assert len(readings) == 1
    card = (out / "README.md").read_text()
    assert "from scratch" not in card
    assert f"base_model: {json.dumps(str(tiny_checkpoint))}" in card.split("---\n")[1]
    assert "custom_code" not in card and not (out / "modeling_legajo_line.py").exists()


@pytest.mark.parametrize("order", [3, 0])
def test_a_run_publishes_the_language_model_of_its_transcriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: int
) -> None:
    from htr.char_lm import LM_FILE, load_language_model

    page = REPO / "data" / "samples" / "bnf-esp-285_linaje_ayala_v2.jpg"
    folder = tmp_path / "gt" / "ayala"
    folder.mkdir(parents=True)
    for path in (page, page.with_suffix(".xml")):
        shutil.copy(path, folder / path.name)
    lines = len(gt_lines([folder], None, height=TINY.image_height))
    config = TrainConfig(
        out=tmp_path / "model",
        gt=(folder,),
        oversample=((folder, 3),),
        steps=2,
        batch_size=4,
        shape=TINY,
        cache_dir=None,
        threads=1,
        lm_order=order,
    )
    monkeypatch.setattr("htr.training.trainer.MIN_LM_LINES", lines + 1)
    out = train(config)
    assert not (out / LM_FILE).exists()  # too few lines
    monkeypatch.setattr("htr.training.trainer.MIN_LM_LINES", lines)
    out = train(config)
    card = (out / "README.md").read_text()
    if not order:
        assert not (out / LM_FILE).exists() and "language model" not in card
        return
    vocabulary = json.loads((out / "config.json").read_text())["decoder"]["vocab_size"]
    language_model = load_language_model(out, vocabulary)
    assert language_model is not None
    assert (language_model.order, language_model.lines) == (3, lines)  # each line once
    assert (
        f"3-gram, interpolated Kneser-Ney, counted from the transcriptions of the {lines}" in card
    )
    # Fine-tuning keeps the base's language model, even from fewer lines.
    monkeypatch.setattr("htr.training.trainer.MIN_LM_LINES", 10**6)
    tuned = train(replace(config, out=tmp_path / "tuned", base=out, lm_order=5))
    assert (tuned / LM_FILE).read_bytes() == (out / LM_FILE).read_bytes()
    assert "kept from the base model (counted there from" in (tuned / "README.md").read_text()
