"""How serious a finding is; the policy's due dates and metric thresholds name these."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Open findings of these severities block approval decisions and production deployments.
BLOCKING: frozenset[Severity] = frozenset({Severity.CRITICAL, Severity.HIGH})
# Days from a finding's opening to its due date, unless the tenant's policy says otherwise.
DEFAULT_DUE_DAYS: dict[Severity, int] = {
    Severity.CRITICAL: 7,
    Severity.HIGH: 30,
    Severity.MEDIUM: 90,
    Severity.LOW: 180,
}
