"""Lines decoded in groups of similar length: the split, the CTC scorers and cross-attention."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from htr.line_batches import LineCrossAttention
from htr.line_groups import (
    GROUP_COST_IN_STEPS,
    GroupedPrefixScorer,
    group_slices,
    length_groups,
)
from htr.line_model import CTCPrefixScorer

BEAMS = 2


def split_cost(steps: list[int], sizes: list[int], beams: int) -> int:
    return sum(
        GROUP_COST_IN_STEPS + len(steps[group]) * beams * max(steps[group])
        for group in group_slices(sizes)
    )


def every_split(count: int) -> list[list[int]]:
    splits = []
    for cuts in itertools.product([False, True], repeat=count - 1):
        sizes, size = [], 1
        for cut in cuts:
            if cut:
                sizes.append(size)
                size = 0
            size += 1
        splits.append([*sizes, size])
    return splits


def test_length_groups_finds_the_cheapest_split() -> None:
    generator = random.Random(0)
    for count in range(1, 9):
        for _ in range(20):
            steps = sorted(generator.choice([20, 40, 80, 300, 900]) for _ in range(count))
            sizes = length_groups(steps, BEAMS)
            assert sum(sizes) == count and min(sizes) >= 1
            cheapest = min(split_cost(steps, s, BEAMS) for s in every_split(count))
            assert split_cost(steps, sizes, BEAMS) == cheapest


def test_lines_of_one_length_stay_together_and_very_different_ones_part() -> None:
    assert length_groups([], 5) == []
    assert length_groups([100] * 32, 5) == [32]
    assert length_groups([40] * 20 + [800] * 12, 5) == [20, 12]
    # Splitting off one slightly shorter line saves less than a group costs.
    assert length_groups([90, 100, 100], 5) == [3]


def drive(scorer: CTCPrefixScorer | GroupedPrefixScorer, lines: int, vocabulary: int) -> list:
    """Rescores a few steps of BEAMS rows per line, each row taking its second-best token;
    line 1 leaves after the second step."""
    generator = torch.Generator().manual_seed(1)
    row_lines = [line for line in range(lines) for _ in range(BEAMS)]
    ids = torch.ones(len(row_lines), 1, dtype=torch.long)
    outputs = []
    for step in range(6):
        scores = torch.randn(len(row_lines), vocabulary, generator=generator)
        out = scorer.rescore(ids, scores, row_lines)
        outputs.append(out)
        ids = torch.cat([ids, out.topk(2, dim=-1).indices[:, 1:]], dim=1)
        if step == 1:
            staying = [row for row, line in enumerate(row_lines) if line != 1]
            ids, row_lines = ids[staying], [row_lines[row] for row in staying]
    return outputs


def test_grouped_ctc_scorers_score_as_one_scorer_over_the_padded_batch() -> None:
    torch.manual_seed(3)
    vocabulary, lengths = 20, [8, 10, 45]
    # Double precision: in single, a sum over 45 frames and one over 10 differ in the 5th digit.
    padded = torch.full((3, 45, vocabulary), -1e4, dtype=torch.float64)
    padded[:, :, 0] = 0.0  # padded frames are a certain blank
    for i, length in enumerate(lengths):
        padded[i, :length] = torch.randn(length, vocabulary).mul(3).log_softmax(-1)

    def scorer(log_probs: torch.Tensor) -> CTCPrefixScorer:
        return CTCPrefixScorer(log_probs, BEAMS, blank_id=0, eos_id=2, excluded_ids=[0, 1])

    grouped = GroupedPrefixScorer([scorer(padded[:2, :10]), scorer(padded[2:])], [2, 1])
    together = drive(scorer(padded), 3, vocabulary)
    for one, other in zip(together, drive(grouped, 3, vocabulary), strict=True):
        finite = torch.isfinite(one)
        assert torch.equal(finite, torch.isfinite(other))
        assert torch.allclose(one[finite], other[finite], atol=1e-6)


def test_grouped_scorers_want_rows_in_line_order_and_one_scorer_per_group() -> None:
    log_probs = torch.zeros(2, 5, 4).log_softmax(-1)
    scorers = [CTCPrefixScorer(log_probs[:1], 1, 0, 2), CTCPrefixScorer(log_probs[1:], 1, 0, 2)]
    with pytest.raises(ValueError, match="groups"):
        GroupedPrefixScorer(scorers, [1, 1, 1])
    grouped = GroupedPrefixScorer(scorers, [1, 1])
    with pytest.raises(ValueError, match="order"):
        grouped.rescore(torch.ones(2, 1, dtype=torch.long), torch.zeros(2, 4), [1, 0])


@pytest.fixture
def cross_attention() -> torch.nn.Module:
    from transformers.models.trocr.modeling_trocr import TrOCRAttention

    torch.manual_seed(0)
    config = type("Config", (), {"is_decoder": True})()
    return TrOCRAttention(config, embed_dim=16, num_heads=2, is_cross_attention=True).eval()


def test_grouped_cross_attention_equals_attention_over_the_padded_batch(
    cross_attention: torch.nn.Module,
) -> None:
    lengths = [3, 4, 12, 13]
    states = torch.randn(4, 13, 16)
    mask = torch.zeros(4, 13, dtype=torch.long)
    for i, length in enumerate(lengths):
        mask[i, :length] = 1
        states[i, length:] = 0
    one = LineCrossAttention([cross_attention], states, mask)
    grouped = LineCrossAttention([cross_attention], states, mask, [2, 2])
    queries = torch.randn(4 * BEAMS, 1, 16)
    with torch.inference_mode():
        expected, _ = one.forward(0, cross_attention)(queries)
        found, _ = grouped.forward(0, cross_attention)(queries)
        assert torch.allclose(found, expected, atol=1e-5)
        # Lines 1 and 2 finish: the first group keeps one line, the second one too.
        for attention in (one, grouped):
            attention.keep(torch.tensor([0, 3]))
        rows = torch.cat([queries[:BEAMS], queries[3 * BEAMS :]])
        expected, _ = one.forward(0, cross_attention)(rows)
        found, _ = grouped.forward(0, cross_attention)(rows)
        assert torch.allclose(found, expected, atol=1e-5)
        # The first group's last line finishes: the group goes.
        one.keep(torch.tensor([1]))
        grouped.keep(torch.tensor([1]))
        expected, _ = one.forward(0, cross_attention)(rows[BEAMS:])
        found, _ = grouped.forward(0, cross_attention)(rows[BEAMS:])
        assert torch.allclose(found, expected, atol=1e-5)


def test_grouped_cross_attention_checks_its_groups_and_the_lines_kept(
    cross_attention: torch.nn.Module,
) -> None:
    states, mask = torch.randn(3, 5, 16), torch.ones(3, 5, dtype=torch.long)
    for sizes in ([1, 1], [3, 0], [2, 2]):
        with pytest.raises(ValueError, match="do not split"):
            LineCrossAttention([cross_attention], states, mask, sizes)
    grouped = LineCrossAttention([cross_attention], states, mask, [1, 2])
    with pytest.raises(ValueError, match="in order"):
        grouped.keep(torch.tensor([2, 0]))
