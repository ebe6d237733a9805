"""The model card (``README.md``) of a trained checkpoint, and the writing of the checkpoint.

`model_card` describes the architecture, the data (folders, other line sources, synthetic
lines, validation), the training settings and time, the `hardware`, the measured CER and the
checks made during training. `write_trained_model` copies the chosen checkpoint to the output
folder and writes the card beside it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from htr.char_lm import LM_FILE, load_language_model
from htr.remote_code import LINE_ENCODER_TYPE, write_remote_code
from htr.training.config import LineSetUse, TrainConfig, ValidationResult

if TYPE_CHECKING:
    from htr.training.data import LineSample


class TrainedRun(Protocol):
    """What a model card reads of a finished run (the trainer of `htr.training.trainer`)."""

    @property
    def model(self) -> Any:
        """The trained VisionEncoderDecoder model."""

    @property
    def real(self) -> Sequence[LineSample]:
        """The ground-truth lines trained on."""

    @property
    def synthetic(self) -> Sequence[LineSample]:
        """The synthetic lines trained on."""

    @property
    def val_lines(self) -> Sequence[LineSample]:
        """The validation lines."""

    @property
    def step(self) -> int:
        """Optimizer steps done."""

    @property
    def elapsed(self) -> float:
        """Training seconds (over resumed runs)."""

    @property
    def history(self) -> Sequence[dict[str, Any]]:
        """One record per check during training (step, minutes, losses, validation CERs)."""


def write_trained_model(
    config: TrainConfig,
    source: Path,
    run: TrainedRun,
    result: ValidationResult | None,
    wall_s: float,
    line_sets: Sequence[LineSetUse] = (),
) -> None:
    """Copies a checkpoint to `config.out` (through a temporary folder) with its model card.

    Args:
        config: The run's settings.
        source: The checkpoint to publish (the best one, or the last).
        run: The finished run.
        result: The final validation, if there were validation lines.
        wall_s: Wall-clock seconds of this invocation.
        line_sets: The lines that came from `config.extra_lines`, described by their source.
    """
    out = config.out
    if out.resolve() != source.resolve():
        temporary = out.with_name(out.name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(source, temporary)
        shutil.rmtree(out, ignore_errors=True)
        temporary.rename(out)
    if run.model.config.encoder.model_type == LINE_ENCODER_TYPE:
        write_remote_code(out)  # plain transformers loads it with trust_remote_code
    card = model_card(config, run, result, wall_s, line_sets)
    (out / "README.md").write_text(card, encoding="utf-8")


def distinct(lines: Sequence[LineSample]) -> list[LineSample]:
    """The lines without the repeats that oversampling adds (the same objects), in order."""
    return list({id(line): line for line in lines}.values())


def hardware() -> str:
    """The machine in words: CUDA device name, or CPU model and core count."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {model}, {len(os.sched_getaffinity(0))} cores"


