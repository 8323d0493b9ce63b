"""What a name may hold: tenants, principals, models and API keys are named by people.

A name is 1-200 characters as sent, holds no control character (Cc) and no bidirectional
override or isolate (U+202A-U+202E, U+2066-U+2069: they make a name read differently from
what it is, "Trojan Source"), and has at least one visible character: text made only of
whitespace, zero-width and format characters counts as empty. It is stored in NFC, so the
same name typed on two keyboards is the same name.

The OpenAPI document states the same rule as one pattern (NAME_PATTERN), which the fuzzer
generates names from; the API checks it with Python's regexes over the same character
classes, so the two cannot disagree. The classes are written with \\x and \\u escapes of
Basic Multilingual Plane characters only, which Python's, Rust's and ECMA's regexes read
alike (`\\s` they do not). Format characters outside that plane (tag characters, musical
formatting) count as visible for that reason: no pattern the three agree on can name them.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

# Whitespace as Python's str.isspace() knows it.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROL = r"\x00-\x1f\x7f-\x9f"  # Unicode category Cc
BIDI_CONTROL = r"\u202a-\u202e\u2066-\u2069"  # embeddings, overrides and isolates
# Format characters (Cf) of the BMP, and the BMP's other default-ignorable code points
# (the combining grapheme joiner, Hangul fillers, Mongolian and other variation selectors):
# what renders as nothing.
FORMAT = (
    r"\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    r"\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    r"\ufff0-\ufffb"
)
_REFUSED = CONTROL + BIDI_CONTROL
NAME_PATTERN = f"^[^{_REFUSED}]*[^{_REFUSED}{WHITESPACE}{FORMAT}][^{_REFUSED}]*$"
MAX_NAME = 200


@cache
def _classes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Compiled on the first name checked, not at import: a cold start that reads pays nothing.
    return (
        re.compile(f"[{CONTROL}]"),
        re.compile(f"[{BIDI_CONTROL}]"),
        re.compile(f"[^{_REFUSED}{WHITESPACE}{FORMAT}]"),
    )


def check_name(value: str) -> str:
    """The name in NFC, or a validation error saying which rule it breaks."""
    control, bidi, visible = _classes()
    if control.search(value):
        raise PydanticCustomError("name_control", "must not contain control characters")
    if bidi.search(value):
        raise PydanticCustomError(
            "name_bidi",
            "must not contain bidirectional override or isolate characters "
            "(U+202A-U+202E, U+2066-U+2069)",
        )
    if not visible.search(value):
        raise PydanticCustomError(
            "name_invisible",
            "must contain a visible character, not only whitespace, zero-width or format ones",
        )
    if value.isascii():
        return value  # already NFC; spares a cold start the unicodedata import
    import unicodedata

    return unicodedata.normalize("NFC", value)


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME),
    AfterValidator(check_name),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": NAME_PATTERN}
    ),
]
