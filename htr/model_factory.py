"""Build new TrOCR-architecture checkpoints from scratch.

A character tokenizer, an encoder and a TrOCR decoder in a standard `VisionEncoderDecoderModel`,
saved as a normal Hugging Face checkpoint directory. Two encoders: legajo's convolutional line
encoder (`new_line_model`, what `legajo train` starts from) and a line-shaped ViT
(`new_trocr_model`, used with random weights by the tests and benchmarks). Both go through
`new_encoder_decoder`, the one place where the decoder and generation settings are made.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from htr.runtime import no_progress_bars
from htr.training.config import LineModelShape, TrainingError

if TYPE_CHECKING:
    from transformers import (
        PretrainedConfig,
        PreTrainedTokenizerFast,
        TrOCRConfig,
        TrOCRProcessor,
        VisionEncoderDecoderModel,
    )

logger = logging.getLogger(__name__)

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


@dataclass(frozen=True, slots=True)
class ModelShape:
    """Size of a new TrOCR-architecture model.

    Attributes:
        image_height: Height lines are resized to.
        image_width: Width lines are resized to.
        patch_width: Width of the full-height column strips the encoder cuts the line into.
        encoder_layers: Number of ViT layers.
        decoder_layers: Number of TrOCR decoder layers.
        hidden_size: Width of both encoder and decoder.
        heads: Attention heads in encoder and decoder.
        max_length: Longest reading, in tokens, including the start and end tokens.
    """

    image_height: int = 40
    image_width: int = 1024
    patch_width: int = 8
    encoder_layers: int = 4
    decoder_layers: int = 3
    hidden_size: int = 256
    heads: int = 4
    max_length: int = 256


def alphabet_of(texts: Iterable[str]) -> list[str]:
    """Returns the sorted set of code points of `texts` in NFD, so combining marks stay separate.

    Args:
        texts: Training transcriptions.

    Returns:
        The distinct characters, without control characters.
    """
    chars = {c for text in texts for c in unicodedata.normalize("NFD", text)}
    return sorted(c for c in chars if unicodedata.category(c) != "Cc")


def build_char_tokenizer(alphabet: Iterable[str]) -> PreTrainedTokenizerFast:
    """Builds a tokenizer with one token per Unicode code point of `alphabet`.

    Text is normalised to NFD first, so a precomposed ``ñ`` and ``n`` + combining tilde read the
    same and abbreviation marks (``q̃``, ``ꝑ``, ``⁊``, superscript letters) are their own tokens.

    Args:
        alphabet: The characters to know, in the order of their ids; anything else becomes
            ``<unk>``.

    Returns:
        A fast tokenizer that adds ``<s>`` … ``</s>`` around each text.
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    # Each character on its own: normalising the joined string would reorder runs of combining
    # marks, and a grown vocabulary must keep the order (the ids) it is given.
    chars = list(dict.fromkeys(c for char in alphabet for c in unicodedata.normalize("NFD", char)))
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *chars])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.normalizer = normalizers.NFD()
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"(?m:.)"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )


def char_decoder_config(
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int,
    layers: int,
    heads: int,
    max_length: int,
) -> TrOCRConfig:
    """The TrOCR decoder configuration of a new model reading `tokenizer`'s characters.

    Args:
        tokenizer: The character tokenizer (`build_char_tokenizer`).
        hidden_size: Width of the decoder (its feed-forward layers are 4 times as wide).
        layers: Decoder layers.
        heads: Attention heads.
        max_length: Longest reading in tokens, start and end included.
    """
    from transformers import TrOCRConfig

    return TrOCRConfig(
        vocab_size=len(tokenizer),
        d_model=hidden_size,
        decoder_layers=layers,
        decoder_attention_heads=heads,
        decoder_ffn_dim=4 * hidden_size,
        max_position_embeddings=max_length + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
        use_learned_position_embeddings=True,
        layernorm_embedding=True,
    )


def new_encoder_decoder(
    encoder: PretrainedConfig,
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int,
    decoder_layers: int,
    heads: int,
    max_length: int,
    seed: int = 0,
) -> VisionEncoderDecoderModel:
    """Creates a randomly initialised encoder-decoder model around a character TrOCR decoder.

    The decoder is `char_decoder_config`; the model and its generation config take the
    tokenizer's start, padding and end tokens, and generation stops at `max_length` tokens.

    Args:
        encoder: The encoder's configuration.
        tokenizer: The character tokenizer (`build_char_tokenizer`).
        hidden_size: Width of the decoder.
        decoder_layers: Decoder layers.
        heads: Decoder attention heads.
        max_length: Longest reading in tokens, start and end included.
        seed: Seed of the random initialisation.

    Returns:
        The model, with random weights.
    """
    import torch
    from transformers import VisionEncoderDecoderConfig, VisionEncoderDecoderModel

    decoder = char_decoder_config(
        tokenizer,
        hidden_size=hidden_size,
        layers=decoder_layers,
        heads=heads,
        max_length=max_length,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config=config)
    generation = model.generation_config
    generation.decoder_start_token_id = tokenizer.bos_token_id
    generation.bos_token_id = tokenizer.bos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    generation.max_length = max_length
    return model


