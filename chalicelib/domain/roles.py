"""Roles of a tenant's principals (DESIGN.md section 3)."""

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
