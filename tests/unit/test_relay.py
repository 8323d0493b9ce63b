"""The outbox relay picks outbox inserts from stream records and batches them as SQS allows."""

from __future__ import annotations

import json

from chalicelib.services.relay import MAX_BATCH_BYTES, _batches, _fitted, outbox_envelopes


def record(sk: str, envelope: str, name: str = "INSERT") -> dict:
    image = {"sk": {"S": sk}, "envelope": {"S": envelope}}
    return {"eventName": name, "dynamodb": {"NewImage": image}}


def test_only_inserted_outbox_items_are_relayed() -> None:
    records = [
        record("OUTBOX#evt_1", "a"),
        record("MODEL#mdl_1", "b"),
        record("OUTBOX#evt_2", "c", "MODIFY"),
        record("OUTBOX#evt_3", "d"),
    ]
    assert outbox_envelopes(records) == ["a", "d"]


def test_batches_hold_at_most_ten_messages_and_stay_under_the_size_limit() -> None:
    small = [json.dumps({"n": i}) for i in range(23)]
    assert [len(b) for b in _batches(small)] == [10, 10, 3]
    big = ["x" * 100_000] * 5
    batches = _batches(big)
    assert all(sum(len(e) for e in b) <= MAX_BATCH_BYTES for b in batches)
    assert sum(len(b) for b in batches) == 5


def test_an_event_too_big_for_sqs_keeps_its_id_and_points_at_its_subject() -> None:
    event = {"id": "evt_1", "type": "version.updated", "data": {"id": "ver_1", "x": "y" * 300_000}}
    fitted = json.loads(_fitted(json.dumps(event)))
    assert fitted == {
        "id": "evt_1",
        "type": "version.updated",
        "data": {"id": "ver_1", "truncated": True},
    }
