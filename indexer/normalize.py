"""Search keys for diplomatic transcriptions: one normal form for indexed text and for queries.

The ground truth and the recognizer write what the scribe wrote: abbreviation signs (`q̃`,
`ꝑ`, `⁊`), combining tildes and superscript letters, the scribe's spelling (`vn`, `yglesia`,
`fazer`) and the scribe's word spacing. A searcher types `que`, `un`, `iglesia`, `hacer`.
`normalize` maps both sides onto one key, in this order:

1. `tokenize`: the words of the line, split on whitespace and punctuation; combining marks
   and abbreviation signs stay with their word; editorial brackets (``⟦⟧``, ``[]``) and
   invisible format characters are dropped without splitting the word.
2. Unicode NFKD and case folding.
3. `expand_abbreviations` (rules in its docstring and in ``docs/normalisation.md``).
4. Diacritics removed; ``ç`` and ``ñ`` are kept as letters, and other Latin letters with a
   stroke or hook become their base letter (``ł`` -> ``l``). What is not a letter or a digit
   is dropped. This is the key with ``variants=None``.
5. If enabled, the spelling-variant table (`DEFAULT_VARIANTS`), applied until nothing
   changes; its rules also fold ``ç`` and ``ñ``.

Each step is applied until the key no longer changes, so `normalize` is idempotent, and
``apply_variants(normalize(x, variants=None), table) == normalize(x, variants=table)``: the
index may store the variant-free key and fold it later.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any

from indexer.errors import IndexerError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SETTINGS",
    "DEFAULT_VARIANTS",
    "NO_VARIANTS",
    "NormalizationSettings",
    "VariantRule",
    "VariantTable",
    "VariantTableError",
    "apply_variants",
    "expand_abbreviations",
    "load_variant_table",
    "normalize",
    "tokenize",
    "word_keys",
]

_MAX_ROUNDS = 8
"""Passes of a step before it is taken as converged; the default rules settle in 2 or 3."""


class VariantTableError(IndexerError):
    """A spelling-variant table (a rule or a TOML/JSON file) is malformed."""


# --------------------------------------------------------------------------------------
# Variant table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantRule:
    """One spelling equivalence, applied to each word key as a regular-expression substitution.

    Attributes:
        name: Short identifier, unique in a table (used to switch a rule off).
        pattern: Python regular expression matched against the word key (lower case, no
            diacritics, ``^``/``$`` are the ends of the word).
        replacement: `re.sub` replacement (a backslash and a digit refer to a group).
        doc: What the rule stands for, in words.
        examples: ``(before, after)`` pairs for this rule alone; checked by the tests and
            shown in the documentation.
    """

    name: str
    pattern: str
    replacement: str
    doc: str = ""
    examples: tuple[tuple[str, str], ...] = ()
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise VariantTableError(
                f"variant rule name {self.name!r} must be letters, digits and underscores"
            )
        try:
            regex = re.compile(self.pattern)
        except re.error as exc:
            raise VariantTableError(
                f"variant rule {self.name!r}: bad pattern {self.pattern!r}: {exc}"
            ) from exc
        try:
            regex.sub(self.replacement, "")
            regex.sub(self.replacement, self.pattern)
        except (re.error, IndexError) as exc:
            raise VariantTableError(
                f"variant rule {self.name!r}: bad replacement {self.replacement!r}: {exc}"
            ) from exc
        object.__setattr__(self, "_regex", regex)

    def apply(self, key: str) -> str:
        """Returns `key` with this rule applied once (every match replaced)."""
        return self._regex.sub(self.replacement, key)


@dataclass(frozen=True, slots=True)
class VariantTable:
    """An ordered tuple of `VariantRule`; the rules run in order, each on the last one's output.

    Attributes:
        rules: The rules, in application order; names are unique.
    """

    rules: tuple[VariantRule, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, VariantRule):
                raise VariantTableError(f"not a VariantRule: {rule!r}")
            if rule.name in seen:
                raise VariantTableError(f"variant rule {rule.name!r} appears twice")
            seen.add(rule.name)

    @property
    def names(self) -> tuple[str, ...]:
        """The rule names, in order."""
        return tuple(rule.name for rule in self.rules)

    def apply_once(self, key: str) -> str:
        """Returns `key` after one pass of every rule, in order."""
        for rule in self.rules:
            key = rule.apply(key)
        return key

    def without(self, *names: str) -> VariantTable:
        """Returns a copy of the table without the named rules.

        Raises:
            VariantTableError: A name is not in the table.
        """
        unknown = sorted(set(names) - set(self.names))
        if unknown:
            raise VariantTableError(
                f"unknown variant rule(s) {', '.join(unknown)}; known: {', '.join(self.names)}"
            )
        return VariantTable(tuple(rule for rule in self.rules if rule.name not in names))


_V = "aeiou"

DEFAULT_VARIANTS = VariantTable(
    (
        VariantRule(
            "y_i",
            "y",
            "i",
            "y and i are one letter in early-modern spelling (yglesia, rey, muy, syerra).",
            (("yglesia", "iglesia"), ("syerras", "sierras")),
        ),
        VariantRule(
            "x_j",
            f"x(?=[{_V}])",
            "j",
            "x before a vowel is the old spelling of the jota sound (dixo, lexos, xabon).",
            (("dixo", "dijo"), ("lexos", "lejos")),
        ),
        VariantRule(
            "g_j",
            "g(?=[ei])",
            "j",
            "g before e or i sounds like j (muger/mujer, gente/jente).",
            (("muger", "mujer"),),
        ),
        VariantRule(
            "j_i",
            "j",
            "i",
            "i and j are one letter (jnfante, iuez, conseio/consejo, trabaio/trabajo).",
            (("consejo", "conseio"), ("jnfante", "infante")),
        ),
        VariantRule(
            "ph_f",
            "ph",
            "f",
            "Latinate ph is f (philosophia/filosofia).",
            (("philosophia", "filosofia"),),
        ),
        VariantRule(
            "th_t",
            "th",
            "t",
            "Latinate th is t (thesoro/tesoro, theologia).",
            (("thesoro", "tesoro"),),
        ),
        VariantRule(
            "ch_c",
            "ch(?=[rl])",
            "c",
            "Greek ch before r or l is a k sound (christo/cristo, chronica/cronica); "
            "ch before a vowel (mucho, dicho) is left alone.",
            (("christo", "cristo"), ("chronica", "cronica")),
        ),
        VariantRule(
            "qu_cu",
            "qu(?=[ao])",
            "cu",
            "qu before a or o is cu (quando/cuando, qual/cual, quatro/cuatro); que, qui stay.",
            (("quando", "cuando"), ("qual", "cual")),
        ),
        VariantRule(
            "k_c",
            "k(?![ei])",
            "c",
            "k outside ke/ki is c (kalendas/calendas).",
            (("kalendas", "calendas"),),
        ),
        VariantRule(
            "bd_d",
            "(?<=[ou])bd",
            "d",
            "bd after o, u is d (dubda/duda, cobdicia/codicia); after other vowels the b is "
            "the u of the modern word (cibdad/ciudad), which rule b_v_u takes care of.",
            (("dubda", "duda"), ("cobdicia", "codicia")),
        ),
        VariantRule(
            "initial_rr",
            "^rr",
            "r",
            "Word-initial rr is r (rrey/rey). Between vowels rr stays, since it tells "
            "pero from perro and caro from carro.",
            (("rrey", "rey"),),
        ),
        VariantRule(
            "rr_after_nls",
            "(?<=[nls])rr",
            "r",
            "rr after n, l, s is r (honrra/honra, Enrrique/Enrique).",
            (("honrra", "honra"),),
        ),
        VariantRule(
            "double_consonants",
            "([bcdfghkmnpqstvwxz])\\1+",
            "\\1",
            "Doubled consonants are single (ss/s, ff/f, nn/n, mm/m, tt/t, cc/c: "
            "fazienda/ffazienda, passar/pasar, commo/como, sennor/senor). "
            "ll and rr are kept: they are letters of their own.",
            (("ffijo", "fijo"), ("passar", "pasar"), ("commo", "como"), ("sennor", "senor")),
        ),
        VariantRule(
            "initial_f_h",
            f"^f(?!ue|ie)(?=[{_V}][a-zç]{{2}})",
            "h",
            "Word-initial Latin f before a vowel became h (fazer/hazer, fijo/hijo, "
            "fablar/hablar), and the next rule drops it. Not before ue/ie (fuerte, "
            "fuente, fiesta kept their f) nor in words under four letters (fe, fin).",
            (("fazer", "hazer"), ("fablar", "hablar"), ("fuerte", "fuerte")),
        ),
        VariantRule(
            "initial_h",
            f"^h(?!u[{_V}])(?=[{_V}])",
            "",
            "Word-initial h before a vowel is silent and often left out (hombre/ombre, "
            "auer/hauer, hedad/edad). Kept before u + vowel (huerto, hueso), where it "
            "marks the u as a vowel.",
            (("hombre", "ombre"), ("huerto", "huerto")),
        ),
        VariantRule(
            "soft_c_cedilla",
            "ç(?=[ei])",
            "c",
            "ç before e or i is c (naçen/nacen, graçia/gracia).",
            (("naçen", "nacen"),),
        ),
        VariantRule(
            "c_cedilla_z",
            "ç",
            "z",
            "ç elsewhere is z (coraçon/corazon, fuerça/fuerza).",
            (("coraçon", "corazon"), ("fuerça", "fuerza")),
        ),
        VariantRule(
            "soft_z",
            "z(?=[ei])",
            "c",
            "z before e or i is c (dezir/decir, hazer/hacer, vezes/veces).",
            (("dezir", "decir"), ("hazer", "hacer")),
        ),
        VariantRule(
            "enye",
            "ñ",
            "n",
            "ñ is n (señor, sennor and senor meet once double consonants are single).",
            (("señor", "senor"),),
        ),
        VariantRule(
            "m_before_labial",
            "m(?=[bpv])",
            "n",
            "The nasal before b, p, v is written either way (tiempo/tienpo, ombre/onbre, "
            "embiar/enviar, conuento/convento); it becomes n.",
            (("tiempo", "tienpo"), ("embiar", "enbiar")),
        ),
        VariantRule(
            "final_m",
            "m$",
            "n",
            "Word-final m is n (tam/tan, com/con; Latin and Portuguese -um, -em meet "
            "the n that an expanded tilde gives).",
            (("tam", "tan"),),
        ),
        VariantRule(
            "b_v_u",
            "[bv]",
            "u",
            "b, v and u are spelled for one another: u and v are one letter (vn/un, "
            "uirtud/virtud, auer/aver), b and v one sound (aver/haber, cauallo/caballo), and "
            "b stands for u in cibdad/ciudad, debdo/deudo. All three become u, so "
            "seruir/servir/serbir and tuuo/tuvo meet without guessing which u is a consonant.",
            (("virtud", "uirtud"), ("aver", "auer"), ("caballo", "cauallo"), ("cibdad", "ciudad")),
        ),
        VariantRule(
            "et_e",
            "^et$",
            "e",
            "The conjunction et is e, which is also what ⁊ and & expand to.",
            (("et", "e"),),
        ),
    )
)
"""Early-modern Spanish spelling equivalences (see ``docs/normalisation.md``).

