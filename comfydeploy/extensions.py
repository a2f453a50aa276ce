"""Unbound Flask extensions; create_app binds them."""
from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Connection, MetaData

# Deterministic constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)
jwt = JWTManager()
csrf = CSRFProtect()


def autocommit_connection() -> Connection:
    """A pooled connection outside any transaction. A request whose writes are one statement each
    (or that only reads) skips psycopg's BEGIN and COMMIT round trips: each statement commits alone."""
    return db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def make_api() -> Api:
    """A fresh smorest Api per app: one Api instance cannot serve several apps."""
    return Api()
