"""legajo's line encoder: a convolutional stem, a small transformer and a CTC head.

The stem collapses a line image of fixed height (48 px by default, any width) to one row and
downsamples its width by 4, so a 1024-px line becomes 256 steps; two transformer layers
contextualise the steps; a linear CTC head reads characters straight off them. A
`TrOCRForCausalLM` decoder cross-attends to the steps inside a standard
`VisionEncoderDecoderModel`, so checkpoints stay normal Hugging Face checkpoint directories.

Importing `htr.line_model` registers the encoder with `AutoConfig` and `AutoModel` and the
line image processor (`htr.line_processor`) with `AutoImageProcessor`, which is all
`VisionEncoderDecoderModel.from_pretrained` and `AutoProcessor.from_pretrained` need.

Everything above the ``# end of the remote code`` line imports only torch and transformers:
`htr.remote_code` copies it into model folders as ``modeling_legajo_line.py``, where the
``auto_map`` of ``config.json`` points at `LineVisionEncoderDecoderConfig` and
`LineVisionEncoderDecoderModel`, so that plain transformers loads legajo's models with
``AutoModel.from_pretrained(path, trust_remote_code=True)``. The registration below that line
is legajo's own and stays out of the copy.

The CTC head is what makes a from-scratch model align quickly on a few thousand lines (joint
CTC/attention training), and at inference it gives length control and rescoring of the
decoder's n-best (see `htr.trocr`). Its logits come out of the encoder as
`LineEncoderOutput.ctc_logits`; the CTC blank is the tokenizer's pad token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import (
    PretrainedConfig,
    PreTrainedModel,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
)
from transformers.configuration_utils import SubConfigSpec
from transformers.modeling_outputs import BaseModelOutput

MODEL_TYPE = "legajo_line_encoder"

DEFAULT_STEM: tuple[tuple[int, int, int], ...] = (
    (32, 2, 2),
    (64, 2, 2),
    (96, 2, 1),
    (128, 2, 1),
    (192, 3, 1),
)
"""Stem blocks as (output channels, height pooling, width pooling): 48 px high -> 1 row, /4."""
LOG_FLOOR = -1e4
"""CTC log-probabilities below this count as this in prefix scoring (exp(-1e4) is 0 anyway)."""


class LineEncoderConfig(PretrainedConfig):
    """Configuration of `LineEncoderModel`.

    Attributes:
        image_height: Height of the input lines in pixels; the stem's height pooling must
            multiply to it.
        num_channels: Input channels (1: greyscale).
        stem: Convolution blocks as (channels, height pooling, width pooling).
        hidden_size: Width of the encoder steps.
        num_hidden_layers: Transformer layers after the stem.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the transformer feed-forward layers.
        dropout: Dropout in the transformer layers.
        ctc_vocab_size: Size of the CTC head's output (the tokenizer's vocabulary); 0 for none.
        ctc_blank_id: Token id used as the CTC blank (the tokenizer's pad token).
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        image_height: int = 48,
        num_channels: int = 1,
        stem: list[list[int]] | tuple[tuple[int, int, int], ...] = DEFAULT_STEM,
        hidden_size: int = 256,
        num_hidden_layers: int = 2,
        num_attention_heads: int = 4,
        intermediate_size: int = 1024,
        dropout: float = 0.1,
        ctc_vocab_size: int = 0,
        ctc_blank_id: int = 0,
        **kwargs: Any,
    ) -> None:
        self.image_height = image_height
        self.num_channels = num_channels
        self.stem = [list(block) for block in stem]
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.dropout = dropout
        self.ctc_vocab_size = ctc_vocab_size
        self.ctc_blank_id = ctc_blank_id
        super().__init__(**kwargs)
        pooled = math.prod(block[1] for block in self.stem)
        if pooled != image_height:
            raise ValueError(
                f"the stem pools the height by {pooled}, but image_height is {image_height}"
            )

    @property
    def width_reduction(self) -> int:
        """How many input pixel columns make one encoder step."""
        return math.prod(block[2] for block in self.stem)


