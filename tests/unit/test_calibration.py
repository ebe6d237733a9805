import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from htr.calibration import (
    CALIBRATION_FILE,
    IDENTITY,
    Calibration,
    CalibrationError,
    fit_and_save_calibration,
    fit_calibration,
    load_calibration,
    save_calibration,
)
from htr.metrics import expected_calibration_error


def overconfident_words(n: int = 4000, seed: int = 0) -> tuple[list[float], list[bool]]:
    """Words whose true accuracy is sigmoid(logit(confidence) / 2.5): an overconfident model."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(0.8, 1.6, n)
    correct = rng.random(n) < 1.0 / (1.0 + np.exp(-true_logit))
    confidence = 1.0 / (1.0 + np.exp(-2.5 * true_logit))
    return confidence.tolist(), correct.tolist()


GRID = [0.0, 1e-9, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999999, 1.0]


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_lowers_ece_on_overconfident_words(method: str) -> None:
    confidences, correct = overconfident_words()
    calibration = fit_calibration(confidences, correct, method=method)  # type: ignore[arg-type]
    before = expected_calibration_error(confidences, correct)
    after = expected_calibration_error(calibration.apply_many(confidences).tolist(), correct)
    assert before > 0.1
    assert after < 0.03
    assert calibration.fit["ece_before"] == pytest.approx(before)
    assert calibration.fit["ece_after"] == pytest.approx(after)
    assert calibration.fit["words"] == len(confidences)


def test_temperature_fit_finds_the_true_temperature() -> None:
    confidences, correct = overconfident_words(n=20000, seed=1)
    calibration = fit_calibration(confidences, correct)
    assert calibration.method == "temperature"
    assert calibration.temperature == pytest.approx(2.5, rel=0.1)


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_keeps_the_ordering_of_confidences(method: str) -> None:
    confidences, correct = overconfident_words(n=2000, seed=2)
    calibration = fit_calibration(confidences, correct, method=method)  # type: ignore[arg-type]
    raw = np.sort(np.random.default_rng(3).random(5000))
    mapped = calibration.apply_many(raw)
    assert np.all(np.diff(mapped) >= 0)
    assert np.all((mapped >= 0) & (mapped <= 1))
    on_grid = [calibration.apply(p) for p in GRID]
    assert on_grid == sorted(on_grid)
    if method != "isotonic":  # temperature and Platt scaling are strictly increasing
        assert np.all(np.diff(mapped[np.diff(raw, prepend=-1) > 0]) > 0)
        assert all(b > a for a, b in itertools.pairwise(on_grid))
        assert calibration.apply(0.0) == 0.0 and calibration.apply(1.0) == 1.0
    # Ranking the words by calibrated confidence gives the same order as by raw confidence.
    order_raw = np.argsort(confidences, kind="stable")
    calibrated = calibration.apply_many(confidences)
    assert np.all(np.diff(calibrated[order_raw]) >= 0)


def test_temperature_one_and_identity_change_nothing() -> None:
    for calibration in (Calibration("temperature", temperature=1.0), IDENTITY):
        for p in GRID:
            assert calibration.apply(p) == pytest.approx(p, abs=1e-12)
    assert IDENTITY.apply(1.5) == 1.0 and IDENTITY.apply(-0.1) == 0.0


def test_temperature_above_one_pulls_towards_one_half() -> None:
    warm = Calibration("temperature", temperature=2.0)
    assert 0.5 < warm.apply(0.9) < 0.9
    assert 0.1 < warm.apply(0.1) < 0.5
    assert warm.apply(0.5) == pytest.approx(0.5)


def test_json_round_trip(tmp_path: Path) -> None:
    confidences, correct = overconfident_words(n=500)
    for method in ("temperature", "platt", "isotonic"):
        calibration = fit_calibration(
            confidences,
            correct,
            method=method,  # type: ignore[arg-type]
            source="val",
        )
        path = save_calibration(tmp_path, calibration)
        assert path == tmp_path / CALIBRATION_FILE
        loaded = load_calibration(tmp_path)
        assert loaded == calibration
        assert loaded is not None and loaded.fit["source"] == "val"
        assert json.loads(path.read_text())["method"] == method
    assert [p.name for p in tmp_path.iterdir()] == [CALIBRATION_FILE]  # no temporary files


def test_files_written_before_load_and_give_the_same_map(tmp_path: Path) -> None:
    # calibration.json as written before the fits moved to scikit-learn: the format and the
    # maps it stores are unchanged.
    files = {
        "temperature": {"temperature": 2.0},
        "platt": {"slope": 0.5, "bias": -0.25},
        "isotonic": {"knots_x": [0.2, 0.5, 0.9], "knots_y": [0.1, 0.4, 0.8]},
    }

    def sigmoid(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    def logit(p: float) -> float:
        return math.log(p / (1.0 - p))

    expected = {
        "temperature": lambda p: sigmoid(logit(p) / 2.0),
        "platt": lambda p: sigmoid(0.5 * logit(p) - 0.25),
        # Linear between the knots, flat outside them.
        "isotonic": lambda p: {0.1: 0.1, 0.35: 0.25, 0.7: 0.6, 0.95: 0.8}[p],
    }
    for method, parameters in files.items():
        data = {"format_version": 1, "method": method, "parameters": parameters, "fit": {}}
        (tmp_path / CALIBRATION_FILE).write_text(json.dumps(data))
        loaded = load_calibration(tmp_path)
        assert loaded is not None and loaded.method == method
        for p in (0.1, 0.35, 0.7, 0.95):
            assert loaded.apply(p) == pytest.approx(expected[method](p), abs=1e-12)
        assert loaded.to_dict() == data


def test_platt_fit_finds_the_true_slope_and_bias() -> None:
    # The true accuracy is sigmoid(logit(confidence) / 2.5): a = 0.4, b = 0.
    confidences, correct = overconfident_words(n=20000, seed=4)
    calibration = fit_calibration(confidences, correct, method="platt")
    assert calibration.method == "platt"
    assert calibration.slope == pytest.approx(0.4, rel=0.1)
    assert calibration.bias == pytest.approx(0.0, abs=0.1)


def test_isotonic_fit_pools_adjacent_violators() -> None:
    calibration = fit_calibration(
        [0.4, 0.1, 0.3, 0.2, 0.3], [True, False, False, True, True], method="isotonic"
    )
    # 0.2 (right) and 0.3 (one of two right) violate the order and pool to 2/3.
    assert calibration.knots_x == pytest.approx((0.1, 0.2, 0.3, 0.4))
    assert calibration.knots_y == pytest.approx((0.0, 2 / 3, 2 / 3, 1.0))
    assert calibration.apply(0.05) == 0.0 and calibration.apply(0.15) == pytest.approx(1 / 3)


def test_importing_calibration_does_not_import_scikit_learn() -> None:
    code = "import sys, htr.calibration; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_load_without_file_and_with_bad_files(tmp_path: Path) -> None:
    assert load_calibration(tmp_path) is None
    path = tmp_path / CALIBRATION_FILE
    bad = [
        "not json",
        "[]",
        '{"format_version": 1, "method": "temperature", "parameters": {"temperature": -1}}',
        '{"format_version": 1, "method": "magic", "parameters": {}}',
        '{"format_version": 2, "method": "identity", "parameters": {}}',
        '{"format_version": 1, "method": "temperature", "parameters": {"t": 1}}',
        '{"format_version": 1, "method": "identity", "parameters": {}, "extra": 1}',
        '{"format_version": 1, "method": "isotonic", '
        '"parameters": {"knots_x": [0.5, 0.2], "knots_y": [0.1, 0.2]}}',
    ]
    for text in bad:
        path.write_text(text)
        with pytest.raises(CalibrationError, match=CALIBRATION_FILE):
            load_calibration(tmp_path)


def test_fit_needs_words() -> None:
    with pytest.raises(CalibrationError):
        fit_calibration([], [])
    with pytest.raises(CalibrationError):
        fit_calibration([0.5], [True, False])


def test_degenerate_data_still_gives_a_valid_map() -> None:
    calibration = fit_calibration([0.9, 0.8, 0.95], [True, True, True])
    assert calibration.temperature > 0
    assert calibration.apply(0.9) >= 0.9
    calibration = fit_calibration([0.5] * 10, [True] * 5 + [False] * 5, method="platt")
    assert calibration.apply(0.2) <= calibration.apply(0.8)


def test_fit_and_save_needs_a_local_model_directory(tmp_path: Path) -> None:
    confidences, correct = overconfident_words(n=300)
    with pytest.raises(CalibrationError, match="not a local model directory"):
        fit_and_save_calibration(confidences, correct, "microsoft/trocr-base-handwritten")
    (tmp_path / "config.json").write_text("{}")
    fit = fit_and_save_calibration(confidences, correct, tmp_path)
    assert fit.path == tmp_path / CALIBRATION_FILE
    assert fit.ece_after < fit.ece_before
    assert load_calibration(tmp_path) == fit.calibration


def words_with_lengths(n: int = 20000, seed: int = 5) -> tuple[list[float], list[bool], list[int]]:
    """Words whose true accuracy is sigmoid(0.5 * logit(confidence) + 0.3 - 2 / length)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, n)
    confidence = 1.0 / (1.0 + np.exp(-rng.normal(1.0, 2.0, n)))
    logit = np.log(confidence / (1.0 - confidence))
    truth = 1.0 / (1.0 + np.exp(-(0.5 * logit + 0.3 - 2.0 / lengths)))
    correct = rng.random(n) < truth
    return confidence.tolist(), correct.tolist(), lengths.tolist()