def new_line_model(
    texts: Sequence[str], shape: LineModelShape | None = None, seed: int = 0
) -> tuple[VisionEncoderDecoderModel, TrOCRProcessor]:
    """Creates a random line model (`htr.line_model` encoder + TrOCR decoder) and processor.

    Args:
        texts: Training transcriptions; their characters (NFD) make the tokenizer.
        shape: Model size.
        seed: Seed of the initialisation.

    Returns:
        (VisionEncoderDecoderModel, TrOCRProcessor).

    Raises:
        TrainingError: `shape.image_height` is not a multiple of 16.
    """
    from transformers import TrOCRProcessor

    from htr.line_model import DEFAULT_STEM, LineEncoderConfig
    from htr.line_processor import LineImageProcessor

    shape = shape or LineModelShape()
    tokenizer = build_char_tokenizer(alphabet_of([*texts, " "]))
    stem = [
        [channels, pool_h, pool_w]
        for channels, (_, pool_h, pool_w) in zip(shape.stem_channels, DEFAULT_STEM, strict=True)
    ]
    if shape.image_height != 48:
        # Keep the /4 width reduction; pool the height by what is left in the last block.
        rest = shape.image_height // 16
        if rest * 16 != shape.image_height:
            raise TrainingError("image_height must be a multiple of 16")
        stem[-1] = [stem[-1][0], rest, 1]
    encoder = LineEncoderConfig(
        image_height=shape.image_height,
        stem=stem,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.encoder_layers,
        num_attention_heads=shape.heads,
        intermediate_size=4 * shape.hidden_size,
        ctc_vocab_size=len(tokenizer),
        ctc_blank_id=tokenizer.pad_token_id,
    )
    model = new_encoder_decoder(
        encoder,
        tokenizer,
        hidden_size=shape.hidden_size,
        decoder_layers=shape.decoder_layers,
        heads=shape.heads,
        max_length=shape.max_length,
        seed=seed,
    )
    processor = TrOCRProcessor(
        image_processor=LineImageProcessor(height=shape.image_height), tokenizer=tokenizer
    )
    logger.info("new line model with %d parameters", model.num_parameters())
    return model, processor


def new_trocr_model(
    tokenizer: PreTrainedTokenizerFast, shape: ModelShape | None = None, seed: int = 0
) -> tuple[VisionEncoderDecoderModel, TrOCRProcessor]:
    """Creates a randomly initialised TrOCR-architecture model and its processor.

    Args:
        tokenizer: The tokenizer (see `build_char_tokenizer`).
        shape: Model size; the defaults give about 6.8 M parameters.
        seed: Seed of the random initialisation.

    Returns:
        The model and a `TrOCRProcessor` that resizes lines to the model's input size.
    """
    from transformers import TrOCRProcessor, ViTConfig
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    shape = shape or ModelShape()
    encoder = ViTConfig(
        image_size=(shape.image_height, shape.image_width),
        patch_size=(shape.image_height, shape.patch_width),
        num_channels=3,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.encoder_layers,
        num_attention_heads=shape.heads,
        intermediate_size=4 * shape.hidden_size,
    )
    model = new_encoder_decoder(
        encoder,
        tokenizer,
        hidden_size=shape.hidden_size,
        decoder_layers=shape.decoder_layers,
        heads=shape.heads,
        max_length=shape.max_length,
        seed=seed,
    )
    image_processor = ViTImageProcessorPil(
        do_resize=True,
        size={"height": shape.image_height, "width": shape.image_width},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = TrOCRProcessor(image_processor=image_processor, tokenizer=tokenizer)
    logger.info("new TrOCR model with %d parameters", model.num_parameters())
    return model, processor


def save_checkpoint(
    model: VisionEncoderDecoderModel, processor: TrOCRProcessor, directory: Path
) -> Path:
    """Saves model, tokenizer and processor as a Hugging Face checkpoint directory.

    Args:
        model: The model.
        processor: Its processor.
        directory: Where to write; created if missing.

    Returns:
        `directory`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with no_progress_bars():
        model.save_pretrained(directory)
        processor.save_pretrained(directory)
    return directory
