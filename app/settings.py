"""One Settings object, read from the environment (prefix MOTCUA_) and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///./var/motcua.db"
    db_pool_size: int = 10
    db_echo: bool = False

    jwt_secret: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_issuer: str = "motcua"
    jwt_audience: str = "motcua-api"
    jwt_lifetime_minutes: int = Field(default=480, ge=1, le=24 * 60)

    timezone: str = "Asia/Ho_Chi_Minh"
    working_hours: str = "07:30-11:30,13:00-17:00"
    due_soon_window_minutes: int = Field(default=480, ge=0)  # 1 working day
    max_supplement_requests: int = Field(default=1, ge=1)
    max_apologies: int = Field(default=1, ge=1)

    # Argon2 cost; tests lower it, production keeps the library defaults.
    password_time_cost: int = 3
    password_memory_cost: int = 65536

    lookup_rate_per_minute: int = 10
    lookup_rate_per_code_per_hour: int = 20

    portal_url: str = "http://127.0.0.1:8001"
    portal_username: str = "motcua"
    portal_password: SecretStr = SecretStr("motcua-demo")

    scan_interval_seconds: int = Field(default=60, ge=5)
    outbox_interval_seconds: int = Field(default=10, ge=1)

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "motcua@localhost"
    sms_outbox_dir: str = "./var/sms"

    log_level: str = "INFO"

    @field_validator("working_hours")
    @classmethod
    def _valid_working_hours(cls, value: str) -> str:
        from app.sla.calendar import parse_working_hours

        parse_working_hours(value)
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "dev" and self.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET:
            raise ValueError("MOTCUA_JWT_SECRET must be set to a real secret outside MOTCUA_ENV=dev")
        if self.env != "dev" and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("MOTCUA_JWT_SECRET must be at least 32 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
