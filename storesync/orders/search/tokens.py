"""The tokens of an order's text and the prefix ranges a search asks for: pure functions, the same
on every backend.

Texts are lowercased and split into words on whitespace. A word is a token, and so is every part
of it that follows an ASCII character other than a letter or digit ("inv-2611264cda9533" gives
"2611264cda9533"; "cotton_fan" gives "fan"), cut to `MAX_TOKEN_LENGTH` characters. Order numbers
also give their words written backwards (`tail_tokens`). A search word matches an order when it
starts one of the order's tokens, or when, written backwards, it starts one of its tails: an order
number is found by its start or its end ("INV-2611", "2611264CDA", "9533"), a name, SKU or
title by the start of any of its words ("nurha", "htm" for "KAOS-HTM-M", "hitam").
Migration 0017's SQL functions `storesync_search_tokens` and `storesync_search_tails` are these
functions' twins for PostgreSQL (back-fills, bulk loads); tests/orders/test_search.py keeps them
equal.
"""

from __future__ import annotations

import re

MAX_TOKEN_LENGTH = 64
MAX_SEARCH_WORDS = 8
# A part starts after an ASCII character that is neither a letter nor a digit.
_SEPARATORS = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
_PART_START = re.compile(rf"(?<=[{_SEPARATORS}])[^{_SEPARATORS}]")
_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def text_tokens(*texts: str) -> set[str]:
    """The distinct tokens of `texts` (an order's numbers, customer name, SKUs, titles)."""
    found: set[str] = set()
    for text in texts:
        for word in text.lower().split():
            found.add(word[:MAX_TOKEN_LENGTH])
            for part in _PART_START.finditer(word):
                found.add(word[part.start() : part.start() + MAX_TOKEN_LENGTH])
    return found


def tail_tokens(*numbers: str) -> set[str]:
    """The words of `numbers` (an order's number and platform order id) written backwards."""
    return {word[::-1][:MAX_TOKEN_LENGTH] for number in numbers for word in number.lower().split()}


def search_words(search: str | None) -> list[str]:
    """The distinct words of a search as tokens are written (lowercased, cut to the token
    length), the first `MAX_SEARCH_WORDS` of them; none for a blank search."""
    words = dict.fromkeys(word[:MAX_TOKEN_LENGTH] for word in (search or "").lower().split())
    return list(words)[:MAX_SEARCH_WORDS]


def prefix_range(word: str) -> tuple[str, str | None]:
    """(low, high): the strings that start with `word` are exactly those with low <= s < high in
    code point order (UTF-8 byte order: SQLite's BINARY, PostgreSQL's "C" collation); high is
    None when no upper bound is needed."""
    stem = word
    while stem:
        following = ord(stem[-1]) + 1
        if following in _SURROGATES:
            following = _SURROGATES.stop
        if following <= _LAST_CODE_POINT:
            return word, stem[:-1] + chr(following)
        stem = stem[:-1]
    return word, None
