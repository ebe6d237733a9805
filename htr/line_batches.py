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
  masked (in groups of lines of similar length, each over its own longest line's steps:
  `htr.line_groups`); `LineCrossAttention.keep` drops the lines whose search is over. For
  decoders not laid out like TrOCR's, `masked_cross_attention` hands the decoder an
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

from htr.line_groups import group_slices

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


@dataclass(slots=True)
class _LineGroup:
    """Consecutive lines whose keys and values are padded to their own longest line.

    Attributes:
        lines: How many lines.
        padding: Added to the attention weights, (lines, 1, 1, steps): the smallest float
            on a line's padded steps, 0 on its own; None when no line is padded.
        keys: Per layer, (lines, heads, head size, steps).
        values: Per layer, (lines, heads, steps, head size).
    """

    lines: int
    padding: torch.Tensor | None
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    def keep(self, lines: torch.Tensor) -> None:
        """Keeps only the given lines (indices into the group's), in that order."""
        self.lines = int(lines.numel())
        if self.padding is not None:
            self.padding = self.padding.index_select(0, lines)
        self.keys = [keys.index_select(0, lines) for keys in self.keys]
        self.values = [values.index_select(0, lines) for values in self.values]


class LineCrossAttention:
    """The replaced cross-attention of a decoder's layers: one copy of each line's keys/values.

    Rows of the decoder's input are the lines' beams, consecutive, all lines with the same
    number of beams. Lines may come in consecutive groups (`group_sizes`), each attending
    over its own longest line's steps rather than the batch's: in a batch of lines of
    different lengths most of the steps of the short lines would be padding. `keep` drops
    lines (a beam search whose lines have finished).
    """

    def __init__(
        self,
        layers: list[Any],
        states: torch.Tensor,
        mask: torch.Tensor,
        group_sizes: Sequence[int] | None = None,
    ) -> None:
        """Computes each layer's keys and values of `states`, (lines, steps, hidden).

        Args:
            layers: The decoder's cross-attention modules.
            states: The encoder steps, (lines, steps, hidden).
            mask: (lines, steps), 1 on a line's own steps.
            group_sizes: Lines per group, in order, summing to the lines; None: one group.

        Raises:
            ValueError: The group sizes do not add up to the lines, or one is not positive.
        """
        sizes = [int(states.shape[0])] if group_sizes is None else [int(n) for n in group_sizes]
        if sum(sizes) != states.shape[0] or min(sizes, default=0) < 1:
            raise ValueError(f"group sizes {sizes} do not split {states.shape[0]} lines")
        self._groups: list[_LineGroup] = []
        for group in group_slices(sizes):
            steps = int(mask[group].sum(dim=1).max())
            self._groups.append(_line_group(layers, states[group, :steps], mask[group, :steps]))

    def keep(self, lines: torch.Tensor) -> None:
        """Keeps only the given lines (indices into the current ones, ascending).

        Raises:
            ValueError: The indices are not ascending (with more than one group).
        """
        if len(self._groups) == 1:
            self._groups[0].keep(lines)
            return
        if lines.numel() > 1 and not bool((lines[1:] > lines[:-1]).all()):
            raise ValueError("lines of a grouped batch are kept in order")
        start, kept = 0, []
        for group in self._groups:
            size = group.lines
            inside = lines[(lines >= start) & (lines < start + size)] - start
            if inside.numel() == size:
                kept.append(group)
            elif inside.numel():
                group.keep(inside)
                kept.append(group)
            start += size
        self._groups = kept

    def forward(self, index: int, attention: Any) -> Callable[..., tuple[torch.Tensor, None]]:
        """The forward of layer `index`'s cross-attention module `attention`."""
        import torch

        def forward(
            hidden_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, None]:
            rows, length, width = hidden_states.shape
            beams = rows // sum(group.lines for group in self._groups)
            queries = attention.q_proj(hidden_states) * attention.scaling
            outputs, start = [], 0
            for group in self._groups:
                end = start + group.lines * beams
                # (lines, heads, beams * length, head size)
                group_queries = queries[start:end].view(
                    group.lines, beams * length, attention.num_heads, attention.head_dim
                )
                weights = torch.matmul(group_queries.transpose(1, 2), group.keys[index])
                if group.padding is not None:
                    weights = weights + group.padding
                weights = torch.softmax(weights, dim=-1)
                outputs.append(torch.matmul(weights, group.values[index]))
                start = end
            output = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
            output = output.transpose(1, 2).reshape(rows, length, width)
            return attention.out_proj(output), None

        return forward


def _line_group(layers: list[Any], states: torch.Tensor, mask: torch.Tensor) -> _LineGroup:
    """The keys and values of each layer for `states`, (lines, steps, hidden)."""
    import torch

    padding = None
    if not bool(mask.all()):
        padding = torch.zeros(mask.shape, dtype=states.dtype, device=states.device)
        padding = padding.masked_fill(mask == 0, torch.finfo(states.dtype).min)[:, None, None, :]
    keys, values = [], []
    for attention in layers:
        shape = (states.shape[0], -1, attention.num_heads, attention.head_dim)
        # Contiguous once, so that no step copies them: keys as (lines, heads, d, S),
        # values as (lines, heads, S, d).
        keys.append(attention.k_proj(states).view(shape).permute(0, 2, 3, 1).contiguous())
        values.append(attention.v_proj(states).view(shape).transpose(1, 2).contiguous())
    return _LineGroup(int(states.shape[0]), padding, keys, values)


@contextlib.contextmanager
def shared_cross_attention(
    model: Any, hidden: torch.Tensor, mask: torch.Tensor, group_sizes: Sequence[int] | None = None
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
        group_sizes: Consecutive groups of lines, each attending over its own longest
            line's steps (`htr.line_groups.length_groups`); None: all lines over the batch's.

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
    replaced = LineCrossAttention(layers, states, mask, group_sizes)
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
