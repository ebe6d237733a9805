"""The training loop of `legajo train`: train a line model from scratch, or fine-tune a TrOCR one.

From scratch, the model is legajo's line architecture (`htr.line_model`): a convolutional
stem that collapses a 48-px line to one row of width/4 steps, two transformer layers, a CTC
head, and a 3-layer `TrOCRForCausalLM` decoder inside a standard `VisionEncoderDecoderModel`,
with a character tokenizer built from the training alphabet (`htr.model_factory.new_line_model`).
The loss is ``ctc_weight * CTC + (1 - ctc_weight) * cross-entropy`` (the CTC part only when
the encoder has a CTC head). Short lines come first (a width curriculum over the first part
of training) and synthetic lines are mixed in, more at the start.

Training runs for a wall-clock budget (`minutes`) and/or a number of steps; the learning
rate warms up, then follows a cosine over whichever budget ends first. Every
`checkpoint_minutes` the model is saved to ``<run_dir>/checkpoints/last`` and the optimizer,
step, elapsed time and random states to ``<run_dir>/trainer_state/``
(`htr.training.checkpoints`), so that `resume` continues where it stopped; the checkpoint
with the lowest validation CER (`htr.training.validation`) is kept in
``<run_dir>/checkpoints/best``. At the end the best checkpoint is measured with the
recognizer's default decoding and written to `out` with a model card (``README.md``,
`htr.training.model_card`).

Ground truth comes from PAGE/ALTO folders (`gt`, `val`) and from any other source given as
`htr.training.data.LineSetReader`s (`extra_lines`; `htr.training.run_data`): htr knows
nothing of where those lines are kept. The indexer plugs in the lines people verified in its
database (``--from-db``, `indexer.transfer.training_lines`) through `legajo.cli.training`.

Libraries log and report progress through a callback (`htr.training.config.TrainProgress`);
the `legajo train` command turns it into a progress bar.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from htr.model_factory import new_line_model
from htr.runtime import apply_torch_threads
from htr.training.checkpoints import (
    TrainerState,
    line_height,
    load_checkpoint,
    warn_unknown_characters,
)
from htr.training.config import (
    ProgressCallback,
    TrainConfig,
    TrainingError,
    TrainProgress,
    ValidationResult,
)
from htr.training.model_card import distinct, write_trained_model
from htr.training.run_data import load_training_data
from htr.training.validation import validate, validate_recognizer
from htr.training.vocabulary import grow_vocabulary

if TYPE_CHECKING:
    import torch

    from htr.training.data import LineSample

logger = logging.getLogger(__name__)

MIN_LM_LINES = 1_000
"""Fewer distinct training lines than this make no language model (their words only)."""


def train(config: TrainConfig, progress: ProgressCallback | None = None) -> Path:
    """Trains (or fine-tunes) a model and writes the best checkpoint, with its model card.

    Args:
        config: The run's settings.
        progress: Called with a `TrainProgress` every few steps and at each phase change.

    Returns:
        `config.out`, the checkpoint directory.

    Raises:
        TrainingError: No training lines, an unreadable base checkpoint or trainer state.
        LegajoError: Whatever the readers of `config.extra_lines` raise (an unreachable
            database, no verified lines).
    """
    report = progress or (lambda _: None)
    started = time.monotonic()
    run = config.run_path
    run.mkdir(parents=True, exist_ok=True)
    _log_to(run / "train.log")
    device = _device(config.device)
    if device.type == "cpu":
        apply_torch_threads(config.threads)
    _seed_everything(config.seed)

    logger.info("training settings: %s", _config_json(config))
    loaded = load_checkpoint(config, run)
    height = line_height(loaded[1]) if loaded else config.shape.image_height
    report(TrainProgress("data", message="reading ground-truth lines"))
    data = load_training_data(config, report, height)
    train_lines, val_lines, synthetic = data.train, data.val, data.synthetic
    if not train_lines and not synthetic:
        raise TrainingError(
            "no training lines: give --gt folders with transcribed lines, lines from "
            "another source, or --synthetic N"
        )
    texts = [s.text for s in train_lines + synthetic]
    model: Any
    processor: Any
    if loaded is None:
        model, processor = new_line_model(texts, config.shape, config.seed)
    else:
        model, processor = loaded
        if config.grow_vocabulary:
            grow_vocabulary(model, processor, texts)
        warn_unknown_characters(processor, texts)
    model.to(device)
    state = TrainerState.load(run / "trainer_state") if config.resume else None
    trainer = _Trainer(config, model, processor, device, train_lines, synthetic, val_lines, run)
    if state is not None:
        trainer.restore(state)
    trainer.fit(report)
    best = run / "checkpoints" / "best"
    source = best if best.is_dir() else run / "checkpoints" / "last"
    _write_language_model(config, source, model, processor, train_lines)
    result = trainer.final_validation(source, report)
    wall_s = time.monotonic() - started
    write_trained_model(config, source, trainer, result, wall_s, data.line_sets)
    report(
        TrainProgress(
            "done",
            step=trainer.step,
            fraction=1.0,
            elapsed_s=trainer.elapsed,
            val_cer=result.cer if result else None,
            message=f"wrote {config.out}",
        )
    )
    return config.out


def _write_language_model(
    config: TrainConfig, checkpoint: Path, model: Any, processor: Any, lines: list[LineSample]
) -> None:
    """Puts the character language model next to the checkpoint to publish.

    A fine-tuned model keeps its base's language model (fine-tuning on a few hundred
    corrected lines must not shrink it to their words); otherwise the training
    transcriptions are counted, when there are enough of them (`MIN_LM_LINES`). Written
    before the final validation, so that it reads as the published model will.
    """
    from htr.char_lm import LM_FILE
    from htr.training.language_model import build_language_model

    target = checkpoint / LM_FILE
    target.unlink(missing_ok=True)
    if not config.lm_order:
        return
    inherited = config.base / LM_FILE if config.base is not None else None
    if inherited is not None and inherited.is_file():
        shutil.copyfile(inherited, target)
        return
    texts = [line.text for line in distinct(lines)]
    if len(texts) < MIN_LM_LINES:
        logger.info("no language model: %d training lines, fewer than %d", len(texts), MIN_LM_LINES)
        return
    build_language_model(texts, model, processor.tokenizer, order=config.lm_order).save(checkpoint)


def _device(requested: str) -> torch.device:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("htr",):
        target = logging.getLogger(name)
        if not any(
            isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve())
            for h in target.handlers
        ):
            target.addHandler(handler)
        if target.level == logging.NOTSET or target.level > logging.INFO:
            target.setLevel(logging.INFO)


class _Trainer:
    def __init__(
        self,
        config: TrainConfig,
        model: Any,
        processor: Any,
        device: torch.device,
        train_lines: list[LineSample],
        synthetic: list[LineSample],
        val_lines: list[LineSample],
        run: Path,
    ) -> None:
        import torch

        from htr.line_model import has_ctc_head

        self.config = config
        self.model = model
        self.processor = processor
        self.device = device
        self.run = run
        self.val_lines = val_lines
        self.ctc = has_ctc_head(model) and config.ctc_weight > 0
        self.reduction = model.encoder.config.width_reduction if has_ctc_head(model) else 1
        positions = getattr(model.config.decoder, "max_position_embeddings", None) or 10**6
        self.max_label = min(config.shape.max_length, positions - 2) - 1
        """Longest label in tokens (the end token included; the start token comes on top)."""
        self.real = sorted(train_lines, key=lambda s: s.image.shape[1])
        self.synthetic = sorted(synthetic, key=lambda s: s.image.shape[1])
        self.real_widths = np.array([s.image.shape[1] for s in self.real])
        self.synthetic_widths = np.array([s.image.shape[1] for s in self.synthetic])
        decay: list[Any] = []
        no_decay: list[Any] = []
        if config.freeze_decoder:
            model.decoder.requires_grad_(False)
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            betas=(0.9, 0.98),
        )
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.elapsed = 0.0
        self.best_cer: float | None = None
        self.history: list[dict[str, Any]] = []
        self.lines_seen = 0
        self.use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def restore(self, state: TrainerState) -> None:
        import torch

        self.optimizer.load_state_dict(state.optimizer)
        self.step, self.elapsed = state.step, state.elapsed
        self.best_cer, self.history = state.best_cer, list(state.history)
        self.rng.bit_generator.state = state.rng["numpy"]
        random.setstate(state.rng["python"])
        torch.set_rng_state(state.rng["torch"])
        logger.info("resumed at step %d after %.0f s", self.step, self.elapsed)

    # budget -------------------------------------------------------------------------------

    def fraction(self) -> float:
        parts = []
        if self.config.minutes is not None:
            parts.append(self.elapsed / (60.0 * self.config.minutes))
        if self.config.steps is not None:
            parts.append(self.step / self.config.steps)
        return min(1.0, max(parts))

    def learning_rate(self) -> float:
        warm = min(1.0, (self.step + 1) / max(1, self.config.warmup_steps))
        cosine = 0.5 * (1 + math.cos(math.pi * self.fraction()))
        return self.config.lr * warm * (0.05 + 0.95 * cosine)

    # batches ------------------------------------------------------------------------------

    def next_batch(self) -> list[LineSample]:
        fraction = self.fraction()
        start, end = self.config.synthetic_share
        share = start + (end - start) * fraction
        use_synthetic = bool(self.synthetic) and (not self.real or self.rng.random() < share)
        pool, widths = (
            (self.synthetic, self.synthetic_widths)
            if use_synthetic
            else (self.real, self.real_widths)
        )
        if self.config.curriculum > 0 and fraction < self.config.curriculum:
            quantile = 0.3 + 0.7 * fraction / self.config.curriculum
            limit = float(np.quantile(widths, quantile))
            eligible = max(1, int(np.searchsorted(widths, limit, side="right")))
        else:
            eligible = len(pool)
        size = min(self.config.batch_size, eligible)
        # Neighbours in width order pad little; the window keeps batches varied.
        window = min(eligible, 4 * size)
        first = int(self.rng.integers(0, eligible - window + 1))
        picks = self.rng.choice(window, size=size, replace=False) + first
        return [pool[int(i)] for i in picks]

    def tensors(
        self, batch: Sequence[LineSample], augment: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[int]]]:
        import torch
        from PIL import Image

        from htr.line_processor import LineImageProcessor, pad_lines
        from htr.training.data import augment as degrade

        images = [degrade(s.image, self.rng) if augment else s.image for s in batch]
        image_processor = self.processor.image_processor
        if isinstance(image_processor, LineImageProcessor):
            pixels = torch.from_numpy(pad_lines(images, image_processor.width_multiple))
        else:  # another architecture: its own processor resizes the lines
            rgb = [Image.fromarray(image).convert("RGB") for image in images]
            pixels = image_processor(images=rgb, return_tensors="pt").pixel_values
        tokenizer = self.processor.tokenizer
        ids = [tokenizer(s.text).input_ids[1:] for s in batch]  # drop <s>: labels end in </s>
        limit = self.max_label
        ids = [[*i[: limit - 1], tokenizer.eos_token_id] if len(i) > limit else i for i in ids]
        width = max(len(i) for i in ids)
        labels = torch.full((len(ids), width), -100, dtype=torch.long)
        for row, i in enumerate(ids):
            labels[row, : len(i)] = torch.tensor(i)
        steps = torch.tensor([im.shape[1] // self.reduction for im in images])
        return pixels, labels, steps, [i[:-1] for i in ids]

    # step ---------------------------------------------------------------------------------

    def losses(
        self, batch: Sequence[LineSample], augment: bool
    ) -> tuple[torch.Tensor, float | None, float]:
        import torch
        import torch.nn.functional as functional

        pixels, labels, steps, targets = self.tensors(batch, augment)
        pixels, labels = pixels.to(self.device), labels.to(self.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_bf16):
            encoded = self.model.encoder(pixel_values=pixels)
            output = self.model(encoder_outputs=encoded, labels=labels)
            ce = output.loss
            if not self.ctc:
                return ce, None, float(ce.detach())
            logits = encoded.ctc_logits.float()
        log_probs = functional.log_softmax(logits, dim=-1).transpose(0, 1)
        steps = steps.clamp(max=log_probs.shape[0])
        lengths = torch.tensor([len(t) for t in targets])
        flat = torch.tensor([token for t in targets for token in t], dtype=torch.long)
        ctc = functional.ctc_loss(
            log_probs,
            flat.to(self.device),
            steps.to(self.device),
            lengths.to(self.device),
            blank=self.model.encoder.config.ctc_blank_id,
            reduction="mean",
            zero_infinity=True,
        )
        weight = self.config.ctc_weight
        return weight * ctc + (1 - weight) * ce, float(ctc.detach()), float(ce.detach())

    def train_step(self, batch: Sequence[LineSample]) -> tuple[float, float | None, float]:
        """One optimizer step on `batch`; returns (loss, CTC loss, cross-entropy)."""
        import torch

        loss, ctc, ce = self.losses(batch, self.config.augment)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return float(loss.detach()), ctc, ce

    def fit(self, report: ProgressCallback) -> None:
        config = self.config
        self.model.train()
        running: dict[str, float] = {}
        last_checkpoint = self.elapsed
        tick = time.monotonic()
        window_lines, window_time = 0, 0.0
        first_step = self.step
        while self.fraction() < 1.0:
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate()
            batch = self.next_batch()
            loss, ctc, ce = self.train_step(batch)
            self.step += 1
            now = time.monotonic()
            self.elapsed += now - tick
            window_time += now - tick
            window_lines += len(batch)
            tick = now
            # A plain mean over the first steps, then an exponential average (about 50 steps).
            weight = max(0.02, 1.0 / (self.step - first_step))
            for key, value in (("loss", float(loss)), ("ctc", ctc), ("ce", ce)):
                if value is not None and math.isfinite(value):
                    running[key] = (1 - weight) * running.get(key, value) + weight * value
            if self.step % 10 == 0:
                report(self._progress("train", running, window_lines / max(window_time, 1e-9)))
                window_lines, window_time = 0, 0.0
            if self.step % 100 == 0:
                logger.info(
                    "step %d lr %.2e loss %.3f ctc %.3f ce %.3f",
                    self.step,
                    self.learning_rate(),
                    running.get("loss", math.nan),
                    running.get("ctc", math.nan),
                    running.get("ce", math.nan),
                )
            if self.elapsed - last_checkpoint >= 60.0 * config.checkpoint_minutes:
                self.checkpoint(report, running)
                last_checkpoint = self.elapsed
                tick = time.monotonic()
                if self.out_of_patience():
                    logger.info(
                        "stopping early at step %d: no better validation CER in %d checks",
                        self.step,
                        config.patience,
                    )
                    return
        self.checkpoint(report, running)

    def out_of_patience(self) -> bool:
        """True when the last `patience` validations found no better CER than before them."""
        patience = self.config.patience
        scores = [r["val_cer"] for r in self.history if r.get("val_cer") is not None]
        if patience is None or len(scores) <= patience:
            return False
        return min(scores[-patience:]) >= min(scores[:-patience])

    def _progress(self, phase: str, running: dict[str, float], speed: float) -> TrainProgress:
        fraction = self.fraction()
        eta = self.elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return TrainProgress(
            phase,
            step=self.step,
            fraction=fraction,
            elapsed_s=self.elapsed,
            eta_s=eta,
            loss=running.get("loss"),
            ctc_loss=running.get("ctc"),
            ce_loss=running.get("ce"),
            val_cer=self.best_cer,
            lines_per_s=speed,
        )

    # checkpoints --------------------------------------------------------------------------

    def checkpoint(self, report: ProgressCallback, running: dict[str, float]) -> None:
        import torch

        from htr.model_factory import save_checkpoint

        last = self.run / "checkpoints" / "last"
        temporary = last.with_name("last.tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        self.model.eval()
        save_checkpoint(self.model, self.processor, temporary)
        shutil.rmtree(last, ignore_errors=True)
        temporary.rename(last)
        record: dict[str, Any] = {
            "step": self.step,
            "elapsed_s": round(self.elapsed, 1),
            "loss": running.get("loss"),
            "ctc": running.get("ctc"),
            "ce": running.get("ce"),
        }
        if self.val_lines:
            report(self._progress("validate", running, 0.0))
            lines = self._val_subset(self.config.val_lines)
            result = validate(self.model, self.processor, lines, beams=1)
            record.update(val_cer=result.cer, val_ctc_cer=result.ctc_cer, val_lines=result.lines)
            logger.info(
                "step %d: validation CER %.4f (greedy), CTC head %s on %d lines",
                self.step,
                result.cer,
                f"{result.ctc_cer:.4f}" if result.ctc_cer is not None else "-",
                result.lines,
            )
            if self.best_cer is None or result.cer < self.best_cer:
                self.best_cer = result.cer
                best = self.run / "checkpoints" / "best"
                shutil.rmtree(best, ignore_errors=True)
                shutil.copytree(last, best)
        self.model.train()
        self.history.append(record)
        TrainerState(
            step=self.step,
            elapsed=self.elapsed,
            best_cer=self.best_cer,
            history=self.history,
            optimizer=self.optimizer.state_dict(),
            rng={
                "numpy": self.rng.bit_generator.state,
                "python": random.getstate(),
                "torch": torch.get_rng_state(),
            },
        ).save(self.run / "trainer_state")
        (self.run / "history.json").write_text(json.dumps(self.history, indent=1))

    def _val_subset(self, count: int) -> list[LineSample]:
        if count >= len(self.val_lines):
            return self.val_lines
        picks = np.random.default_rng(0).choice(len(self.val_lines), size=count, replace=False)
        return [self.val_lines[int(i)] for i in sorted(picks)]

    def final_validation(
        self, checkpoint: Path, report: ProgressCallback
    ) -> ValidationResult | None:
        if not self.val_lines:
            return None
        from htr.recognizer import load_recognizer

        report(self._progress("validate", {}, 0.0))
        recognizer = load_recognizer(checkpoint)
        result = validate_recognizer(recognizer, self.val_lines)
        logger.info(
            "final validation of %s: CER %.4f (main zone %s) on %d lines",
            checkpoint,
            result.cer,
            result.cer_main,
            result.lines,
        )
        return result


def training_throughput(
    model: Any,
    processor: Any,
    lines: Sequence[LineSample],
    *,
    batch_size: int = 16,
    steps: int = 10,
    device: str = "auto",
) -> float:
    """Measures training speed in lines per second (after one warm-up step).

    Args:
        model: A VisionEncoderDecoder model (it is trained in place: pass a copy).
        processor: Its processor.
        lines: Lines to train on (batches of neighbours in width, as in training).
        batch_size: Lines per step.
        steps: Timed steps.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        Lines per second, augmentation and the joint loss included.
    """
    config = TrainConfig(out=Path("unused"), steps=steps + 1, batch_size=batch_size, curriculum=0.0)
    target = _device(device)
    model.to(target).train()
    trainer = _Trainer(config, model, processor, target, list(lines), [], [], Path("unused"))
    trainer.train_step(trainer.next_batch())
    started, count = time.perf_counter(), 0
    for _ in range(steps):
        batch = trainer.next_batch()
        trainer.train_step(batch)
        count += len(batch)
    return count / (time.perf_counter() - started)


def _config_json(config: TrainConfig) -> str:
    """The run's settings as JSON (for logs); line readers by their ``repr``."""
    # asdict deep-copies every value: a reader may hold a database engine.
    settings = asdict(replace(config, extra_lines=()))
    settings["extra_lines"] = [repr(read) for read in config.extra_lines]
    return json.dumps(settings, default=str)