The rules map every spelling of a word to one canonical key, which is not always modern
spelling (``hacer`` -> ``acer``, ``hijo`` -> ``iio``, ``haber`` -> ``auer``); keys are for
matching, not display.
"""

NO_VARIANTS = VariantTable(())
"""An empty table: `apply_variants` with it only checks the key."""


_RULE_KEYS = frozenset({"name", "pattern", "replacement", "doc", "examples"})
_TABLE_KEYS = frozenset({"extends", "disable", "rule"})


def load_variant_table(path: str | Path) -> VariantTable:
    """Loads a spelling-variant table from a TOML or JSON file.

    The file holds ``extends`` (``"default"``: start from `DEFAULT_VARIANTS`; ``"none"``, the
    default: start empty), ``disable`` (names of inherited rules to leave out) and ``rule``,
    a list of rules with ``name``, ``pattern``, ``replacement`` and optional ``doc`` and
    ``examples`` (pairs); new rules run after the inherited ones. In TOML::

        extends = "default"
        disable = ["initial_f_h"]

        [[rule]]
        name = "seseo"
        pattern = "s(?=[ei])"
        replacement = "c"
        doc = "Andalusian seseo: ueses/veces."

    Args:
        path: A ``.toml`` or ``.json`` file.

    Returns:
        The table.

    Raises:
        VariantTableError: The file is unreadable, malformed, has unknown keys or bad rules.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VariantTableError(f"cannot read variant table {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(raw.decode("utf-8"))
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise VariantTableError(f"variant table {path}: expected a .toml or .json file")
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VariantTableError(f"variant table {path} is not valid: {exc}") from exc
    try:
        table = variant_table_from_mapping(data)
    except VariantTableError as exc:
        raise VariantTableError(f"variant table {path}: {exc}") from exc
    logger.info("loaded variant table %s: %d rules", path, len(table.rules))
    return table


def variant_table_from_mapping(data: Mapping[str, Any]) -> VariantTable:
    """Builds a table from the parsed contents of a table file (see `load_variant_table`).

    Raises:
        VariantTableError: The mapping is malformed or has unknown keys.
    """
    if not isinstance(data, Mapping):
        raise VariantTableError("expected a table (object) at the top level")
    unknown = sorted(set(data) - _TABLE_KEYS)
    if unknown:
        raise VariantTableError(
            f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_TABLE_KEYS))}"
        )
    extends = data.get("extends", "none")
    if extends == "default":
        base = DEFAULT_VARIANTS
    elif extends == "none":
        base = NO_VARIANTS
    else:
        raise VariantTableError(f'extends must be "default" or "none", not {extends!r}')
    disable = data.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(n, str) for n in disable):
        raise VariantTableError("disable must be a list of rule names")
    base = base.without(*disable)
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise VariantTableError("rule must be a list of rules")
    rules = [_rule_from_mapping(entry, i) for i, entry in enumerate(entries)]
    return VariantTable((*base.rules, *rules))


