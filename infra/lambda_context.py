"""What Lambda passes a function besides its event: the invocation's context object."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A Lambda entry point as Chalice registers it: handler(event, context).
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class LambdaContext:
    """The attributes and the one method of Lambda's Python context object that a
    function (or Powertools' logger) reads."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # time.monotonic() when the invocation times out
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    log_group_name: str = ""
    log_stream_name: str = "local"

    @classmethod
    def for_invocation(
        cls, function: str, arn: str, timeout_seconds: float, request_id: str
    ) -> LambdaContext:
        """The context of an invocation starting now."""
        return cls(
            function_name=function,
            invoked_function_arn=arn,
            aws_request_id=request_id,
            deadline=time.monotonic() + timeout_seconds,
            log_group_name=f"/aws/lambda/{function}",
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation's timeout (not enforced locally)."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def function_arn(region: str, account: str, function: str) -> str:
    """The ARN a function would have on AWS."""
    return f"arn:aws:lambda:{region}:{account}:function:{function}"
