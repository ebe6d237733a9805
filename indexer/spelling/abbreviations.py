"""Abbreviation expansion: signs, tildes and superscript letters written out as letters.

The rules are in the docstring of `expand_abbreviations` and, with the reasoning, in
``docs/normalisation.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import groupby

from indexer.spelling.tokens import is_word_char

__all__ = ["expand_abbreviations", "expand_word"]

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
    for is_word, run in groupby(decomposed, key=is_word_char):
        chunk = "".join(run)
        out.append(expand_word(chunk) if is_word else chunk)
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


def expand_word(word: str) -> str:
    """Expands the abbreviations of one word (rules in `expand_abbreviations`).

    Args:
        word: One word in NFD, as `indexer.spelling.tokens.tokenize` splits it.

    Returns:
        The expanded word, not recomposed (callers choose NFC or NFD).
    """
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