def _rule_from_mapping(entry: Any, index: int) -> VariantRule:
    if not isinstance(entry, Mapping):
        raise VariantTableError(f"rule {index + 1} is not a table")
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise VariantTableError(f"rule {index + 1}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "pattern", "replacement"):
        if not isinstance(entry.get(key), str):
            raise VariantTableError(f"rule {index + 1}: {key} must be given as a string")
    doc = entry.get("doc", "")
    if not isinstance(doc, str):
        raise VariantTableError(f"rule {index + 1}: doc must be a string")
    examples = entry.get("examples", [])
    if not isinstance(examples, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)
        for pair in examples
    ):
        raise VariantTableError(f"rule {index + 1}: examples must be [before, after] pairs")
    return VariantRule(
        entry["name"],
        entry["pattern"],
        entry["replacement"],
        doc,
        tuple((before, after) for before, after in examples),
    )


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NormalizationSettings:
    """How text becomes search keys; the same settings must serve the index and its queries.

    Attributes:
        variants: The spelling-variant table; None switches variant folding off.
        abbreviations: Expand abbreviation signs (`expand_abbreviations`); off, the signs
            are treated as their base letters.
    """

    variants: VariantTable | None = DEFAULT_VARIANTS
    abbreviations: bool = True


DEFAULT_SETTINGS = NormalizationSettings()
"""Abbreviations expanded, `DEFAULT_VARIANTS` on."""


