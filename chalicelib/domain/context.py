"""Who is asking: the authenticated caller, as every service receives it."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.roles import Role


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a request.

    The tenant comes from the API key, never from a request body; `platform`
    callers (the SaaS operator) have no tenant and no roles inside one.
    """

    request_id: str
    tenant_id: str | None
    principal_id: str
    key_id: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    platform: bool = False

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def tenant(self) -> str:
        """The caller's tenant; only tenant callers reach services that need one."""
        if self.tenant_id is None:
            raise RuntimeError("a platform caller has no tenant")
        return self.tenant_id
