"""The email rule: one spelling per address (NFKC, lower case), and no mixed-script look-alikes."""

from __future__ import annotations

import pytest

from core.email_addresses import check_no_lookalike, mixes_scripts, normalize_email
from core.errors import Invalid


@pytest.mark.parametrize(
    ("given", "spelling"),
    [("ａdmin@example.test", "admin@example.test"), ("ＡＤＭＩＮ@ＥＸＡＭＰＬＥ.test", "admin@example.test"),
     (" Ada@Example.TEST ", "ada@example.test"), ("ﬁnance@example.test", "finance@example.test"),
     ("zoe\u0308@example.test", "zoë@example.test")],
)  # fmt: skip
def test_an_address_has_one_spelling(given, spelling):
    assert normalize_email(given) == spelling


LOOKALIKES = {
    "Cyrillic a among Latin": "\u0430dmin@example.test",
    "Greek omicron among Latin": "r\u03bfot@example.test",
    "Cyrillic in one domain label": "admin@ex\u0430mple.test",
    "Latin among Cyrillic": "\u0438\u0432a\u043d@example.test",
    "full-width Cyrillic a": "\u0430\uff44min@example.test",
}


@pytest.mark.parametrize("email", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_mixed_script_lookalike_is_refused(email):
    with pytest.raises(Invalid) as refused:
        check_no_lookalike(email)
    assert refused.value.name == "email_mixed_scripts"


FINE = ["admin@example.test", "müller@example.test", "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        "日本語abc@example.test", "例え@example.test", "한국어@example.test", "zoe\u0308@example.test",
        "first.last+tag@example.test", "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.test"]  # fmt: skip


@pytest.mark.parametrize("email", FINE)
def test_an_address_in_one_script_or_an_allowed_mix_is_fine(email):
    check_no_lookalike(email)


def test_the_allowed_mixes_are_those_of_uts_39_highly_restrictive():
    assert not mixes_scripts("日本語カタカナひらがなabc")
    assert not mixes_scripts("中文ㄅabc")
    assert mixes_scripts("ひらがな한국어")  # kana with Hangul: no language mixes those
    assert mixes_scripts("abcαβγ")
