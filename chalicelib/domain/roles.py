"""Roles of a tenant's principals (see "Who may do what" in the README)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    VALIDATOR = "validator"
    APPROVER = "approver"
    AUDITOR = "auditor"
    MONITOR = "monitor"


ALL_ROLES: frozenset[Role] = frozenset(Role)
