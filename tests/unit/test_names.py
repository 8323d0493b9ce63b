"""The name rule and the document's NAME_PATTERN agree, in Python's, Rust's and ECMA's regexes."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from typing import Annotated

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints

from chalicelib.domain import names

NAMES = pydantic.TypeAdapter(names.Name)
# pydantic's own pattern check runs Rust's regex crate.
RUST = pydantic.TypeAdapter(Annotated[str, StringConstraints(pattern=names.NAME_PATTERN)])
# Characters at and around every class boundary, and a few that look like letters.
EDGES = [
    chr(c)
    for c in (
        *range(0x00, 0x22),
        *range(0x7E, 0xA2),
        0xAD,
        0x34F,
        *range(0x600, 0x606),
        0x61C,
        0x6DD,
        0x70F,
        0x890,
        0x891,
        0x8E2,
        0x115F,
        0x1160,
        0x1680,
        0x17B4,
        0x17B5,
        *range(0x180A, 0x1811),
        *range(0x1FFF, 0x2071),
        0x3000,
        0x3164,
        *range(0xFDFF, 0xFE11),
        0xFEFF,
        0xFFA0,
        *range(0xFFEF, 0xFFFE),
        0x110BD,
        0xE0001,
        0xE0041,
        0x1F600,
    )
]


def accepted(text: str) -> bool:
    try:
        NAMES.validate_python(text)
    except pydantic.ValidationError:
        return False
    return True


def matches_rust(text: str) -> bool:
    try:
        RUST.validate_python(text)
    except pydantic.ValidationError:
        return False
    return True


def corpus(size: int = 3000) -> list[str]:
    """Short strings mixing letters, boundary characters and random code points."""
    rng = random.Random(20260101)

    def any_char() -> str:
        pick = rng.random()
        if pick < 0.5:
            return rng.choice(EDGES)
        if pick < 0.7:
            return rng.choice("aZ9 é-")
        code = rng.randrange(0x110000)
        return chr(code) if not 0xD800 <= code < 0xE000 else "x"

    return ["".join(any_char() for _ in range(rng.randrange(1, 6))) for _ in range(size)]


def test_the_api_accepts_exactly_what_the_pattern_matches_in_python_and_rust() -> None:
    for text in corpus():
        expected = re.fullmatch(names.NAME_PATTERN, text) is not None
        assert accepted(text) == expected == matches_rust(text), ascii(text)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for ECMA's regex")
def test_ecma_regexes_with_and_without_the_u_flag_match_the_same_names() -> None:
    texts = corpus(1500)
    script = (
        "const [p, t] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const a = new RegExp(p), b = new RegExp(p, 'u');"
        "console.log(JSON.stringify(t.map(s => [a.test(s), b.test(s)])));"
    )
    done = subprocess.run(
        ["node", "-e", script],
        input=json.dumps([names.NAME_PATTERN, texts]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for text, (plain, unicode) in zip(texts, json.loads(done.stdout), strict=True):
        assert plain == unicode == accepted(text), ascii(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(names.NAME_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 200))
def test_every_name_generated_from_the_pattern_is_accepted(text: str) -> None:
    # what the fuzzer's positive cases do with the document
    assert accepted(text), ascii(text)


@pytest.mark.parametrize(
    ("category", "spelled"),
    [
        ("Cc", names.CONTROL),
        ("Cf", names.FORMAT),
    ],
)
def test_the_classes_hold_every_bmp_character_of_their_category(
    category: str, spelled: str
) -> None:
    in_class = re.compile(f"[{spelled}]")
    missing = [
        f"U+{code:04X}"
        for code in range(0x10000)
        if unicodedata.category(chr(code)) == category and not in_class.fullmatch(chr(code))
    ]
    assert missing == [], f"unicodedata {unicodedata.unidata_version} on {sys.version}"


def test_the_whitespace_class_is_exactly_str_isspace() -> None:
    in_class = re.compile(f"[{names.WHITESPACE}]")
    differ = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if chr(code).isspace() != bool(in_class.fullmatch(chr(code)))
    ]
    assert differ == []


def test_names_are_stored_in_nfc() -> None:
    assert NAMES.validate_python("Cafe\u0301") == "Caf\u00e9"
    assert NAMES.validate_python("\u212b ngstr\u00f6m") == "\u00c5 ngstr\u00f6m"  # Angstrom sign


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a\x00b", "control characters"),
        ("tab\there", "control characters"),
        ("\u202eevil", "bidirectional"),
        ("x\u2066y\u2069", "bidirectional"),
        ("\u200b", "visible character"),
        (" \u200b\u2060\ufeff\u3164 ", "visible character"),
        ("", "at least 1 character"),
    ],
)
def test_refused_names_say_which_rule_they_break(text: str, says: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=says):
        NAMES.validate_python(text)
