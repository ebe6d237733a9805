"""Lines per second of legajo's batched recognizer against a naive one-line-at-a-time loop.

Both use the same model, the same line images (cut from the sample pages along their PAGE/ALTO
line polygons), the same beam width and the same token limit. The naive loop is what the
transformers docs show: processor + `generate` + `batch_decode`, one line at a time. Ours sorts
lines by width, batches them under `torch.inference_mode`, and also computes n-best readings and
word confidences.

Without `--model`, a randomly initialised model of the default architecture (6.8 M parameters,
see `htr.model_factory.ModelShape`) is built in a temporary folder: its readings are nonsense,
but it does the same amount of work per token as a trained one; `--max-new-tokens` fixes how
many tokens each line gets (the random model's generation config also sets it as the minimum),
so both sides decode the same, realistic lengths.

    .venv/bin/python bench/htr_throughput.py [--model PATH] [--lines 64] [--beams 5]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from htr.images import load_page_images  # noqa: E402
from htr.layout.files import find_layout_file, read_layout_file  # noqa: E402
from htr.line_images import crop_line  # noqa: E402
from htr.model_factory import (  # noqa: E402
    ModelShape,
    alphabet_of,
    build_char_tokenizer,
    new_trocr_model,
    save_checkpoint,
)
from htr.recognizer import RecognizerSettings, load_recognizer  # noqa: E402


def sample_lines(folder: Path, count: int) -> list[Image.Image]:
    """Cuts up to `count` line images from the pages in `folder` that have a layout file."""
    lines: list[Image.Image] = []
    for image_path in sorted(folder.glob("*.jpg")):
        layout_path = find_layout_file(image_path)
        if layout_path is None:
            continue
        page = load_page_images(image_path)[0].image
        lines += [crop_line(page, line) for line in read_layout_file(layout_path).lines]
    if not lines:
        raise SystemExit(f"no line images found in {folder}")
    return [lines[i % len(lines)] for i in range(count)]


def naive_loop(model_dir: Path, lines: list[Image.Image], beams: int, max_new: int) -> list[str]:
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    processor = AutoProcessor.from_pretrained(model_dir)
    model = VisionEncoderDecoderModel.from_pretrained(model_dir).eval()
    texts = []
    for line in lines:
        pixels = processor(images=line, return_tensors="pt").pixel_values
        ids = model.generate(pixels, num_beams=beams, max_new_tokens=max_new)
        texts.append(processor.batch_decode(ids, skip_special_tokens=True)[0])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint (default: random default shape)")
    parser.add_argument("--samples", type=Path, default=REPO / "data" / "samples")
    parser.add_argument("--lines", type=int, default=64)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    lines = sample_lines(args.samples, args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            tokenizer = build_char_tokenizer(alphabet_of(["abcdefghijklmnopqrstuvwxyz .,"]))
            model, processor = new_trocr_model(tokenizer, ModelShape())
            # Random weights end lines at arbitrary lengths: make every line as long as a real one.
            model.generation_config.min_new_tokens = args.max_new_tokens
            model_dir = save_checkpoint(model, processor, Path(tmp) / "model")
        settings = RecognizerSettings(
            beams=args.beams,
            n_best=args.beams,
            batch_size=args.batch_size,
            device=args.device,
            max_new_tokens=args.max_new_tokens,
        )
        recognizer = load_recognizer(model_dir, settings)
        step = recognizer.processing_step()
        recognizer.recognize(lines[:2])  # warm-up
        start = time.perf_counter()
        ours = recognizer.recognize(lines)
        ours_s = time.perf_counter() - start

        start = time.perf_counter()
        naive = naive_loop(model_dir, lines, args.beams, args.max_new_tokens)
        naive_s = time.perf_counter() - start

    same = sum(a.text == b.strip() for a, b in zip(ours, naive, strict=True)) / len(lines)
    print(f"model: {args.model or 'random ModelShape() (6.8 M parameters)'}")
    print(
        f"device: {step.settings['device']}, torch threads: {torch.get_num_threads()}, "
        f"lines: {len(lines)}, beams: {args.beams}, max new tokens: {args.max_new_tokens}, "
        f"batch size: {args.batch_size}"
    )
    print(f"{'method':<34} {'seconds':>8} {'lines/s':>8} {'speed-up':>8}")
    print(
        f"{'naive loop (generate per line)':<34} {naive_s:8.2f} "
        f"{len(lines) / naive_s:8.2f} {1:8.2f}"
    )
    print(
        f"{'legajo batched + n-best + words':<34} {ours_s:8.2f} {len(lines) / ours_s:8.2f} "
        f"{naive_s / ours_s:8.2f}"
    )
    print(f"identical best readings: {same:.0%}")


if __name__ == "__main__":
    main()