# --------------------------------------------------------------------------------------
# Tokenization
# --------------------------------------------------------------------------------------

_WORD_SIGNS = frozenset("⁊&")
"""Signs that Unicode files as punctuation but that are words (both mean "and")."""

_IGNORABLE = frozenset("⟦⟧[]⸢⸣⸤⸥")
"""Editorial brackets: deleted (``⟦de⟧``) or supplied (``ca[n]``) letters are still read."""


@lru_cache(maxsize=4096)
def _char_class(char: str) -> int:
    """0: separator, 1: word character, 2: ignorable (dropped, does not split)."""
    if char in _WORD_SIGNS:
        return 1
    if char in _IGNORABLE:
        return 2
    category = unicodedata.category(char)
    if category[0] in "LMN" or category == "Co":  # Co: MUFI private-use letters
        return 1
    if category == "Cf":  # soft hyphen, zero-width joiners
        return 2
    return 0


def tokenize(text: str) -> list[str]:
    """Returns the words of a line as written, in order.

    Words are split on whitespace, punctuation and symbols; combining marks, abbreviation
    signs (``⁊``, ``ꝑ``, ``q̃``) and digits stay in their word. Editorial brackets and
    invisible format characters are removed without splitting (``erra⟦⟧da`` -> ``errada``).
    The scribe's spacing is kept: ``ningunamanera`` is one word.

    Args:
        text: A line of transcription or a query.

    Returns:
        The words, unnormalised.
    """
    words: list[str] = []
    current: list[str] = []
    for char in text:
        kind = _char_class(char)
        if kind == 1:
            current.append(char)
        elif kind == 0 and current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


