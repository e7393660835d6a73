"""The only place that reads the environment.

Every setting is `STORESYNC_<NAME>`. Invalid values stop the start with one line naming the
variable (see `SettingsError`). Embedded mode (the default) keeps its SQLite file and generated
secrets under `var/`; production mode requires them to be given.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "STORESYNC_"


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


DEMO_PASSWORD = "demo-storesync"  # noqa: S105 - the published demo login


class RunMode(StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"


# The platforms' own hosts (MARKETPLACES.md): production's defaults.
PLATFORM_HOSTS = {
    "shopee": "https://partner.shopeemobile.com",
    "tiktok": "https://open-api.tiktokglobalshop.com",
    "tiktok_auth": "https://auth.tiktok-shops.com",
}


def _check_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or "://" not in value or len(value) < 10:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_file=None)

    env: RunMode = RunMode.EMBEDDED
    var_dir: Path = PROJECT_ROOT / "var"

    database_url: str = ""
    # Migrations run as the table owner; the app connects as a role that owns nothing (RLS).
    migration_database_url: str = ""
    db_app_role: str = "storesync_app"
    db_pool_size: int = Field(default=10, ge=1, le=200)

    redis_url: str | None = None

    # Comma-separated Fernet keys, newest first (MultiFernet order).
    fernet_keys: str = ""
    session_ttl_hours: int = Field(default=24 * 7, ge=1, le=24 * 90)

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str = ""

    # StoreSync's apps on the marketplaces. Embedded mode asks the mounted sandbox when unset.
    shopee_partner_id: str = ""
    shopee_partner_key: str = ""
    tiktok_app_key: str = ""
    tiktok_app_secret: str = ""
    tiktok_service_id: str = ""
    # Calls per second per store (token bucket); the platforms publish no firm numbers.
    shopee_rate_limit: float = Field(default=50, gt=0, le=1000)
    tiktok_rate_limit: float = Field(default=50, gt=0, le=1000)
    http_timeout_seconds: float = Field(default=15, gt=0, le=300)
    # How long a worker holds the stock pushes it claimed; the sweeper hands rows back once it
    # lapses, so it bounds how late a dead worker's pushes go out (one claim pushes in seconds).
    push_lease_seconds: float = Field(default=30, ge=1, le=3600)
    # The merchant API (/api/v1): requests per minute per key, and the largest request body.
    api_rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    api_max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)

    # The marketplaces' hosts. Embedded mode: the mounted sandbox; production: the platforms'.
    shopee_base_url: str = ""
    tiktok_base_url: str = ""
    tiktok_auth_base_url: str = ""
    # Production refuses to start with marketplace hosts on this machine (a sandbox) unless this
    # says the sandbox is intended (a demo or load test of the production layout).
    sandbox_marketplaces: bool = False

    # Embedded mode mounts the marketplace simulators at /sandbox (see storesync.sandbox).
    embedded_sandbox: bool = True
    # The embedded demo's gentle stream of sandbox orders (0 turns it off).
    sandbox_orders_per_minute: float = Field(default=6, ge=0, le=6000)
    # First start: connect the demo organization to the sandbox shops and import their products.
    demo_alive: bool = True

    seed_demo: bool = True
    demo_email: str = "demo@storesync.local"
    demo_password: str = DEMO_PASSWORD
    # Embedded mode on a non-loopback host with the published demo password refuses to start
    # unless this says the demo may be reached from the network.
    allow_public_demo: bool = False
    # The embedded sandbox's control API token; empty: generated once in var/sandbox-token.
    sandbox_token: str = ""
    # Browser origins besides StoreSync's own allowed to call it with credentials (CORS), comma
    # separated, e.g. "https://admin.example.com". Empty: same origin only.
    cors_origins: str = ""
    log_level: str = "INFO"
    # `GET /metrics` wants `Authorization: Bearer <this>`; empty: off in production, this
    # machine only in embedded mode.
    metrics_token: str = ""
    # "text" (one readable line) or "json" (one object per line, for a log collector).
    log_format: str = "text"

    # Outgoing mail (invitations, password resets): smtp://user:password@host:port, with
    # `?starttls=true` to upgrade the connection, or smtps://... (TLS from the start). Empty:
    # embedded mode writes each message to var/mail/ (the sandbox's "Sent mail" page shows
    # them); production mode refuses to send.
    smtp_url: str = ""
    mail_from: str = "StoreSync <no-reply@localhost>"

    # Product images and other uploaded files: s3://ACCESS_KEY:SECRET@host:port/bucket[/prefix]
    # (key and secret percent-encoded; `?secure=false` for plain HTTP, `?region=` when the
    # server wants one) for any S3-compatible store (AWS, MinIO, R2, Wasabi). Empty: embedded
    # mode keeps them under var/media/; production mode refuses to store them.
    storage_url: str = ""

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        if not value:
            return value
        return normalise_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must start with redis://, rediss:// or unix://, got {value!r}")
        return value

    @field_validator("fernet_keys")
    @classmethod
    def _valid_fernet_keys(cls, value: str) -> str:
        for position, key in enumerate(k.strip() for k in value.split(",") if k.strip()):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ValueError(
                    f"key #{position + 1} is not a valid Fernet key (32 url-safe base64 bytes)"
                ) from None
        return value

    @field_validator("shopee_base_url", "tiktok_base_url", "tiktok_auth_base_url", "public_url")
    @classmethod
    def _valid_http_url(cls, value: str) -> str:
        return _check_http_url(value) if value else value

    @field_validator("smtp_url")
    @classmethod
    def _valid_smtp_url(cls, value: str) -> str:
        return check_smtp_url(value) if value else value

    @field_validator("storage_url")
    @classmethod
    def _valid_storage_url(cls, value: str) -> str:
        return check_storage_url(value) if value else value

    @field_validator("mail_from")
    @classmethod
    def _valid_mail_from(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError(
                f"must be an address like 'Shop <no-reply@example.com>', got {value!r}"
            )
        return value

    @field_validator("log_format")
    @classmethod
    def _valid_log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError(f"must be text or json, got {value!r}")
        return value.lower()

    @field_validator("log_level")
    @classmethod
    def _valid_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        production = self.env is RunMode.PRODUCTION
        if not self.database_url:
            if production:
                raise ValueError("STORESYNC_DATABASE_URL is required in production mode")
            self.database_url = f"sqlite:///{self.var_dir / 'storesync.db'}"
        if not self.migration_database_url:
            self.migration_database_url = self.database_url
        if production and not self.fernet_keys:
            raise ValueError(f"{ENV_PREFIX}FERNET_KEYS is required in production mode")
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        sandbox = f"http://127.0.0.1:{self.port}/sandbox"
        hosts = (
            PLATFORM_HOSTS
            if production
            else {
                "shopee": f"{sandbox}/shopee",
                "tiktok": f"{sandbox}/tiktok",
                "tiktok_auth": f"{sandbox}/tiktok-auth",
            }
        )
        self.shopee_base_url = self.shopee_base_url or hosts["shopee"]
        self.tiktok_base_url = self.tiktok_base_url or hosts["tiktok"]
        self.tiktok_auth_base_url = self.tiktok_auth_base_url or hosts["tiktok_auth"]
        return self

    def local_marketplaces(self) -> list[str]:
        """The marketplace host settings that point at this machine (a sandbox), by name."""
        named = {
            f"{ENV_PREFIX}SHOPEE_BASE_URL": self.shopee_base_url,
            f"{ENV_PREFIX}TIKTOK_BASE_URL": self.tiktok_base_url,
            f"{ENV_PREFIX}TIKTOK_AUTH_BASE_URL": self.tiktok_auth_base_url,
        }
        return [
            name
            for name, url in named.items()
            if is_loopback(urlsplit(url).hostname or "") or "/sandbox" in urlsplit(url).path
        ]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_dir(self) -> Path:
        """Where embedded mode keeps the mail it would have sent (one .eml file a message)."""
        return self.var_dir / "mail"

    @property
    def media_dir(self) -> Path:
        """Where embedded mode keeps stored files (product images) without a storage URL."""
        return self.var_dir / "media"

    @property
    def fernet_key_list(self) -> list[str]:
        return [k.strip() for k in self.fernet_keys.split(",") if k.strip()]

    @property
    def own_origins(self) -> frozenset[str]:
        """The origins StoreSync's own pages have: its public URL, and on a loopback host the
        other loopback names for the same port."""
        public = urlsplit(self.public_url)
        origins = {f"{public.scheme}://{public.netloc}"}
        if is_loopback(public.hostname or ""):
            port = f":{public.port}" if public.port else ""
            origins |= {f"{public.scheme}://{name}{port}" for name in ("127.0.0.1", "localhost")}
        return frozenset(origins)

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Who may call StoreSync from a browser (Reflex's CORS and its websocket): its own
        origins and those `STORESYNC_CORS_ORIGINS` lists."""
        extra = {o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()}
        return tuple(sorted(self.own_origins | extra))


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


