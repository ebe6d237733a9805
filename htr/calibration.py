"""Calibration of word confidences: fit on a validation set, store with the model, apply.

A word confidence (`htr.confidence`) is the model's probability that the word is read exactly
right. Models are rarely honest about it (usually overconfident), so legajo fits a monotone map
from raw to calibrated confidence on (raw confidence, word right?) pairs from an evaluation
(`htr.evaluate`) and stores it next to the weights as ``calibration.json``. Four methods:

- ``temperature`` (the default): ``calibrated = sigmoid(logit(p) / T)``, temperature scaling
  of the log-odds. One parameter, fitted by minimising the negative log-likelihood (NLL) of the
  outcomes with a golden-section search over ``log T``. ``T > 1`` pulls confidences towards
  0.5 (a cure for overconfidence), ``T < 1`` pushes them out, ``T = 1`` is the identity.
  Log-odds rather than ``p ** (1/T)`` because the power form cannot lower a confidence near
  1.0 much, and wrongly read words at 0.99 are exactly what overconfidence looks like.
- ``platt``: ``sigmoid(a * logit(p) + b)`` with ``a > 0`` (Platt scaling: temperature plus a
  shift), a logistic regression of the outcomes on ``logit(p)`` fitted by scikit-learn's
  `LogisticRegression`. Useful when a model is overconfident on some words and
  underconfident on others.
- ``platt-length``: ``sigmoid(a * logit(p) + b + c / n)`` with ``a > 0``, n the word's length
  in characters: Platt scaling that also knows how long the word is. A word's raw confidence
  is the product of its characters' probabilities, so the same confidence means surer
  characters in a long word than in a short one; with ``c < 0`` a short word gets less
  confidence than a long word of the same raw confidence. Fitted on both validation
  manuscripts, it leaves each calibrated (ECE 0.027 and 0.045; temperature scaling 0.029
  and 0.074), and holds better than isotonic out of sample (fitted on one, measured on the
  other: 0.053 and 0.047 against 0.082 and 0.064); the bundled model uses it.
- ``isotonic``: the pool-adjacent-violators fit of accuracy against confidence by
  scikit-learn's `IsotonicRegression`, stored as its knots (the first and last confidence
  of each pooled block) and interpolated linearly between them. Most flexible; needs more
  data; not strictly increasing (flat within a block).

The fitted maps are stored as plain numbers (``T``; ``a`` and ``b``; the knots), never as
scikit-learn objects, so applying a calibration needs only numpy, and scikit-learn is
imported only when a Platt or isotonic calibration is fitted.

Every `Calibration.apply` maps [0, 1] into [0, 1] and never reverses the order of two
confidences of words of the same length: temperature and Platt scaling are strictly increasing
(up to float rounding), isotonic maps are non-decreasing. 0 and 1 stay 0 and 1 under
temperature and both Platt scalings.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from htr.atomic_files import write_text_atomically
from htr.errors import LegajoError
from htr.metrics import DEFAULT_BINS, expected_calibration_error

logger = logging.getLogger(__name__)

CalibrationMethod = Literal["identity", "temperature", "platt", "platt-length", "isotonic"]
METHODS: tuple[CalibrationMethod, ...] = get_args(CalibrationMethod)
FITTED_METHODS: tuple[CalibrationMethod, ...] = ("temperature", "platt", "platt-length", "isotonic")
CALIBRATION_FILE = "calibration.json"
"""Name of the calibration file in a checkpoint directory."""
FORMAT_VERSION = 1

TEMPERATURE_RANGE = (0.01, 100.0)
"""Temperatures the fit may choose from; the ends are reached only by degenerate data."""
_EPSILON = 1e-12
"""Outcome probabilities are kept this far from 0 and 1 in the NLL, so it stays finite."""
_PLATT_RIDGE = 1e-6
"""L2 penalty of the Platt slope, per word: keeps the fit finite on separable data."""


class CalibrationError(LegajoError):
    """A calibration cannot be fitted, read or written (the message says why)."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """A monotone map from raw word confidence (and word length) to calibrated confidence.

    Attributes:
        method: Which map: ``identity``, ``temperature``, ``platt``, ``platt-length`` or
            ``isotonic``.
        temperature: ``T`` of temperature scaling (1 for other methods).
        slope: ``a`` of Platt scaling (1 otherwise).
        bias: ``b`` of Platt scaling (0 otherwise).
        length_weight: ``c`` of ``platt-length``, the weight of one over the word's length
            in characters (0 otherwise).
        knots_x: Isotonic map: raw confidences of the pooled blocks, increasing.
        knots_y: Isotonic map: calibrated confidences at `knots_x`, non-decreasing.
        fit: What the calibration was fitted on and how well it did (words, ECE and NLL
            before and after, bins, source); free-form, informational.
    """

    method: CalibrationMethod
    temperature: float = 1.0
    slope: float = 1.0
    bias: float = 0.0
    length_weight: float = 0.0
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    fit: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CalibrationError(
                f"unknown calibration method {self.method!r}; known: {', '.join(METHODS)}"
            )
        numbers = (
            self.temperature,
            self.slope,
            self.bias,
            self.length_weight,
            *self.knots_x,
            *self.knots_y,
        )
        if not all(math.isfinite(v) for v in numbers):
            raise CalibrationError("calibration parameters must be finite numbers")
        if self.temperature <= 0 or self.slope <= 0:
            raise CalibrationError(
                f"temperature and slope must be positive (got {self.temperature}, {self.slope})"
            )
        if self.method == "isotonic":
            xs, ys = self.knots_x, self.knots_y
            if not xs or len(xs) != len(ys):
                raise CalibrationError("an isotonic calibration needs as many x as y knots")
            if any(b <= a for a, b in itertools.pairwise(xs)):
                raise CalibrationError("isotonic knots_x must be strictly increasing")
            if any(b < a for a, b in itertools.pairwise(ys)):
                raise CalibrationError("isotonic knots_y must be non-decreasing")
            if not all(0.0 <= v <= 1.0 for v in (*xs, *ys)):
                raise CalibrationError("isotonic knots must lie in [0, 1]")

    @property
    def needs_lengths(self) -> bool:
        """Whether `apply` needs each word's length (``platt-length``)."""
        return self.method == "platt-length"

    def apply(self, p: float, length: int | None = None) -> float:
        """Returns the calibrated confidence of a raw confidence `p` (clipped to [0, 1]).

        Args:
            p: The word's raw confidence.
            length: The word's length in characters (needed by ``platt-length`` only).

        Raises:
            CalibrationError: The method needs the length and it is missing.
        """
        lengths = None if length is None else [length]
        return float(self.apply_many(np.array([p], dtype=np.float64), lengths)[0])

    def apply_many(
        self, p: npt.ArrayLike, lengths: Sequence[int] | None = None
    ) -> npt.NDArray[np.float64]:
        """Returns the calibrated confidences of an array of raw confidences.

        Args:
            p: Raw confidences.
            lengths: The words' lengths in characters (needed by ``platt-length`` only;
                a length below 1 counts as 1).

        Raises:
            CalibrationError: The method needs the lengths and they are missing, or there
                are not as many as confidences.
        """
        values = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        if self.method == "identity":
            return values
        if self.method == "isotonic":
            return np.interp(values, self.knots_x, self.knots_y)
        slope = 1.0 / self.temperature if self.method == "temperature" else self.slope
        bias: float | npt.NDArray[np.float64] = 0.0 if self.method == "temperature" else self.bias
        if self.needs_lengths:
            if lengths is None or len(lengths) != values.size:
                raise CalibrationError("a platt-length calibration needs each word's length")
            bias = bias + self.length_weight * _inverse_lengths(lengths).reshape(values.shape)
        with np.errstate(divide="ignore"):
            result = _sigmoid(slope * _logit(values) + bias)
        # The limits at the ends, exactly (logit is infinite there).
        result[values == 0.0] = 0.0
        result[values == 1.0] = 1.0
        return result

    def describe(self) -> str:
        """Returns a short human-readable description, e.g. ``temperature T=1.73``."""
        if self.method == "temperature":
            return f"temperature T={self.temperature:.4g}"
        if self.method == "platt":
            return f"platt a={self.slope:.4g} b={self.bias:.4g}"
        if self.method == "platt-length":
            return f"platt-length a={self.slope:.4g} b={self.bias:.4g} c={self.length_weight:.4g}"
        if self.method == "isotonic":
            return f"isotonic ({len(self.knots_x)} knots)"
        return "identity"

    def to_dict(self) -> dict[str, Any]:
        """Returns the calibration as the JSON-ready content of ``calibration.json``."""
        parameters: dict[str, Any] = {}
        if self.method == "temperature":
            parameters = {"temperature": self.temperature}
        elif self.method == "platt":
            parameters = {"slope": self.slope, "bias": self.bias}
        elif self.method == "platt-length":
            parameters = {
                "slope": self.slope,
                "bias": self.bias,
                "length_weight": self.length_weight,
            }
        elif self.method == "isotonic":
            parameters = {"knots_x": list(self.knots_x), "knots_y": list(self.knots_y)}
        return {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "parameters": parameters,
            "fit": dict(self.fit),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Builds a calibration from `to_dict` output.

        Raises:
            CalibrationError: Unknown keys, an unknown version or method, or bad parameters.
        """
        unknown = set(data) - {"format_version", "method", "parameters", "fit"}
        if unknown:
            raise CalibrationError(f"unknown keys in calibration: {', '.join(sorted(unknown))}")
        if data.get("format_version") != FORMAT_VERSION:
            raise CalibrationError(
                f"calibration format_version {data.get('format_version')!r} is not {FORMAT_VERSION}"
            )
        method = data.get("method")
        if method not in METHODS:
            raise CalibrationError(
                f"unknown calibration method {method!r}; known: {', '.join(METHODS)}"
            )
        parameters = data.get("parameters") or {}
        expected = {
            "identity": set(),
            "temperature": {"temperature"},
            "platt": {"slope", "bias"},
            "platt-length": {"slope", "bias", "length_weight"},
            "isotonic": {"knots_x", "knots_y"},
        }[method]
        if not isinstance(parameters, Mapping) or set(parameters) != expected:
            raise CalibrationError(
                f"a {method} calibration needs the parameters {sorted(expected)}, "
                f"not {sorted(parameters) if isinstance(parameters, Mapping) else parameters!r}"
            )
        fit = data.get("fit") or {}
        if not isinstance(fit, Mapping):
            raise CalibrationError("calibration 'fit' must be an object")
        try:
            return cls(
                method=cast(CalibrationMethod, method),
                temperature=float(parameters.get("temperature", 1.0)),
                slope=float(parameters.get("slope", 1.0)),
                bias=float(parameters.get("bias", 0.0)),
                length_weight=float(parameters.get("length_weight", 0.0)),
                knots_x=tuple(float(v) for v in parameters.get("knots_x", ())),
                knots_y=tuple(float(v) for v in parameters.get("knots_y", ())),
                fit=dict(fit),
            )
        except (TypeError, ValueError) as error:
            raise CalibrationError(f"bad calibration parameters: {error}") from error


IDENTITY = Calibration("identity")
"""The calibration that changes nothing."""


@dataclass(frozen=True, slots=True)
class CalibrationFit:
    """The outcome of `fit_and_save_calibration`.

    Attributes:
        calibration: The fitted calibration.
        path: Where it was written.
        words: How many (confidence, outcome) pairs it was fitted on.
        ece_before: ECE of the raw confidences on those pairs.
        ece_after: ECE of the calibrated confidences on the same pairs (in-sample).
    """

    calibration: Calibration
    path: Path
    words: int
    ece_before: float
    ece_after: float


def fit_calibration(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    method: CalibrationMethod = "temperature",
    bins: int = DEFAULT_BINS,
    source: str | None = None,
    lengths: Sequence[int] | None = None,
) -> Calibration:
    """Fits a calibration of word confidences to observed outcomes.

    Args:
        confidences: Raw word confidences in [0, 1].
        correct: For each, whether the word was read right.
        method: ``temperature``, ``platt``, ``platt-length``, ``isotonic`` (or ``identity``,
            which fits nothing).
        bins: Bins of the ECE recorded in `Calibration.fit`.
        source: What the pairs come from (e.g. the evaluated folders), recorded in the fit.
        lengths: Each word's length in characters (needed by ``platt-length`` only).

    Returns:
        The calibration, with the ECE and NLL before and after (in-sample) in its `fit`.

    Raises:
        CalibrationError: No pairs, sequences of different lengths, an unknown method, or
            ``platt-length`` without the lengths.
    """
    if len(confidences) != len(correct):
        raise CalibrationError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    if not confidences:
        raise CalibrationError("no words to fit a calibration on")
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; known: {METHODS}")
    p = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(correct, dtype=np.float64)
    if method == "temperature":
        fitted = Calibration("temperature", temperature=_fit_temperature(p, y))
    elif method == "platt":
        slope, bias, _ = _fit_platt(p, y)
        fitted = Calibration("platt", slope=slope, bias=bias)
    elif method == "platt-length":
        if lengths is None or len(lengths) != len(p):
            raise CalibrationError("a platt-length calibration needs each word's length")
        slope, bias, weight = _fit_platt(p, y, _inverse_lengths(lengths))
        fitted = Calibration("platt-length", slope=slope, bias=bias, length_weight=weight)
    elif method == "isotonic":
        xs, ys = _fit_isotonic(p, y)
        fitted = Calibration("isotonic", knots_x=xs, knots_y=ys)
    else:
        fitted = IDENTITY
    after = fitted.apply_many(p, lengths)
    fit: dict[str, Any] = {
        "words": len(p),
        "accuracy": float(y.mean()),
        "bins": bins,
        "ece_before": expected_calibration_error(p.tolist(), correct, bins),
        "ece_after": expected_calibration_error(after.tolist(), correct, bins),
        "nll_before": _nll(p, y),
        "nll_after": _nll(after, y),
    }
    if source is not None:
        fit["source"] = source
    logger.info(
        "fitted %s on %d words: ECE %.4f -> %.4f",
        fitted.describe(),
        len(p),
        fit["ece_before"],
        fit["ece_after"],
    )
    return Calibration(
        fitted.method,
        temperature=fitted.temperature,
        slope=fitted.slope,
        bias=fitted.bias,
        length_weight=fitted.length_weight,
        knots_x=fitted.knots_x,
        knots_y=fitted.knots_y,
        fit=fit,
    )


def save_calibration(directory: Path, calibration: Calibration) -> Path:
    """Writes ``calibration.json`` into a checkpoint directory, atomically.

    Args:
        directory: The checkpoint directory (must exist).
        calibration: What to write.

    Returns:
        The path of the written file.

    Raises:
        CalibrationError: The directory does not exist or cannot be written.
    """
    if not directory.is_dir():
        raise CalibrationError(f"{directory}: not a directory; cannot save the calibration")
    path = directory / CALIBRATION_FILE
    text = json.dumps(calibration.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        write_text_atomically(path, text)
    except OSError as error:
        raise CalibrationError(f"{path}: cannot write the calibration: {error}") from error
    logger.info("wrote %s (%s)", path, calibration.describe())
    return path


def load_calibration(directory: Path) -> Calibration | None:
    """Reads the ``calibration.json`` of a checkpoint directory.

    Args:
        directory: The checkpoint directory.

    Returns:
        The calibration, or None when the directory has no calibration file.

    Raises:
        CalibrationError: The file exists but cannot be read or is not a valid calibration.
    """
    path = directory / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CalibrationError(f"{path}: cannot read the calibration: {error}") from error
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: a calibration must be a JSON object")
    try:
        return Calibration.from_dict(data)
    except CalibrationError as error:
        raise CalibrationError(f"{path}: {error}") from error


def local_model_directory(model: str | Path) -> Path:
    """Returns `model` as a local checkpoint directory, for writing a calibration into it.

    Args:
        model: What ``--model`` named.

    Returns:
        The directory.

    Raises:
        CalibrationError: `model` is not a local directory with a ``config.json`` (for
            example a Hugging Face hub name).
    """
    directory = Path(model).expanduser()
    if not (directory / "config.json").is_file():
        raise CalibrationError(
            f"{model!s}: a calibration is stored in the model's directory, and this is not a "
            "local model directory (no config.json); copy the checkpoint to a folder and "
            "pass that folder with --model"
        )
    return directory


def fit_and_save_calibration(
    confidences: Sequence[float],
    correct: Sequence[bool],
    model: str | Path,
    *,
    method: CalibrationMethod = "temperature",
    bins: int = DEFAULT_BINS,
    source: str | None = None,
    lengths: Sequence[int] | None = None,
) -> CalibrationFit:
    """Fits a calibration on evaluated words and writes it into the model's directory.

    This is what ``legajo eval --fit-calibration`` does with the words of its evaluation. The
    ECE after is measured on the same words (in-sample): evaluate on other pages for an
    honest figure.

    Args:
        confidences: Raw word confidences.
        correct: For each, whether the word was read right.
        model: The local checkpoint directory to write ``calibration.json`` into.
        method: See `fit_calibration`.
        bins: Bins of the ECE.
        source: What the pairs come from, recorded in the file.
        lengths: Each word's length in characters (see `fit_calibration`).

    Returns:
        The calibration, where it was written, and the ECE before and after.

    Raises:
        CalibrationError: `model` is not a local directory, there are no words, or the file
            cannot be written.
    """
    directory = local_model_directory(model)
    calibration = fit_calibration(
        confidences, correct, method=method, bins=bins, source=source, lengths=lengths
    )
    path = save_calibration(directory, calibration)
    return CalibrationFit(
        calibration=calibration,
        path=path,
        words=len(confidences),
        ece_before=float(calibration.fit["ece_before"]),
        ece_after=float(calibration.fit["ece_after"]),
    )


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _inverse_lengths(lengths: Sequence[int]) -> npt.NDArray[np.float64]:
    """One over each word's length in characters (at least 1)."""
    return 1.0 / np.maximum(np.asarray(lengths, dtype=np.float64), 1.0)


def _nll(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """Mean negative log-likelihood of outcomes `y` under probabilities `p`."""
    q = np.clip(p, _EPSILON, 1.0 - _EPSILON)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log1p(-q)))


