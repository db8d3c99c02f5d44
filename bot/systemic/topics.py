"""Topics of a comment: what a burst of similar complaints has in common.

A topic is one of
- an alarming-word group, "group:<name>": every configured alarming word found in the comment stands for
  its group ("lawyer", "avocat" and "Anwalt" all give "group:legal"); a word in no group gives
  "group:<word>";
- a two-word phrase: two content words next to each other once stop words are left out, within one
  clause (punctuation breaks phrases), in alphabetical order so "late delivery" and "the delivery was
  late" count as the same "delivery late";
- a word: at least 3 characters, not only digits, not a stop word, at most 40 characters.
Words an alarming group already stands for are not repeated as words (nor as a phrase of two such words),
so one burst does not open the same parent twice under two names.
Everything is folded (case, accents) and deterministic: groups (sorted), phrases, then words (both in
order of first appearance), at most MAX_TOPICS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import pairwise

from bot.rules.evaluate import find_words
from bot.systemic.stopwords import STOP_WORDS

MAX_TOPICS = 24
MIN_WORD_LENGTH = 3
MAX_WORD_LENGTH = 40  # longer "words" are links, codes or keyboard mashing
GROUP_PREFIX = "group:"

# group name → alarming words (folded) it stands for; configured words outside these make their own group
GROUPS: dict[str, tuple[str, ...]] = {
    "legal": ("lawyer", "attorney", "sue", "legal action", "legal", "solicitor", "court", "ombudsman",
              "avocat", "anwalt", "rechtsanwalt", "abogado", "advogado", "advocaat", "juridique"),
    "cancel": ("cancel", "cancelling", "canceling", "cancellation", "kundig", "opzeggen", "cancelar",
               "annuler", "resilier", "stornieren", "opzegging", "cancelamento"),
    "churn": ("never again", "jamais plus", "plus jamais", "nie wieder", "nunca mas", "nooit meer",
              "nunca mais"),
    "refund": ("refund", "money back", "rembourse", "remboursement", "erstattung", "reembolso",
               "terugbetaling"),
    "safety": ("unsafe", "dangerous", "danger", "injury", "injured", "food poisoning", "dangereux", "blesse",
               "gefahrlich", "peligroso", "perigoso", "gevaarlijk"),
    "rude": ("rude", "impoli", "unfreundlich", "grosero", "onbeleefd", "mal educado"),
    "discrimination": ("discriminat", "harass", "racist", "sexist", "harcelement", "belastigung"),
    "fraud": ("fraud", "scam", "arnaque", "betrug", "estafa", "oplichting", "fraude", "golpe"),
    "disgust": ("disgusting", "degoutant", "ekelhaft", "asqueroso", "walgelijk", "nojento"),
}
_GROUP_OF: dict[str, str] = {word: name for name, words in GROUPS.items() for word in words}

# A clause ends at these; apostrophes and hyphens do not end one.
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}<>\"“”„«»/|\\\n\r\t…]+|\s[-–—]+\s")
# "l'avocat", "qu'il", "I'm": a one- or two-letter elision is its own (dropped) token…
_ELISION = re.compile(r"\b(\w{1,2})['’]")
# …any other apostrophe joins ("don't" → "dont", a stop word)
_APOSTROPHE = re.compile(r"['’]")
_NOT_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    # compatibility forms first, then case: NFKD turns "𝘼" (mathematical A) into "A", which must fold too;
    # the second NFKD decomposes what case folding itself produced
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize(text: str) -> str:
    """Case and accents folded, punctuation gone, spaces collapsed: "Très  EN-retard!" → "tres en retard"."""
    folded = _APOSTROPHE.sub("", _ELISION.sub(r"\1 ", _fold(text)))
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _is_word(token: str) -> bool:
    return (
        MIN_WORD_LENGTH <= len(token) <= MAX_WORD_LENGTH
        and not token.isdigit()
        and token not in STOP_WORDS
    )


def group_of(alarming_word: str) -> str:
    """The topic standing for an alarming word: "Anwalt" → "group:legal", "worst" → "group:worst"."""
    folded = normalize(alarming_word)
    return GROUP_PREFIX + _GROUP_OF.get(folded, folded)


def _groups_and_covered(comment: str, alarming_words: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    found = [word for word in find_words(comment, alarming_words) if normalize(word)]
    groups = sorted({group_of(word) for word in found})
    parts = (part for word in found for part in normalize(word).split())
    covered = tuple(part for part in parts if len(part) >= MIN_WORD_LENGTH)
    return groups, covered


def _clauses(comment: str) -> Iterable[list[str]]:
    for clause in _CLAUSE_BREAK.split(comment):
        words = [token for token in normalize(clause).split() if _is_word(token)]
        if words:
            yield words


def topics(comment: str | None, *, alarming_words: Sequence[str]) -> list[str]:
    """The comment's topics: alarming-word groups, then two-word phrases, then words (≤ MAX_TOPICS)."""
    if not comment or not comment.strip():
        return []
    groups, covered = _groups_and_covered(comment, alarming_words)

    def is_covered(word: str) -> bool:
        return word.startswith(covered) if covered else False

    phrases: dict[str, None] = {}  # an ordered set
    words: dict[str, None] = {}
    for clause in _clauses(comment):
        for first, second in pairwise(clause):
            if first != second and not (is_covered(first) and is_covered(second)):
                phrases[" ".join(sorted((first, second)))] = None
        for word in clause:
            if not is_covered(word):
                words[word] = None
    return [*groups, *phrases, *words][:MAX_TOPICS]
