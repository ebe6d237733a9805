"""Joint CTC/attention beam search over a batch of lines that drops each line when it is done.

transformers' `generate` runs a batch until its last line is done: a line whose beam search
has finished (its `num_beams` best finished readings can no longer be beaten, or it reached
its length bound) is still decoded, its beams still scored by the CTC head, at every step
until the batch's slowest line finishes, and every line gets the batch's longest length
bound. `beam_search` decodes the same way, step for step (the same top-k continuations,
finished-beam bookkeeping, length normalisation and early-stop heuristic as transformers'
`GenerationMixin._beam_search` with ``early_stopping=False``), but per line: each line stops
at its own length bound and when its own search is over, and it leaves the batch then: its
beams' self-attention cache and its cross-attention keys and values are dropped, and the CTC
scorer is no longer asked about it. A line's readings are those of `generate` reading it
alone; the batch's late steps run on the few lines still going.

It also keeps each beam's token scores (the joint scores of its tokens, as
`compute_transition_scores` reads them back from `generate`'s output) as it goes.

With a character language model (`htr.char_lm`), its weighted log-probability of each next
token is added to the joint scores at every step (shallow fusion), as one more logits
processor after the CTC scorer would add it in `generate`. The token scores kept are then
each step's fused scores normalised over the candidates (a log-softmax of the row): a
probability of each token given the image and the language model, which word confidences
come from (the fused scores themselves are not probabilities, and the joint scores without
the language model would say nothing of why a token was chosen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from htr.char_lm import CharLanguageModel
    from htr.line_batches import LineCrossAttention
    from htr.line_groups import PrefixScorer

NEG = -1.0e9
"""transformers' score for a beam that may not be chosen (see `GenerationMixin._beam_search`)."""


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One finished reading of a line.

    Attributes:
        ids: Its tokens after the start token, up to and with the end token (when it ended).
        token_scores: The joint log-probability of each token, as beam search scored it
            (with a language model: its fused score normalised over the step's candidates).
        score: Beam search's length-normalised score (the sum of the tokens' scores, the
            language model's part included, over the number of tokens).
    """

    ids: list[int]
    token_scores: list[float]
    score: float


def applies_to(model: Any) -> bool:
    """Whether `beam_search` decodes as `generate` would with `model`'s generation config.

    It follows ``early_stopping=False`` (the default) only, and needs the start and end tokens.
    """
    config = model.generation_config
    decoder = getattr(getattr(model.decoder, "model", None), "decoder", None)
    positions = getattr(decoder, "embed_positions", None)
    return (
        config.early_stopping in (None, False)
        and config.decoder_start_token_id is not None
        and isinstance(config.eos_token_id, int)
        and hasattr(model.decoder, "output_projection")
        and hasattr(positions, "offset")  # learned positions (TrOCRLearnedPositionalEmbedding)
        and all(hasattr(layer, "self_attn") for layer in getattr(decoder, "layers", ()))
    )


@dataclass(slots=True)
class _Search:
    """The state of the lines still searching, one row per line (tensors of (lines, ...)).

    Running beams: `sequences` (start token first), `token_scores`, `scores` (summed joint
    log-probabilities). Finished beams, best first: `done_sequences`, `done_token_scores`,
    `done_scores` (length-normalised), `done_lengths` (generated tokens) and `is_finished`
    (False for a slot not filled yet). `improvable`: whether a running beam may still beat
    a finished one (transformers' early-stop heuristic).
    """

    lines: torch.Tensor
    bounds: torch.Tensor
    sequences: torch.Tensor
    token_scores: torch.Tensor
    scores: torch.Tensor
    done_sequences: torch.Tensor
    done_token_scores: torch.Tensor
    done_scores: torch.Tensor
    done_lengths: torch.Tensor
    is_finished: torch.Tensor
    improvable: torch.Tensor

    @classmethod
    def start(cls, max_lengths: list[int], beams: int, start_id: int) -> _Search:
        """All lines at their start token; only the first beam of each is live."""
        import torch

        count, longest = len(max_lengths), max(max_lengths)
        sequences = torch.full((count, beams, longest), start_id, dtype=torch.long)
        token_scores = torch.zeros((count, beams, longest - 1))
        scores = torch.zeros((count, beams))
        scores[:, 1:] = NEG
        return cls(
            lines=torch.arange(count),
            bounds=torch.tensor(max_lengths),
            sequences=sequences,
            token_scores=token_scores,
            scores=scores,
            done_sequences=sequences.clone(),
            done_token_scores=token_scores.clone(),
            done_scores=torch.full((count, beams), NEG),
            done_lengths=torch.zeros((count, beams), dtype=torch.long),
            is_finished=torch.zeros((count, beams), dtype=torch.bool),
            improvable=torch.ones((count, 1), dtype=torch.bool),
        )

    def keep(self, staying: torch.Tensor) -> None:
        """Keeps the lines at indices `staying` only."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name).index_select(0, staying))

    def hypotheses(self, line: int, n_return: int) -> list[Hypothesis]:
        """The `n_return` best finished beams of line `line` (an index into `lines`)."""
        found = []
        for k in range(n_return):
            size = int(self.done_lengths[line, k])
            found.append(
                Hypothesis(
                    self.done_sequences[line, k, 1 : 1 + size].tolist(),
                    self.done_token_scores[line, k, :size].tolist(),
                    float(self.done_scores[line, k]),
                )
            )
        return found


def beam_search(
    model: Any,
    cross_attention: LineCrossAttention,
    scorer: PrefixScorer | None,
    max_lengths: list[int],
    num_beams: int,
    n_return: int,
    language_model: CharLanguageModel | None = None,
    lm_weight: float = 0.0,
) -> list[list[Hypothesis]]:
    """Beam search of each line of a batch; call it under `torch.inference_mode`.

    Args:
        model: A `VisionEncoderDecoderModel` whose decoder's cross-attention is replaced by
            `cross_attention` (`htr.line_batches.shared_cross_attention`).
        cross_attention: The replacement, for all lines of the batch.
        scorer: The CTC prefix scorer of the batch's lines (`htr.line_model.CTCPrefixScorer`,
            or `htr.line_groups.GroupedPrefixScorer`), or None.
        max_lengths: Each line's longest sequence, start token included (``max_length``).
        num_beams: Beams per line (at least 2).
        n_return: Readings returned per line (at most `num_beams`).
        language_model: A character language model fused into the search (shallow fusion):
            ``lm_weight`` times its log-probability of each token is added to the token's
            joint score in the beam scores; the token scores are then the fused scores
            normalised over the step's candidates. None reads without one.
        lm_weight: Its weight.

    Returns:
        Each line's `n_return` best finished readings, best first.
    """
    import torch

    config = model.generation_config
    eos = int(config.eos_token_id)
    length_penalty = 1.0 if config.length_penalty is None else float(config.length_penalty)
    beams = num_beams
    search = _Search.start(max_lengths, beams, int(config.decoder_start_token_id))
    decoder = DecoderSteps(model, len(max_lengths) * beams, max(max_lengths))
    results: list[list[Hypothesis]] = [[] for _ in max_lengths]
    length = 1
    while True:
        active = search.lines.shape[0]
        logits = decoder.logits(search.sequences[:, :, length - 1].reshape(-1))
        log_probs = torch.log_softmax(logits.to(torch.float32), dim=-1)
        if scorer is not None:
            so_far = search.sequences[:, :, :length].reshape(active * beams, length)
            rows_lines = search.lines.repeat_interleave(beams).tolist()
            log_probs = scorer.rescore(so_far, log_probs, rows_lines)
        own = log_probs.view(active, beams, -1)
        fused = kept = own
        if language_model is not None and lm_weight:
            fused = own + lm_weight * _lm_scores(language_model, search, length).view_as(own)
            kept = fused.log_softmax(dim=-1)
        parents, candidates = _step(search, fused, kept, length, eos)
        _update_finished(search, candidates, length, length_penalty)
        length += 1
        # transformers' `_check_early_stop_heuristic` with early_stopping=False.
        best_running = search.scores[:, :1] / ((length - 1) ** length_penalty)
        worst_finished = torch.where(
            search.is_finished, torch.min(search.done_scores, dim=1, keepdim=True)[0], NEG
        )
        search.improvable = search.improvable & torch.any(
            best_running > worst_finished, dim=-1, keepdim=True
        )
        over = ~search.improvable[:, 0] | candidates.ends.all(dim=1)
        rows = parents + torch.arange(active)[:, None] * beams  # each beam's previous row
        if bool(over.any()):
            for i in over.nonzero()[:, 0].tolist():
                results[int(search.lines[i])] = search.hypotheses(i, n_return)
            staying = (~over).nonzero()[:, 0]
            if staying.numel() == 0:
                return results
            search.keep(staying)
            cross_attention.keep(staying)
            rows = rows.index_select(0, staying)
        decoder.reorder(rows.reshape(-1))


@dataclass(frozen=True, slots=True)
class _Candidates:
    """The ``2 * beams`` best continuations of each line at one step, best first.

    Attributes:
        scores: Their summed joint log-probabilities, (lines, 2 * beams).
        sequences: Their tokens, (lines, 2 * beams, longest).
        token_scores: Their tokens' joint log-probabilities, (lines, 2 * beams, longest - 1).
        ends: Whether each ends (end token, or the line's length bound reached).
    """

    scores: torch.Tensor
    sequences: torch.Tensor
    token_scores: torch.Tensor
    ends: torch.Tensor


def _step(
    search: _Search, step_scores: torch.Tensor, kept_scores: torch.Tensor, length: int, eos: int
) -> tuple[torch.Tensor, _Candidates]:
    """Extends the running beams by one token.

    As transformers' `_get_top_k_continuations` and `_get_running_beams_for_next_iteration`:
    the ``2 * beams`` best continuations are the candidates, and the best `beams` of them
    that do not end become the running beams.

    Args:
        search: The lines' state.
        step_scores: The scores of the next token that rank the beams (joint
            log-probabilities, plus the language model's part), (lines, beams, vocab).
        kept_scores: The scores kept as the token scores (the joint log-probabilities; with a
            language model, the fused scores normalised over the candidates).
        length: Tokens in each running beam so far (start token included).
        eos: The end token.

    Returns:
        The beam each new running beam continues, (lines, beams), and the candidates.
    """
    import torch

    lines, beams, vocabulary = step_scores.shape
    accumulated = (step_scores + search.scores[:, :, None]).reshape(lines, -1)
    top_scores, top_index = torch.topk(accumulated, k=2 * beams)
    from_beam = top_index // vocabulary
    tokens = top_index % vocabulary
    top_sequences = _gather(search.sequences, from_beam)
    top_sequences[:, :, length] = tokens
    top_token_scores = _gather(search.token_scores, from_beam)
    top_token_scores[:, :, length - 1] = _gather(kept_scores, from_beam).gather(
        2, tokens[:, :, None]
    )[:, :, 0]
    hits = (tokens == eos) | (length + 1 >= search.bounds)[:, None]
    running = top_scores + hits.to(torch.float32) * NEG
    chosen = torch.topk(running, k=beams)[1]
    search.sequences = _gather(top_sequences, chosen)
    search.token_scores = _gather(top_token_scores, chosen)
    search.scores = _gather(running, chosen)
    return _gather(from_beam, chosen), _Candidates(
        top_scores, top_sequences, top_token_scores, hits
    )


def _update_finished(
    search: _Search, candidates: _Candidates, length: int, length_penalty: float
) -> None:
    """Keeps each line's `beams` best finished beams.

    As transformers' `_update_finished_beams` with early_stopping=False: those of the `beams`
    best candidates that end compete, length-normalised, with the finished beams, unless the
    line can no longer improve.
    """
    import torch

    beams = search.scores.shape[1]
    lines, keep = candidates.scores.shape
    just_finished = candidates.ends & (torch.arange(keep) < beams)[None, :]
    scores = candidates.scores / (length**length_penalty)
    scores = scores + (~search.improvable).to(torch.float32) * NEG
    scores = scores + (~just_finished) * NEG
    merged_scores = torch.cat((search.done_scores, scores), dim=1)
    best = torch.topk(merged_scores, k=beams)[1]
    search.done_sequences = _gather(
        torch.cat((search.done_sequences, candidates.sequences), dim=1), best
    )
    search.done_token_scores = _gather(
        torch.cat((search.done_token_scores, candidates.token_scores), dim=1), best
    )
    search.done_scores = _gather(merged_scores, best)
    lengths = torch.full((lines, keep), length, dtype=torch.long)
    search.done_lengths = _gather(torch.cat((search.done_lengths, lengths), dim=1), best)
    search.is_finished = _gather(torch.cat((search.is_finished, just_finished), dim=1), best)


def _lm_scores(language_model: CharLanguageModel, search: _Search, length: int) -> torch.Tensor:
    """The language model's log-probabilities of each running beam's next token, (rows, vocab)."""
    import numpy as np
    import torch

    first = max(1, length - (language_model.order - 1))
    lines, beams = search.sequences.shape[:2]
    tails = search.sequences[:, :, first:length].reshape(lines * beams, length - first).tolist()
    return torch.from_numpy(np.stack([language_model.log_probs(tail) for tail in tails]))


def _gather(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tensor[b, index[b, j], ...]`` for every line b (transformers' `_gather_beams`)."""
    import torch

    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(tensor, index, dim=1)


class DecoderSteps:
    """A TrOCR decoder run one token at a time, with a preallocated self-attention cache.

    The same operations as `TrOCRDecoder.forward` with a `DynamicCache` (eager attention,
    one query per row), without its per-step bookkeeping, and without the cache growing by
    concatenation: the keys and values of each layer live in a buffer of (rows, heads,
    positions, head size), written one position per step; `reorder` copies the filled
    positions of the rows whose beam continues another row's (and moves the rows of lines
    still going over those of lines that are done). The decoder's cross-attention must already
    be replaced (`htr.line_batches`).
    """

    def __init__(self, model: Any, rows: int, positions: int) -> None:
        """Prepares the cache for `rows` rows of up to `positions` tokens."""
        import torch

        causal = model.decoder
        self._decoder = causal.model.decoder
        self._projection = causal.output_projection
        self._layers = list(self._decoder.layers)
        attention = self._layers[0].self_attn
        self._heads, self._head_dim = int(attention.num_heads), int(attention.head_dim)
        self._length = 0
        # Queries, keys and values of a layer's self-attention in one product (the same
        # numbers as the three products: each output column is the same dot product).
        self._projections = [
            (
                torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
                None
                if a.q_proj.bias is None
                else torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]),
            )
            for a in (layer.self_attn for layer in self._layers)
        ]
        shape = (rows, self._heads, positions, self._head_dim)
        self._cache = [torch.empty(shape) for _ in range(2 * len(self._layers))]
        """Layer i's keys at ``2 * i``, its values at ``2 * i + 1``; the first rows in use."""

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """The next-token logits of each row, (rows, vocabulary), given its last token."""
        import torch

        decoder, position = self._decoder, self._length
        rows, heads, size = tokens.shape[0], self._heads, self._head_dim
        hidden = decoder.embed_tokens(tokens[:, None])
        offset = decoder.embed_positions.offset
        hidden = hidden + decoder.embed_positions.weight[position + offset]
        if decoder.layernorm_embedding is not None:
            hidden = decoder.layernorm_embedding(hidden)
        width = hidden.shape[-1]
        for i, layer in enumerate(self._layers):
            attention = layer.self_attn
            projected = torch.nn.functional.linear(hidden, *self._projections[i])
            projected = projected.view(rows, 3, width)
            queries = projected[:, 0] * attention.scaling
            keys = self._cache[2 * i][:rows, :, : position + 1]
            values = self._cache[2 * i + 1][:rows, :, : position + 1]
            keys[:, :, position] = projected[:, 1].view(rows, heads, size)
            values[:, :, position] = projected[:, 2].view(rows, heads, size)
            keys = keys.reshape(rows * heads, position + 1, size)  # a view
            values = values.reshape(rows * heads, position + 1, size)
            queries = queries.view(rows, 1, heads, size).transpose(1, 2).reshape(-1, 1, size)
            weights = torch.softmax(torch.bmm(queries, keys.transpose(1, 2)), dim=-1)
            output = torch.bmm(weights, values).view(rows, heads, 1, size).transpose(1, 2)
            output = attention.out_proj(output.reshape(rows, 1, width))
            hidden = layer.self_attn_layer_norm(hidden + output)
            output, _ = layer.encoder_attn(hidden)
            hidden = layer.encoder_attn_layer_norm(hidden + output)
            output = layer.fc2(layer.activation_fn(layer.fc1(hidden)))
            hidden = layer.final_layer_norm(hidden + output)
        self._length += 1
        return self._projection(hidden)[:, 0]  # type: ignore[no-any-return]

    def reorder(self, rows: torch.Tensor) -> None:
        """Makes row j's cache that of old row ``rows[j]`` (fewer rows drop the others).

        Only the rows that change are copied, in place: most beams continue their own row
        (about 70 % of rows on the validation lines), and when lines leave the batch the rows
        before the first of them stay where they are. The buffer keeps its size (the rows
        past ``len(rows)`` are unused): a new, smaller one would cost a copy of every row
        and fresh memory at each shrink.
        """
        import torch

        changed = (rows != torch.arange(rows.numel())).nonzero()[:, 0]
        if changed.numel() == 0:
            return
        source = rows[changed]
        for cache in self._cache:
            filled = cache[:, :, : self._length]
            filled.index_copy_(0, changed, filled.index_select(0, source))
