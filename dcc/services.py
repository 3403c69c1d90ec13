"""Writes to the organisation: stores, teams, staff (STYLE.md "Services").

Each takes the acting user, checks the policy, validates with the model's
``full_clean`` and records who did it in the same transaction.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from dcc import audit, events
from dcc.models import Heartbeat, Store, Team, User
from dcc.policy import require, require_staff_grant
from dcc.roles import Role


def _require_store_in_reach(actor, store):
    if store is not None and not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")


def _grant_admin_site(user):
    """A group administrator (no store) runs the Django admin over every store;
    anyone else must not, since the admin is not scoped by our policy."""
    is_group_admin = user.role == Role.ADMIN and user.store_id is None
    user.is_staff = user.is_superuser = is_group_admin


def _validate_password(password: str, user) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS, reported on the password field."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error


@transaction.atomic
def store_create(*, actor, name: str, code: str, area_code: str = "") -> Store:
    require(actor, "org.store.manage")
    store = Store(name=name, code=code, area_code=area_code)
    store.full_clean()
    audit.attribute(store, actor=actor)
    store.save()
    audit.record("dcc.store.created", actor=actor, target=store, store=store)
    return store


@transaction.atomic
def team_create(*, actor, store: Store, name: str) -> Team:
    require(actor, "org.team.manage")
    _require_store_in_reach(actor, store)
    team = Team(store=store, name=name)
    team.full_clean()
    audit.attribute(team, actor=actor)
    team.save()
    audit.record("dcc.team.created", actor=actor, target=team)
    return team


@transaction.atomic
def staff_create(
    *,
    actor,
    username: str,
    password: str,
    name: str = "",
    role: str = Role.AGENT,
    store: Store | None = None,
    team: Team | None = None,
    extension: str = "",
) -> User:
    require_staff_grant(actor, role=role, store_id=store.pk if store else None)
    user = User(
        username=username,
        name=name,
        role=role,
        store=store,
        team=team,
        extension=extension or "",
    )
    _grant_admin_site(user)
    _validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    audit.attribute(user, actor=actor)
    user.save()
    audit.record("dcc.staff.created", actor=actor, target=user, role=role)
    events.staff_saved.send(sender=User, staff=user, actor=actor)
    return user


@transaction.atomic
def staff_update(*, actor, staff: User, **fields) -> User:
    """Change role, team, extension, name or active flag of a staff member."""
    allowed = {"name", "role", "team", "extension", "is_active", "store"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    store = fields.get("store", staff.store)
    require_staff_grant(
        actor,
        role=fields.get("role", staff.role),
        store_id=store.pk if store else None,
        staff=staff,
    )
    for key, value in fields.items():
        setattr(staff, key, value)
    if {"role", "store"} & set(fields):
        _grant_admin_site(staff)
    staff.full_clean(exclude=["password"])
    audit.attribute(staff, actor=actor)
    staff.save()
    events.staff_saved.send(sender=User, staff=staff, actor=actor)
    return staff


def heartbeat_touch(*, name: str) -> None:
    """Mark a Celery process alive (no history: it is a clock, not a change)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
