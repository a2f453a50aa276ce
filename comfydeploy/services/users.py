"""Users, organisations and memberships."""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import Membership, Organisation, User
from ..models.base import utcnow

MIN_PASSWORD_LENGTH = 8


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise Invalid("Email must look like name@example.com", {"email": ["Not a valid email address."]})
    return email


def create_user(email: str, password: str, name: str = "", is_admin: bool = False) -> User:
    """Create a user with a hashed password."""
    email = normalise_email(email)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
                      {"password": [f"Shorter than minimum length {MIN_PASSWORD_LENGTH}."]})
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise Conflict(f"A user with email {email} already exists")
    user = User(email=email, name=(name or "").strip(), is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user when the email and password match, else None."""
    try:
        email = normalise_email(email)
    except Invalid:
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None or not user.check_password(password or ""):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def get_user_by_email(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user with email {email}")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.created_at)))


def create_org(name: str, owner_email: str) -> Organisation:
    """Create an organisation with its owner as first member."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Organisation name is required", {"name": ["Missing data for required field."]})
    owner = get_user_by_email(owner_email)
    if db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name)):
        raise Conflict(f"An organisation named {name} already exists")
    org = Organisation(name=name)
    db.session.add(org)
    db.session.flush()
    db.session.add(Membership(org_id=org.id, user_id=owner.id, role="owner"))
    db.session.commit()
    return org


def get_org(name_or_id: str) -> Organisation:
    org = db.session.scalar(sa.select(Organisation).where(
        sa.or_(Organisation.id == name_or_id, Organisation.name == name_or_id)))
    if org is None:
        raise NotFound(f"No organisation named {name_or_id}")
    return org


def add_member(org_name_or_id: str, email: str, role: str = "member") -> Membership:
    """Add a user to an organisation (idempotent)."""
    org = get_org(org_name_or_id)
    user = get_user_by_email(email)
    existing = db.session.scalar(
        sa.select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id))
    if existing:
        return existing
    membership = Membership(org_id=org.id, user_id=user.id, role=role)
    db.session.add(membership)
    db.session.commit()
    return membership


def memberships_of(user_id: str) -> list[Membership]:
    return list(db.session.scalars(
        sa.select(Membership).where(Membership.user_id == user_id).order_by(Membership.created_at)))


def is_member(user_id: str, org_id: str) -> bool:
    return db.session.scalar(
        sa.select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user_id)) is not None


def scope_display_name(user_id: str, org_id: str | None) -> str:
    if org_id:
        org = db.session.get(Organisation, org_id)
        return org.name if org else ""
    user = db.session.get(User, user_id)
    return user.display_name if user else ""
