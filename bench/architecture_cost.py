"""What each line-model shape costs per line, to choose an architecture from measurements.

    python bench/architecture_cost.py CHECKPOINT [CHECKPOINT ...] [--lines N] [--tokens N]
                                      [--steps N] [--rounds N]

A checkpoint may hold random weights (`htr.model_factory.new_line_model` saved as it is): cost
does not depend on what a model has learnt, once the reading length is fixed. So that it is,
every line is read with exactly ``--tokens`` tokens: the decoder's end token is suppressed
and the length bound is ``--tokens`` (default decoding otherwise: joint CTC/attention beam
search, 5 beams). Training: optimizer steps on the same synthetic lines as `legajo train`
takes them (`htr.training.trainer.training_throughput`). The checkpoints are measured in
turn, ``--rounds`` times, and the table gives the median of each, so that a machine whose
load changes slowly treats them alike.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--lines", type=int, default=32, help="synthetic lines to read")
    parser.add_argument("--tokens", type=int, default=40, help="tokens read per line")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    parser.add_argument("--rounds", type=int, default=2, help="times each checkpoint is timed")
    args = parser.parse_args()

    from htr.training.model_card import hardware

    measured: dict[Path, list[tuple[float, float]]] = {path: [] for path in args.checkpoints}
    shapes: dict[Path, str] = {}
    for _ in range(args.rounds):
        for path in args.checkpoints:
            shape, training, inference = _measure(path, args)
            shapes[path] = shape
            measured[path].append((training, inference))
            print(f"  {path.name}: training {training:.2f}, inference {inference:.2f} lines/s")

    print(f"hardware: {hardware()}; {args.tokens} tokens per line, beams 5")
    header = f"{'checkpoint':<22}{'shape':<44}{'train lines/s':>14}{'read lines/s':>13}"
    print(header)
    for path in args.checkpoints:
        training = statistics.median(t for t, _ in measured[path])
        inference = statistics.median(i for _, i in measured[path])
        print(f"{path.name:<22}{shapes[path]:<44}{training:>14.2f}{inference:>13.2f}")


def _measure(path: Path, args: argparse.Namespace) -> tuple[str, float, float]:
    """(shape, training lines/s, inference lines/s at a fixed reading length)."""
    from PIL import Image

    from htr.recognizer import RecognizerSettings, load_recognizer
    from htr.training.data import synthetic_lines
    from htr.training.trainer import training_throughput

    recognizer = load_recognizer(path, RecognizerSettings(device="cpu", max_new_tokens=args.tokens))
    model: Any = recognizer._model
    processor = recognizer._processor
    lines = synthetic_lines(args.lines, [], seed=0, height=processor.image_processor.height)
    images = [Image.fromarray(line.image).convert("RGB") for line in lines]

    eos = model.generation_config.eos_token_id

    def no_end(_module: Any, _inputs: Any, logits: Any) -> Any:
        logits[..., eos] = -1.0e4
        return logits

    # Beam search calls the output projection itself (htr.beam_search), not the decoder.
    hook = model.decoder.output_projection.register_forward_hook(no_end)
    try:
        recognizer.recognize(images[:2])
        started = time.perf_counter()
        recognizer.recognize(images)
        inference = len(images) / (time.perf_counter() - started)
    finally:
        hook.remove()
    training = training_throughput(
        copy.deepcopy(model).float(), processor, lines, steps=args.steps, device="cpu"
    )
    encoder, decoder = model.config.encoder, model.config.decoder
    stem = "x".join(str(layer[0]) for layer in encoder.stem)
    shape = (
        f"{model.num_parameters() / 1e6:.1f} M, enc d{encoder.hidden_size}x"
        f"{encoder.num_hidden_layers} stem {stem}, dec {decoder.decoder_layers}"
    )
    return shape, training, inference


if __name__ == "__main__":
    main()
