"""A store handle bound to one tenant: the only way services reach a tenant's data.

Services never pass a tenant id: they take the handle of the actor's tenant
(`for_actor`), and every key it reads or writes is built by its `TenantKeys`, every cursor
it signs is bound to its tenant, and every unit of work it commits lands in its chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.domain.actors import Actor
from chalicelib.store.inventory import Inventory
from chalicelib.store.keys import Key, TenantKeys
from chalicelib.store.principals import Principals

if TYPE_CHECKING:
    from chalicelib.store.anchors import Anchors
    from chalicelib.store.approvals import Approvals
    from chalicelib.store.artifacts import Artifacts
    from chalicelib.store.audit import AuditLog
    from chalicelib.store.deployments import Deployments
    from chalicelib.store.export_files import ExportFiles
    from chalicelib.store.exports import Exports
    from chalicelib.store.findings import Findings
    from chalicelib.store.metrics import Metrics
    from chalicelib.store.objects import ArtifactObjects
    from chalicelib.store.operational import Operational
    from chalicelib.store.policy import Policies
    from chalicelib.store.reports import ReportReads
    from chalicelib.store.unit import UnitOfWork
    from chalicelib.store.webhooks import Webhooks

Fetch = Callable[[int, dict[str, Any] | None], tuple[list[dict[str, Any]], dict[str, Any] | None]]


class TenantStore:
    """Everything inside one tenant: its records, its audit chain, its cursors.

    The parts a read of a model or a key needs are made with the handle; the others, and
    the writer, are imported when first used, so a cold GET does not import them."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.keys = TenantKeys(tenant_id)
        self.principals = Principals(self.keys)
        self.inventory = Inventory(self.keys)

    @cached_property
    def audit(self) -> AuditLog:
        from chalicelib.store.audit import AuditLog

        return AuditLog(self.keys)

    @cached_property
    def anchors(self) -> Anchors:
        from chalicelib.store.anchors import Anchors

        return Anchors(self.keys)

    @cached_property
    def operational(self) -> Operational:
        from chalicelib.store.operational import Operational

        return Operational(self.keys)

    @cached_property
    def policies(self) -> Policies:
        from chalicelib.store.policy import Policies

        return Policies(self.keys)

    @cached_property
    def approvals(self) -> Approvals:
        from chalicelib.store.approvals import Approvals

        return Approvals(self.keys)

    @cached_property
    def artifacts(self) -> Artifacts:
        from chalicelib.store.artifacts import Artifacts

        return Artifacts(self.keys)

    @cached_property
    def objects(self) -> ArtifactObjects:
        from chalicelib.store.objects import ArtifactObjects

        return ArtifactObjects(self.keys)

    @cached_property
    def deployments(self) -> Deployments:
        from chalicelib.store.deployments import Deployments

        return Deployments(self.keys)

    @cached_property
    def findings(self) -> Findings:
        from chalicelib.store.findings import Findings

        return Findings(self.keys)

    @cached_property
    def webhooks(self) -> Webhooks:
        from chalicelib.store.webhooks import Webhooks

        return Webhooks(self.keys)

    @cached_property
    def metrics(self) -> Metrics:
        from chalicelib.store.metrics import Metrics

        return Metrics(self.keys)

    @cached_property
    def reports(self) -> ReportReads:
        from chalicelib.store.reports import ReportReads

        return ReportReads(self.keys)

    @cached_property
    def exports(self) -> Exports:
        from chalicelib.store.exports import Exports

        return Exports(self.keys)

    @cached_property
    def export_files(self) -> ExportFiles:
        from chalicelib.store.export_files import ExportFiles

        return ExportFiles(self.keys)

    def commit(self, actor: Actor, unit: UnitOfWork) -> int:
        """Commit `unit` as `actor` into this tenant's chain; returns its last sequence."""
        from chalicelib.store import writer

        return writer.commit(self.keys, actor, unit)

    def page(
        self,
        fetch: Fetch,
        *,
        query: str,
        limit: int,
        cursor_text: str | None,
        filtered: bool = False,
        key_attrs: tuple[str, ...] = ("pk", "sk"),
        **filters: Any,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a list, with a cursor bound to this tenant and to `query` + filters."""
        from chalicelib.store import cursor, paging

        return paging.page(
            fetch,
            tenant=self.tenant_id,
            query=cursor.fingerprint(query, **filters),
            limit=limit,
            cursor_text=cursor_text,
            filtered=filtered,
            key_attrs=key_attrs,
        )

    def get_many(self, keys: Sequence[Mapping[str, str]]) -> list[dict[str, Any] | None]:
        """The items at `keys` of this tenant (None where there is none), in one
        BatchGetItem: a change that needs several objects reads them in one round trip."""
        from chalicelib.store import dynamo

        found = {(i["pk"], i["sk"]): i for i in dynamo.batch_get(list(keys))}
        return [found.get((k["pk"], k["sk"])) for k in keys]

    def idempotency_key(self, principal_id: str, key: str) -> Key:
        return self.keys.idempotency(principal_id, key)


def for_actor(actor: Actor) -> TenantStore:
    """The store of the actor's own tenant."""
    return TenantStore(actor.tenant)


def for_tenant(tenant_id: str) -> TenantStore:
    """The store of a tenant named by the platform operator or by a system message.

    Principals never reach this: their tenant is their key's (`for_actor`)."""
    return TenantStore(tenant_id)
