"""The TrOCR backend on real (tiny) checkpoints: loading, batching, n-best, word confidences."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from htr.errors import ModelLoadError
from htr.recognizer import EMPTY_READING, RecognizerSettings, load_recognizer
from htr.trocr import TrOCRRecognizer, _words
from tests.conftest import MEMORISED_TEXTS, render_line


@pytest.fixture(scope="module")
def memorised(memorised_checkpoint: Path) -> TrOCRRecognizer:
    recognizer = load_recognizer(memorised_checkpoint, RecognizerSettings(beams=4, n_best=3))
    assert isinstance(recognizer, TrOCRRecognizer)
    return recognizer


def test_reads_the_memorised_lines_with_high_confidence(memorised: TrOCRRecognizer) -> None:
    readings = memorised.recognize([render_line(t) for t in MEMORISED_TEXTS])
    assert [r.text for r in readings] == list(MEMORISED_TEXTS)
    for reading in readings:
        assert [w.text for w in reading.words] == reading.text.split()
        assert all(0.5 < w.confidence <= 1.0 for w in reading.words)
        assert reading.confidence == pytest.approx(
            sum(w.confidence for w in reading.words) / len(reading.words)
        )
        assert reading.alternatives[0].text == reading.text


def test_n_best_probabilities_are_normalised_and_sorted(memorised: TrOCRRecognizer) -> None:
    (reading,) = memorised.recognize([render_line(MEMORISED_TEXTS[0])])
    probs = [a.prob for a in reading.alternatives]
    assert 1 <= len(probs) <= 3
    assert sum(probs) == pytest.approx(1.0)
    assert probs == sorted(probs, reverse=True)
    assert len({a.text for a in reading.alternatives}) == len(probs)


def test_output_stays_one_to_one_with_degenerate_lines(memorised: TrOCRRecognizer) -> None:
    images = [
        render_line("amen"),
        Image.new("RGB", (0, 0)),
        Image.new("RGB", (1, 40), "white"),
        render_line("en el nonbre de dios").convert("L"),
        Image.new("RGB", (3000, 20), "white"),
    ]
    readings = memorised.recognize(images)
    assert len(readings) == len(images)
    assert readings[0].text == "amen"
    assert readings[1] is EMPTY_READING and readings[2] is EMPTY_READING
    assert readings[3].text == "en el nonbre de dios"


def test_batches_give_the_same_readings_as_single_lines(memorised_checkpoint: Path) -> None:
    images = [render_line(t) for t in MEMORISED_TEXTS * 3]
    one = load_recognizer(memorised_checkpoint, RecognizerSettings(beams=2, batch_size=1))
    many = load_recognizer(memorised_checkpoint, RecognizerSettings(beams=2, batch_size=4))
    assert [r.text for r in one.recognize(images)] == [r.text for r in many.recognize(images)]


def test_greedy_decoding_has_one_alternative(memorised_checkpoint: Path) -> None:
    recognizer = load_recognizer(memorised_checkpoint, RecognizerSettings(beams=1))
    (reading,) = recognizer.recognize([render_line("amen")])
    assert reading.text == "amen"
    assert [a.prob for a in reading.alternatives] == [1.0]
    assert 0.0 < reading.words[0].confidence <= 1.0


def test_a_failing_line_becomes_an_empty_reading(
    memorised: TrOCRRecognizer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    poison = render_line("amen")
    original = memorised._read_batch

    def fail_on_poison(images: list[Image.Image]) -> list:
        if any(im is poison for im in images):
            raise RuntimeError("simulated failure")
        return original(images)

    monkeypatch.setattr(memorised, "_read_batch", fail_on_poison)
    readings = memorised.recognize([render_line("en el nonbre de dios"), poison])
    assert readings[0].text == "en el nonbre de dios"
    assert readings[1] is EMPTY_READING
    assert "could not be recognised" in caplog.text


def test_random_model_output_is_well_formed(tiny_checkpoint: Path) -> None:
    recognizer = load_recognizer(tiny_checkpoint, RecognizerSettings(beams=3, n_best=3))
    readings = recognizer.recognize([render_line("x"), render_line("de la villa")])
    assert len(readings) == 2
    for reading in readings:
        assert 0.0 <= reading.confidence <= 1.0
        assert sum(a.prob for a in reading.alternatives) == pytest.approx(1.0)


def test_processing_step_records_model_and_settings(memorised: TrOCRRecognizer) -> None:
    step = memorised.processing_step()
    assert step.kind == "recognition"
    assert step.model_id == memorised.model_id
    assert step.model_revision and len(step.model_revision) == 16
    assert step.settings["beams"] == 4 and step.settings["n_best"] == 3


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_recognizer(str(tmp_path / "nowhere"))


def test_directory_without_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a model directory"):
        load_recognizer(tmp_path)


def test_hub_name_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="microsoft/trocr-base-handwritten"):
        load_recognizer("microsoft/trocr-base-handwritten")


def test_cuda_without_gpu_is_a_clear_error(memorised_checkpoint: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ModelLoadError, match="CUDA"):
        load_recognizer(memorised_checkpoint, RecognizerSettings(device="cuda"))


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        RecognizerSettings(beams=0)
    with pytest.raises(ValueError):
        RecognizerSettings(device="tpu")  # type: ignore[arg-type]


def test_word_confidences_with_a_byte_level_bpe_tokenizer() -> None:
    """Word pieces that start with a space marker (RoBERTa, TrOCR's own) map to words too."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"])
    bpe.train_from_iterator(["en el nonbre de dios amen", "sepan quantos esta carta"] * 50, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    ids = [*tokenizer("en el nonbre", add_special_tokens=False).input_ids, tokenizer.eos_token_id]
    logprob = math.log(0.9)
    words = _words(tokenizer, ids, [logprob] * len(ids))
    assert [w.text for w in words] == ["en", "el", "nonbre"]
    for word in words:  # each word's confidence is 0.9 to the number of its pieces
        pieces = math.log(word.confidence) / logprob
        assert pieces == pytest.approx(round(pieces)) and round(pieces) >= 1
    assert sum(round(math.log(w.confidence) / logprob) for w in words) == len(ids) - 1


@pytest.mark.parametrize("length_weight", [None, -1.5])
def test_stored_calibration_is_applied_unless_raw_is_asked_for(
    memorised_checkpoint: Path, tmp_path: Path, length_weight: float | None
) -> None:
    import shutil

    from htr.calibration import Calibration, save_calibration

    model_dir = tmp_path / "calibrated"
    shutil.copytree(memorised_checkpoint, model_dir)
    if length_weight is None:
        calibration = Calibration("temperature", temperature=3.0)
    else:  # each word's length in characters counts too
        calibration = Calibration(
            "platt-length", slope=1 / 3.0, bias=0.0, length_weight=length_weight
        )
    save_calibration(model_dir, calibration)
    image = [render_line("sepan quantos esta carta")]
    (raw,) = load_recognizer(model_dir, RecognizerSettings(calibrated=False)).recognize(image)
    calibrated_recognizer = load_recognizer(model_dir, RecognizerSettings())
    (calibrated,) = calibrated_recognizer.recognize(image)
    assert calibrated.text == raw.text
    for raw_word, word in zip(raw.words, calibrated.words, strict=True):
        expected = calibration.apply(raw_word.confidence, len(word.text))
        assert word.confidence == pytest.approx(expected)
        assert word.confidence < raw_word.confidence  # T > 1 softens confident words
    assert calibrated_recognizer.processing_step().settings["calibration"]