@dataclass
class LineEncoderOutput(BaseModelOutput):
    """`BaseModelOutput` plus the CTC head's logits, shape (batch, steps, vocabulary)."""

    ctc_logits: torch.Tensor | None = None


class _ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels_out)
        self.act = nn.GELU()
        self.pool = nn.MaxPool2d(pool) if pool != (1, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm(self.conv(x)))
        if self.training or not isinstance(self.pool, nn.MaxPool2d):
            return self.pool(x)  # type: ignore[no-any-return]
        return _max_pool(x, self.pool.kernel_size)  # type: ignore[arg-type]


def _max_pool(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``nn.MaxPool2d(size)`` (stride = size, no padding): the same values, for inference.

    The maximum of strided slices: on CPU several times faster than `max_pool2d`, which also
    computes the indices of the maxima (measured: a 48-px line's stem pools in 0.3 ms
    instead of 3.8 ms). Training keeps `nn.MaxPool2d`, whose gradient goes to one maximum.
    """
    pool_h, pool_w = size
    x = x[..., : x.shape[-2] // pool_h * pool_h, : x.shape[-1] // pool_w * pool_w]
    pooled = x[..., 0::pool_h, :]
    for i in range(1, pool_h):
        pooled = torch.maximum(pooled, x[..., i::pool_h, :])
    if pool_w == 1:
        return pooled
    columns = pooled[..., 0::pool_w]
    for j in range(1, pool_w):
        columns = torch.maximum(columns, pooled[..., j::pool_w])
    return columns


def _sinusoids(length: int, width: int, device: torch.device) -> torch.Tensor:
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(
        torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / width)
    )
    table = torch.zeros(length, width, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


class LineEncoderModel(PreTrainedModel):
    """Line image (batch, channels, height, width) -> steps (batch, width / 4, hidden)."""

    config_class = LineEncoderConfig
    base_model_prefix = "line_encoder"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = False

    def __init__(self, config: LineEncoderConfig) -> None:
        super().__init__(config)
        blocks: list[nn.Module] = []
        channels = config.num_channels
        for out, pool_h, pool_w in config.stem:
            blocks.append(_ConvBlock(channels, out, (pool_h, pool_w)))
            channels = out
        self.stem = nn.Sequential(*blocks)
        self.stem_out = nn.Conv2d(channels, config.hidden_size, (1, 3), padding=(0, 1))
        self.stem_norm = nn.LayerNorm(config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            config.hidden_size,
            config.num_attention_heads,
            config.intermediate_size,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(
            layer, config.num_hidden_layers, enable_nested_tensor=False
        )
        self.final_norm = nn.LayerNorm(config.hidden_size)
        self.ctc_head = (
            nn.Linear(config.hidden_size, config.ctc_vocab_size)
            if config.ctc_vocab_size > 0
            else None
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        from transformers import initialization as init

        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            if isinstance(module, nn.BatchNorm2d):
                init.zeros_(module.running_mean)  # type: ignore[arg-type]
                init.ones_(module.running_var)  # type: ignore[arg-type]
        elif isinstance(module, nn.MultiheadAttention):
            module._reset_parameters()

    def get_output_embeddings(self) -> None:
        """The CTC head is not a language-model head: the encoder has none."""
        return None

    def get_input_embeddings(self) -> nn.Module:
        """The first convolution (the encoder has no token embeddings)."""
        first: nn.Module = self.stem[0]
        return first.conv  # type: ignore[return-value]

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> LineEncoderOutput | tuple[torch.Tensor, ...]:
        """Encodes a batch of line images.

        Args:
            pixel_values: (batch, channels, image_height, width), width any multiple of 4.
            output_attentions: Ignored (the layers do not return attention weights).
            output_hidden_states: Also return the stem's output and each layer's output.
            return_dict: Return a `LineEncoderOutput` (default) rather than a tuple.
            **kwargs: Ignored; accepted for the `VisionEncoderDecoderModel` calling convention.

        Returns:
            The steps and, with a CTC head, its logits.
        """
        if pixel_values.shape[1] != self.config.num_channels:
            pixel_values = pixel_values.mean(dim=1, keepdim=True)
        x = self.stem(pixel_values)
        x = self.stem_out(x).squeeze(2).transpose(1, 2)  # (batch, steps, hidden)
        x = self.stem_norm(x) + _sinusoids(x.shape[1], x.shape[2], x.device).to(x.dtype)
        x = self.dropout(x)
        hidden_states: list[torch.Tensor] = [x]
        for layer in self.layers.layers:
            x = layer(x)
            hidden_states.append(x)
        x = self.final_norm(x)
        ctc_logits = self.ctc_head(x) if self.ctc_head is not None else None
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        states = tuple(hidden_states) if output_hidden_states else None
        if not return_dict:
            return tuple(t for t in (x, states, ctc_logits) if t is not None)  # type: ignore[misc]
        return LineEncoderOutput(last_hidden_state=x, hidden_states=states, ctc_logits=ctc_logits)


class CTCPrefixScorer:
    """A `generate` logits processor for joint CTC/attention decoding.

    At each step the decoder's `candidates` most likely next tokens of each hypothesis (and
    the end token) are rescored as ``(1 - weight) * decoder log-probability + weight * CTC
    prefix score increment``, where the prefix score is the CTC probability of all label
    sequences that start with the hypothesis (Watanabe et al., 2017, hybrid CTC/attention);
    for the end token it is the CTC probability of exactly the hypothesis. All other tokens
    are ruled out. The decoder stays the one that writes the reading, the CTC head keeps it
    aligned with the image: no runaway repetition, no early stop.

    Works for greedy and beam search (beams of one line are consecutive rows). A row whose
    prefix it has not seen (e.g. padding after a finished greedy reading) keeps the decoder's
    scores.
    """

    def __init__(
        self,
        ctc_log_probs: torch.Tensor,
        num_beams: int,
        blank_id: int,
        eos_id: int,
        excluded_ids: Sequence[int] = (),
        weight: float = 0.5,
        candidates: int = 8,
    ) -> None:
        """Prepares the scorer for one batch.

        Args:
            ctc_log_probs: The CTC head's log-probabilities, (lines, steps, vocabulary).
            num_beams: Beams per line.
            blank_id: The CTC blank token.
            eos_id: The end token.
            excluded_ids: Tokens never proposed (start, padding).
            weight: Weight of the CTC prefix score.
            candidates: Decoder candidates rescored per hypothesis and step.
        """
        # Float64 and floored at LOG_FLOOR: the recursion over time is solved in closed form
        # with cumulative sums (`_prefix_recursion`), which needs finite values and precision.
        y = ctc_log_probs.detach().to(torch.float64).clamp(min=LOG_FLOOR)
        lines, steps, self._vocabulary = y.shape
        # Each (line, token)'s frames contiguous: a step gathers whole rows (`_frames`).
        self._y_rows = y.transpose(1, 2).reshape(lines * self._vocabulary, steps)
        self._beams = num_beams
        self._blank = blank_id
        self._eos = eos_id
        self._excluded = sorted({*excluded_ids, blank_id} - {eos_id})
        self._weight = weight
        # Never more candidates than allowed tokens: top-k would otherwise take excluded ones.
        self._candidates = min(candidates, self._vocabulary - len(self._excluded))
        # Forward variables of the empty prefix of each line (columns 0..lines-1), followed
        # by those of the prefixes scored at the last step: a step gathers its rows' parents
        # with one index.
        self._initial_n = torch.full((steps, lines), -math.inf, dtype=y.dtype)
        self._initial_b = torch.cumsum(y[:, :, self._blank].t(), dim=0)
        self._bank_n, self._bank_b = self._initial_n, self._initial_b
        self._scored: dict[tuple[int, tuple[int, ...]], int] = {}
        """(line, prefix) of each hypothesis scored at the last step -> its index i there: its
        candidate extensions' prefix scores are ``self._psi[i, token]`` (NaN for a token that
        was no candidate), and their parent's forward variables are in bank column
        ``lines + i``. A candidate's own forward variables are computed only if beam search
        keeps it."""
        self._psi = torch.empty((0, ctc_log_probs.shape[-1]), dtype=y.dtype)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Rescores the next-token scores of each running hypothesis."""
        lines = [row // self._beams for row in range(input_ids.shape[0])]
        return self.rescore(input_ids, scores, lines)

    def rescore(
        self, input_ids: torch.Tensor, scores: torch.Tensor, lines: Sequence[int]
    ) -> torch.Tensor:
        """Rescores the next-token scores of hypotheses of any of the scorer's lines.

        Args:
            input_ids: The hypotheses so far, start token first, (rows, length).
            scores: The decoder's next-token scores, (rows, vocabulary).
            lines: The line (of the scorer's batch) of each row: a beam search that drops
                finished lines from its batch names the lines still running.

        Returns:
            The joint scores, (rows, vocabulary).
        """
        log_probs = scores.float().log_softmax(dim=-1)
        rows = input_ids.shape[0]
        prefixes = [tuple(ids) for ids in input_ids[:, 1:].tolist()]
        known, parents, psi_known = self._known_rows(prefixes, lines)
        if not known:
            return scores
        every = len(known) == rows
        line_index = torch.tensor([lines[row] for row in known])
        r_n, r_b = self._forward_variables([prefixes[row] for row in known], line_index, parents)
        known_log_probs = log_probs if every else log_probs[known]
        masked = known_log_probs.clone()
        if self._excluded:
            masked.index_fill_(1, torch.tensor(self._excluded), -math.inf)
        top = masked.topk(self._candidates, dim=-1).indices  # (n, k)
        has_eos = (top == self._eos).any(dim=-1, keepdim=True)
        top = torch.where(
            has_eos, top, torch.cat([top[:, :-1], torch.full_like(top[:, :1], self._eos)], dim=1)
        )
        x = self._frames(line_index[:, None], top)  # (T, n, k)
        r_sum = torch.logaddexp(r_n, r_b)
        last = torch.tensor([prefixes[row][-1] if prefixes[row] else -1 for row in known])
        # phi[t - 1] + x[t]: phi is r_sum, or r_b for the candidate repeating the last token.
        paths = r_sum[:-1, :, None] + x[1:]  # (T - 1, n, k)
        repeat_rows, repeat_columns = (top == last[:, None]).nonzero(as_tuple=True)
        paths[:, repeat_rows, repeat_columns] = (
            r_b[:-1, repeat_rows] + x[1:, repeat_rows, repeat_columns]
        )
        empty = torch.tensor([not prefixes[row] for row in known])
        if bool(empty.any()):  # the first label may also start at frame 0
            first = torch.where(empty[:, None], x[0], torch.full_like(x[0], -math.inf))
            paths = torch.cat([first[None], paths], dim=0)
        psi = torch.logsumexp(paths, dim=0)  # (n, k)
        is_eos = top == self._eos
        psi = torch.where(is_eos, r_sum[-1].unsqueeze(-1).expand_as(psi), psi)
        joint = (1 - self._weight) * known_log_probs.gather(1, top) + self._weight * (
            psi - psi_known[:, None]
        ).to(log_probs.dtype)
        if every:
            out = torch.full_like(scores, -math.inf).scatter_(1, top, joint.to(scores.dtype))
        else:
            out = scores.clone()
            out[known] = -math.inf
            rows_known = torch.tensor(known)[:, None].expand_as(top)
            out[rows_known, top] = joint.to(out.dtype)
        self._bank_n = torch.cat([self._initial_n, r_n], dim=1)
        self._bank_b = torch.cat([self._initial_b, r_b], dim=1)
        self._scored = {(lines[row], prefixes[row]): i for i, row in enumerate(known)}
        self._psi = torch.full((len(known), log_probs.shape[-1]), math.nan, dtype=psi.dtype)
        self._psi.scatter_(1, top, psi)
        self._psi[:, self._eos] = math.nan
        return out

    def _known_rows(
        self, prefixes: list[tuple[int, ...]], lines: Sequence[int]
    ) -> tuple[list[int], list[int], torch.Tensor]:
        """The rows whose prefix was proposed at the last step (or is empty), in order.

        Returns:
            Those rows, their parents' bank columns and their prefix scores.
        """
        rows = range(len(prefixes))
        empty = [row for row in rows if not prefixes[row]]
        found = [
            (row, i)
            for row in rows
            if prefixes[row]
            and (i := self._scored.get((lines[row], prefixes[row][:-1]))) is not None
        ]
        psi = self._psi[[i for _, i in found], [prefixes[row][-1] for row, _ in found]]
        proposed = (~psi.isnan()).tolist()
        state = {row: (lines[row], 0.0) for row in empty}
        columns = self._initial_n.shape[1]
        for (row, i), score, kept in zip(found, psi.tolist(), proposed, strict=True):
            if kept:
                state[row] = (columns + i, score)
        known = sorted(state)
        psi_known = torch.tensor([state[row][1] for row in known], dtype=self._psi.dtype)
        return known, [state[row][0] for row in known], psi_known

    def _frames(self, lines: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The log-probabilities of `tokens` of `lines` (broadcast) per frame, (frames, *shape).

        A view whose frames are its contiguous dimension (a transposed gather of rows).
        """
        flat = (lines * self._vocabulary + tokens).reshape(-1)
        shape = torch.broadcast_shapes(lines.shape, tokens.shape)
        return self._y_rows.index_select(0, flat).t().view(-1, *shape)

    def _forward_variables(
        self, prefixes: list[tuple[int, ...]], line_index: torch.Tensor, parents: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward variables ``r_n``, ``r_b`` (frames, rows) of the running prefixes.

        An empty prefix's are the line's initial ones (its parent column is its line); any
        other's follow from its parent's (the prefix without its last token).
        """
        parent_index = torch.tensor(parents)
        r_n_parent = self._bank_n.index_select(1, parent_index)  # (T, n)
        r_b_parent = self._bank_b.index_select(1, parent_index)
        extended = [i for i, prefix in enumerate(prefixes) if prefix]
        if not extended:
            return r_n_parent, r_b_parent
        every = len(extended) == len(prefixes)
        index = torch.tensor(extended)
        tokens = torch.tensor([prefixes[i][-1] for i in extended])
        before = torch.tensor([prefixes[i][-2] if len(prefixes[i]) > 1 else -1 for i in extended])
        line_of = line_index if every else line_index[index]
        x = self._frames(line_of, tokens).unsqueeze(-1)  # (T, m, 1)
        r_n_p, r_b_p = (
            (r_n_parent, r_b_parent) if every else (r_n_parent[:, index], r_b_parent[:, index])
        )
        phi = torch.where(
            (tokens == before)[None, :], r_b_p, torch.logaddexp(r_n_p, r_b_p)
        ).unsqueeze(-1)
        first_token = torch.tensor([len(prefixes[i]) == 1 for i in extended])
        y_blank = self._frames(line_of, torch.full_like(line_of, self._blank))  # (T, m)
        r_n_new, r_b_new = _prefix_recursion(x, phi, y_blank, first_token)
        if every:
            return r_n_new[:, :, 0], r_b_new[:, :, 0]
        r_n, r_b = r_n_parent.clone(), r_b_parent.clone()
        r_n[:, index] = r_n_new[:, :, 0]
        r_b[:, index] = r_b_new[:, :, 0]
        return r_n, r_b


def _prefix_recursion(
    x: torch.Tensor, phi: torch.Tensor, y_blank: torch.Tensor, empty: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CTC prefix forward variables of each candidate extension, for all frames at once.

    The recursion of Watanabe et al. (2017) over frames t,
    ``r_n[t] = logaddexp(r_n[t-1], phi[t-1]) + x[t]`` and
    ``r_b[t] = logaddexp(r_b[t-1], r_n[t-1]) + y_blank[t]``, is linear in probability space, so
    it is solved in closed form: ``r_n[t] = Cx[t] + logcumsumexp(g)[t]`` with ``Cx`` the
    cumulative sum of ``x`` and ``g[s] = phi[s-1] - Cx[s-1]`` (``g[0] = r_n[0] - x[0]``), and
    ``r_b`` likewise from ``r_n``. A handful of tensor operations replace a Python loop over
    the frames; float64 keeps the differences of large cumulative sums exact to ~1e-10.

    Args:
        x: Log-probabilities of each candidate token per frame, (frames, rows, candidates);
            finite (floored at `LOG_FLOOR`).
        phi: Log-probability of the prefix ending before each frame so that the candidate can
            start a new label there, (frames, rows, candidates).
        y_blank: Log-probability of the blank per frame, (frames, rows).
        empty: Whether each row's prefix is empty, (rows,).

    Returns:
        ``r_n`` and ``r_b``, each (frames, rows, candidates): log-probabilities of the
        extended prefix having been emitted by frame t, ending in the label or in blanks.
    """
    minus_inf = torch.tensor(-math.inf, dtype=x.dtype)
    c_x = torch.cumsum(x, dim=0)
    first = torch.where(empty[:, None], torch.zeros_like(x[0]), minus_inf.expand_as(x[0]))
    g = torch.cat([first.unsqueeze(0), phi[:-1] - c_x[:-1]], dim=0)
    r_n = c_x + torch.logcumsumexp(g, dim=0)
    c_b = torch.cumsum(y_blank, dim=0).unsqueeze(-1)  # (frames, rows, 1)
    h = torch.cat([minus_inf.expand_as(x[:1]), r_n[:-1] - c_b[:-1]], dim=0)
    r_b = c_b + torch.logcumsumexp(h, dim=0)
    return r_n, r_b


def has_ctc_head(model: Any) -> bool:
    """Tells whether a VisionEncoderDecoder model's encoder is a line encoder with a CTC head."""
    encoder = getattr(model, "encoder", None)
    return isinstance(encoder, LineEncoderModel) and encoder.ctc_head is not None


class LineVisionEncoderDecoderConfig(VisionEncoderDecoderConfig):
    """`VisionEncoderDecoderConfig` whose encoder is always a `LineEncoderConfig`.

    Only for loading with plain transformers (the ``auto_map`` of a model folder): it resolves
    the encoder's configuration without `AutoConfig` knowing legajo's model type. legajo itself
    loads its models as plain `VisionEncoderDecoderModel`s.
    """

    sub_configs_defaults = {  # noqa: RUF012 (transformers' class attribute)
        **VisionEncoderDecoderConfig.sub_configs_defaults,
        "encoder": SubConfigSpec(config_class=LineEncoderConfig),
    }


class LineVisionEncoderDecoderModel(VisionEncoderDecoderModel):
    """`VisionEncoderDecoderModel` with legajo's line encoder, built without `AutoModel`.

    Same modules and weight names as legajo's own loading, so the same outputs; it exists so
    that ``AutoModel.from_pretrained(path, trust_remote_code=True)`` needs no registration.
    """

    config_class = LineVisionEncoderDecoderConfig

    def __init__(
        self,
        config: LineVisionEncoderDecoderConfig | None = None,
        encoder: PreTrainedModel | None = None,
        decoder: PreTrainedModel | None = None,
    ) -> None:
        if encoder is None and config is not None:
            if not isinstance(config.encoder, LineEncoderConfig):
                kind = type(config.encoder).__name__
                raise TypeError(f"the encoder configuration is a {kind}, not a LineEncoderConfig")
            encoder = LineEncoderModel(config.encoder)
        super().__init__(config, encoder, decoder)


# end of the remote code: what follows is legajo's own (see the module docstring).


def _register_with_auto_classes() -> None:
    """Registers the encoder and the line image processor with transformers' Auto classes."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    from htr.line_processor import LineImageProcessor

    AutoConfig.register(MODEL_TYPE, LineEncoderConfig, exist_ok=True)
    AutoModel.register(LineEncoderConfig, LineEncoderModel, exist_ok=True)
    AutoImageProcessor.register(
        LineEncoderConfig, slow_image_processor_class=LineImageProcessor, exist_ok=True
    )


_register_with_auto_classes()
