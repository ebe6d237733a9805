"""Shared fixtures: tiny TrOCR-architecture checkpoints built on the fly (no network).

`tiny_checkpoint` has random weights: the real code path with meaningless output.
`memorised_checkpoint` is the same architecture trained for a few seconds until it reads three
rendered lines by heart, so tests can check real text, word confidences and word boxes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from htr.model_factory import (
    ModelShape,
    alphabet_of,
    build_char_tokenizer,
    new_trocr_model,
    save_checkpoint,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLES = REPO / "data" / "samples"
MEMORISED_TEXTS = ("en el nonbre de dios", "sepan quantos esta carta", "amen")
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def render_line(text: str, height: int = 40, size: int = 28) -> Image.Image:
    """Renders `text` as a clean black-on-white line image."""
    font = ImageFont.truetype(str(FONT_PATH), size) if FONT_PATH.exists() else None
    width = int(font.getlength(text)) + 20 if font else 8 * len(text) + 20
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).text((10, (height - size) // 2), text, font=font, fill="black")
    return image


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tokenizer = build_char_tokenizer(alphabet_of(["abcdefghijklmnopqrstuvwxyz .,ñq̃ꝑ"]))
    shape = ModelShape(
        image_height=32,
        image_width=256,
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        heads=2,
        max_length=24,
    )
    model, processor = new_trocr_model(tokenizer, shape)
    return save_checkpoint(model, processor, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def memorised_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    tokenizer = build_char_tokenizer(alphabet_of(MEMORISED_TEXTS))
    shape = ModelShape(
        image_height=32,
        image_width=512,
        hidden_size=64,
        encoder_layers=1,
        decoder_layers=1,
        heads=2,
        max_length=40,
    )
    model, processor = new_trocr_model(tokenizer, shape)
    pixels = processor(
        images=[render_line(t) for t in MEMORISED_TEXTS], return_tensors="pt"
    ).pixel_values
    labels = tokenizer(list(MEMORISED_TEXTS), padding=True, return_tensors="pt").input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    labels = labels[:, 1:].contiguous()  # the decoder is started with <s> by the model itself
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        loss = model(pixel_values=pixels, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return save_checkpoint(model, processor, tmp_path_factory.mktemp("memorised") / "model")
