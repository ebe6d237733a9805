"""The bundled model reads a line the same in any batch, and as transformers' own loop does.

legajo's line encoder has no padding mask and the model decodes jointly with its CTC head;
`htr.line_batches` encodes each line on its own and masks the padding, so a line's readings
(best, n-best, word confidences) must not depend on the lines it is batched with.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LogitsProcessor
from transformers.modeling_outputs import BaseModelOutput

from htr.char_lm import CharLanguageModel
from htr.default_model import default_model_path
from htr.images import load_page_images
from htr.layout.files import read_layout_file
from htr.line_images import crop_line
from htr.recognizer import LineReading, RecognizerSettings, load_recognizer
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow  # the bundled model reads real lines several times

MODEL = default_model_path()
SAMPLE = SAMPLES / "bnf-esp-285_linaje_ayala_v2.jpg"
BEAMS = 3


@pytest.fixture(scope="module")
def lines() -> list[Image.Image]:
    """Ten lines of very different widths from the ALTO sample page."""
    page = load_page_images(SAMPLE)[0].image
    layout = read_layout_file(SAMPLE.with_suffix(".xml"))
    crops = [crop_line(page, line) for line in layout.lines]
    crops.sort(key=lambda crop: crop.width / max(1, crop.height))
    return [crops[i * (len(crops) - 1) // 9] for i in range(10)]


@pytest.fixture(scope="module")
def language_model() -> CharLanguageModel:
    """A 4-gram model of the sample page's own transcriptions (so that it changes readings)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    texts = [line.text for line in read_layout_file(SAMPLE.with_suffix(".xml")).lines if line.text]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    vocabulary = len(tokenizer)
    return CharLanguageModel.train(
        ids, vocabulary, tokenizer.bos_token_id, tokenizer.eos_token_id, order=4, weight=0.5
    )


def read(
    lines: list[Image.Image], batch_size: int, lm_weight: float | None = None
) -> list[LineReading]:
    settings = RecognizerSettings(
        beams=BEAMS, n_best=BEAMS, batch_size=batch_size, lm_weight=lm_weight
    )
    return load_recognizer(MODEL, settings).recognize(lines)


def test_a_line_reads_the_same_alone_and_in_a_batch(lines: list[Image.Image]) -> None:
    alone = read(lines, batch_size=1)
    batched = read(lines, batch_size=10)
    assert [r.text for r in batched] == [r.text for r in alone]
    assert sum(bool(r.text) for r in alone) >= 8
    for a, b in zip(alone, batched, strict=True):
        assert [x.text for x in b.alternatives] == [x.text for x in a.alternatives]
        assert [x.prob for x in b.alternatives] == pytest.approx(
            [x.prob for x in a.alternatives], abs=1e-3
        )
        assert [w.text for w in b.words] == [w.text for w in a.words]
        assert [w.confidence for w in b.words] == pytest.approx(
            [w.confidence for w in a.words], abs=1e-3
        )


