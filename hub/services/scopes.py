"""Scopes of a partner API credential: `entity:permission`, `all:` for every entity, and a ladder
read < write < delete (a scope of `delete` also allows `write` and `read`)."""

from __future__ import annotations

from collections.abc import Iterable

from hub.services.errors import Invalid

ENTITIES = ("sites", "charge-points", "charges", "cdrs", "charge-auth-tokens", "tariffs", "webhook-endpoints",
            "webhook-deliveries", "partners")
PERMISSIONS = ("read", "write", "delete")  # in ladder order
ALL = "all"

# every webhook event type, with the entity a credential must be allowed to read to get it (None: any credential)
EVENT_TYPES: dict[str, str | None] = {
    **{f"charge_transaction.{e}": "charges" for e in ("started", "updated", "completed", "failed")},
    **{f"charge_point.{e}": "charge-points" for e in ("created", "updated", "deleted", "status_changed", "connected", "disconnected")},
    **{f"site.{e}": "sites" for e in ("created", "updated", "deleted")},
    "cdr.created": "cdrs",
    **{f"charge_auth_token.{e}": "charge-auth-tokens" for e in ("created", "updated", "deleted")},
    **{f"tariff.{e}": "tariffs" for e in ("created", "updated", "deleted")},
    "command.result": "charges",
    "partner.status_changed": "partners",
    "webhook.test": None,
}
ADMIN_ONLY = frozenset({"partner.status_changed"})


class Scopes:
    """The highest permission granted per entity (or for `all`)."""

    __slots__ = ("grants",)

    def __init__(self, grants: dict[str, int]) -> None:
        self.grants = grants

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> Scopes:
        """`sites:read,charges:write` (commas or spaces between scopes, as OAuth writes them); an unknown entity or
        permission is an error that names what is allowed."""
        items = text.replace(",", " ").split() if isinstance(text, str) else [s.strip() for s in text]
        grants: dict[str, int] = {}
        for item in filter(None, items):
            entity, sep, permission = item.strip().lower().partition(":")
            if not sep or not entity or not permission:
                raise Invalid(f"scope {item!r}: expected ENTITY:PERMISSION, e.g. sites:read or all:read", "scopes")
            if entity != ALL and entity not in ENTITIES:
                raise Invalid(f"scope {item!r}: unknown entity {entity!r} (known: {ALL}, {', '.join(ENTITIES)})", "scopes")
            if permission not in PERMISSIONS:
                raise Invalid(f"scope {item!r}: unknown permission {permission!r} (known: {', '.join(PERMISSIONS)})", "scopes")
            grants[entity] = max(grants.get(entity, -1), PERMISSIONS.index(permission))
        if not grants:
            raise Invalid("at least one scope is needed, e.g. all:read", "scopes")
        return cls(grants)

    def allows(self, entity: str, permission: str) -> bool:
        needed = PERMISSIONS.index(permission)
        return max(self.grants.get(entity, -1), self.grants.get(ALL, -1)) >= needed

    def names(self) -> list[str]:
        """Each grant as written: the highest permission per entity (the lower ones follow from it)."""
        order = [ALL, *ENTITIES]
        return [f"{e}:{PERMISSIONS[self.grants[e]]}" for e in sorted(self.grants, key=order.index)]

    def __str__(self) -> str:
        return ",".join(self.names())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scopes) and other.grants == self.grants

    def __repr__(self) -> str:
        return f"Scopes({str(self)!r})"
