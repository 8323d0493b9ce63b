"""Who makes a change: an actor.

A change is made either by a principal of a tenant (a person or a service account, with the
API key it used), by the platform operator, or by a named part of the system acting on its
own schedule or on a message (the scheduler, the approval workflow, a compliance scan, webhook
delivery, the outbox relay, the artifact verifier). Services take an actor, never an HTTP
request, so a queue consumer commits a change exactly as a route does, and the audit trail
says which it was.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from chalicelib.domain.roles import Role

PLATFORM_PRINCIPAL = "platform"
PLATFORM_KEY_ID = "platform"


class ActorKind(StrEnum):
    PRINCIPAL = "principal"
    PLATFORM = "platform"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


class SystemPart(StrEnum):
    """The parts of Custos that change state without a principal asking."""

    SCHEDULER = "scheduler"
    WORKFLOW = "workflow"
    SCAN = "scan"
    WEBHOOK_DELIVERY = "webhook-delivery"
    RELAY = "relay"
    VERIFIER = "verifier"  # reads uploaded artifacts and records what it computed
    EXPORTER = "exporter"  # writes requested exports' files


class Actor(NamedTuple):
    """The one making a change, with the request or message it came from.

    The tenant of a principal comes from its API key, never from a body; a system part's
    tenant comes from the message it acts on. The platform operator has no tenant and no
    roles inside one, except where it acts on a tenant it names (tenant routes).
    """

    kind: ActorKind
    request_id: str
    tenant_id: str | None = None
    principal_id: str | None = None
    key_id: str | None = None
    roles: frozenset[Role] = frozenset()
    system: SystemPart | None = None
    # Who issued the key a principal acts with: a principal id (itself when it issued or
    # rotated the key itself), `platform` for break-glass and first admin keys, None for a
    # key stored before keys recorded it. Only a key of its own lets a principal judge risk.
    key_issuer: str | None = None

    @classmethod
    def of_principal(
        cls,
        request_id: str,
        tenant_id: str,
        principal_id: str,
        key_id: str,
        roles: frozenset[Role] = frozenset(),
        key_issuer: str | None = None,
    ) -> Actor:
        return cls(
            ActorKind.PRINCIPAL,
            request_id,
            tenant_id,
            principal_id,
            key_id,
            roles,
            key_issuer=key_issuer,
        )

    @classmethod
    def platform_operator(cls, request_id: str) -> Actor:
        return cls(ActorKind.PLATFORM, request_id, None, PLATFORM_PRINCIPAL, PLATFORM_KEY_ID)

    @classmethod
    def of_system(cls, part: SystemPart, request_id: str, tenant_id: str | None = None) -> Actor:
        return cls(ActorKind.SYSTEM, request_id, tenant_id, system=part)

    @classmethod
    def anonymous(cls, request_id: str) -> Actor:
        return cls(ActorKind.ANONYMOUS, request_id)

    @property
    def platform(self) -> bool:
        return self.kind is ActorKind.PLATFORM

    @property
    def is_principal(self) -> bool:
        return self.kind is ActorKind.PRINCIPAL

    def has_any(self, *roles: Role) -> bool:
        """Whether a tenant principal holds one of `roles` (system parts hold none)."""
        return self.is_principal and bool(self.roles.intersection(roles))

    @property
    def tenant(self) -> str:
        """The actor's tenant; only actors inside a tenant reach services that need one."""
        if self.tenant_id is None:
            raise RuntimeError(f"a {self.kind} actor has no tenant")
        return self.tenant_id

    def in_tenant(self, tenant_id: str) -> Actor:
        """The same actor acting on `tenant_id` (the platform on a tenant it manages, a
        system part on the tenant a message names)."""
        if self.is_principal and self.tenant_id != tenant_id:
            raise RuntimeError("a principal acts only in its own tenant")
        return Actor(
            self.kind,
            self.request_id,
            tenant_id,
            self.principal_id,
            self.key_id,
            self.roles,
            self.system,
            self.key_issuer,
        )

    @property
    def own_key(self) -> bool:
        """Whether a principal acts with a key it issued or rotated itself."""
        return self.is_principal and self.key_issuer == self.principal_id

    @property
    def label(self) -> str:
        """Who this is, in one word, for logs: a principal id, `platform` or the part."""
        if self.system is not None:
            return f"system:{self.system}"
        return self.principal_id or str(self.kind)

    def audit_form(self) -> dict[str, Any]:
        """The actor as an audit event records it."""
        if self.system is not None:
            return {"kind": str(self.kind), "system": str(self.system)}
        form: dict[str, Any] = {
            "kind": str(self.kind),
            "principal_id": self.principal_id,
            "key_id": self.key_id,
        }
        if self.is_principal:  # whose key it was: evidence that a judgement was its own
            form["key_issued_by"] = self.key_issuer
        return form
