"""Growing a character model's vocabulary before fine-tuning on a wider alphabet."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image

from htr.model_factory import new_line_model, save_checkpoint
from htr.training.config import LineModelShape, TrainConfig
from htr.training.trainer import train
from htr.training.vocabulary import grow_vocabulary, is_char_tokenizer, new_characters

TINY = LineModelShape(
    image_height=16, hidden_size=32, encoder_layers=1, decoder_layers=1, heads=2, max_length=64
)


def _outputs(model, pixels, labels):  # type: ignore[no-untyped-def]
    import torch

    with torch.no_grad():
        out = model(pixel_values=pixels, labels=labels)
    return out.logits, model.encoder(pixel_values=pixels).ctc_logits


def test_new_characters_get_new_ids_and_old_scores_stay_as_they_were() -> None:
    import torch

    model, processor = new_line_model(["en el nonbre de dios"], TINY)
    model.eval()
    old_vocab = processor.tokenizer.get_vocab()
    pixels = torch.rand(2, 1, 16, 120)
    labels = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])
    decoder_before, ctc_before = _outputs(model, pixels, labels)

    added = grow_vocabulary(model, processor, ["ꝙ dios ⁊ q̃", "nonbre &"])

    assert added == sorted(added) and set(added) == {"ꝙ", "⁊", "&", "q", "\u0303"}
    vocab = processor.tokenizer.get_vocab()
    assert all(vocab[token] == index for token, index in old_vocab.items())
    size = len(processor.tokenizer)
    assert size == len(old_vocab) + len(added)
    assert model.config.decoder.vocab_size == size == model.encoder.config.ctc_vocab_size
    assert processor.tokenizer.unk_token_id not in processor.tokenizer("ꝙ⁊q̃&").input_ids
    decoder_after, ctc_after = _outputs(model, pixels, labels)
    assert decoder_after.shape[-1] == ctc_after.shape[-1] == size
    old = len(old_vocab)
    assert torch.allclose(decoder_before, decoder_after[..., :old], atol=1e-5)
    assert torch.allclose(ctc_before, ctc_after[..., :old], atol=1e-5)
    # the new CTC rows start as unlikely as the least likely old token
    assert ctc_after[..., old:].max() <= ctc_before.max()
    assert grow_vocabulary(model, processor, ["ꝙ dios"]) == []


def test_a_subword_tokenizer_is_left_alone(
    tiny_checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from transformers import AutoTokenizer

    class Processor:
        tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)

    Processor.tokenizer.add_tokens(["abc"])  # no longer one token per code point
    assert not is_char_tokenizer(Processor.tokenizer)
    assert new_characters(Processor.tokenizer, ["ꝙ"]) == ["ꝙ"]
    with caplog.at_level(logging.WARNING, logger="htr.training.vocabulary"):
        assert grow_vocabulary(object(), Processor, ["ꝙ"]) == []
    assert "not a character tokenizer" in caplog.text


def test_fine_tuning_with_a_grown_vocabulary_writes_a_model_that_can_write_the_new_characters(
    tmp_path: Path,
) -> None:
    from transformers import AutoProcessor

    from htr.recognizer import RecognizerSettings, load_recognizer

    model, processor = new_line_model(["ab"], TINY)
    base = save_checkpoint(model, processor, tmp_path / "base")
    config = TrainConfig(
        out=tmp_path / "model",
        base=base,
        grow_vocabulary=True,
        synthetic=4,
        steps=2,
        batch_size=2,
        cache_dir=None,
        threads=1,
    )
    out = train(config)
    grown = AutoProcessor.from_pretrained(out).tokenizer
    assert len(grown) > len(processor.tokenizer)
    assert is_char_tokenizer(grown)
    recognizer = load_recognizer(out, RecognizerSettings(beams=2, device="cpu"))
    readings = recognizer.recognize([Image.new("RGB", (80, 20), "white")])
    assert len(readings) == 1
