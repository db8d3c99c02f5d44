"""The words of the rule text syntax: its tokens, quoted strings, bare values, and the error every
rule check raises. The parser (bot/rules/conditions.py) and the formatter (condition_format.py) share
them, so text written by one is read back the same by the other."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class RuleError(ValueError):
    """A condition or rule text that cannot be used; the message says what is wrong and where."""


def bare_value(text: str) -> str | int | float | bool:
    """What an unquoted value means: a number, true/false, or else the text itself."""
    lowered = text.casefold()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INTEGER.fullmatch(text) and len(text) <= 60:
        return int(text)
    if _DECIMAL.fullmatch(text) and len(text) <= 60 and math.isfinite(float(text)):
        return float(text)
    return text


def quote_text(text: str) -> str:
    """A double-quoted string of the text syntax (\\ and \" escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "op", "(", ")", "[", "]", ",", "end"
    text: str  # the word, the string's unescaped content, or the punctuation
    start: int
    end: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the text"
        return quote_text(self.text) if self.kind == "string" else repr(self.text)


_TOKEN = re.compile(r"""(?P<space>\s+)|(?P<op><=|>=|!=|<>|==|=|<|>)|(?P<punct>[()\[\],])
                        |(?P<word>[^\s()\[\],=!<>"]+)""", re.VERBOSE)
BARE_WORD = re.compile(r'[^\s()\[\],=!<>"]+')


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position] == '"':
            content, end = read_string(text, position)
            tokens.append(Token("string", content, position, end))
            position = end
            continue
        match = _TOKEN.match(text, position)
        if match is None:
            raise RuleError(f"at column {position + 1}: unexpected character {text[position]!r}")
        kind = str(match.lastgroup)
        if kind != "space":
            # punctuation is its own kind, so the parser can ask for "(" or "," directly
            kind = match.group() if kind == "punct" else kind
            tokens.append(Token(kind, match.group(), position, match.end()))
        position = match.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def read_string(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\" and text[position + 1 : position + 2] in ('"', "\\"):
            char = text[position + 1]
            position += 1
        chars.append(char)
        position += 1
    raise RuleError(f'at column {start + 1}: quoted text is never closed (expected a closing ")')
