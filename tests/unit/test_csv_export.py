"""CSV formula neutralization: a formula in disguise is neutralized like a plain one."""

from __future__ import annotations

import pytest

from core.csv_export import safe_cell

DISGUISED = {
    "full-width equals": '\uff1dHYPERLINK("http://x.example")',
    "full-width plus": "\uff0b1+1",
    "full-width at": "\uff20SUM(A1)",
    "small plus sign": "\ufe621+1",
    "zero-width space before =": "\u200b=1+1",
    "byte-order mark before =": "\ufeff=1+1",
    "word joiner and left-to-right mark before -": "\u2060\u200e-2+3",
    "soft hyphen before @": "\u00ad@SUM(A1)",
}


@pytest.mark.parametrize("text", DISGUISED.values(), ids=DISGUISED.keys())
def test_a_formula_in_disguise_is_neutralized(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"])
def test_a_plain_formula_is_neutralized(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Ada Lovelace", "Zoë = star", "\u200bZoë", "\uff21da", "", "\u200b"])
def test_text_that_is_no_formula_is_kept_as_it_is(text):
    assert safe_cell(text) == text
