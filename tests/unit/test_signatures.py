"""Our signatures are what the Standard Webhooks reference library verifies, unchanged."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.domain.signatures import new_secret, sign, signature_header, webhook_headers

BODY = json.dumps({"id": "evt_1", "type": "webhook.test", "data": {"x": "\u00e9"}}).encode()


def test_a_signed_delivery_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "msg_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_a_tampered_body_is_refused() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(BODY.replace(b"evt_1", b"evt_2"), headers)


def test_a_tampered_id_or_timestamp_is_refused() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = webhook_headers([secret], "msg_1", now, BODY)
    for changed in ({"webhook-id": "msg_2"}, {"webhook-timestamp": str(now - 1)}):
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(secret).verify(BODY, {**headers, **changed})


def test_another_secret_is_refused() -> None:
    headers = webhook_headers([new_secret()], "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_delivery_older_than_five_minutes_is_refused() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "msg_1", int(time.time()) - 301, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_during_a_rotation_either_secret_verifies_the_same_delivery() -> None:
    old, new = new_secret(), new_secret()
    headers = webhook_headers([old, new], "msg_1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, headers)


def test_the_signature_is_the_documented_hmac_of_id_timestamp_and_body() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_secret_is_prefixed_base64_of_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret) == len("whsec_") + 32
    assert secret != new_secret()


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with whsec_"), ("whsec_%%%", "base64")],
)
def test_a_malformed_secret_is_refused(secret: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        sign(secret, "msg_1", 0, b"")


def test_a_delivery_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header([], "msg_1", 0, b"")
