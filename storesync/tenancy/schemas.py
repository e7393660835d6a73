"""DTOs the tenancy services return (never ORM objects)."""

from __future__ import annotations

import uuid
from datetime import datetime

from storesync.core.schemas import DTO
from storesync.tenancy.permissions import Role


class OrganizationDTO(DTO):
    id: uuid.UUID
    name: str
    slug: str
    default_currency: str
    timezone: str
    created_at: datetime


class UserDTO(DTO):
    id: uuid.UUID
    email: str
    full_name: str
    is_active: bool


class MembershipDTO(DTO):
    organization_id: uuid.UUID
    organization_name: str
    user_id: uuid.UUID
    role: Role
