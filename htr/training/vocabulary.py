"""Teaching a checkpoint new characters before fine-tuning it on a wider alphabet.

A legajo line model reads one token per Unicode code point (`htr.model_factory.
build_char_tokenizer`). Ground truth from other scriptoria brings characters its tokenizer
does not know (Latin abbreviation marks such as ``ꝙ``, ``ꝵ``, ``᷑``); without a token of
their own they read as ``<unk>`` and the model learns to write ``<unk>``. `grow_vocabulary`
appends the new characters to the tokenizer, keeping every old id, and gives the decoder's
embeddings, its output layer and the encoder's CTC head one new row each: the decoder's new
rows are drawn around the mean of the old ones (transformers' resizing), the CTC head's get no
weight and the lowest old bias. The old tokens' scores stay what they were; the new ones start
as unlikely as the least likely old one and are learned in training.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from htr.model_factory import SPECIAL_TOKENS, alphabet_of, build_char_tokenizer

logger = logging.getLogger(__name__)


def is_char_tokenizer(tokenizer: Any) -> bool:
    """Whether `tokenizer` is a legajo character tokenizer: special tokens, then code points."""
    vocab = tokenizer.get_vocab()
    ordered = sorted(vocab, key=vocab.__getitem__)
    if tuple(ordered[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        return False
    if sorted(vocab.values()) != list(range(len(vocab))):
        return False
    return all(len(token) == 1 for token in ordered[len(SPECIAL_TOKENS) :])


def new_characters(tokenizer: Any, texts: Iterable[str]) -> list[str]:
    """The characters of `texts` (NFD code points) that `tokenizer` has no token for, sorted."""
    known = tokenizer.get_vocab()
    return [c for c in alphabet_of(texts) if c not in known and not c.isspace()]


def grow_vocabulary(model: Any, processor: Any, texts: Iterable[str]) -> list[str]:
    """Adds the characters of `texts` that the model cannot write to its vocabulary, in place.

    Args:
        model: A `VisionEncoderDecoderModel` with a character tokenizer (a CTC head on its
            encoder is grown too).
        processor: Its processor; `processor.tokenizer` is replaced by the grown tokenizer.
        texts: The training transcriptions.

    Returns:
        The characters added (empty when there were none, or when the tokenizer is not a
        character tokenizer: a subword vocabulary cannot be grown this way, and is left alone
        with a warning).
    """
    tokenizer = processor.tokenizer
    added = new_characters(tokenizer, texts)
    if not added:
        return []
    if not is_char_tokenizer(tokenizer):
        logger.warning(
            "the checkpoint's tokenizer is not a character tokenizer; %d new characters stay "
            "<unk>: %s",
            len(added),
            "".join(added)[:80],
        )
        return []
    vocab = tokenizer.get_vocab()
    old = sorted(vocab, key=vocab.__getitem__)[len(SPECIAL_TOKENS) :]
    grown = build_char_tokenizer([*old, *added])
    if any(grown.get_vocab()[token] != index for token, index in vocab.items()):
        raise AssertionError("growing the vocabulary moved an old token")  # a bug, not input
    size = len(grown)
    model.decoder.resize_token_embeddings(size)
    model.config.decoder.vocab_size = size
    _grow_ctc_head(model.encoder, size)
    processor.tokenizer = grown
    logger.info("vocabulary grown by %d characters to %d: %s", len(added), size, "".join(added))
    return added


def _grow_ctc_head(encoder: Any, size: int) -> None:
    import torch

    head = getattr(encoder, "ctc_head", None)
    if head is None:
        return
    grown = torch.nn.Linear(head.in_features, size, bias=head.bias is not None)
    grown.to(device=head.weight.device, dtype=head.weight.dtype)
    with torch.no_grad():
        grown.weight.zero_()
        grown.weight[: head.out_features] = head.weight
        if head.bias is not None:
            grown.bias.fill_(float(head.bias.min()))
            grown.bias[: head.out_features] = head.bias
    encoder.ctc_head = grown
    encoder.config.ctc_vocab_size = size