# --------------------------------------------------------------------------------------
# Abbreviations
# --------------------------------------------------------------------------------------

_TILDE = "\u0303"
_MACRON = "\u0304"
_NASAL_MARKS = frozenset((_TILDE, _MACRON))
_ER_MARKS = frozenset(("\u033e", "\u0309"))  # vertical tilde, hook above: s̾uir, man̉a
_VOWELS = frozenset("aeiouy")
_SUPERSCRIPT_VOWELS = frozenset("aeiou")

_SIGNS: dict[str, str] = {
    "⁊": "e",
    "&": "e",
    "ꝑ": "per",
    "Ꝑ": "Per",
    "ꝓ": "pro",
    "Ꝓ": "Pro",
    "ꝗ": "que",
    "Ꝗ": "Que",
    "ꝙ": "que",
    "Ꝙ": "Que",
    "ꝯ": "con",
    "Ꝯ": "Con",
    "ꝰ": "us",
    "ꝭ": "is",
    "Ꝭ": "Is",
    "ꝝ": "rum",
    "ꝵ": "rum",
    "ꝶ": "rum",
    "ꝸ": "um",
    "ꝫ": "et",
    "ꝟ": "ver",
    "Ꝟ": "Ver",
    "ẜ": "ser",
    "ẝ": "ser",
    "ſ": "s",
    "ꝛ": "r",
    "ꞧ": "r",
    "Ꞧ": "R",
    "ħ": "h",
    "Ħ": "H",
    "ꝺ": "d",
    "ꝼ": "f",
    "ꞅ": "s",
    "ᵹ": "g",
}
"""Abbreviation signs and letter forms that stand for fixed letters."""

_COMBINING_LETTERS: dict[str, str] = {
    chr(code): letter for code, letter in zip(range(0x0363, 0x0370), "aeioucdhmrtvx", strict=True)
} | {
    "\u1dd3": "a",  # flattened open a above
    "\u1dd4": "ae",
    "\u1dd5": "ao",
    "\u1dd6": "av",
    "\u1dd7": "c",
    "\u1dd8": "d",
    "\u1dd9": "d",
    "\u1dda": "g",
    "\u1ddb": "g",
    "\u1ddc": "k",
    "\u1ddd": "l",
    "\u1dde": "l",
    "\u1ddf": "m",
    "\u1de0": "n",
    "\u1de1": "n",
    "\u1de2": "r",
    "\u1de3": "r",
    "\u1de4": "s",
    "\u1de5": "s",
    "\u1de6": "z",
}
"""Combining (superscript) Latin small letters, U+0363..U+036F and U+1DD3..U+1DE6."""

_MARK_LETTERS: dict[str, str] = {
    "\u1dd1": "ur",  # combining ur above
    "\u1dd2": "us",  # combining us above
}

