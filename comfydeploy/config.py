"""Every setting of the platform, read from environment variables in this one place."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

ROOT_DIR = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(choices)}")
    return value


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def _instance_secret(instance_path: Path, name: str) -> str:
    """Return a secret generated once into instance/ (development only)."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_hex(32)
    # Write-then-rename so two processes starting together agree on one value.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def load_config(instance_path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    mode = env.get("COMFYDEPLOY_ENV", "development").strip().lower()
    if mode not in {"development", "production", "test"}:
        raise ConfigError("COMFYDEPLOY_ENV must be development, production or test")
    production = mode == "production"

    def secret(name: str) -> str:
        value = env.get(name)
        if value:
            return value
        if production:
            raise ConfigError(f"{name} must be set when COMFYDEPLOY_ENV=production")
        return _instance_secret(instance_path, name.lower())

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'comfydeploy.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]

    storage = env.get("STORAGE_BACKEND", "").strip().lower() or ("s3" if env.get("S3_BUCKET") else "local")
    if storage not in {"local", "s3"}:
        raise ConfigError("STORAGE_BACKEND must be local or s3")

    return {
        "COMFYDEPLOY_ENV": mode,
        "TESTING": mode == "test",
        "SECRET_KEY": secret("SECRET_KEY"),
        "JWT_SECRET_KEY": secret("JWT_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No pre-ping: it costs a round trip per request. Dropped connections are detected on use and
        # replaced; pool_recycle retires connections before servers or proxies time them out.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": _bool(env.get("DB_POOL_PRE_PING")), "pool_recycle": 1800},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "EMBEDDED_REDIS_PATH": str(instance_path / "redis.db"),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        # Request limits.
        "MAX_CONTENT_LENGTH": _int(env, "MAX_REQUEST_BYTES", 20 * 1024 * 1024),
        "CALLBACK_MAX_BYTES": _int(env, "CALLBACK_MAX_BYTES", 5 * 1024 * 1024),
        # Callbacks from machines.
        "ALLOW_TOKENLESS_CALLBACKS": _bool(env.get("ALLOW_TOKENLESS_CALLBACKS")),
        "CALLBACK_PROCESSING": _choice(env, "CALLBACK_PROCESSING", ("inline", "stream"), "inline"),
        # Storage.
        "STORAGE_BACKEND": storage,
        "STORAGE_LOCAL_PATH": env.get("STORAGE_LOCAL_PATH") or str(instance_path / "storage"),
        "S3_BUCKET": env.get("S3_BUCKET"),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": env.get("S3_REGION") or "us-east-1",
        "S3_ACCESS_KEY_ID": env.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": env.get("S3_SECRET_ACCESS_KEY") or None,
        "S3_PUBLIC_ENDPOINT_URL": env.get("S3_PUBLIC_ENDPOINT_URL") or None,
        "OUTPUT_URL_TTL": _int(env, "OUTPUT_URL_TTL", 3600),
        "INPUT_URL_TTL": _int(env, "INPUT_URL_TTL", 7 * 24 * 3600),
        "UPLOAD_URL_TTL": _int(env, "UPLOAD_URL_TTL", 600),
        "INPUT_MAX_BYTES": _int(env, "INPUT_MAX_BYTES", 50 * 1024 * 1024),
        "OUTPUT_MAX_BYTES": _int(env, "OUTPUT_MAX_BYTES", 2 * 1024 * 1024 * 1024),
        "MODEL_MAX_BYTES": _int(env, "MODEL_MAX_BYTES", 20 * 1024 * 1024 * 1024),
        "ALLOW_PRIVATE_MODEL_URLS": _bool(env.get("ALLOW_PRIVATE_MODEL_URLS")),
        # Webhooks.
        "ALLOW_PRIVATE_WEBHOOK_URLS": _bool(env.get("ALLOW_PRIVATE_WEBHOOK_URLS")),
        "WEBHOOK_TIMEOUT": _int(env, "WEBHOOK_TIMEOUT", 10),
        "WEBHOOK_RETRY_DELAYS": [int(x) for x in (env.get("WEBHOOK_RETRY_DELAYS") or "5,30,120,600,1800,3600").split(",")],
        # Run control.
        "QUEUE_TTL": _int(env, "QUEUE_TTL", 3600),
        "MAX_WAIT_SECONDS": 300,
        "LONG_REQUESTS_PER_PROCESS": _int(env, "LONG_REQUESTS_PER_PROCESS", 4),
        "SSE_MAX_SECONDS": _int(env, "SSE_MAX_SECONDS", 300),
        "RATE_LIMIT": env.get("RATE_LIMIT") or "1200/minute",
        "RUN_RATE_LIMIT": env.get("RUN_RATE_LIMIT") or "300/minute",
        # Runs and machines.
        "DISPATCH_CONNECT_TIMEOUT": _int(env, "DISPATCH_CONNECT_TIMEOUT", 5),
        "DISPATCH_READ_TIMEOUT": _int(env, "DISPATCH_READ_TIMEOUT", 60),
        "DISPATCH_MAX_ATTEMPTS": _int(env, "DISPATCH_MAX_ATTEMPTS", 4),
        "RUN_TIMEOUT": _int(env, "RUN_TIMEOUT", 3600),
        "MACHINE_POLL_INTERVAL": _int(env, "MACHINE_POLL_INTERVAL", 30),
        "MACHINE_OFFLINE_AFTER": _int(env, "MACHINE_OFFLINE_AFTER", 120),
        "API_KEY_TOUCH_INTERVAL": _int(env, "API_KEY_TOUCH_INTERVAL", 60),
        "PLUGIN_TOKEN_TTL": _int(env, "PLUGIN_TOKEN_TTL", 7 * 24 * 3600),
        # Cookies.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "WTF_CSRF_TIME_LIMIT": None,
        # OpenAPI (flask-smorest).
        "API_TITLE": "comfydeploy API",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "doc",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "Run ComfyUI workflows as an HTTP API. Authenticate with `Authorization: Bearer <api key>`."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearerAuth": []}],
        },
    }
