"""Roles and what each may do. viewer reads; staff moves stock and orders; admin manages the
catalog, stores and settings and reads the audit log; owner also manages members."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    ADJUST_STOCK = "adjust_stock"
    PROCESS_ORDERS = "process_orders"
    RUN_SYNC = "run_sync"
    MANAGE_CATALOG = "manage_catalog"
    MANAGE_STORES = "manage_stores"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_MEMBERS = "manage_members"
    VIEW_AUDIT = "view_audit"
    INVITE_MEMBERS = "invite_members"


_VIEWER = frozenset({Permission.READ})
_STAFF = _VIEWER | {Permission.ADJUST_STOCK, Permission.PROCESS_ORDERS, Permission.RUN_SYNC}
_ADMIN = _STAFF | {
    Permission.MANAGE_CATALOG,
    Permission.MANAGE_STORES,
    Permission.MANAGE_SETTINGS,
    Permission.INVITE_MEMBERS,
    Permission.VIEW_AUDIT,
}
_OWNER = _ADMIN | {Permission.MANAGE_MEMBERS}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.STAFF: frozenset(_STAFF),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
