"""Lines per second of legajo's batched recognizer against a naive one-line-at-a-time loop.

All rows read the same line images with the same model, beam width and token limit, and are
timed interleaved (`--repeats` rounds, the fastest round of each row is reported), so that
load from other processes hits them alike. Each row's best readings are scored against the
ground truth (CER, `htr.metrics`) and compared with the naive loop's.

- **naive loop**: what a user of transformers writes, one line at a time: processor, then
  `generate`, then `batch_decode`, with the decoding legajo uses. For a model whose encoder
  has a CTC head (legajo's line models) that is joint CTC/attention beam search: the
  encoder runs once, the CTC head's greedy reading bounds the tokens
  (`htr.trocr.CTC_LENGTH_FACTOR`, `CTC_LENGTH_MARGIN`) and `htr.line_model.CTCPrefixScorer`
  rescores every step (weight `htr.trocr.CTC_WEIGHT`). Best reading only.
- **plain generate** (`--plain`): the transformers docs' loop, plain beam search without the
  CTC head: other decoding, hence other readings.
- **legajo batched**: `Recognizer.recognize` over all lines: each line encoded alone, batches
  of lines of similar expected length decoded by `htr.beam_search` (a line leaves its batch
  when its search is over), n-best readings and word confidences.
- **legajo transcribe --lines** (`--folder`): the lines written to a folder as PNG files and
  read by the ``legajo transcribe --lines --json`` command in this process (image loading,
  batches across files, word boxes, JSON); it has no token limit option, so it is meant for
  a trained model (`--model`).

Lines come from the ground-truth folders (`--ground-truth`; default: the validation
manuscripts bnf-esp-229 and bnf-esp-368 under ``../shared/data`` when present, else
``data/samples``), every line with a transcription, `--lines` of them evenly spread.

Without `--model`, a randomly initialised model of the default architecture (see
`htr.model_factory.ModelShape`) is built in a temporary folder: its readings are nonsense,
but it does the same amount of work per token as a trained one; `--max-new-tokens` (48
then) fixes how many tokens each line gets.

    .venv/bin/python bench/htr_throughput.py --model data/models/legajo-default --lines 48
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from htr.evaluate import find_ground_truth_pages  # noqa: E402
from htr.images import load_page_images  # noqa: E402
from htr.layout.files import read_layout_file  # noqa: E402
from htr.line_images import crop_line  # noqa: E402
from htr.metrics import clean_text, corpus_cer  # noqa: E402
from htr.model_factory import (  # noqa: E402
    ModelShape,
    alphabet_of,
    build_char_tokenizer,
    new_trocr_model,
    save_checkpoint,
)
from htr.pipeline import fit_layout_to_image  # noqa: E402
from htr.recognizer import RecognizerSettings, load_recognizer  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "htromance-spain" / "data"
VALIDATION = [SHARED / "bnf-esp-229", SHARED / "bnf-esp-368"]


def ground_truth_lines(folders: list[Path], count: int) -> tuple[list[Image.Image], list[str]]:
    """Cuts `count` transcribed lines, evenly spread, from the pages under `folders`."""
    lines: list[tuple[Image.Image, str]] = []
    for page in find_ground_truth_pages(folders):
        image = load_page_images(page.image)[0].image
        layout = read_layout_file(page.layout)
        found, _ = fit_layout_to_image(layout, page.image.name, image.width, image.height)
        lines += [(crop_line(image, line), line.text) for line in found if line.text.strip()]
    if not lines:
        raise SystemExit(f"no transcribed lines under {', '.join(map(str, folders))}")
    picked = [lines[i * len(lines) // count] for i in range(count)]
    return [image for image, _ in picked], [text for _, text in picked]


def naive_loop(model_dir: Path, beams: int, max_new: int | None) -> Callable[[list], list[str]]:
    """The per-line loop (see the module docstring), loaded once, as a function of the lines."""
    from transformers import AutoProcessor, LogitsProcessorList, VisionEncoderDecoderModel

    from htr.line_model import CTCPrefixScorer, has_ctc_head
    from htr.trocr import CTC_LENGTH_FACTOR, CTC_LENGTH_MARGIN, CTC_WEIGHT

    processor = AutoProcessor.from_pretrained(model_dir)
    model = VisionEncoderDecoderModel.from_pretrained(model_dir).eval()
    tokenizer = processor.tokenizer
    joint = has_ctc_head(model)
    blank = int(getattr(model.encoder.config, "ctc_blank_id", 0))

    def read(lines: list[Image.Image]) -> list[str]:
        texts = []
        with torch.inference_mode():
            for line in lines:
                pixels = processor(images=line, return_tensors="pt").pixel_values
                if not joint:
                    ids = model.generate(pixels, num_beams=beams, max_new_tokens=max_new or 256)
                    texts.append(processor.batch_decode(ids, skip_special_tokens=True)[0])
                    continue
                encoded = model.encoder(pixel_values=pixels)
                log_probs = encoded.ctc_logits.float().log_softmax(dim=-1)
                path = log_probs[0].argmax(dim=-1).unique_consecutive()
                bound = (
                    math.ceil(CTC_LENGTH_FACTOR * int((path != blank).sum())) + CTC_LENGTH_MARGIN
                )
                scorer = CTCPrefixScorer(
                    log_probs,
                    beams,
                    blank_id=blank,
                    eos_id=tokenizer.eos_token_id,
                    excluded_ids=[tokenizer.bos_token_id, tokenizer.pad_token_id],
                    weight=CTC_WEIGHT,
                )
                ids = model.generate(
                    encoder_outputs=encoded,
                    num_beams=beams,
                    max_length=1 + min(bound, max_new or bound),
                    logits_processor=LogitsProcessorList([scorer]),
                )
                texts.append(processor.batch_decode(ids, skip_special_tokens=True)[0])
        return [text.strip() for text in texts]

    return read


def plain_loop(model_dir: Path, beams: int, max_new: int | None) -> Callable[[list], list[str]]:
    """The transformers docs' loop: plain beam search, no CTC head."""
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    processor = AutoProcessor.from_pretrained(model_dir)
    model = VisionEncoderDecoderModel.from_pretrained(model_dir).eval()

    def read(lines: list[Image.Image]) -> list[str]:
        texts = []
        for line in lines:
            pixels = processor(images=line, return_tensors="pt").pixel_values
            ids = model.generate(pixels, num_beams=beams, max_new_tokens=max_new or 256)
            texts.append(processor.batch_decode(ids, skip_special_tokens=True)[0].strip())
        return texts

    return read


