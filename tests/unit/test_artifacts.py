"""The pure rules of artifacts: names, the multipart plan, what a verdict compares, keys."""

from __future__ import annotations

import hashlib
import json

import pydantic
import pytest

from chalicelib.domain.artifacts import (
    EXAMPLE_CONTENT,
    EXAMPLE_SHA256,
    MAX_PARTS,
    MIB,
    ArtifactCreate,
    differences,
    is_name,
    part_size,
    part_sizes,
)
from chalicelib.store.keys import TenantKeys


def parse(sent: dict[str, object]) -> ArtifactCreate:
    """A registration as the API parses it: from JSON, strictly."""
    return ArtifactCreate.model_validate_json(json.dumps(sent))


def body(**fields: object) -> dict[str, object]:
    return {
        "name": "model.onnx",
        "kind": "model",
        "media_type": "application/octet-stream",
        "size": 5,
        "sha256": "AB" * 32,
        **fields,
    }


@pytest.mark.parametrize("name", ["model.onnx", "card-v2.pdf", "a", "x_y.tar.gz", "-rf"])
def test_a_name_is_one_path_segment_of_safe_characters(name: str) -> None:
    assert parse(body(name=name)).name == name
    assert is_name(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a/b", "must not contain / or \\\\"),
        ("a\\b", "must not contain / or \\\\"),
        ("a..b", "must not contain \\.\\."),
        ("..", "must not contain \\.\\."),
        ("a\x07b", "must not contain control characters"),
        ("a\x85b", "must not contain control characters"),
        (".hidden", "single dots between them"),
        ("trailing.", "single dots between them"),
        ("with space", "single dots between them"),
        ("modèle", "single dots between them"),
        ("m" * 201, "at most 200 characters"),
        ("", "at least 1 character"),
    ],
)
def test_a_name_that_could_leave_its_place_is_refused_saying_why(name: str, why: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=why):
        parse(body(name=name))
    assert not is_name(name)


def test_a_digest_is_64_hex_characters_kept_in_lower_case() -> None:
    assert parse(body()).sha256 == "ab" * 32
    for bad in ("ab" * 31, "ab" * 33, "g" * 64):
        with pytest.raises(pydantic.ValidationError, match="sha256"):
            parse(body(sha256=bad))


def test_the_example_describes_the_bytes_the_harness_uploads() -> None:
    example = ArtifactCreate.model_json_schema()["examples"][0]
    assert example["size"] == len(EXAMPLE_CONTENT) == len(ArtifactCreate.example_content)
    assert example["sha256"] == EXAMPLE_SHA256 == hashlib.sha256(EXAMPLE_CONTENT).hexdigest()


def test_parts_are_the_preferred_size_at_least_5_mib_and_at_most_10000() -> None:
    assert part_size(100 * MIB, 64 * MIB) == 64 * MIB
    assert part_size(100 * MIB, 1 * MIB) == 5 * MIB  # S3's minimum
    huge = 5 * 1024**4  # 5 TiB: parts grow so there are no more than 10,000
    assert part_size(huge, 64 * MIB) % MIB == 0
    assert len(part_sizes(huge, part_size(huge, 64 * MIB))) <= MAX_PARTS
    assert part_sizes(11 * MIB, 5 * MIB) == [5 * MIB, 5 * MIB, MIB]
    assert part_sizes(10 * MIB, 5 * MIB) == [5 * MIB, 5 * MIB]


def test_a_verdict_names_what_differs_from_the_registration() -> None:
    digest = "ab" * 32
    assert differences(5, digest, 5, digest) == []
    assert differences(5, digest, 6, digest) == ["size"]
    assert differences(5, digest, 6, "cd" * 32) == ["size", "sha256"]
    assert differences(5, digest, None, None) == ["object"]


def test_the_s3_keys_sort_as_the_version_items_do() -> None:
    keys = TenantKeys("ten_one")
    numbers = [1, 2, 9, 10, 11, 99, 100, 1000]
    objects = [keys.object_key("mdl_x", n, "model.bin") for n in numbers]
    items = [keys.artifact("mdl_x", n, "model.bin")["sk"] for n in numbers]
    versions = [keys.version("mdl_x", n)["sk"] for n in numbers]
    assert sorted(objects) == objects and sorted(items) == items and sorted(versions) == versions
    assert objects[0] == "tenants/ten_one/models/mdl_x/versions/000001/artifacts/model.bin"