_WHOLE_WORDS: dict[str, str] = {
    unicodedata.normalize("NFD", abbreviation): expansion
    for abbreviation, expansion in {
        "nr̃o": "nuestro",
        "nr̃a": "nuestra",
        "nr̃os": "nuestros",
        "nr̃as": "nuestras",
        "ur̃o": "vuestro",
        "ur̃a": "vuestra",
        "ur̃os": "vuestros",
        "ur̃as": "vuestras",
        "vr̃o": "vuestro",
        "vr̃a": "vuestra",
        "vr̃os": "vuestros",
        "vr̃as": "vuestras",
        "nr̃e": "nombre",
        "nr̃es": "nombres",
        "ih̃u": "ihesu",
        "ihũ": "ihesu",
        "jh̃u": "jhesu",
        "jhũ": "jhesu",
        "ih̃s": "ihesus",
        "sc̃o": "sancto",
        "sc̃a": "sancta",
        "sc̃os": "sanctos",
        "sc̃as": "sanctas",
    }.items()
}
"""Whole-word abbreviations whose letters cannot be guessed from the marks (nomina sacra,
possessives). Keys are NFD, lower case."""

_CHRIST = re.compile("^([xX])(?:[pP][\u0303\u0304]?|(?=[sS][tT]))")
"""Greek chi (-rho): ``xp̃o``, ``xpo`` = christo, ``xp̃ianos``, ``xstianos`` = christianos."""


def expand_abbreviations(text: str) -> str:
    """Expands abbreviation signs and marks into the letters they stand for.

    Rules (the same for every word; ``docs/normalisation.md`` has the reasoning):

    - Signs: ``⁊`` and ``&`` -> ``e`` (the Castilian and Portuguese conjunction; the
      variant table also folds ``et`` into ``e``), ``ꝑ`` -> per, ``ꝓ`` -> pro, ``ꝗ``/``ꝙ``
      -> que, ``ꝯ`` -> con, ``ꝫ`` -> et (``ue`` after q), ``ꝰ`` -> us, ``ꝟ`` -> ver,
      ``ẜ`` -> ser, ``ꝛ`` -> r, ``ſ`` -> s, ``ħ`` -> h, ``ꝵ`` -> rum.
    - Whole words: ``nr̃o`` -> nuestro, ``ur̃a``/``vr̃a`` -> vuestra, ``nr̃e`` -> nombre,
      ``ih̃u`` -> ihesu, ``sc̃a`` -> sancta; a word starting with ``xp`` (chi-rho) starts
      with ``christ`` and one starting with ``xst`` with ``christ`` (``xp̃o`` -> christo,
      ``xstianos`` -> christianos).
    - Tilde or macron on q: ``que`` (``q̃`` -> que, ``porq̃`` -> porque).
    - Tilde or macron on a vowel: a nasal after it, ``m`` before b or p, else ``n``
      (``cõ`` -> con, ``fuerõ`` -> fueron, ``õbre`` -> ombre, ``tiẽpo`` -> tiempo); nothing
      when an n or m follows already (``mẽnt`` -> ment) and nothing on a final ``ỹ``
      (``muỹ`` -> muy).
    - Tilde on n: the letter ``ñ``.
    - Tilde or macron on another consonant: dropped before a vowel (``com̃o`` -> como,
      ``fech̃os`` -> fechos); an ``e`` is supplied before a consonant or at the end of the
      word (``fuent̃`` -> fuente, ``d̃`` -> de, ``d̃los`` -> delos, ``prinçip̃s`` ->
      prinçipes).
    - Vertical tilde or hook above: ``er`` after a consonant, ``r`` after a vowel
      (``s̾uian`` -> seruian, ``pa̾te`` -> parte, ``man̉a`` -> manera).
    - Combining superscript letters (U+0363..U+036F and U+1DD3..): a vowel is ``u`` + the
      vowel after q (``qͣles`` -> quales), ``r`` + the vowel after another consonant
      (``contͣ`` -> contra, ``otͦs`` -> otros, ``pͥnçipe`` -> prinçipe), the vowel itself
      after a vowel; superscript r is ``er`` after a consonant (``manͬa`` -> manera);
      other letters are themselves. Spacing superscripts (``ᵈ``, ``ª``) become their letter
      under NFKD in `normalize`.

    Other marks (accents, cedillas) are kept. Punctuation and spacing are kept.

    Args:
        text: Any text.

    Returns:
        The text with the abbreviations written out, in NFC.
    """
    decomposed = unicodedata.normalize("NFD", text)
    out: list[str] = []
    for is_word, run in groupby(decomposed, key=lambda char: _char_class(char) == 1):
        chunk = "".join(run)
        out.append(_expand_word(chunk) if is_word else chunk)
    return unicodedata.normalize("NFC", "".join(out))


