"""The baseline of the cold-start budget (docs/architecture.md, section 9): a bare
Chalice app with one route that creates the same boto3 clients as Custos's GET path and
does the same GetItem.

Configured by bench/cold_start.py through the environment: BENCH_CLIENTS (services,
comma-separated), BENCH_TABLE, BENCH_PK and BENCH_SK (the model item's key).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from chalice import Chalice, Response

app = Chalice(app_name="bare")


@app.route("/v1/models/{model_id}")
def get_model(model_id: str) -> Response:
    """The model item as DynamoDB returns it; 404 if the path names another model."""
    clients = {s: boto3.client(s) for s in os.environ["BENCH_CLIENTS"].split(",")}
    sort_key = os.environ["BENCH_SK"]
    if not sort_key.endswith(model_id):
        return Response(body={"message": "no such model"}, status_code=404)
    answer: dict[str, Any] = clients["dynamodb"].get_item(
        TableName=os.environ["BENCH_TABLE"],
        Key={"pk": {"S": os.environ["BENCH_PK"]}, "sk": {"S": sort_key}},
        ConsistentRead=True,
    )
    if "Item" not in answer:
        return Response(body={"message": "no such model"}, status_code=404)
    return Response(body=answer["Item"], status_code=200)