def test_a_long_line_among_short_ones_reads_the_same_in_groups(lines: list[Image.Image]) -> None:
    """Five short lines and one four times as long as the longest of them: the recognizer
    decodes them in groups of similar length (`htr.line_groups`), and each still reads as
    it does alone."""
    from htr.line_groups import length_groups

    short = lines[:5]
    height = max(line.height for line in lines[-4:])
    parts = [line.resize((line.width * height // line.height, height)) for line in lines[-4:]]
    long = Image.new("RGB", (sum(part.width for part in parts), height), "white")
    x = 0
    for part in parts:
        long.paste(part.convert("RGB"), (x, 0))
        x += part.width
    chosen = [*short, long]
    steps = [line.width * 48 // line.height // 4 for line in chosen]  # about the encoder steps
    assert len(length_groups(sorted(steps), BEAMS)) > 1
    alone = read(chosen, batch_size=1)
    batched = read(chosen, batch_size=6)
    assert len(alone[-1].text) > 2 * max(len(r.text) for r in alone[:-1])
    assert [r.text for r in batched] == [r.text for r in alone]
    for a, b in zip(alone, batched, strict=True):
        assert [x.text for x in b.alternatives] == [x.text for x in a.alternatives]
        assert [w.confidence for w in b.words] == pytest.approx(
            [w.confidence for w in a.words], abs=1e-3
        )


def test_the_best_reading_is_what_generate_returns_first(lines: list[Image.Image]) -> None:
    """The transformers loop with the same joint decoding gives the same best readings
    (without the bundled model's language model, which `generate` does not know)."""
    from transformers import AutoProcessor, LogitsProcessorList, VisionEncoderDecoderModel

    from htr.line_model import CTCPrefixScorer
    from htr.trocr import CTC_LENGTH_FACTOR, CTC_LENGTH_MARGIN, CTC_WEIGHT

    processor = AutoProcessor.from_pretrained(MODEL)
    model = VisionEncoderDecoderModel.from_pretrained(MODEL).eval()
    tokenizer = processor.tokenizer
    expected = []
    with torch.inference_mode():
        for line in lines:
            pixels = processor(images=line, return_tensors="pt").pixel_values
            encoded = model.encoder(pixel_values=pixels)
            log_probs = encoded.ctc_logits.float().log_softmax(dim=-1)
            path = log_probs[0].argmax(dim=-1).unique_consecutive()
            bound = math.ceil(CTC_LENGTH_FACTOR * int((path != 0).sum())) + CTC_LENGTH_MARGIN
            scorer = CTCPrefixScorer(
                log_probs,
                BEAMS,
                blank_id=0,
                eos_id=tokenizer.eos_token_id,
                excluded_ids=[tokenizer.bos_token_id, tokenizer.pad_token_id],
                weight=CTC_WEIGHT,
            )
            ids = model.generate(
                encoder_outputs=encoded,
                num_beams=BEAMS,
                max_length=1 + bound,
                logits_processor=LogitsProcessorList([scorer]),
            )
            expected.append(processor.batch_decode(ids, skip_special_tokens=True)[0].strip())
    assert [r.text for r in read(lines, batch_size=4, lm_weight=0)] == expected


class LanguageModelScores(LogitsProcessor):
    """Adds ``weight * log P_lm(token | tokens so far)`` to each row, as shallow fusion does."""

    def __init__(self, language_model: CharLanguageModel, weight: float) -> None:
        self.language_model, self.weight = language_model, weight

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = [self.language_model.log_probs(ids[1:]) for ids in input_ids.tolist()]
        return scores + self.weight * torch.from_numpy(np.stack(rows))


@pytest.mark.parametrize(
    ("fused", "grouped"),
    [(False, False), (True, False), (False, True)],
    ids=["alone", "with-language-model", "in-length-groups"],
)
def test_the_batched_beam_search_is_generate_line_by_line(
    lines: list[Image.Image], language_model: CharLanguageModel, fused: bool, grouped: bool
) -> None:
    """`htr.beam_search` drops lines as they finish, each at its own length bound; every line's
    n-best, their scores and their token scores are those of `generate` reading it alone,
    with the language model's scores added to the joint ones when it is fused, and also
    when the lines' cross-attention and CTC scoring run in groups of similar length
    (`htr.line_groups`)."""
    from transformers import AutoProcessor, LogitsProcessorList, VisionEncoderDecoderModel

    from htr.beam_search import beam_search
    from htr.line_batches import encode_lines, shared_cross_attention, stack_encoded
    from htr.line_groups import GroupedPrefixScorer
    from htr.line_model import CTCPrefixScorer
    from htr.trocr import CTC_LENGTH_FACTOR, CTC_LENGTH_MARGIN, CTC_WEIGHT

    processor = AutoProcessor.from_pretrained(MODEL)
    model = VisionEncoderDecoderModel.from_pretrained(MODEL).eval()
    tokenizer = processor.tokenizer

    def scorer(log_probs: torch.Tensor) -> CTCPrefixScorer:
        return CTCPrefixScorer(
            log_probs,
            BEAMS,
            blank_id=0,
            eos_id=tokenizer.eos_token_id,
            excluded_ids=[tokenizer.bos_token_id, tokenizer.pad_token_id],
            weight=CTC_WEIGHT,
        )

    with torch.inference_mode():
        encoded = encode_lines(
            model, processor, [line.convert("RGB") for line in lines], torch.device("cpu")
        )
        bounds = [
            1 + math.ceil(CTC_LENGTH_FACTOR * line.ctc_length) + CTC_LENGTH_MARGIN
            for line in encoded
        ]
        bounds[3] = bounds[7] = 4  # these lines end at their length bound, not with </s>
        batch = stack_encoded(encoded, blank_id=0)
        assert batch.ctc_log_probs is not None
        groups = None
        batch_scorer: CTCPrefixScorer | GroupedPrefixScorer = scorer(batch.ctc_log_probs)
        if grouped:
            # Set, not chosen: these lines are not far enough apart for `length_groups`.
            groups = [3, 3, 4]
            batch_scorer = GroupedPrefixScorer.over_own_frames(
                scorer, batch.ctc_log_probs, [line.steps for line in encoded], groups
            )
        with shared_cross_attention(model, batch.hidden, batch.mask, groups) as shared:
            assert shared is not None
            found = beam_search(
                model,
                shared,
                batch_scorer,
                bounds,
                BEAMS,
                BEAMS,
                language_model if fused else None,
                language_model.weight,
            )
        if fused:  # the language model must change some readings, or the test proves nothing
            with shared_cross_attention(model, batch.hidden, batch.mask) as shared:
                assert shared is not None
                plain = beam_search(
                    model, shared, scorer(batch.ctc_log_probs), bounds, BEAMS, BEAMS
                )
            assert [[h.ids for h in line] for line in plain] != [
                [h.ids for h in line] for line in found
            ]
        for line, bound, hypotheses in zip(encoded, bounds, found, strict=True):
            assert line.ctc_log_probs is not None
            log_probs = line.ctc_log_probs[None]
            output = model.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=line.hidden[None]),
                num_beams=BEAMS,
                num_return_sequences=BEAMS,
                max_length=bound,
                logits_processor=LogitsProcessorList(
                    [scorer(log_probs)]
                    + (
                        [LanguageModelScores(language_model, language_model.weight)]
                        if fused
                        else []
                    )
                ),
                output_scores=True,
                return_dict_in_generate=True,
            )
            # With the language model the token scores kept are each step's fused scores
            # normalised over the candidates (log-softmax of the row).
            steps = tuple(x.log_softmax(dim=-1) for x in output.scores) if fused else output.scores
            token_scores = model.compute_transition_scores(
                output.sequences, steps, output.beam_indices
            )
            lengths = (output.beam_indices >= 0).sum(dim=1).tolist()
            assert [h.ids for h in hypotheses] == [
                ids[1 : 1 + n] for ids, n in zip(output.sequences.tolist(), lengths, strict=True)
            ]
            assert [h.score for h in hypotheses] == pytest.approx(
                output.sequences_scores.tolist(), abs=1e-5
            )
            for h, scores, n in zip(hypotheses, token_scores.tolist(), lengths, strict=True):
                assert h.token_scores == pytest.approx(scores[:n], abs=1e-5)
    assert any(h.ids[-1] != tokenizer.eos_token_id for h in found[3])