def batched(model_dir: Path, settings: RecognizerSettings) -> Callable[[list], list[str]]:
    """legajo's recognizer over all lines at once."""
    recognizer = load_recognizer(model_dir, settings)

    def read(lines: list[Image.Image]) -> list[str]:
        return [reading.text for reading in recognizer.recognize(lines)]

    return read


def folder_command(
    model_dir: Path, lines: list[Image.Image], folder: Path, args: argparse.Namespace
) -> Callable[[list], list[str]]:
    """``legajo transcribe --lines --json`` over a folder holding the lines as PNG files."""
    import json

    from legajo.cli.main import main as legajo_main

    folder.mkdir()
    for i, line in enumerate(lines):
        line.save(folder / f"line-{i:05d}.png")
    command = ["transcribe", str(folder), "--lines", "--json", "--model", str(model_dir)]
    command += ["--beams", str(args.beams), "--n-best", str(args.beams)]
    command += ["--batch-size", str(args.batch_size)] if args.batch_size else []

    def read(_lines: list[Image.Image]) -> list[str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = legajo_main(command)
        if code != 0:
            raise SystemExit(f"legajo {' '.join(command)} exited with {code}")
        pages = sorted(json.loads(out.getvalue()), key=lambda page: page["image"])
        return [page["lines"][0]["text"] if page["lines"] else "" for page in pages]

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint (default: random default shape)")
    parser.add_argument("--ground-truth", type=Path, nargs="+", help="folders of pages + XML")
    parser.add_argument("--lines", type=int, default=48)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="default: the recognizer's")
    parser.add_argument(
        "--max-new-tokens", type=int, help="default: the model's (48 for the random model)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--plain", action="store_true", help="add the plain-generate loop")
    parser.add_argument("--folder", action="store_true", help="add legajo transcribe --lines")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    folders = args.ground_truth or (
        VALIDATION if all(f.is_dir() for f in VALIDATION) else [REPO / "data" / "samples"]
    )
    lines, references = ground_truth_lines(folders, args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            args.max_new_tokens = args.max_new_tokens or 48
            tokenizer = build_char_tokenizer(alphabet_of(["abcdefghijklmnopqrstuvwxyz .,"]))
            model, processor = new_trocr_model(tokenizer, ModelShape())
            # Random weights end lines at arbitrary lengths: make every line as long as a real one.
            model.generation_config.min_new_tokens = args.max_new_tokens
            model_dir = save_checkpoint(model, processor, Path(tmp) / "model")
        settings = RecognizerSettings(
            beams=args.beams,
            n_best=args.beams,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
        )
        methods: dict[str, Callable[[list], list[str]]] = {
            "naive loop (generate per line)": naive_loop(
                model_dir, args.beams, args.max_new_tokens
            ),
            "legajo batched + n-best + words": batched(model_dir, settings),
        }
        if args.plain:
            methods["plain generate, no CTC (docs)"] = plain_loop(
                model_dir, args.beams, args.max_new_tokens
            )
        if args.folder:
            methods["legajo transcribe --lines folder"] = folder_command(
                model_dir, lines, Path(tmp) / "lines", args
            )
        for read in methods.values():
            read(lines[:2])  # warm-up
        seconds: dict[str, float] = dict.fromkeys(methods, math.inf)
        texts: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            for name, read in methods.items():
                start = time.perf_counter()
                texts[name] = read(lines)
                seconds[name] = min(seconds[name], time.perf_counter() - start)
        step = load_recognizer(model_dir, settings).processing_step()
    print_table(args, step.settings, lines, references, seconds, texts)


def print_table(
    args: argparse.Namespace,
    settings: dict[str, Any],
    lines: list[Image.Image],
    references: list[str],
    seconds: dict[str, float],
    texts: dict[str, list[str]],
) -> None:
    """Prints the settings and one row per method."""
    naive_name = next(iter(seconds))
    clean_refs = [clean_text(text) for text in references]
    print(f"model: {args.model or 'random ModelShape()'}")
    print(
        f"device: {settings['device']}, torch threads: {torch.get_num_threads()}, "
        f"lines: {len(lines)}, beams: {args.beams}, max new tokens: {args.max_new_tokens}, "
        f"batch size: {settings['batch_size']}, best of {args.repeats} interleaved rounds"
    )
    header = f"| {'method':<34} | {'seconds':>7} | {'lines/s':>7} | {'speed-up':>8} "
    print(header + f"| {'CER':>6} | {'same as naive':>13} |")
    print("|" + "|".join("-" * n for n in (36, 9, 9, 10, 8, 15)) + "|")
    for name, spent in seconds.items():
        cer = corpus_cer(clean_refs, [clean_text(text) for text in texts[name]])
        same = sum(
            a.strip() == b.strip() for a, b in zip(texts[name], texts[naive_name], strict=True)
        )
        print(
            f"| {name:<34} | {spent:7.2f} | {len(lines) / spent:7.2f} | "
            f"{seconds[naive_name] / spent:7.2f}x | {cer:6.4f} | {same / len(lines):13.0%} |"
        )


if __name__ == "__main__":
    main()
