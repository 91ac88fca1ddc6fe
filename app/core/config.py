"""Settings, validated once at start-up (environment variables or a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "insecure-development-secret-change-me"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTRONG_", env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///./var/runstrong.db",
        validation_alias=AliasChoices("DATABASE_URL", "RUNSTRONG_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)

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

    # Training log.
    idempotency_lease_s: float = Field(
        default=30, gt=0, le=600, description="How long a running request holds its Idempotency-Key."
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

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