def _clusters(word: str) -> Iterator[tuple[str, list[str]]]:
    """Yields (base character, combining marks after it); leading marks get base ''."""
    base = ""
    marks: list[str] = []
    for char in word:
        if unicodedata.combining(char) or unicodedata.category(char) == "Mn":
            marks.append(char)
        else:
            if base or marks:
                yield base, marks
            base, marks = char, []
    if base or marks:
        yield base, marks


def _expand_word(word: str) -> str:
    """Expands one NFD word (see `expand_abbreviations`)."""
    whole = _WHOLE_WORDS.get(word.casefold())
    if whole is not None:
        return whole.capitalize() if word[:1].isupper() else whole
    prefix = ""
    chi_rho = _CHRIST.match(word)
    if chi_rho:
        prefix = "chri" if chi_rho.end() == 1 else "christ"
        if chi_rho.group(1).isupper():
            prefix = prefix.capitalize()
        word = word[chi_rho.end() :]
    clusters = list(_clusters(word))
    out: list[str] = [prefix]
    for index, (base, marks) in enumerate(clusters):
        following = clusters[index + 1][0].casefold() if index + 1 < len(clusters) else ""
        if base == "ꝫ" and out[-1][-1:].casefold() == "q":  # qualqꝫ = qualque
            base = "ue"
        out.append(_expand_cluster(base, marks, following))
    return "".join(out)


def _expand_cluster(base: str, marks: list[str], following: str) -> str:
    """Expands one base character and its marks, given the next base character ('' at end)."""
    lower = base.casefold()
    text = _SIGNS.get(base, base)
    kept: list[str] = []
    for mark in marks:
        if mark in _NASAL_MARKS and lower:
            if lower == "q":
                text += "ue"
            elif lower == "n":
                kept.append(_TILDE)  # ñ, or a tilde written for nothing the key can use
            elif lower in _VOWELS:
                if following in ("n", "m") or (lower == "y" and not following):
                    pass
                elif following in ("b", "p"):
                    text += "m"
                else:
                    text += "n"
            elif lower.isalpha() and (not following or following not in _VOWELS):
                text += "e"
        elif mark in _ER_MARKS and lower:
            text += "r" if lower in _VOWELS else "er"
        elif mark == "\u1dce" and lower:  # ogonek above: p᷎cio = precio
            text += "r" if lower in _VOWELS else "re"
        elif mark in _MARK_LETTERS:
            text += _MARK_LETTERS[mark]
        elif mark in _COMBINING_LETTERS:
            text += _superscript(_COMBINING_LETTERS[mark], lower, text)
        else:
            kept.append(mark)
    return text + "".join(kept)


def _superscript(letter: str, base: str, so_far: str) -> str:
    """The letters a superscript `letter` over `base` stands for."""
    if letter in _SUPERSCRIPT_VOWELS:
        if so_far[-1:].casefold() == letter:  # ꝓͦ: pro already ends in o
            return ""
        if base == "q":
            return "u" + letter
        if base.isalpha() and base not in _VOWELS:
            return "r" + letter
        return letter
    if letter == "r" and base.isalpha() and base not in _VOWELS:
        return "er"
    return letter


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------

_KEEP_COMPOSED = {"c\u0327": "ç", "n\u0303": "ñ"}
_LETTER_NAME = re.compile(
    r"^LATIN (?:SMALL|CAPITAL) LETTER (?:(?:INSULAR|DOTLESS|LONG|BROKEN|SCRIPT) )?"
    r"([A-Z])(?: WITH .*| ROTUNDA)?$"
)
_LETTER_FOLDS = {"æ": "ae", "œ": "oe", "ø": "o", "þ": "th", "ð": "d", "ß": "ss", "ĸ": "q"}


