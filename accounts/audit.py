"""The team audit log: one row per change to a team's members, roles,
invitations, keys (and whatever else records here), shown to its owners and
admins on /team/audit/ and read-only in the admin.

Call `record` inside the transaction that makes the change, so the entry
and the change commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from accounts.models import AuditEntry, Team


def record(
    team: Team | int,
    actor: AbstractBaseUser | None,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Write one entry: `actor` (None for the system) did `action` to `target`
    in `team`; `before` and `after` are what changed, as JSON-able values."""
    return AuditEntry.objects.create(
        team_id=team if isinstance(team, int) else team.pk,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        target=target[: AuditEntry._meta.get_field("target").max_length],
        before=before,
        after=after,
    )
