"""Settings, validated once at start-up (environment variables or a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "insecure-development-secret-change-me"  # noqa: S105
# The garbage collector's youngest-generation threshold in a started app (bench/README.md,
# fifteenth round: the collector's share of a page's CPU went from 3-5 % to under 0.2 %).
GC_THRESHOLD = 10_000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTRONG_", env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///./var/runstrong.db",
        validation_alias=AliasChoices("DATABASE_URL", "RUNSTRONG_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    catalogue_database_url: str | None = Field(
        default=None,
        description="A read replica for the public catalogue's reads (none: the primary serves them).",
    )

    # PostgreSQL connection pool (ignored for SQLite).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_s: float = Field(default=10.0, gt=0, le=300)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    # SQLite: how long a writer waits for the write lock before giving up.
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    # Catalogue HTTP caching.
    catalogue_max_age_s: int = Field(default=300, ge=0, description="Cache-Control max-age.")
    catalogue_cache_entries: int = Field(default=4096, ge=0, description="0 disables the in-process response cache.")
    catalogue_version_ttl_s: float = Field(
        default=1.0, ge=0, description="How often a worker re-reads the catalogue version."
    )

    # Accounts.
    access_token_ttl_s: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=3600)
    password_min_length: int = Field(default=10, ge=10, le=64, description="Raise to require longer passwords.")
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    login_window_s: int = Field(default=15 * 60, ge=1, description="Window of the login rate limits.")
    login_limit_per_account: int = Field(default=10, ge=1, description="Login attempts per account per window.")
    login_limit_per_address: int = Field(default=100, ge=1, description="Login attempts per client address per window.")
    device_token_ttl_s: int = Field(
        default=365 * 24 * 3600, ge=3600, description="How long a device stays known for the login lockout."
    )
    refresh_grace_s: int = Field(
        default=30,
        ge=0,
        le=300,
        description="How long a retried refresh of a just-rotated token gets the same new pair instead of "
        "revoking the login (0: every reuse revokes).",
    )
    authorization_code_ttl_s: int = Field(
        default=60, ge=10, le=600, description="How long an OAuth2 authorization code may be exchanged."
    )
    reauth_window_minutes: int = Field(
        default=10,
        ge=1,
        le=24 * 60,
        description="Minting tokens, granting coaches and erasing the account need a login this recent.",
    )

    # Training log.
    idempotency_lease_s: float = Field(
        default=30, gt=0, le=600, description="How long a running request holds its Idempotency-Key."
    )

    # The process.
    gc_freeze: bool | None = Field(
        default=None,
        description="Once the app has started, move every object it made to the garbage collector's permanent "
        "generation (gc.freeze), so full collections no longer walk the app's own ~220,000 objects; on by "
        "default except in tests, where an app starts many times in one process.",
    )

    gc_threshold: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Once the app has started, the garbage collector's youngest-generation threshold "
        "(gc.set_threshold): how many more container objects allocated than freed start a collection. "
        f"{GC_THRESHOLD:,} by default except in tests (Python's own is 700): a request building a page of "
        "workouts, the change feed or a load report holds more than 700 at once, so the collector ran "
        "once or twice a request over objects that were about to free themselves.",
    )

    # The event dispatcher (``runstrong worker``, and inside ``runstrong serve``) and webhooks.
    worker_embedded: bool | None = Field(
        default=None,
        description="Run the dispatcher inside `runstrong serve` (one per server process); on by default "
        "except in tests. Turn it off when `runstrong worker` processes deliver instead.",
    )
    worker_poll_s: float = Field(default=1.0, gt=0, le=60, description="How often an idle dispatcher looks for work.")
    worker_lease_s: float = Field(
        default=60, gt=0, le=3600, description="How long a dispatcher holds a delivery before another may retake it."
    )
    webhook_timeout_s: float = Field(default=10, gt=0, le=60, description="How long a receiver has to answer.")
    webhook_retry_delays_s: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        description="Waits before each retry of a failed delivery (JSON list); the default spans 27 hours.",
    )
    webhook_allow_private_urls: bool | None = Field(
        default=None,
        description="Let webhooks go to private and loopback addresses; off in production by default.",
    )

    # Serving (``runstrong serve``; uvicorn's settings).
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        validation_alias=AliasChoices("WEB_CONCURRENCY", "RUNSTRONG_WORKERS"),
        description="Worker processes. Keep 1 on SQLite; on PostgreSQL about one per core.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        validation_alias=AliasChoices("FORWARDED_ALLOW_IPS", "RUNSTRONG_FORWARDED_ALLOW_IPS"),
        description="Proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, or *).",
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Connections per worker before uvicorn answers 503 (none: no limit)."
    )
    graceful_shutdown_s: int = Field(
        default=30, ge=1, le=600, description="How long in-flight requests may run on after SIGTERM."
    )
    keep_alive_s: int = Field(
        default=5, ge=1, le=600, description="Idle keep-alive; keep it above the load balancer's idle timeout."
    )

    # Observability.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = Field(default="json", description="One JSON object per line, or text.")
    metrics_enabled: bool = Field(default=True, description="Collect Prometheus metrics.")
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port of `runstrong serve` (one listener for every worker) "
        "and not on the API's port.",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token that /metrics on the API's port requires."
    )
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs, /redoc and /openapi.json; on except in production by default."
    )

    # Limits.
    request_timeout_s: float = Field(
        default=30, gt=0, le=600, description="Time to the first response byte before a 504."
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body (JSON) in bytes.")
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="Largest total of a request's header names and values."
    )
    max_headers: int = Field(default=100, ge=10, le=10_000, description="Most headers a request may carry.")
    rate_limit_enabled: bool | None = Field(
        default=None, description="Per-client limits on writes and plan generation; on in production by default."
    )
    rate_limit_writes: int = Field(default=120, ge=1, description="Writes per client per window.")
    rate_limit_writes_window_s: int = Field(default=60, ge=1, le=86_400)
    rate_limit_plans: int = Field(default=12, ge=1, description="Plan generations per client per window.")
    rate_limit_plans_window_s: int = Field(default=60, ge=1, le=86_400)
    cors_origins: list[str] = Field(
        default=[], description="Origins allowed to call the API from a browser (JSON list); none by default."
    )
    hsts_max_age_s: int | None = Field(
        default=None, ge=0, description="Strict-Transport-Security max-age; one year in production by default."
    )

    @property
    def rate_limited(self) -> bool:
        if self.rate_limit_enabled is None:
            return self.environment == "production"
        return self.rate_limit_enabled

    @property
    def hsts_seconds(self) -> int:
        if self.hsts_max_age_s is None:
            return 365 * 24 * 3600 if self.environment == "production" else 0
        return self.hsts_max_age_s

    @property
    def docs(self) -> bool:
        return self.environment != "production" if self.docs_enabled is None else self.docs_enabled

    @property
    def metrics_on_api_port(self) -> bool:
        """/metrics on the API's port: never with a metrics port; behind the token if one is set;
        otherwise open, except in production."""
        if not self.metrics_enabled or self.metrics_port is not None:
            return False
        return self.metrics_token is not None or self.environment != "production"

    @property
    def h11_max_head_bytes(self) -> int:
        """What uvicorn buffers of a request's head (request line and headers) before it answers
        400: room for the longest head the edge answers 431 to, never an unbounded read."""
        return 4 * self.max_header_bytes

    @property
    def freeze_heap(self) -> bool:
        return self.environment != "test" if self.gc_freeze is None else self.gc_freeze

    @property
    def collector_threshold(self) -> int | None:
        """The youngest generation's threshold to set once started; None: leave Python's."""
        if self.gc_threshold is not None:
            return self.gc_threshold
        return None if self.environment == "test" else GC_THRESHOLD

    @property
    def embedded_worker(self) -> bool:
        return self.environment != "test" if self.worker_embedded is None else self.worker_embedded

    @property
    def private_webhook_urls(self) -> bool:
        if self.webhook_allow_private_urls is None:
            return self.environment != "production"
        return self.webhook_allow_private_urls

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        if self.worker_lease_s <= self.webhook_timeout_s:
            raise ValueError("RUNSTRONG_WORKER_LEASE_S must be longer than RUNSTRONG_WEBHOOK_TIMEOUT_S")
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (secret == DEFAULT_SECRET or len(secret) < 32):
            raise ValueError(
                "RUNSTRONG_SECRET_KEY must be set to a private value of 32 characters or more outside development"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