@lru_cache(maxsize=8192)
def _fold_letter(char: str) -> str:
    """Maps a letter with a stroke, bar or hook (no decomposition in Unicode) to its base."""
    if char.isascii() or char in "çñ":
        return char if char.isalnum() else ""
    if char in _LETTER_FOLDS:
        return _LETTER_FOLDS[char]
    if not char.isalnum():
        return ""
    match = _LETTER_NAME.match(unicodedata.name(char, ""))
    return match.group(1).lower() if match else char


def _prepare(word: str) -> str:
    """NFKD + case folding until stable (case folding can undo NFKD for a few characters)."""
    for _ in range(3):
        folded = unicodedata.normalize("NFKD", word).casefold()
        if folded == word:
            break
        word = folded
    return word


def _base_key_once(word: str, abbreviations: bool) -> str:
    word = _prepare(word)
    if abbreviations:
        word = unicodedata.normalize("NFD", _expand_word(word))
    for decomposed, composed in _KEEP_COMPOSED.items():
        word = word.replace(decomposed, composed)
    return "".join(_fold_letter(char) for char in word if not unicodedata.combining(char))


def _until_stable(step: Callable[[str], str], word: str) -> str:
    for _ in range(_MAX_ROUNDS):
        nxt = step(word)
        if nxt == word:
            return word
        word = nxt
    logger.warning("normalisation of %r did not settle after %d rounds", word, _MAX_ROUNDS)
    return word


def _base_key(word: str, abbreviations: bool) -> str:
    return _until_stable(lambda w: _base_key_once(w, abbreviations), word)


def apply_variants(key: str, table: VariantTable, *, abbreviations: bool = True) -> str:
    """Folds a variant-free key (``normalize(w, NormalizationSettings(variants=None))``).

    ``apply_variants(normalize(w, NormalizationSettings(None)), table)`` equals
    ``normalize(w, NormalizationSettings(table))``, so an index can store the variant-free
    key and fold it per collection.

    Args:
        key: One word key made without variants.
        table: The variant table.
        abbreviations: As in the settings the key was made with.

    Returns:
        The folded key.
    """
    return _until_stable(lambda w: _base_key(table.apply_once(w), abbreviations), key)


@lru_cache(maxsize=32)
def _word_normalizer(settings: NormalizationSettings) -> Callable[[str], str]:
    """A cached word -> key function for one settings value (keys repeat a lot in a corpus)."""

    @lru_cache(maxsize=1 << 16)
    def normalize_word(word: str) -> str:
        key = _base_key(word, settings.abbreviations)
        if settings.variants is not None and key:
            key = apply_variants(key, settings.variants, abbreviations=settings.abbreviations)
        return key

    return normalize_word


def word_keys(text: str, settings: NormalizationSettings = DEFAULT_SETTINGS) -> list[str]:
    """Returns the search key of each word of `text`, in order, leaving out empty keys.

    Equal to ``[normalize(w, settings) for w in tokenize(text)]`` without the empty ones.

    Args:
        text: A line of transcription or a query.
        settings: The collection's normalisation settings.

    Returns:
        The keys; words made only of marks or symbols give none.
    """
    normalize_word = _word_normalizer(settings)
    return [key for key in map(normalize_word, tokenize(text)) if key]


def normalize(text: str, settings: NormalizationSettings = DEFAULT_SETTINGS) -> str:
    """Returns the search key of `text`: its word keys joined by single spaces.

    Steps, per word: NFKD and case folding, abbreviations expanded, diacritics removed
    (``ç`` and ``ñ`` kept for the variant table), punctuation removed, then the variant
    table (if any). Used identically for indexed text and for queries; idempotent.

    Args:
        text: Any text.
        settings: The collection's normalisation settings.

    Returns:
        The key ('' when `text` has no letters or digits).
    """
    return " ".join(word_keys(text, settings))
