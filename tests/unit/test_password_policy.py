"""The password rule names what is wrong with a password, for the API's `errors.reason`."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.services import accounts


@pytest.mark.parametrize(
    ("password", "reason"),
    [("seven77", "weak_password"), ("p" * (accounts.MAX_PASSWORD_LENGTH + 1), "password_too_long"),
     ("Sunshine", "common_password")],
)  # fmt: skip
def test_the_password_rule_names_what_is_wrong(password, reason):
    with pytest.raises(Invalid) as refused:
        accounts.check_password_policy(password)
    assert refused.value.name == reason


def test_a_long_uncommon_password_passes():
    accounts.check_password_policy("p" * accounts.MAX_PASSWORD_LENGTH)
