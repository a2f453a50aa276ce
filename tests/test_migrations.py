"""Migrations: one head, and the upgraded schema matches the models on this database."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from comfydeploy.config import ROOT_DIR
from comfydeploy.extensions import db


def _script():
    from alembic.config import Config
    cfg = Config(str(ROOT_DIR / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT_DIR / "migrations"))
    return ScriptDirectory.from_config(cfg)


def test_single_head():
    assert len(_script().get_heads()) == 1


def test_schema_at_head_matches_models(ctx):
    """The session fixture upgraded an empty database to head; nothing is missing or extra."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == _script().get_current_head()
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(ctx):
    from flask_migrate import downgrade, upgrade
    downgrade(revision="base")
    with db.engine.connect() as conn:
        assert db.inspect(conn).get_table_names() in ([], ["alembic_version"])
    upgrade()
    with db.engine.connect() as conn:
        assert "runs" in db.inspect(conn).get_table_names()