def model_card(
    config: TrainConfig,
    trainer: TrainedRun,
    result: ValidationResult | None,
    wall_s: float,
    line_sets: Sequence[LineSetUse] = (),
) -> str:
    """The Markdown model card of a trained checkpoint.

    Args:
        config: The run's settings.
        trainer: The trainer, with its data, model and history.
        result: The final validation, if there were validation lines.
        wall_s: Wall-clock seconds of this invocation.
        line_sets: The lines that came from `config.extra_lines`, described by their source.
    """
    real = distinct(trainer.real)
    sources = sorted({s.source for s in real})
    from_sets = sum(use.train for use in line_sets)
    val_sources = sorted({s.source for s in trainer.val_lines})
    parameters = trainer.model.num_parameters()
    lines = [
        *front_matter(config, trainer, result, line_sets),
        "",
        f"# legajo line model `{config.out.name}`",
        "",
        "A TrOCR-architecture `VisionEncoderDecoderModel` trained by `legajo train`. "
        "Load it with `htr.recognizer.load_recognizer(path)` or `legajo transcribe --model "
        "PATH`; without legajo, a line model loads with `transformers.AutoModel."
        "from_pretrained(path, trust_remote_code=True)` from the code files in its folder "
        "(`VisionEncoderDecoderModel.from_pretrained` needs `import htr.line_model` first: "
        "the encoder is legajo's convolutional line encoder).",
        "",
        "## Architecture",
        "",
        f"- {parameters / 1e6:.1f} M parameters; encoder: "
        f"`{type(trainer.model.encoder).__name__}`, "
        f"decoder: `{type(trainer.model.decoder).__name__}`.",
        f"- Encoder config: `{json.dumps(_short_config(trainer.model.config.encoder))}`",
        f"- Decoder: {trainer.model.config.decoder.decoder_layers} layers, "
        f"d={trainer.model.config.decoder.d_model}, "
        f"vocabulary {trainer.model.config.decoder.vocab_size} (characters, NFD).",
        "",
        "## Training data",
        "",
        *_sources_table(config, trainer),
        f"- {len(real)} ground-truth lines ({len(real) - from_sets} from "
        f"PAGE/ALTO folders, {from_sets} from other line sources) from {len(sources)} "
        "manuscript folders:",
        *(f"  - `{_short_path(s)}`" for s in sources),
        *(
            f"- {use.description}: {use.train} trained on, {use.val} held out for validation."
            for use in line_sets
        ),
        *(
            f"- Oversampled: training lines under `{_short_path(str(folder))}` drawn {times} "
            "times as often as the others."
            for folder, times in config.oversample
        ),
        f"- {len(trainer.synthetic)} synthetic lines (`htr.training.synthetic` handwriting "
        "fonts; words of the training transcriptions and built-in notarial words).",
        f"- Validation (never trained on): {len(trainer.val_lines)} lines from:",
        *(f"  - `{_short_path(s)}`" for s in val_sources),
        "",
        "## Training",
        "",
        f"- Command: `{config.command or '(library call)'}`",
        f"- Hardware: {hardware()}",
        f"- Training time: {trainer.elapsed / 60:.1f} min of optimisation "
        f"({wall_s / 60:.1f} min wall clock for this invocation), {trainer.step} steps of "
        f"{config.batch_size} lines; base: `{config.base or 'from scratch'}`.",
        f"- Loss: {config.ctc_weight} CTC + {1 - config.ctc_weight:g} cross-entropy; AdamW, "
        f"peak lr {config.lr}, warm-up {config.warmup_steps} steps, cosine decay; width "
        f"curriculum over the first {config.curriculum:.0%} of the budget; synthetic share "
        f"{config.synthetic_share[0]:.0%} → {config.synthetic_share[1]:.0%}; augmentation "
        f"{'on' if config.augment else 'off'}.",
        *_language_model_lines(config, trainer.model, len(real)),
        "",
        "## Measured",
        "",
    ]
    if result is None:
        lines.append("- No validation lines.")
    else:
        lines += [
            f"- Validation CER (NFC, all {result.lines} lines, default decoding "
            f"through `load_recognizer`): **{result.cer:.4f}**",
            f"- Validation CER, main-zone lines only: {result.cer_main:.4f}"
            if result.cer_main is not None
            else "- (no zone information)",
        ]
    if trainer.history:
        lines += ["", "Checks during training (greedy decoding, subset of validation lines):", ""]
        lines += ["| step | minutes | loss | val CER (decoder) | val CER (CTC head) |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for record in trainer.history:
            lines.append(
                f"| {record['step']} | {record['elapsed_s'] / 60:.1f} | "
                f"{_fmt(record.get('loss'))} | {_fmt(record.get('val_cer'))} | "
                f"{_fmt(record.get('val_ctc_cer'))} |"
            )
    if config.card_notes is not None and config.card_notes.is_file():
        lines += ["", config.card_notes.read_text(encoding="utf-8").rstrip()]
    lines += ["", "## Licence and attribution", ""]
    if config.sources:
        lines += [
            "The ground truth is the work of the repositories' authors (see each repository's "
            "CITATION.cff and README), used under their licences:",
            "",
            *(
                f"- {located.source.repository}: {located.source.licence} "
                f"(stated in its `{located.source.licence_file}`)"
                for located in config.sources
            ),
            "",
        ]
    else:
        lines += [
            "Trained on HTRomance *Medieval Spain* (CC BY 4.0; Bordier, Gille Levenson, "
            "Brisville-Fertin, Clérice, Chagué; images Gallica/BnF) and the iForal sample "
            "(CC BY 4.0), where those folders were given.",
            "",
        ]
    return "\n".join(lines)


def _language_model_lines(config: TrainConfig, model: Any, real_lines: int) -> list[str]:
    """What the model card says about the published character language model."""
    language_model = load_language_model(config.out, int(model.config.decoder.vocab_size))
    if language_model is None:
        return []
    order, lines, weight = language_model.order, language_model.lines, language_model.weight
    inherited = config.base is not None and (config.base / LM_FILE).is_file()
    origin = (
        f"kept from the base model (counted there from {lines} lines)"
        if inherited
        else f"counted from the transcriptions of the {real_lines} training lines"
    )
    return [
        f"- Character language model (`{LM_FILE}`): {order}-gram, interpolated Kneser-Ney, "
        f"{origin}; beam search adds {weight:g} × its log-probability to each token's score "
        "(`--lm-weight` changes that, 0 reads without it; `legajo lm` counts another)."
    ]


def _sources_table(config: TrainConfig, trainer: TrainedRun) -> list[str]:
    """The listed repositories with the lines each gave, when the run had a sources file."""
    if not config.sources:
        return []
    out = [
        "| source | repository | commit | licence | folders | lines trained on | lines held out |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    real = distinct(trainer.real)
    for located in config.sources:
        root = located.root.resolve()
        trained = sum(Path(s.source).is_relative_to(root) for s in real)
        held = sum(Path(s.source).is_relative_to(root) for s in trainer.val_lines)
        source = located.source
        out.append(
            f"| {source.name} | [{source.repository}](https://github.com/{source.repository}) "
            f"| {source.commit[:12] if source.commit else f'split `{source.local}`'} "
            f"| {source.licence} | {', '.join(source.folders)} | {trained} | {held} |"
        )
    return [*out, ""]


def front_matter(
    config: TrainConfig,
    trainer: TrainedRun,
    result: ValidationResult | None,
    line_sets: Sequence[LineSetUse] = (),
) -> list[str]:
    """The model card's YAML front matter (Hugging Face model card metadata), as lines.

    Values are written as JSON strings, which YAML reads as they are. The datasets are the
    ground-truth folders and line sources the run was given; the languages are not known
    to the trainer and are left for ``--card-notes`` and the reader.
    """
    line_model = trainer.model.config.encoder.model_type == LINE_ENCODER_TYPE
    tags = ["htr", "handwritten-text-recognition", "ocr", "trocr", "vision-encoder-decoder"]
    tags += ["legajo", *(["ctc", "custom_code"] if line_model else [])]
    if config.sources:
        datasets = [located.source.repository for located in config.sources]
    else:
        datasets = [_short_path(str(folder)) for folder in config.gt]
    datasets += [use.description for use in line_sets]
    out = [
        "---",
        "license: apache-2.0",
        "library_name: transformers",
        "pipeline_tag: image-to-text",
        "metrics: [cer, wer]",
        f"tags: [{', '.join(tags)}]",
    ]
    if datasets:
        out.append("datasets:")
        out += [f"  - {json.dumps(name, ensure_ascii=False)}" for name in datasets]
    if config.base is not None:
        out.append(f"base_model: {json.dumps(str(config.base), ensure_ascii=False)}")
    if result is not None:
        out += [
            "model-index:",
            f"  - name: {json.dumps(config.out.name, ensure_ascii=False)}",
            "    results:",
            "      - task: {type: image-to-text, name: handwritten text recognition}",
            "        dataset: {type: validation-lines, name: validation lines of the run}",
            "        metrics:",
            f"          - {{type: cer, value: {result.cer:.4f}, name: CER (NFC)}}",
        ]
    out.append("---")
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _short_config(config: Any) -> dict[str, Any]:
    keys = ("image_height", "stem", "hidden_size", "num_hidden_layers", "ctc_vocab_size")
    data = config.to_dict()
    return {k: data[k] for k in keys if k in data}


def _short_path(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-3:])
