"""What every benchmark shares: fake AWS credentials and the platform key it provisions."""

from __future__ import annotations

PLATFORM_KEY = "cusp_bench-platform-key-0123456789"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
