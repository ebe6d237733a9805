"""Joint CTC scoring and line batching pieces on synthetic tensors (fast, no checkpoint)."""

from __future__ import annotations

import math

import pytest
import torch

from htr.confidence import beam_log_weights, normalised_probabilities
from htr.line_batches import EncodedLine, SharedCrossAttentionCache, stack_encoded
from htr.line_model import CTCPrefixScorer, _prefix_recursion


def frame_loop(
    x: torch.Tensor, phi: torch.Tensor, y_blank: torch.Tensor, empty: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CTC prefix recursion as written by Watanabe et al., one frame at a time."""
    r_n = torch.full_like(x, -math.inf)
    r_b = torch.full_like(x, -math.inf)
    r_n[0] = torch.where(empty[:, None], x[0], torch.full_like(x[0], -math.inf))
    for t in range(1, x.shape[0]):
        r_n[t] = torch.logaddexp(r_n[t - 1], phi[t - 1]) + x[t]
        r_b[t] = torch.logaddexp(r_b[t - 1], r_n[t - 1]) + y_blank[t, :, None]
    return r_n, r_b


def test_the_closed_form_recursion_equals_the_frame_loop() -> None:
    torch.manual_seed(0)
    frames, rows, candidates = 60, 4, 3
    log_probs = torch.randn(frames, rows, 6, dtype=torch.float64).mul(3).log_softmax(-1)
    x = log_probs[:, :, 1 : 1 + candidates]
    y_blank = log_probs[:, :, 0]
    phi = torch.cumsum(log_probs[:, :, 0], dim=0).unsqueeze(-1).expand(-1, -1, candidates)
    phi = phi.clone()
    phi[:5, 1] = -math.inf  # a prefix that cannot have ended yet
    empty = torch.tensor([True, False, False, True])
    expected_n, expected_b = frame_loop(x, phi, y_blank, empty)
    r_n, r_b = _prefix_recursion(x, phi, y_blank, empty)
    finite = torch.isfinite(expected_n)
    assert torch.equal(finite, torch.isfinite(r_n))
    assert torch.allclose(r_n[finite], expected_n[finite], atol=1e-8)
    finite = torch.isfinite(expected_b)
    assert torch.equal(finite, torch.isfinite(r_b))
    assert torch.allclose(r_b[finite], expected_b[finite], atol=1e-8)


def run_scorer(ctc: torch.Tensor, beams: int, steps: int) -> list[torch.Tensor]:
    """Drives a scorer for a few steps, each row taking its second-best token."""
    scorer = CTCPrefixScorer(ctc, beams, blank_id=0, eos_id=2, excluded_ids=[1])
    generator = torch.Generator().manual_seed(1)
    ids = torch.ones(ctc.shape[0] * beams, 1, dtype=torch.long)
    outputs = []
    for _ in range(steps):
        scores = torch.randn(ids.shape[0], ctc.shape[2], generator=generator)
        out = scorer(ids, scores)
        outputs.append(out)
        ids = torch.cat([ids, out.topk(2, dim=-1).indices[:, 1:]], dim=1)
    return outputs


def test_padded_ctc_frames_leave_the_prefix_scores_unchanged() -> None:
    torch.manual_seed(2)
    ctc = torch.randn(1, 30, 12).mul(3).log_softmax(-1)
    padded = torch.full((1, 45, 12), -1e4)
    padded[:, :, 0] = 0.0  # a certain blank
    padded[:, :30] = ctc
    for alone, in_batch in zip(run_scorer(ctc, 2, 6), run_scorer(padded, 2, 6), strict=True):
        finite = torch.isfinite(alone)
        assert torch.equal(finite, torch.isfinite(in_batch))
        assert torch.allclose(alone[finite], in_batch[finite], atol=1e-4)


def test_a_vocabulary_smaller_than_the_candidates_never_proposes_an_excluded_token() -> None:
    torch.manual_seed(3)
    vocabulary = 6  # blank 0, start 1 (excluded), end 2: 4 allowed tokens, 8 candidates asked
    for out in run_scorer(torch.randn(2, 20, vocabulary).log_softmax(-1), 3, 4):
        assert torch.equal(out[:, :2], torch.full_like(out[:, :2], -math.inf))
        assert torch.isfinite(out[:, 2:]).all()


def test_stacked_lines_are_masked_and_their_ctc_padding_is_blank() -> None:
    short = EncodedLine(torch.ones(3, 4), torch.zeros(3, 5).log_softmax(-1), 1)
    long = EncodedLine(torch.ones(5, 4), torch.zeros(5, 5).log_softmax(-1), 2)
    batch = stack_encoded([short, long], blank_id=0)
    assert batch.padded and batch.hidden.shape == (2, 5, 4)
    assert batch.mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.hidden[0, 3:].abs().sum() == 0
    assert batch.ctc_log_probs is not None
    assert batch.ctc_log_probs[0, 3:, 0].tolist() == [0.0, 0.0]
    assert (batch.ctc_log_probs[0, 3:, 1:] <= -1e4).all()
    assert not stack_encoded([long, long], blank_id=0).padded


def test_beam_reordering_leaves_the_cross_attention_cache_alone() -> None:
    from transformers import DynamicCache

    cache = SharedCrossAttentionCache(DynamicCache(), DynamicCache())
    keys = torch.arange(4.0).view(4, 1, 1, 1)
    cache.self_attention_cache.update(keys.clone(), keys.clone(), 0)
    cache.cross_attention_cache.update(keys.clone(), keys.clone(), 0)
    cache.reorder_cache(torch.tensor([1, 1, 3, 2]))
    assert cache.self_attention_cache.layers[0].keys.flatten().tolist() == [1, 1, 3, 2]
    assert cache.cross_attention_cache.layers[0].keys.flatten().tolist() == [0, 1, 2, 3]


def test_beam_log_weights_keep_beam_order_and_the_best_readings_probability() -> None:
    # Mean token log-probabilities of three readings; the best one has 10 tokens.
    weights = beam_log_weights([-0.1, -0.2, -0.15], best_length=10)
    assert weights == pytest.approx([-1.0, -2.0, -1.5])
    probs = normalised_probabilities(weights)
    assert probs[0] > probs[2] > probs[1]


@pytest.mark.parametrize("size", [(2, 2), (2, 1), (3, 1), (3, 2)])
def test_the_inference_max_pool_equals_max_pool_2d(size: tuple[int, int]) -> None:
    from htr.line_model import _max_pool

    torch.manual_seed(0)
    x = torch.randn(2, 5, 13, 23)
    assert torch.equal(_max_pool(x, size), torch.nn.MaxPool2d(size)(x))
