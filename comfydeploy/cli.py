"""`flask` admin commands: users, organisations, API keys, workers."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .auth import Scope
from .errors import AppError

users_cli = AppGroup("users", help="Manage dashboard users.")
orgs_cli = AppGroup("orgs", help="Manage organisations.")
keys_cli = AppGroup("api-keys", help="Manage API keys.")


def _fail(exc: AppError) -> None:
    raise click.ClickException(exc.message)


@users_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters.")
@click.option("--name", default="", help="Display name.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def create_user(email: str, password: str, name: str, admin: bool) -> None:
    """Create a user who can log in to the dashboard."""
    from .services.users import create_user as create
    try:
        user = create(email, password, name, admin)
    except AppError as exc:
        _fail(exc)
    click.echo(f"Created user {user.email} ({user.id}){' [admin]' if user.is_admin else ''}")


@users_cli.command("list")
def list_users() -> None:
    """List users."""
    from .services.users import list_users as all_users
    for user in all_users():
        click.echo(f"{user.id}  {user.email}  {user.name or '-'}{'  [admin]' if user.is_admin else ''}")


@orgs_cli.command("create")
@click.argument("name")
@click.option("--owner", required=True, help="Email of the owning user.")
def create_org(name: str, owner: str) -> None:
    """Create an organisation owned by an existing user."""
    from .services.users import create_org as create
    try:
        org = create(name, owner)
    except AppError as exc:
        _fail(exc)
    click.echo(f"Created organisation {org.name} ({org.id})")


@orgs_cli.command("add-member")
@click.argument("org")
@click.argument("email")
def add_member(org: str, email: str) -> None:
    """Add a user to an organisation (by name or id)."""
    from .services.users import add_member as add
    try:
        membership = add(org, email)
    except AppError as exc:
        _fail(exc)
    click.echo(f"{email} is a member of {membership.org.name}")


@keys_cli.command("create")
@click.option("--user", "email", required=True, help="Email of the key's owner.")
@click.option("--name", required=True, help="A name to recognise the key by.")
@click.option("--org", default=None, help="Make the key act for this organisation (name or id).")
@click.option("--expires-in", type=int, default=None, help="Lifetime in seconds (default: never expires).")
def create_key(email: str, name: str, org: str | None, expires_in: int | None) -> None:
    """Create an API key; the token is printed alone on the last line."""
    from .services.api_keys import create_api_key
    from .services.users import get_org, get_user_by_email, is_member
    try:
        user = get_user_by_email(email)
        org_id = None
        if org:
            org_id = get_org(org).id
            if not is_member(user.id, org_id):
                raise click.ClickException(f"{email} is not a member of {org}")
        key, token = create_api_key(Scope(user.id, org_id), name, expires_in, source="cli")
    except AppError as exc:
        _fail(exc)
    click.echo(f"Created API key {key.id} ({key.name}). It is shown only once:")
    click.echo(token)


@keys_cli.command("list")
@click.option("--user", "email", required=True, help="Email of the keys' owner.")
def list_keys(email: str) -> None:
    """List a user's keys (never the tokens)."""
    import sqlalchemy as sa

    from .extensions import db
    from .models import ApiKey
    from .services.users import get_user_by_email
    try:
        user = get_user_by_email(email)
    except AppError as exc:
        _fail(exc)
    for key in db.session.scalars(sa.select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at)):
        state = "revoked" if key.revoked_at else "active"
        click.echo(f"{key.id}  {key.name}  ****{key.last4}  {state}  org={key.org_id or '-'}  "
                   f"last_used={key.last_used_at.isoformat() if key.last_used_at else 'never'}")


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key by id."""
    from .services.api_keys import revoke_by_id
    try:
        key = revoke_by_id(key_id)
    except AppError as exc:
        _fail(exc)
    click.echo(f"Revoked API key {key.id} ({key.name})")


def register_cli(app: Flask) -> None:
    for group in (users_cli, orgs_cli, keys_cli):
        app.cli.add_command(group)
    from .devserver import up
    from .worker_cli import rq_cli
    app.cli.add_command(rq_cli)
    app.cli.add_command(up)