def _clipped_logits(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Log-odds of `p`, with 0 and 1 moved in by `_EPSILON` so the fit sees finite values."""
    return _logit(np.clip(p, _EPSILON, 1.0 - _EPSILON))


def _fit_temperature(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """Returns the T in `TEMPERATURE_RANGE` with the least NLL, by golden-section search.

    The NLL is convex in 1/T (a logistic regression without intercept), hence unimodal in
    log T, so the search finds the optimum.
    """
    z = _clipped_logits(p)

    def nll(log_t: float) -> float:
        return _nll(_sigmoid(z / math.exp(log_t)), y)

    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    while high - low > 1e-6:
        if fa <= fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    temperature = math.exp((low + high) / 2.0)
    if not TEMPERATURE_RANGE[0] * 1.01 < temperature < TEMPERATURE_RANGE[1] / 1.01:
        logger.warning(
            "the fitted temperature %.3g is at the end of its range: the data are degenerate "
            "(e.g. all words right or all wrong)",
            temperature,
        )
    return temperature


def _fit_platt(
    p: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    feature: npt.NDArray[np.float64] | None = None,
) -> tuple[float, float, float]:
    """Returns (a, b, c) of ``sigmoid(a * logit(p) + b + c * feature)`` with the least NLL.

    A logistic regression of the outcomes on the log-odds (and `feature`, when given; c is
    0 without it), by scikit-learn's `LogisticRegression` (L-BFGS). A tiny L2 penalty on
    the weights (`_PLATT_RIDGE` per word; the bias is not penalised) keeps the fit finite on
    separable data. Outcomes all alike, or a slope that comes out non-positive (outcomes
    unrelated or opposed to confidence), fall back to temperature scaling, which keeps the
    map increasing.
    """
    if np.all(y == y[0]):
        logger.warning("Platt scaling needs right and wrong words; using temperature")
        return 1.0 / _fit_temperature(p, y), 0.0, 0.0
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    z = _clipped_logits(p).reshape(-1, 1)
    if feature is not None:
        z = np.hstack([z, feature.reshape(-1, 1)])
    model = LogisticRegression(C=1.0 / (_PLATT_RIDGE * len(z)), tol=1e-10, max_iter=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(z, y > 0.5)
    for warning in caught:
        logger.warning("Platt scaling: %s", warning.message)
    slope, bias = float(model.coef_[0, 0]), float(model.intercept_[0])
    weight = float(model.coef_[0, 1]) if feature is not None else 0.0
    if not all(math.isfinite(v) for v in (slope, bias, weight)) or slope <= 1e-6:
        logger.warning(
            "Platt scaling found no increasing map (slope %.3g); using temperature", slope
        )
        return 1.0 / _fit_temperature(p, y), 0.0, 0.0
    return slope, bias, weight


def _fit_isotonic(
    p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The non-decreasing fit of `y` against `p`, by scikit-learn's `IsotonicRegression`.

    Returns:
        The knots: the confidences where the fitted map changes slope (the first and last
        confidence of each pooled block), strictly increasing, and the accuracy there,
        non-decreasing in [0, 1]. `np.interp` between them gives the fitted map, clipped
        to the end values outside them.
    """
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(p, y)
    knots_x = np.asarray(model.X_thresholds_, dtype=np.float64)
    # Guards against float rounding only: the pooled accuracies are non-decreasing already.
    knots_y = np.maximum.accumulate(np.clip(model.y_thresholds_, 0.0, 1.0))
    return tuple(knots_x.tolist()), tuple(knots_y.tolist())
