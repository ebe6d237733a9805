"""Normalisation: abbreviations, diacritics, spelling variants, tokenization, idempotence."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import IndexerError
from indexer.spelling.normalize import (
    DEFAULT_SETTINGS,
    DEFAULT_VARIANTS,
    NormalizationSettings,
    VariantRule,
    VariantTable,
    VariantTableError,
    apply_variants,
    expand_abbreviations,
    load_variant_table,
    normalize,
    tokenize,
    word_keys,
)

OFF = NormalizationSettings(variants=None)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def same_key(a: str, b: str, settings: NormalizationSettings = DEFAULT_SETTINGS) -> bool:
    return normalize(a, settings) == normalize(b, settings) != ""


# --- abbreviations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expanded"),
    [
        ("q̃", "que"),
        ("porq̃", "porque"),
        ("ꝑo", "pero"),
        ("ꝑsona", "persona"),
        ("ꝓuision", "prouision"),
        ("⁊", "e"),
        ("ꝗ", "que"),
        ("ꝯtra", "contra"),
        ("qualqꝫ", "qualque"),
        ("ꝫ", "et"),
        ("eiꝰ", "eius"),
        ("ꝟdat", "verdat"),
        ("ẜuir", "seruir"),
        ("ſeñor", "señor"),
        ("ꝛey", "rey"),
        ("cõ", "con"),
        ("fuerõ", "fueron"),
        ("uienẽ", "uienen"),
        ("õbre", "ombre"),
        ("tiẽpo", "tiempo"),
        ("iuntamẽnt", "iuntament"),
        ("muỹ", "muy"),
        ("veỹte", "veynte"),
        ("com̃o", "como"),
        ("fech̃os", "fechos"),
        ("fuent̃", "fuente"),
        ("d̃", "de"),
        ("d̃los", "delos"),
        ("prinçip̃s", "prinçipes"),
        ("señor", "señor"),
        ("nr̃o", "nuestro"),
        ("Nr̃a", "Nuestra"),
        ("ur̃a", "vuestra"),
        ("xp̃o", "christo"),
        ("xstianos", "christianos"),
        ("s̾uian", "seruian"),
        ("pa̾te", "parte"),
        ("pila̾", "pilar"),
        ("man̉a", "manera"),
        ("qͣles", "quales"),
        ("qͥen", "quien"),
        ("contͣ", "contra"),
        ("otͦs", "otros"),
        ("pͥnçipe", "prinçipe"),
        ("manͬa", "manera"),
        ("ꝓͦuidençia", "prouidençia"),
        ("p᷎cio", "precio"),
    ],
)
def test_expand_abbreviations(written: str, expanded: str) -> None:
    assert expand_abbreviations(nfd(written)) == unicodedata.normalize("NFC", expanded)
    assert expand_abbreviations(unicodedata.normalize("NFC", written)) == unicodedata.normalize(
        "NFC", expanded
    )


def test_expand_keeps_punctuation_spacing_and_accents() -> None:
    line = nfd("/Et com̃o las aguas, q̃ fuerõ... «Dios»")
    assert expand_abbreviations(line) == "/Et como las aguas, que fueron... «Dios»"
    assert expand_abbreviations("acción") == "acción"


# --- normalize, no variants ------------------------------------------------------------


def test_normalize_case_diacritics_punctuation_whitespace() -> None:
    assert normalize("  Él   dixo:  «Acción!»\n", OFF) == "el dixo accion"


def test_nfd_and_nfc_give_the_same_key() -> None:
    for text in ["señor", "coraçon", "q̃ fuerõ", "acción", "ꝓͦuidençia", "muỹ"]:
        for variants in (DEFAULT_SETTINGS, OFF):
            assert normalize(nfd(text), variants) == normalize(
                unicodedata.normalize("NFC", text), variants
            )


def test_ç_and_ñ_stay_letters_without_variants() -> None:
    assert normalize("Coraçon señor", OFF) == "coraçon señor"
    assert normalize("Coraçon señor") == "corazon senor"


def test_superscripts_and_compatibility_forms() -> None:
    assert normalize("VII.ᵃ", OFF) == "vii a"
    assert normalize("ﬁn ᵈ", OFF) == "fin d"
    assert normalize("Ⅻ", OFF) == "xii"


def test_stroke_letters_fold_to_their_base() -> None:
    assert normalize("Miracłe", OFF) == "miracle"
    assert normalize("ħeda", OFF) == "heda"


def test_editorial_brackets_do_not_split_words() -> None:
    assert tokenize("erra⟦⟧da ⟦de⟧ ca[n]to") == ["errada", "de", "canto"]


def test_abbreviations_can_be_switched_off() -> None:
    plain = NormalizationSettings(variants=None, abbreviations=False)
    assert normalize(nfd("q̃ fuerõ"), plain) == "q fuero"


# --- variants --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "modern"),
    [
        ("vn", "un"),
        ("vna", "una"),
        ("yglesia", "iglesia"),
        ("q̃", "que"),
        ("fazer", "hacer"),
        ("fablar", "hablar"),
        ("fijo", "hijo"),
        ("ꝑo", "pero"),
        ("ꝓ", "pro"),
        ("⁊", "et"),
        ("⁊", "e"),
        ("christo", "cristo"),
        ("xp̃o", "cristo"),
        ("philosophia", "filosofia"),
        ("thesoro", "tesoro"),
        ("cibdad", "ciudad"),
        ("dubda", "duda"),
        ("uirtud", "virtud"),
        ("auer", "haber"),
        ("cauallo", "caballo"),
        ("seruir", "servir"),
        ("tuuo", "tuvo"),
        ("dixo", "dijo"),
        ("lexos", "lejos"),
        ("muger", "mujer"),
        ("conseio", "consejo"),
        ("coraçon", "corazón"),
        ("naçen", "nacen"),
        ("dezir", "decir"),
        ("passar", "pasar"),
        ("ffazienda", "hacienda"),
        ("sennor", "señor"),
        ("señor", "senor"),
        ("commo", "como"),
        ("com̃o", "como"),
        ("rrey", "rey"),
        ("honrra", "honra"),
        ("tienpo", "tiempo"),
        ("õbre", "hombre"),
        ("onbre", "hombre"),
        ("quando", "cuando"),
        ("qual", "cual"),
        ("kalendas", "calendas"),
        ("syerras", "sierras"),
        ("Reys", "reis"),
        ("tam", "tan"),
        ("nr̃o", "nuestro"),
    ],
)
def test_variant_pairs_meet(old: str, modern: str) -> None:
    assert same_key(nfd(old), modern)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("pero", "perro"),  # intervocalic rr is kept
        ("fuerte", "huerte"),  # f before ue stays
        ("fe", "e"),  # too short for f -> h
        ("mucho", "muco"),  # ch before a vowel stays
        ("calle", "cale"),  # ll is kept
    ],
)
def test_variant_rules_keep_distinctions(a: str, b: str) -> None:
    assert normalize(a) != normalize(b)


def test_each_rule_example_holds() -> None:
    for rule in DEFAULT_VARIANTS.rules:
        assert rule.doc, rule.name
        assert rule.examples, rule.name
        for before, after in rule.examples:
            assert rule.apply(before) == after, (rule.name, before)


def test_rule_names_are_unique_and_documented() -> None:
    names = DEFAULT_VARIANTS.names
    assert len(names) == len(set(names))
    doc = Path(__file__).parents[2] / "docs" / "normalisation.md"
    if doc.exists():
        text = doc.read_text(encoding="utf-8")
        missing = [name for name in names if f"`{name}`" not in text]
        assert not missing, f"rules not in docs/normalisation.md: {missing}"


def test_variants_off_leaves_spelling_alone() -> None:
    assert normalize("vn yglesia fazer christo", OFF) == "vn yglesia fazer christo"
    assert normalize("vn yglesia fazer christo") == "un iglesia acer cristo"


def test_apply_variants_folds_a_variant_free_key() -> None:
    for word in ["Fazer", "vn", "yglesia", "coraçon", "ffijo", "q̃", "xp̃o", "tienpo", "xsst"]:
        key = normalize(nfd(word), OFF)
        assert apply_variants(key, DEFAULT_VARIANTS) == normalize(nfd(word))


def test_without_switches_rules_off() -> None:
    table = DEFAULT_VARIANTS.without("initial_f_h")
    assert normalize("fazer", NormalizationSettings(table)) == "facer"
    with pytest.raises(VariantTableError, match="unknown variant rule"):
        DEFAULT_VARIANTS.without("no_such_rule")


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(VariantTableError, match="bad pattern"):
        VariantRule("broken", "(", "x")
    with pytest.raises(VariantTableError, match="bad replacement"):
        VariantRule("broken", "a", "\\2")
    with pytest.raises(VariantTableError, match="twice"):
        VariantTable((VariantRule("a", "a", "b"), VariantRule("a", "c", "d")))
    assert issubclass(VariantTableError, IndexerError)


# --- loading tables --------------------------------------------------------------------


def test_load_toml_table(tmp_path: Path) -> None:
    path = tmp_path / "variants.toml"
    path.write_text(
        'extends = "default"\n'
        'disable = ["initial_f_h"]\n'
        "[[rule]]\n"
        'name = "seseo"\n'
        'pattern = "s(?=[ei])"\n'
        'replacement = "c"\n'
        'doc = "Andalusian seseo"\n'
        'examples = [["ueses", "ueces"]]\n',
        encoding="utf-8",
    )
    table = load_variant_table(path)
    assert table.names[-1] == "seseo"
    assert "initial_f_h" not in table.names
    assert normalize("ueses", NormalizationSettings(table)) == normalize("veces")


def test_load_json_table(tmp_path: Path) -> None:
    path = tmp_path / "variants.json"
    path.write_text(
        json.dumps({"rule": [{"name": "u_v", "pattern": "v", "replacement": "u"}]}),
        encoding="utf-8",
    )
    table = load_variant_table(path)
    assert table.names == ("u_v",)
    assert normalize("vna yglesia", NormalizationSettings(table)) == "una yglesia"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.toml", 'extend = "default"\n', "unknown key"),
        ("t.toml", 'extends = "modern"\n', "extends must be"),
        ("t.toml", "[[rule]]\nname = 'x'\npattern = 'a'\n", "replacement must be"),
        ("t.toml", "[[rule]]\nname='x'\npattern='a'\nreplacement='b'\nwhy='c'\n", "unknown"),
        ("t.toml", "extends = ", "not valid"),
        ("t.json", "{", "not valid"),
        ("t.yaml", "rule: []", "toml or .json"),
        ("t.toml", 'disable = ["nope"]\nextends = "default"\n', "unknown variant rule"),
    ],
)
def test_bad_table_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VariantTableError, match=message):
        load_variant_table(path)


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(VariantTableError, match="cannot read"):
        load_variant_table(tmp_path / "absent.toml")


# --- tokenize / word_keys --------------------------------------------------------------


def test_tokenize_keeps_marks_and_signs_with_their_word() -> None:
    line = nfd("/Et ꝓͦuidençia q̃ d̃los, ⁊ ningunamanera; 1492.")
    assert tokenize(line) == [
        "Et",
        nfd("ꝓͦuidençia"),
        nfd("q̃"),
        nfd("d̃los"),
        "⁊",
        "ningunamanera",
        "1492",
    ]


def test_word_keys_match_normalize() -> None:
    line = nfd("bien asi com̃o el q̃ camina eñl fuerte estio ⁊ falla fuent̃ muỹ -- ¶")
    keys = word_keys(line)
    assert keys == [normalize(w) for w in tokenize(line) if normalize(w)]
    assert " ".join(keys) == normalize(line)
    assert keys[:5] == ["uien", "asi", "como", "el", "que"]


def test_empty_and_symbol_only_text() -> None:
    assert normalize("") == ""
    assert normalize(" ¶ -- †/ ") == ""
    assert word_keys("¶ ℥") == []


# --- properties ------------------------------------------------------------------------

_HISTORICAL = st.text(
    alphabet=st.sampled_from(
        [
            *"abcdefghijlmnopqrstuvxyzç ñ.,;/¶ABCQRXPFH",
            *"\u0303\u0304\u0363\u0366\u036c\u033e\u0309\u0327",
            *"⁊ꝑꝓꝗꝯꝰꝟẜſꝛ⟦⟧&ᵃª",
        ]
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), _HISTORICAL))
def test_normalize_is_idempotent_and_total(text: str) -> None:
    for config in (DEFAULT_SETTINGS, OFF):
        once = normalize(text, config)
        assert normalize(once, config) == once
        assert once == once.strip()
        assert "  " not in once


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), _HISTORICAL))
def test_variant_free_keys_fold_like_normalize(text: str) -> None:
    folded = [apply_variants(key, DEFAULT_VARIANTS) for key in word_keys(text, OFF)]
    assert [key for key in folded if key] == word_keys(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_tokenize_and_expand_never_raise(text: str) -> None:
    words = tokenize(text)
    assert all(words)
    assert isinstance(expand_abbreviations(text), str)
    assert len(word_keys(text)) <= len(words)