def test_platt_length_finds_the_true_weights_and_beats_platt_on_short_words() -> None:
    confidences, correct, lengths = words_with_lengths()
    calibration = fit_calibration(confidences, correct, method="platt-length", lengths=lengths)
    assert calibration.method == "platt-length" and calibration.needs_lengths
    assert calibration.slope == pytest.approx(0.5, rel=0.1)
    assert calibration.bias == pytest.approx(0.3, abs=0.15)
    assert calibration.length_weight == pytest.approx(-2.0, rel=0.15)
    platt = fit_calibration(confidences, correct, method="platt")
    short = [i for i, n in enumerate(lengths) if n <= 2]
    right = [correct[i] for i in short]
    with_length = calibration.apply_many(confidences, lengths)[short].tolist()
    without = platt.apply_many(confidences)[short].tolist()
    assert expected_calibration_error(with_length, right) < 0.03
    assert expected_calibration_error(without, right) > 0.1
    # A short word gets less than a long word of the same raw confidence; each length keeps
    # the order of the confidences, and 0 and 1 stay where they are.
    assert calibration.apply(0.8, 1) < calibration.apply(0.8, 10)
    for length in (1, 4, 30):
        on_grid = [calibration.apply(p, length) for p in GRID]
        assert all(b > a for a, b in itertools.pairwise(on_grid))
        assert on_grid[0] == 0.0 and on_grid[-1] == 1.0


def test_platt_length_needs_the_lengths_and_round_trips(tmp_path: Path) -> None:
    confidences, correct, lengths = words_with_lengths(n=500)
    with pytest.raises(CalibrationError, match="length"):
        fit_calibration(confidences, correct, method="platt-length")
    calibration = fit_calibration(confidences, correct, method="platt-length", lengths=lengths)
    with pytest.raises(CalibrationError, match="length"):
        calibration.apply(0.5)
    with pytest.raises(CalibrationError, match="length"):
        calibration.apply_many([0.5, 0.6], [3])
    save_calibration(tmp_path, calibration)
    loaded = load_calibration(tmp_path)
    assert loaded == calibration
    assert loaded is not None and loaded.apply(0.7, 3) == calibration.apply(0.7, 3)
    assert "c=" in loaded.describe()
    data = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    del data["parameters"]["length_weight"]
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="length_weight"):
        load_calibration(tmp_path)
    # Methods that do not use the length ignore it.
    assert Calibration("platt", slope=0.5, bias=0.1).apply(0.7, 2) == pytest.approx(
        Calibration("platt", slope=0.5, bias=0.1).apply(0.7)
    )
