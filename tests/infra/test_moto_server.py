"""The local stack's moto server keeps connections open between requests, frames every
answer so the next request on the connection is understood, still serves long polls and
Step Functions' calls back to it, and stops with kept-alive connections open."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.core.config import default_user_config

from infra.moto_server import MotoServer


@pytest.fixture
def server() -> Iterator[MotoServer]:
    running = MotoServer("127.0.0.1", 0)
    running.start()
    yield running
    running.stop()


def client(server: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{server.port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def list_tables(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    connection.request(
        "POST",
        "/",
        body="{}",
        headers={
            # moto tells the service from the credential scope (the signature is not checked)
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    return connection.getresponse()


def test_requests_on_one_connection_are_answered_on_it(server: MotoServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    first = list_tables(connection)
    assert first.status == 200 and json.loads(first.read()) == {"TableNames": []}
    assert first.getheader("Connection") is None
    opened = connection.sock
    second = list_tables(connection)
    assert second.status == 200 and json.loads(second.read()) == {"TableNames": []}
    assert connection.sock is opened  # http.client would have reconnected after a close
    connection.close()


def test_boto3_answers_do_not_ask_to_close_the_connection(server: MotoServer) -> None:
    answer = client(server, "sqs").list_queues()
    assert "connection" not in answer["ResponseMetadata"]["HTTPHeaders"]


def test_chunked_uploads_and_head_answers_leave_the_connection_at_the_next_request(
    server: MotoServer,
) -> None:
    # GIVEN a bucket and presigned URLs, as clients upload artifacts
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="artifacts")

    def presigned(operation: str) -> str:
        url = urlsplit(
            s3.generate_presigned_url(operation, Params={"Bucket": "artifacts", "Key": "a.bin"})
        )
        return f"{url.path}?{url.query}"

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    # WHEN a chunked PUT, a HEAD and a GET follow each other on one connection
    connection.request(
        "PUT", presigned("put_object"), body=iter([b"hello ", b"world"]), encode_chunked=True
    )
    put = connection.getresponse()
    assert put.status == 200, put.read()
    put.read()
    connection.request("HEAD", presigned("head_object"))
    head = connection.getresponse()
    assert (head.status, head.getheader("Content-Length"), head.read()) == (200, "11", b"")
    connection.request("GET", presigned("get_object"))
    get = connection.getresponse()
    # THEN each is understood: the GET answers the body the chunked PUT stored
    assert (get.status, get.read()) == (200, b"hello world")
    connection.close()


def test_a_long_poll_receives_a_message_sent_while_it_waits(server: MotoServer) -> None:
    sqs = client(server, "sqs")
    queue = sqs.create_queue(QueueName="work")["QueueUrl"]
    received: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: received.extend(
            sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10).get("Messages", [])
        )
    )
    poll.start()
    time.sleep(0.5)  # let the poll start waiting
    # other requests are served while the poll waits, DynamoDB's included
    assert client(server, "dynamodb").list_tables()["TableNames"] == []
    client(server, "sqs").send_message(QueueUrl=queue, MessageBody="wake up")
    poll.join(timeout=15)
    assert [m["Body"] for m in received] == ["wake up"]


def test_step_functions_sends_a_task_token_through_the_server_and_resumes_on_it(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto executing state machines, calling services on this server (MOTO_PORT)
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    monkeypatch.setenv("MOTO_PORT", str(server.port))
    sqs, sfn = client(server, "sqs"), client(server, "stepfunctions")
    queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="approval",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    # WHEN an execution sends its task token and the token is sent back
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10).get("Messages", [])
    assert len(messages) == 1
    token = json.loads(messages[0]["Body"])["token"]
    sfn.send_task_success(taskToken=token, output=json.dumps({"decided": "approved"}))
    # THEN the execution resumes and ends with that output
    status = "RUNNING"
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        status = described["status"]
        if status != "RUNNING":
            break
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    assert json.loads(described["output"]) == {"decided": "approved"}


def test_stopping_ends_the_connections_clients_keep_open() -> None:
    # GIVEN a server with an idle kept-alive connection
    running = MotoServer("127.0.0.1", 0)
    running.start()
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    list_tables(connection).read()
    # WHEN it stops
    stopping = threading.Thread(target=running.stop)
    stopping.start()
    stopping.join(timeout=10)
    # THEN it has stopped, and the open connection is no longer served
    assert not stopping.is_alive()
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        list_tables(connection).read()
    connection.close()
