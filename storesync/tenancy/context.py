"""The request context every service takes: who is acting, for which organization, as what."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from storesync.core.errors import PermissionDenied
from storesync.tenancy.permissions import Permission, Role, role_allows


@dataclass(frozen=True, slots=True)
class RequestContext:
    """`actor`, `api_key_id` and `client_address` attribute a change in the audit log: a person
    (user_id, their email), an API key (its id and name) or, with neither, the system."""

    user_id: uuid.UUID | None
    organization_id: uuid.UUID
    role: Role
    api_key_id: uuid.UUID | None = None
    actor: str = ""
    client_address: str = ""

    @property
    def is_person_or_key(self) -> bool:
        return self.user_id is not None or self.api_key_id is not None

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        """Raise `PermissionDenied` unless this context's role grants `permission`."""
        if not self.can(permission):
            raise PermissionDenied(permission.value, self.role.value)

    @classmethod
    def system(cls, organization_id: uuid.UUID) -> RequestContext:
        """The context of background work (workers, webhooks) acting for an organization."""
        return cls(user_id=None, organization_id=organization_id, role=Role.OWNER)
