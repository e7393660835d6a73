"""Matching channel listings to master variants: tiered suggestions with a confidence.

Pure functions over an in-memory index of the organization's variants, built once per import:

1. platform id: a listing already linked keeps its variant (callers never re-match it);
2. exact SKU, confidence 1.0: the only tier that links automatically, and only when exactly one
   master variant has that SKU;
3. normalised SKU (case, spaces, dashes, underscores and dots ignored), confidence 0.9;
4. product title, then variant attributes (token Jaccard of each, both at least 0.6),
   confidence their mean times 0.8.

Every other outcome is a suggestion for a person to review. When several master variants tie
for the best candidate, the first by SKU is suggested and the confidence is shared among them
(divided by their number), so an ambiguous suggestion never looks certain; past MAX_TIES title
candidates there is no suggestion at all.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

EXACT = Decimal("1.0")
NORMALISED = Decimal("0.9")
TITLE_WEIGHT = Decimal("0.8")
TITLE_THRESHOLD = 0.6
CONFIDENCE_PLACES = Decimal("0.001")  # channel_listing.match_confidence is Numeric(4, 3)
MAX_TITLE_CANDIDATES = 5000  # titles scored per listing: bounds the work on generic titles
MAX_TIES = 3  # more equally good title candidates than this is no suggestion
_EPS = 1e-9

_SKU_NOISE = re.compile(r"[\s\-_.]+")
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class MasterVariant:
    """What matching needs to know of a master variant."""

    id: uuid.UUID
    sku: str
    product_title: str
    name: str = ""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """The matcher's verdict for one listing. `variant_id` is None when nothing was found."""

    variant_id: uuid.UUID | None
    confidence: Decimal | None
    method: str  # "sku" | "normalized_sku" | "title" | ""
    auto_link: bool = False

    @property
    def match_status(self) -> str:
        if self.variant_id is None:
            return "unmatched"
        return "matched" if self.auto_link else "suggested"


NO_MATCH = Match(variant_id=None, confidence=None, method="")


def normalise_sku(sku: str) -> str:
    """A SKU with case, whitespace, dashes, underscores and dots ignored."""
    return _SKU_NOISE.sub("", sku).casefold()


def tokens(*texts: str) -> frozenset[str]:
    """Lower-cased alphanumeric words of `texts` (punctuation and underscores split words)."""
    return frozenset(word for text in texts for word in _TOKEN.findall(text.casefold()))


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left and not right:
        return 1.0
    union = len(left | right)
    return len(left & right) / union if union else 0.0


@dataclass
class MatchIndex:
    """The organization's variants keyed for each tier: built once, queried per listing."""

    by_sku: dict[str, list[MasterVariant]]
    by_normalised: dict[str, list[MasterVariant]]
    # Distinct product-title token sets, each with the variants carrying it, and an inverted
    # index from a token to the title sets containing it, grouped by title length (candidate
    # generation skips whole lengths that cannot beat the best title so far).
    titles: list[tuple[frozenset[str], list[tuple[MasterVariant, frozenset[str]]]]]
    postings: dict[str, dict[int, list[int]]]
    frequency: Counter[str]
    title_cache: dict[frozenset[str], list[tuple[int, float]]] = field(default_factory=dict)


def build_index(variants: Iterable[MasterVariant]) -> MatchIndex:
    """Index `variants` by SKU, normalised SKU and title tokens (ordered by SKU, so ties are
    broken the same way every time)."""
    by_sku: dict[str, list[MasterVariant]] = defaultdict(list)
    by_normalised: dict[str, list[MasterVariant]] = defaultdict(list)
    slot_of: dict[frozenset[str], int] = {}
    titles: list[tuple[frozenset[str], list[tuple[MasterVariant, frozenset[str]]]]] = []
    for variant in sorted(variants, key=lambda v: (v.sku, str(v.id))):
        by_sku[variant.sku.strip()].append(variant)
        if key := normalise_sku(variant.sku):
            by_normalised[key].append(variant)
        title = tokens(variant.product_title)
        if not title:
            continue
        slot = slot_of.setdefault(title, len(titles))
        if slot == len(titles):
            titles.append((title, []))
        titles[slot][1].append((variant, variant_tokens(variant.name, variant.options)))
    postings: dict[str, dict[int, list[int]]] = defaultdict(dict)
    frequency: Counter[str] = Counter()
    for slot, (title, _) in enumerate(titles):
        for word in title:
            postings[word].setdefault(len(title), []).append(slot)
            frequency[word] += 1
    return MatchIndex(dict(by_sku), dict(by_normalised), titles, dict(postings), frequency)


