"""A queue subscribed to the fan-out topic for every event: what the relay published."""

from __future__ import annotations

import json
import uuid
from typing import Any


class EventTap:
    """An SQS queue taking every event published to the topic (raw delivery, no filter)."""

    def __init__(self, session: Any, topic_arn: str) -> None:
        self.sqs = session.client("sqs")
        self.url = self.sqs.create_queue(QueueName=f"tap-{uuid.uuid4().hex[:12]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        session.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    def take(self, rounds: int = 50) -> list[dict[str, Any]]:
        """Every envelope now in the queue (duplicates included), deleting what it read."""
        found: list[dict[str, Any]] = []
        for _ in range(rounds):
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages"
            )
            if not messages:
                break
            found += [json.loads(m["Body"]) for m in messages]
            handles = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=handles)
        return found