SMTP_SCHEMES = ("smtp", "smtps")


def check_smtp_url(value: str) -> str:
    """Accept `smtp://[user:password@]host[:port][?starttls=true]` and `smtps://...`. The
    messages never repeat the URL: it may hold a password."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in SMTP_SCHEMES:
        raise ValueError(
            f"must start with smtp:// or smtps:// (e.g. smtp://user:password@host:587"
            f"?starttls=true), got scheme {parts.scheme!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise ValueError("needs a host (and an optional port from 1 to 65535)")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("takes no path: smtp://user:password@host:port[?starttls=true]")
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"starttls"}:
        raise ValueError("knows one option only, ?starttls=true")
    starttls = query.get("starttls", ["false"])[-1].lower()
    if starttls not in ("true", "false", "1", "0"):
        raise ValueError("starttls must be true or false")
    if parts.scheme.lower() == "smtps" and starttls in ("true", "1"):
        raise ValueError("smtps:// is TLS from the start: drop ?starttls=true or use smtp://")
    return value


STORAGE_OPTIONS = ("secure", "region")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_storage_url(value: str) -> str:
    """Accept `s3://[key:secret@]host[:port]/bucket[/prefix][?secure=false][&region=...]`.
    Without a key and secret the client looks for them as AWS tools do (environment, instance
    role). The messages never repeat the URL: it holds a secret."""
    parts = urlsplit(value)
    if parts.scheme.lower() != "s3":
        raise ValueError(
            "must start with s3:// (e.g. s3://ACCESS_KEY:SECRET@minio:9000/bucket?secure=false),"
            f" got scheme {parts.scheme!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise ValueError("needs a host (and an optional port from 1 to 65535)")
    if bool(parts.username) != bool(parts.password):
        raise ValueError("needs both an access key and a secret (s3://KEY:SECRET@host/...)")
    bucket, _, prefix = parts.path.strip("/").partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(
            "needs a bucket name after the host (3 to 63 characters: a-z, 0-9, '.', '-')"
        )
    if prefix and not all(_PREFIX_SEGMENT.fullmatch(s) for s in prefix.strip("/").split("/")):
        raise ValueError("has a prefix that is not a plain path (letters, digits, . _ - and /)")
    if parts.fragment:
        raise ValueError("takes no #fragment")
    query = parse_qs(parts.query, keep_blank_values=True)
    if unknown := sorted(set(query) - set(STORAGE_OPTIONS)):
        raise ValueError(f"knows the options secure and region only, not {', '.join(unknown)}")
    if query.get("secure", ["true"])[-1].lower() not in ("true", "false", "1", "0"):
        raise ValueError("secure must be true or false")
    if not re.fullmatch(r"[a-z0-9-]{1,40}", query.get("region", ["us-east-1"])[-1]):
        raise ValueError("region must be a region name like eu-west-1")
    return value


def normalise_database_url(value: str) -> str:
    """Accept sqlite and PostgreSQL URLs; PostgreSQL always goes through psycopg 3."""
    scheme, sep, rest = value.partition("://")
    if not sep or not rest:
        raise ValueError(
            f"is not a database URL (expected sqlite:///PATH or postgresql://...), got {value!r}"
        )
    driver = scheme.lower()
    if driver in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if driver in ("sqlite", "sqlite+pysqlite"):
        return f"sqlite://{rest}"
    raise ValueError(
        f"unsupported scheme {scheme!r} (expected sqlite:///PATH or postgresql://USER@HOST/DB)"
    )


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if field:
        return f"{ENV_PREFIX}{field.upper()}: {message}"
    return message


def _load_or_create_secret(path: Path, make: Any) -> str:
    """Read a generated secret from var/, creating it (mode 0600) on first embedded run."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def build_settings(**overrides: Any) -> Settings:
    """Read and validate settings; raise `SettingsError` with one line on bad input."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_format_error(error)) from None
    if settings.env is RunMode.EMBEDDED and not settings.fernet_keys:
        settings.fernet_keys = _load_or_create_secret(
            settings.var_dir / "fernet.keys", lambda: Fernet.generate_key().decode()
        )
    return settings


@functools.cache
def get_settings() -> Settings:
    return build_settings()
