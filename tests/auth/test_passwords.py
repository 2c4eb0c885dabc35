"""Passwords: a minimum length and a strength estimate that refuses the most common and guessable ones."""

from __future__ import annotations

import pytest

from crm.auth.passwords import MIN_LENGTH, password_problems


@pytest.mark.parametrize(
    "password",
    ["password123", "1234567890", "qwertyuiop", "Aa123456789", "woaini1314520", "iloveyou12", "admin12345"],
)
def test_the_most_common_passwords_are_refused(app, password):
    with app.test_request_context():
        assert password_problems(password)


def test_short_passwords_and_ones_built_from_the_username_are_refused(app):
    with app.test_request_context():
        assert password_problems("Ab1!" * 2)[0].count(str(MIN_LENGTH))
        assert password_problems("zhangwei2026", ["zhangwei"])
        assert password_problems("x" * 129)


def test_a_long_unusual_password_is_accepted(app):
    with app.test_request_context():
        assert password_problems("Gulangyu-Wuyi-2048!") == []
        assert password_problems("tea kettle harbour lantern") == []


@pytest.mark.parametrize("password", ["woaini1314520", "Woaini1314", "zhangwei1988", "fuzhou123456", "5201314abcd"])
def test_common_chinese_passwords_are_refused(app, password):
    with app.test_request_context():
        assert password_problems(password)


def test_the_demo_logins_are_strong_enough(app):
    import random

    from crm.demo.services import demo_password  # the generator of instance/demo-logins.txt

    rng = random.Random(7)
    with app.test_request_context():
        for _ in range(30):
            assert password_problems(demo_password(rng)) == []
