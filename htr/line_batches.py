"""Batches of line images of different widths that read as each line does on its own.

legajo's line encoder (`htr.line_model`) has no padding mask: in a batch padded to its widest
line, a short line's encoder steps would attend to the padding, the decoder would attend to
the padding's steps, and the CTC head would score them, so a line's reading would depend on
the lines it happens to be batched with. Here each line is encoded on its own (exactly as a
one-line batch is), and only the decoder runs batched:

- `encode_lines` runs the encoder once per line; its steps and CTC log-probabilities are then
  padded into one batch by `stack_encoded`.
- `shared_cross_attention` replaces the decoder's cross-attention while the batch is decoded
  (by `htr.beam_search`, or `generate`): the beams of a line attend to one copy of its
  encoder steps (not one copy per beam, as `generate` expands them), with the padded steps
  masked; `LineCrossAttention.keep` drops the lines whose search is over. For decoders not
  laid out like TrOCR's, `masked_cross_attention` hands the decoder an
  ``encoder_attention_mask`` instead (`VisionEncoderDecoderModel.forward` passes none itself).
- Padded CTC frames emit the blank with certainty, which leaves every CTC prefix score
  (`htr.line_model.CTCPrefixScorer`) as it is without them.
- `SharedCrossAttentionCache` keeps `generate`'s beam search from copying the cross-attention
  keys and values at every step: all beams of a line attend to the same encoder steps, so reordering
  beams within a line leaves them unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transformers.cache_utils import EncoderDecoderCache

if TYPE_CHECKING:
    import torch
    from PIL import Image

PADDED_LOG_PROB = -1e4
"""CTC log-probability of every non-blank token in a padded frame (the blank gets 0)."""


@dataclass(frozen=True, slots=True)
class EncodedLine:
    """One line image through the encoder.

    Attributes:
        hidden: The encoder steps, (steps, hidden).
        ctc_log_probs: The CTC head's log-probabilities, (steps, vocabulary); None without
            a CTC head.
        ctc_length: Tokens in the CTC head's greedy reading (best path, repeats merged,
            blanks dropped); 0 without a CTC head.
    """

    hidden: torch.Tensor
    ctc_log_probs: torch.Tensor | None
    ctc_length: int = 0

    @property
    def steps(self) -> int:
        """How many encoder steps the line has."""
        return int(self.hidden.shape[0])


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Encoded lines padded to one length.

    Attributes:
        hidden: (lines, steps, hidden), zero after each line's end.
        mask: (lines, steps), 1 on a line's own steps and 0 on padding.
        ctc_log_probs: (lines, steps, vocabulary), a certain blank after each line's end;
            None without a CTC head.
        padded: Whether any line is shorter than the batch.
    """

    hidden: torch.Tensor
    mask: torch.Tensor
    ctc_log_probs: torch.Tensor | None
    padded: bool


class SharedCrossAttentionCache(EncoderDecoderCache):
    """An encoder-decoder cache whose cross-attention part is not reordered between beams.

    Beam search reorders the cache at every step with indices that always stay within a
    line's own beams; the cross-attention keys and values of those beams are copies of the
    same line's, so copying them again changes nothing and costs a full pass over them.
    """

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Reorders the self-attention cache only."""
        self.self_attention_cache.reorder_cache(beam_idx)


def new_generation_cache(model: Any) -> SharedCrossAttentionCache:
    """An empty `SharedCrossAttentionCache` for one `generate` call of `model`."""
    from transformers import DynamicCache

    config = model.config.get_text_config(decoder=True)
    return SharedCrossAttentionCache(DynamicCache(config=config), DynamicCache(config=config))


class LineCrossAttention:
    """The replaced cross-attention of a decoder's layers: one copy of each line's keys/values.

    Rows of the decoder's input are the lines' beams, consecutive, all lines with the same
    number of beams. `keep` drops lines (a beam search whose lines have finished).
    """

    def __init__(self, layers: list[Any], states: torch.Tensor, mask: torch.Tensor) -> None:
        """Computes each layer's keys and values of `states`, (lines, steps, hidden)."""
        import torch

        padding = torch.zeros(mask.shape, dtype=states.dtype, device=states.device)
        self._padding = padding.masked_fill(mask == 0, torch.finfo(states.dtype).min)[
            :, None, None, :
        ]
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        for attention in layers:
            shape = (states.shape[0], -1, attention.num_heads, attention.head_dim)
            # Contiguous once, so that no step copies them: keys as (lines, heads, d, S),
            # values as (lines, heads, S, d).
            self._keys.append(attention.k_proj(states).view(shape).permute(0, 2, 3, 1).contiguous())
            self._values.append(attention.v_proj(states).view(shape).transpose(1, 2).contiguous())

    def keep(self, lines: torch.Tensor) -> None:
        """Keeps only the given lines (indices into the current ones), in that order."""
        self._padding = self._padding.index_select(0, lines)
        self._keys = [keys.index_select(0, lines) for keys in self._keys]
        self._values = [values.index_select(0, lines) for values in self._values]

    def forward(self, index: int, attention: Any) -> Callable[..., tuple[torch.Tensor, None]]:
        """The forward of layer `index`'s cross-attention module `attention`."""
        import torch

        def forward(
            hidden_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, None]:
            keys, values = self._keys[index], self._values[index]
            lines, heads, head_dim, _ = keys.shape
            rows, length, width = hidden_states.shape
            beams = rows // lines
            queries = attention.q_proj(hidden_states) * attention.scaling
            queries = queries.view(lines, beams * length, heads, head_dim).transpose(1, 2)
            weights = torch.matmul(queries, keys) + self._padding
            weights = torch.softmax(weights, dim=-1)
            output = torch.matmul(weights, values)  # (lines, heads, beams * length, d)
            output = output.transpose(1, 2).reshape(rows, length, width)
            return attention.out_proj(output), None

        return forward


