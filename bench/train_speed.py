"""Training and inference speed of a checkpoint, in lines per second.

    python bench/train_speed.py [CHECKPOINT] [--lines N] [--batch-size N] [--steps N]
                                [--beams N] [--lm-weight W] [--device auto|cpu|cuda]

Training: optimizer steps (joint CTC + cross-entropy loss when the encoder has a CTC head,
augmentation on) on synthetic lines, timed after one warm-up step. Inference:
`load_recognizer(CHECKPOINT).recognize` on the same lines with the default decoding (or
`--beams`; `--lm-weight 0` reads without the checkpoint's character language model). The
default checkpoint is `data/models/legajo-default`.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "data" / "models" / "legajo-default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--lines", type=int, default=64, help="synthetic lines to read")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--beams", type=int, default=None, help="beam width (default: 5)")
    parser.add_argument(
        "--lm-weight", type=float, default=None, help="language model weight (default: stored)"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args()

    from PIL import Image

    from htr.recognizer import RecognizerSettings, load_recognizer
    from htr.training.data import synthetic_lines
    from htr.training.model_card import hardware
    from htr.training.trainer import training_throughput

    beams = 5 if args.beams is None else args.beams
    settings = RecognizerSettings(
        beams=beams, n_best=beams, device=args.device, lm_weight=args.lm_weight
    )
    recognizer = load_recognizer(args.checkpoint, settings)
    model = recognizer._model
    processor = recognizer._processor
    height = getattr(processor.image_processor, "height", 48)
    lines = synthetic_lines(args.lines, [], seed=0, height=height)
    images = [Image.fromarray(line.image).convert("RGB") for line in lines]

    recognizer.recognize(images[:2])
    started = time.perf_counter()
    recognizer.recognize(images)
    inference = len(images) / (time.perf_counter() - started)

    training = training_throughput(
        copy.deepcopy(model).float(),
        processor,
        lines,
        batch_size=args.batch_size,
        steps=args.steps,
        device=args.device,
    )

    print(f"checkpoint: {args.checkpoint}")
    print(f"hardware:   {hardware()}")
    print(f"{'measure':<22}{'lines/s':>10}")
    print(f"{'training':<22}{training:>10.1f}")
    beams = settings.beams
    print(f"{f'inference (beams {beams})':<22}{inference:>10.1f}")


if __name__ == "__main__":
    main()
