"""Spelling-variant tables: rules that fold early-modern Spanish spellings onto one key.

`DEFAULT_VARIANTS` is the default table (documented rule by rule in
``docs/normalisation.md``); `indexer.spelling.variant_files` loads tables from TOML or JSON
files and `indexer.spelling.normalize.apply_variants` applies a table to a word key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.errors import IndexerError

__all__ = [
    "DEFAULT_VARIANTS",
    "NO_VARIANTS",
    "VariantRule",
    "VariantTable",
    "VariantTableError",
]


class VariantTableError(IndexerError):
    """A spelling-variant table (a rule or a TOML/JSON file) is malformed."""


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
