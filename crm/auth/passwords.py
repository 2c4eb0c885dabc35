"""Password policy: a minimum length and a strength estimate that rejects common and guessable passwords."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_LENGTH = 10
#: zxcvbn score (0-4) a password must reach; 3 resists an offline attack on a slow hash.
MIN_SCORE = 3


def password_problems(password: str, user_inputs: Iterable[str] = ()) -> list[str]:
    """Why a password is refused, as messages for the user; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [_("The password must have at least %(n)d characters.", n=MIN_LENGTH)]
    if len(password) > 128:
        return [_("The password must have at most 128 characters.")]
    result = zxcvbn(password[:100], user_inputs=[value for value in user_inputs if value])
    if result["score"] < MIN_SCORE:
        return [_("This password is too common or too easy to guess; use a longer mix of words, digits and symbols.")]
    return []
