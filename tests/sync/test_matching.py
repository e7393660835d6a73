"""The matcher's tiers, confidences and tie-breaking, as pure functions."""

from __future__ import annotations

import random
import time
import uuid
from decimal import Decimal

import pytest

from storesync.sync.listings.matching import (
    MAX_TIES,
    NO_MATCH,
    MasterVariant,
    build_index,
    jaccard,
    match_listing,
    match_title,
    normalise_sku,
    tokens,
    variant_tokens,
)


def _variant(sku: str, title: str = "Produk", name: str = "", **options: str) -> MasterVariant:
    return MasterVariant(uuid.uuid4(), sku, title, name, options)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KAOS-HITAM-S", "kaoshitams"),
        ("kaos hitam s", "kaoshitams"),
        ("Kaos_Hitam.S", "kaoshitams"),
        ("  k-a_o.s  ", "kaos"),
        ("SKU/1", "sku/1"),
    ],
)
def test_normalise_sku_ignores_case_spaces_dashes_underscores_and_dots(
    raw: str, expected: str
) -> None:
    assert normalise_sku(raw) == expected


def test_tokens_and_jaccard() -> None:
    assert tokens("Kaos Polos, Cotton-Combed 30s", "Hitam_S") == {
        "kaos",
        "polos",
        "cotton",
        "combed",
        "30s",
        "hitam",
        "s",
    }
    assert variant_tokens("Hitam", {"size": "XL"}) == {"hitam", "xl"}
    assert jaccard(frozenset({"a", "b"}), frozenset({"b", "c"})) == pytest.approx(1 / 3)
    assert jaccard(frozenset(), frozenset()) == 1.0


def test_a_unique_exact_sku_links_automatically() -> None:
    wanted = _variant("KAOS-S")
    index = build_index([wanted, _variant("kaos_s"), _variant("OTHER")])

    match = match_listing(index, sku=" KAOS-S ", title="", model_name="")

    assert (match.variant_id, match.confidence, match.method) == (wanted.id, Decimal("1.0"), "sku")
    assert match.auto_link and match.match_status == "matched"


def test_an_exact_sku_shared_by_several_variants_is_only_suggested() -> None:
    first, second = _variant("DUP"), _variant("DUP")
    index = build_index([first, second])

    match = match_listing(index, sku="DUP", title="", model_name="")

    assert not match.auto_link and match.match_status == "suggested"
    assert match.variant_id == min((first, second), key=lambda v: str(v.id)).id
    assert (match.confidence, match.method) == (Decimal("0.500"), "sku")


def test_a_normalised_sku_is_a_suggestion_at_0_9() -> None:
    wanted = _variant("KAOS-HITAM-S")
    index = build_index([wanted])

    match = match_listing(index, sku="kaos hitam s", title="", model_name="")

    assert (match.variant_id, match.confidence, match.method) == (
        wanted.id,
        Decimal("0.900"),
        "normalized_sku",
    )
    assert match.match_status == "suggested"


def test_an_ambiguous_normalised_sku_shares_its_confidence() -> None:
    index = build_index([_variant("AB-1"), _variant("AB_1"), _variant("ab.1")])

    match = match_listing(index, sku="ab 1", title="", model_name="")

    assert (match.confidence, match.match_status) == (Decimal("0.300"), "suggested")


def test_a_title_and_attributes_match_is_suggested_with_its_score() -> None:
    title = "Kaos Polos Cotton Combed 30s"
    black_s = _variant("K-1", title, "Hitam S")
    black_m = _variant("K-2", title, "", colour="Hitam", size="M")
    index = build_index([black_s, black_m, _variant("X", "Sandal Jepit Karet", "Hitam S")])

    exact = match_listing(index, sku="", title=title, model_name="Hitam / M")
    close = match_title(index, title="Kaos Polos Cotton Combed", model_name="Hitam,S")

    assert (exact.variant_id, exact.confidence, exact.method) == (
        black_m.id,
        Decimal("0.800"),
        "title",
    )
    # title 4/5, attributes 1: (0.8 + 1) / 2 * 0.8
    assert (close.variant_id, close.confidence) == (black_s.id, Decimal("0.720"))
    assert exact.match_status == close.match_status == "suggested"


def test_a_title_match_needs_both_title_and_attributes_similar() -> None:
    index = build_index([_variant("K-1", "Kaos Polos Cotton Combed 30s", "Hitam S")])

    other_size = match_title(index, title="Kaos Polos Cotton Combed 30s", model_name="Hitam XL")
    other_title = match_title(index, title="Kemeja Flanel Kotak", model_name="Hitam S")
    no_title = match_listing(index, sku="", title="", model_name="Hitam S")

    assert other_size == other_title == no_title == NO_MATCH
    assert NO_MATCH.match_status == "unmatched"


def test_the_sku_tiers_win_over_the_title() -> None:
    by_title = _variant("A-1", "Tumbler Stainless 500ml")
    by_sku = _variant("TMBL-9", "Something Else")
    index = build_index([by_title, by_sku])

    match = match_listing(index, sku="tmbl 9", title="Tumbler Stainless 500ml", model_name="")

    assert (match.variant_id, match.method) == (by_sku.id, "normalized_sku")


def test_the_title_candidate_filter_finds_what_a_full_scan_finds() -> None:
    rng = random.Random(5)
    words = [f"w{n}" for n in range(40)] + ["kaos", "hitam", "putih"] * 10
    variants = [
        _variant(f"S{n}", " ".join(rng.sample(words, rng.randint(2, 6)))) for n in range(400)
    ]
    index = build_index(variants)

    for _ in range(300):
        title = " ".join(rng.sample(words, rng.randint(1, 6)))
        wanted = tokens(title)
        scores = [jaccard(wanted, tokens(v.product_title)) for v in variants]
        best = max(scores)
        ties = sum(1 for score in scores if score == pytest.approx(best))
        match = match_title(index, title=title, model_name="")
        if best < 0.6 or ties > MAX_TIES:
            assert match == NO_MATCH
        else:
            assert match.variant_id is not None
            chosen = next(v for v in variants if v.id == match.variant_id)
            assert jaccard(wanted, tokens(chosen.product_title)) == pytest.approx(best)


def test_many_equally_similar_titles_give_no_suggestion() -> None:
    series = [_variant(f"K-{n}", f"Kaos Polos Cotton Seri {n}") for n in range(1, 9)]
    index = build_index([*series, _variant("H-1", "Hijab Voal Seri 99")])

    ambiguous = match_title(index, title="Kaos Polos Cotton Seri 42", model_name="")
    unique = match_title(index, title="Hijab Voal Seri 100", model_name="")

    assert ambiguous == NO_MATCH
    assert (unique.method, unique.confidence) == ("title", Decimal("0.480"))


def test_matching_a_large_catalog_is_fast() -> None:
    colours = ["Hitam", "Putih", "Navy", "Merah", "Abu"]
    variants = [
        _variant(f"P{p:05d}-{c}", f"Produk Seri {p} Katun", c)
        for p in range(10_000)
        for c in colours
    ]
    started = time.perf_counter()
    index = build_index(variants)

    for p in range(0, 10_000, 2):
        match_listing(index, sku=f"p{p:05d} hitam", title="", model_name="")
        match_listing(index, sku="", title=f"Produk Seri {p + 1} Katun", model_name="Navy")

    assert time.perf_counter() - started < 10
