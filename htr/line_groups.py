"""A batch's lines in groups of similar length, each decoded against its own longest line.

A batch of lines is padded to its longest line's encoder steps (`htr.line_batches`). At every
decoding step each beam's cross-attention and CTC prefix score run over all those steps, the
padding included: on lines of very different lengths (a heading beside a full line) most of
the work of the short lines is padding. Split into consecutive groups, each padded only to
its own longest line, the padding mostly goes; every group costs a few more operations per
step, though. `length_groups` chooses the split that costs least, `GroupedPrefixScorer` asks
each group's CTC prefix scorer about its own rows (`htr.line_batches.LineCrossAttention` takes
the same group sizes). Readings do not change: a line's padded steps count for nothing in
either.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

GROUP_COST_IN_STEPS = 2000
"""What one more group costs per decoding step, in (beam, encoder step) pairs of attention
and CTC scoring: 1.2 ms per step (the CTC scorer's 0.84 ms and three cross-attention layers'
0.11 ms each, fixed costs per call) against 0.6 µs per pair (0.29 µs of CTC scoring and three
layers' 0.105 µs), fitted over the calls of a beam search of 64 synthetic lines, one thread."""


class PrefixScorer(Protocol):
    """What beam search asks of a CTC prefix scorer (`htr.line_model.CTCPrefixScorer`)."""

    def rescore(
        self, input_ids: torch.Tensor, scores: torch.Tensor, lines: Sequence[int]
    ) -> torch.Tensor:
        """The joint scores of the rows' next tokens, (rows, vocabulary)."""
        ...


def length_groups(steps: Sequence[int], beams: int) -> list[int]:
    """Splits lines, in their order, into consecutive groups that cost least to decode.

    A group costs `GROUP_COST_IN_STEPS` plus its lines times their beams times its longest
    line's steps; the split minimising the sum is found exactly (dynamic programming over
    the cut points). Lines sorted by length give the tightest groups.

    Args:
        steps: Each line's encoder steps.
        beams: Beams per line.

    Returns:
        The number of lines in each group, in order (empty for no lines).
    """
    count = len(steps)
    best = [0] * (count + 1)  # best[end]: least cost of the first `end` lines
    cut = [0] * (count + 1)  # cut[end]: where the last group of that split starts
    for end in range(1, count + 1):
        best[end] = -1
        longest = 0
        for start in range(end - 1, -1, -1):
            longest = max(longest, steps[start])
            cost = best[start] + GROUP_COST_IN_STEPS + (end - start) * beams * longest
            if best[end] < 0 or cost < best[end]:
                best[end], cut[end] = cost, start
    sizes = []
    end = count
    while end:
        sizes.append(end - cut[end])
        end = cut[end]
    return sizes[::-1]


def group_slices(group_sizes: Sequence[int]) -> list[slice]:
    """The lines of each group, as slices of the batch's lines."""
    bounds = itertools.accumulate(group_sizes, initial=0)
    return [slice(start, end) for start, end in itertools.pairwise(bounds)]


class GroupedPrefixScorer:
    """The CTC prefix scorers of consecutive groups of a batch's lines, asked as one."""

    def __init__(self, scorers: Sequence[PrefixScorer], group_sizes: Sequence[int]) -> None:
        """Takes one scorer per group; group g's scorer knows its lines as 0, 1, ...

        Raises:
            ValueError: There are not as many scorers as groups.
        """
        if len(scorers) != len(group_sizes):
            raise ValueError(f"{len(scorers)} scorers for {len(group_sizes)} groups")
        self._scorers = list(scorers)
        self._groups = group_slices(group_sizes)

    @classmethod
    def over_own_frames(
        cls,
        new_scorer: Callable[[torch.Tensor], PrefixScorer],
        ctc_log_probs: torch.Tensor,
        steps: Sequence[int],
        group_sizes: Sequence[int],
    ) -> GroupedPrefixScorer:
        """One scorer per group, over its lines' CTC frames up to its own longest line's.

        Args:
            new_scorer: Makes a scorer of some lines' CTC log-probabilities.
            ctc_log_probs: The batch's, (lines, frames, vocabulary), padded to its longest line.
            steps: Each line's own frames.
            group_sizes: Lines per group, in order.
        """
        return cls(
            [
                new_scorer(ctc_log_probs[group, : max(steps[group])])
                for group in group_slices(group_sizes)
            ],
            group_sizes,
        )

    def rescore(
        self, input_ids: torch.Tensor, scores: torch.Tensor, lines: Sequence[int]
    ) -> torch.Tensor:
        """Rescores each row with its line's group's scorer.

        As `htr.line_model.CTCPrefixScorer.rescore`, with `lines` naming each row's line in
        the whole batch, in ascending order.

        Raises:
            ValueError: The rows' lines are not in ascending order.
        """
        import torch

        if len(self._scorers) == 1:
            return self._scorers[0].rescore(input_ids, scores, lines)
        if any(later < earlier for earlier, later in itertools.pairwise(lines)):
            raise ValueError("the rows of a grouped batch come in the order of their lines")
        rescored = []
        for scorer, group in zip(self._scorers, self._groups, strict=True):
            low, high = bisect_left(lines, group.start), bisect_left(lines, group.stop)
            if low < high:
                group_lines = [line - group.start for line in lines[low:high]]
                rescored.append(scorer.rescore(input_ids[low:high], scores[low:high], group_lines))
        return torch.cat(rescored)