@contextlib.contextmanager
def shared_cross_attention(
    model: Any, hidden: torch.Tensor, mask: torch.Tensor
) -> Iterator[LineCrossAttention | None]:
    """Lets the beams of each line attend to one copy of its encoder steps while the block runs.

    `generate` expands the encoder steps to one copy per beam, and TrOCR's cross-attention
    multiplies each beam's query with its own copy of the line's keys and values: ``beams``
    times the memory traffic of one copy, which is most of a decoding step's attention
    time. Here each decoder layer's cross-attention gets the keys and values of each line
    once, from `hidden`, and multiplies the queries of all its beams with them at once,
    masking the padded steps. Decoders not laid out like TrOCR's are left as they are.

    Args:
        model: A `VisionEncoderDecoderModel`.
        hidden: The encoder steps, (lines, steps, hidden).
        mask: (lines, steps), 1 on a line's own steps.

    Yields:
        The replacement (whose `LineCrossAttention.keep` drops lines), or None when the
        cross-attention was not replaced (then use `masked_cross_attention`).
    """
    layers = _cross_attention_layers(model)
    if layers is None:
        yield None
        return
    states = hidden
    decoder_config = model.decoder.config
    if model.encoder.config.hidden_size != decoder_config.hidden_size and (
        getattr(decoder_config, "cross_attention_hidden_size", None) is None
    ):
        states = model.enc_to_dec_proj(states)
    replaced = LineCrossAttention(layers, states, mask)
    for index, attention in enumerate(layers):
        attention.forward = replaced.forward(index, attention)
    try:
        yield replaced
    finally:
        for attention in layers:
            del attention.forward


def _cross_attention_layers(model: Any) -> list[Any] | None:
    """The cross-attention modules of a TrOCR decoder, or None for another decoder."""
    decoder = getattr(getattr(model.decoder, "model", None), "decoder", None)
    layers = getattr(decoder, "layers", None)
    if layers is None:
        return None
    found = [getattr(layer, "encoder_attn", None) for layer in layers]
    needed = ("k_proj", "v_proj", "num_heads", "head_dim")
    if not found or not all(all(hasattr(a, n) for n in needed) for a in found):
        return None
    return found


def encode_lines(
    model: Any,
    processor: Any,
    images: Sequence[Image.Image],
    device: torch.device,
    blank_id: int = 0,
) -> list[EncodedLine]:
    """Runs the encoder on each line image on its own.

    Args:
        model: A `VisionEncoderDecoderModel` with a line encoder.
        processor: Its processor.
        images: RGB line images.
        device: Where the model is.
        blank_id: The CTC blank token.

    Returns:
        One `EncodedLine` per image, in order.
    """
    encoded = []
    for image in images:
        pixels = processor(images=[image], return_tensors="pt").pixel_values
        output = model.encoder(pixel_values=pixels.to(device=device, dtype=model.dtype))
        ctc_logits = getattr(output, "ctc_logits", None)
        log_probs = None if ctc_logits is None else ctc_logits[0].float().log_softmax(dim=-1)
        length = 0
        if log_probs is not None:
            path = log_probs.argmax(dim=-1).unique_consecutive()
            length = int((path != blank_id).sum())
        encoded.append(EncodedLine(output.last_hidden_state[0], log_probs, length))
    return encoded


def stack_encoded(lines: Sequence[EncodedLine], blank_id: int) -> EncodedBatch:
    """Pads encoded lines to the longest one (see the module docstring).

    Args:
        lines: Encoded lines, all with CTC log-probabilities or none.
        blank_id: The CTC blank token.

    Returns:
        The padded batch.
    """
    import torch

    steps = max(line.hidden.shape[0] for line in lines)
    first = lines[0].hidden
    hidden = first.new_zeros((len(lines), steps, first.shape[1]))
    mask = torch.zeros((len(lines), steps), dtype=torch.long, device=first.device)
    ctc = None
    if lines[0].ctc_log_probs is not None:
        vocabulary = lines[0].ctc_log_probs.shape[1]
        ctc = torch.full((len(lines), steps, vocabulary), PADDED_LOG_PROB, device=first.device)
        ctc[:, :, blank_id] = 0.0
    for i, line in enumerate(lines):
        length = line.hidden.shape[0]
        hidden[i, :length] = line.hidden
        mask[i, :length] = 1
        if ctc is not None and line.ctc_log_probs is not None:
            ctc[i, :length] = line.ctc_log_probs
    padded = any(line.hidden.shape[0] < steps for line in lines)
    return EncodedBatch(hidden, mask, ctc, padded)


@contextlib.contextmanager
def masked_cross_attention(model: Any, mask: torch.Tensor) -> Iterator[None]:
    """Gives the decoder of `model` an encoder attention mask while the block runs.

    Args:
        model: A `VisionEncoderDecoderModel`.
        mask: (lines, steps) mask of the encoder steps; the decoder's rows are the lines'
            beams, consecutive (as `generate` expands them).
    """

    def add_mask(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        states = kwargs.get("encoder_hidden_states")
        if states is None:
            return None
        repeats = states.shape[0] // mask.shape[0]
        kwargs["encoder_attention_mask"] = mask.repeat_interleave(repeats, dim=0)
        return args, kwargs

    handle = model.decoder.register_forward_pre_hook(add_mask, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