def variant_tokens(name: str, options: Mapping[str, str] | None = None) -> frozenset[str]:
    """The words that tell variants of one product apart: the variant's name and option values."""
    return tokens(name, *(str(value) for value in (options or {}).values()))


def _shared(found: list[MasterVariant], confidence: Decimal, method: str) -> Match:
    share = (confidence / len(found)).quantize(CONFIDENCE_PLACES)
    return Match(variant_id=found[0].id, confidence=share, method=method)


def match_listing(index: MatchIndex, *, sku: str, title: str, model_name: str) -> Match:
    """The best master variant for a listing by the tiers above; `NO_MATCH` when none."""
    if not index.by_sku and not index.titles:  # no master catalog yet (a first import)
        return NO_MATCH
    clean = sku.strip()
    if clean:
        exact = index.by_sku.get(clean)
        if exact:
            if len(exact) == 1:
                return Match(exact[0].id, EXACT, "sku", auto_link=True)
            return _shared(exact, EXACT, "sku")
        close = index.by_normalised.get(normalise_sku(clean))
        if close:
            return _shared(close, NORMALISED, "normalized_sku")
    return match_title(index, title=title, model_name=model_name)


def match_title(index: MatchIndex, *, title: str, model_name: str) -> Match:
    """Tier 4: first the master product whose title is most like the listing's, then, among
    its variants, the one whose attributes are (both at least TITLE_THRESHOLD alike). More than
    MAX_TIES equally good candidates is no suggestion at all: a catalog of near-identical titles
    ("... Seri 5", "... Seri 7") must not flood the review queue with coin tosses."""
    wanted = tokens(title)
    if not wanted:
        return NO_MATCH
    slots = index.title_cache.get(wanted)
    if slots is None:
        slots = _best_titles(index, wanted)
        index.title_cache[wanted] = slots
    if not slots:
        return NO_MATCH
    attributes = tokens(model_name)
    best = 0.0
    found: list[MasterVariant] = []
    for slot, title_score in slots:
        for variant, variant_words in index.titles[slot][1]:
            score = title_score
            if attributes or variant_words:
                attribute_score = jaccard(attributes, variant_words)
                if attribute_score < TITLE_THRESHOLD - _EPS:
                    continue
                score = (title_score + attribute_score) / 2
            if score > best + _EPS:
                best, found = score, [variant]
            elif abs(score - best) <= _EPS:
                found.append(variant)
    if not found or len(found) > MAX_TIES:
        return NO_MATCH
    found.sort(key=lambda v: (v.sku, str(v.id)))
    return _shared(found, Decimal(str(round(best, 6))) * TITLE_WEIGHT, "title")


def _best_titles(index: MatchIndex, wanted: frozenset[str]) -> list[tuple[int, float]]:
    """The title slots with the highest Jaccard (at least TITLE_THRESHOLD) with `wanted`; empty
    when none, or when more than MAX_TIES tie.

    Prefix filter: a title with Jaccard >= t shares at least ceil(t * |wanted|) words, so it
    holds one of the |wanted| - ceil(t * |wanted|) + 1 rarest words: only their postings are
    read, rarest first. A title first met at the i-th of them lacks the i words before it, so a
    title of length L found there shares at most min(|wanted| - i, L) words: a whole length
    group that cannot beat the best (or could only tie an already ambiguous best) is skipped,
    and the scan ends when no length can. At most MAX_TITLE_CANDIDATES titles are scored.
    """
    size = len(wanted)
    needed = math.ceil(TITLE_THRESHOLD * size - _EPS)
    rare_first = sorted(wanted, key=lambda w: (index.frequency.get(w, 0), w))
    best = TITLE_THRESHOLD - _EPS
    found: list[int] = []
    seen: set[int] = set()

    def hopeless(bound: float) -> bool:
        return bound < best - _EPS or (bound <= best + _EPS and len(found) > MAX_TIES)

    for position, word in enumerate(rare_first[: size - needed + 1]):
        left = size - position
        if found and hopeless(left / size):
            break
        for length, slots in index.postings.get(word, {}).items():
            shared = min(left, length)
            bound = shared / (size + length - shared)
            for slot in slots:
                if hopeless(bound):
                    break
                if slot in seen:
                    continue
                seen.add(slot)
                if len(seen) > MAX_TITLE_CANDIDATES:
                    return []
                common = len(wanted & index.titles[slot][0])
                score = common / (size + length - common)
                if score > best + _EPS:
                    best, found = score, [slot]
                elif score >= best - _EPS:
                    found.append(slot)
    if len(found) > MAX_TIES:
        return []
    return [(slot, best) for slot in found]
