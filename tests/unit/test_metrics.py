import random
import unicodedata

import pytest

from htr.metrics import (
    WordMatch,
    align_words,
    cer,
    clean_text,
    ece_of_bins,
    edit_distance,
    expected_calibration_error,
    nfc,
    normalise_for_cer,
    reliability_bins,
    wer,
)


def reference_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_cer_of_known_strings() -> None:
    assert cer("abc", "abd") == pytest.approx(1 / 3)
    assert cer("abc", "abc") == 0.0
    assert cer("abc", "abxc") == pytest.approx(1 / 3)  # insertion
    assert cer("abc", "ac") == pytest.approx(1 / 3)  # deletion
    assert cer("abc", "") == 1.0
    assert cer("ab", "xyzw") == 2.0  # CER can exceed 1
    assert cer("kitten", "sitting") == pytest.approx(3 / 6)


def test_empty_references() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert cer("", "") == 0.0
    assert cer("", "a") == 1.0
    assert wer("", "") == 0.0
    assert wer("", "x y") == 1.0


def test_edit_distance_matches_a_plain_dynamic_programme() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("abcq̃ ") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("abcq̃ ") for _ in range(rng.randint(0, 30)))
        assert edit_distance(a, b) == reference_levenshtein(a, b), (a, b)


def test_wer_counts_word_edits() -> None:
    assert wer("en el nonbre de dios", "en el nonbre de dios") == 0.0
    assert wer("en el nonbre de dios", "en el nõbre de dios") == pytest.approx(1 / 5)
    assert wer("en el nonbre", "en elnonbre") == pytest.approx(2 / 3)  # 1 substitution + 1 deletion
    assert edit_distance(["a", "b"], ["b"]) == 1


def test_nfc_makes_nfd_and_nfc_text_equal() -> None:
    nfd = unicodedata.normalize("NFD", "señor canción")
    assert nfd != "señor canción"
    assert nfc(nfd) == "señor canción"
    assert cer(nfc("señor"), nfc(nfd.split()[0])) == 0.0
    assert clean_text("  en   el\tnonbre \n") == "en el nonbre"


def test_normalisation_merges_u_v_and_i_j_and_drops_diacritics_and_case() -> None:
    assert normalise_for_cer("Vino") == normalise_for_cer("uino") == "uino"
    assert normalise_for_cer("Jesu") == normalise_for_cer("iesu") == "iesu"
    assert normalise_for_cer(unicodedata.normalize("NFD", "Señor Canción")) == "senor cancion"
    assert normalise_for_cer("q̃") == "q"
    assert normalise_for_cer("ꝑ ⁊") == "ꝑ ⁊"  # spacing abbreviation signs are kept
    assert cer(normalise_for_cer("Avía"), normalise_for_cer("auia")) == 0.0


def test_word_alignment_marks_correct_hypothesis_words() -> None:
    matches = align_words(["en", "el", "nonbre", "de", "dios"], ["en", "el", "nõbre", "de", "dios"])
    assert [m.correct for m in matches] == [True, True, False, True, True]
    assert [m.reference_index for m in matches] == [0, 1, 2, 3, 4]


def test_word_alignment_with_insertions_and_deletions() -> None:
    # A split word: "ningunamanera" read as two words; both are wrong.
    matches = align_words(["de", "ningunamanera"], ["de", "ninguna", "manera"])
    assert [m.correct for m in matches] == [True, False, False]
    assert matches[0] == WordMatch(0, 0, True)
    # A missed word does not shift the later ones out of alignment.
    matches = align_words(["sepan", "quantos", "esta", "carta"], ["sepan", "esta", "carta"])
    assert [(m.reference_index, m.correct) for m in matches] == [(0, True), (2, True), (3, True)]
    # An inserted word.
    matches = align_words(["amen"], ["x", "amen"])
    assert [(m.reference_index, m.correct) for m in matches] == [(None, False), (0, True)]
    # Among equally short alignments, the one with most matches wins.
    assert sum(m.correct for m in align_words(["a", "b"], ["b", "a"])) == 1
    assert align_words([], ["a"]) == [WordMatch(0, None, False)]
    assert align_words(["a"], []) == []


def test_ece_is_zero_when_perfectly_calibrated() -> None:
    confidences = [0.8] * 5 + [0.3] * 10
    correct = [True] * 4 + [False] + [True] * 3 + [False] * 7
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0


def test_ece_of_overconfident_predictions() -> None:
    # 10 words at 0.9 of which 5 right, 10 at 0.6 of which 6 right.
    confidences = [0.9] * 10 + [0.6] * 10
    correct = [True] * 5 + [False] * 5 + [True] * 6 + [False] * 4
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.5 * 0.4 + 0.5 * 0.0)
    assert expected_calibration_error([0.95] * 4, [False] * 4, bins=10) == pytest.approx(0.95)


def test_reliability_bins() -> None:
    table = reliability_bins([0.05, 0.15, 0.19, 1.0], [False, True, False, True], bins=10)
    assert len(table) == 10
    assert [b.count for b in table] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table[1].mean_confidence == pytest.approx(0.17)
    assert table[1].accuracy == pytest.approx(0.5)
    assert table[9].upper == 1.0 and table[9].accuracy == 1.0
    assert table[2].to_dict()["count"] == 0
    assert ece_of_bins(table) == pytest.approx((0.05 + 2 * 0.33) / 4)
    with pytest.raises(ValueError):
        reliability_bins([0.5], [True, False])
    with pytest.raises(ValueError):
        reliability_bins([0.5], [True], bins=0)
