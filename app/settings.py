"""One Settings object, read from the environment (prefix MOTCUA_) and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # Argon2id (app/auth/passwords.py, docs/SECURITY.md): time cost 3, memory 65,536 KiB (64 MiB),
    # parallelism 4, 16-byte salt, 32-byte hash (RFC 9106's second profile); tests lower the cost.
    password_time_cost: int = 3
    password_memory_cost: int = 65536

    lookup_rate_per_minute: int = 10  # per address: every lookup, 422s included
    # Failures on one code from all addresses per hour above which an attack on the code is logged;
    # it refuses nobody (a stranger's failures never block the holder of the right secret).
    lookup_rate_per_code_per_hour: int = 20
    # Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For is believed for the citizen
    # lookup's per-address limit; empty: the TCP peer is the client. Env: JSON list or comma list.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Where citizens reach this service, without a trailing slash (`public_address`): printed on form 01
    # with the QR code of /tra-cuu?code=…, in the links of SMS and e-mails, and given to the payment
    # platform to call back and return the payer to. None: a page answers with the address its request
    # came to; paper and messages (no request) name the local demo, http://127.0.0.1:8000.
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")

    portal_url: str = "http://127.0.0.1:8001"
    portal_username: str = "motcua"
    portal_password: SecretStr = SecretStr("motcua-demo")
    portal_timeout_seconds: float = Field(default=10.0, gt=0)
    portal_pull_batch: int = Field(default=100, ge=1, le=500)  # submissions pulled per page
    # Outbox delivery (portal and notifications): retry with backoff 30 s, 60 s, ... capped at 1 h, jitter ±50%.
    outbox_max_attempts: int = Field(default=10, ge=1)
    outbox_base_delay_seconds: float = Field(default=30.0, gt=0)
    outbox_max_delay_seconds: float = Field(default=3600.0, gt=0)

    # National-portal delivery never gives up on a dossier: transient failures are retried for ever,
    # backing off to this ceiling (30 min); the admins are alerted once per outage when the oldest
    # pending portal message is older than `portal_backlog_alert_minutes`.
    portal_retry_max_delay_seconds: float = Field(default=1800.0, gt=0)
    portal_backlog_alert_minutes: int = Field(default=60, ge=1)
    # Reconciliation (scheduler job and `motcua portal-reconcile`): dossiers whose portal messages were
    # written in the last `portal_reconcile_window_hours` are read back from the portal and compared.
    portal_reconcile_interval_seconds: int = Field(default=3600, ge=60)
    portal_reconcile_window_hours: int = Field(default=24, ge=1, le=24 * 90)
    portal_reconcile_batch: int = Field(default=1000, ge=1, le=100_000)  # dossiers read per run
    # The mock portal's /_control endpoints (faults, reset, state) need this in X-Control-Token; unset: off.
    mock_portal_control_token: SecretStr | None = None

    # Online payment (app/payments, docs/PAYMENTS.md): the platform's API, our merchant code and the
    # shared HMAC-SHA256 key of its callbacks and of our requests; the address the platform calls back
    # and sends the payer back to (this service, as the public sees it).
    payment_url: str = "http://127.0.0.1:8002"
    payment_merchant: str = "MOTCUA-DEMO"
    payment_secret: SecretStr = SecretStr("payment-demo-secret-change-me-0123456789")
    payment_timeout_seconds: float = Field(default=10.0, gt=0)
    # A callback signed longer ago than this (either way) is refused as stale (a replay).
    payment_callback_tolerance_seconds: int = Field(default=300, ge=10, le=3600)
    # Reconciliation (scheduler and `motcua payment-reconcile`): transactions still pending this long
    # after creation are queried on the platform and settled.
    payment_reconcile_interval_seconds: int = Field(default=300, ge=30)
    payment_reconcile_after_seconds: int = Field(default=120, ge=0)
    # The mock payment platform's /_control endpoints need this in X-Control-Token; unset: off.
    mock_payment_control_token: SecretStr | None = None

    scan_interval_seconds: int = Field(default=60, ge=5)
    # The monthly report aggregates (app/reports/aggregates.py): the job's interval. Reports stay
    # exact meanwhile (months changed since its last run are counted directly), only slower.
    report_aggregates_interval_seconds: int = Field(default=300, ge=30)
    outbox_interval_seconds: int = Field(default=10, ge=1)

    # Late-dossier automation (scheduler process): alert windows, scan batches, daily digest.
    step_due_soon_window_minutes: int = Field(default=120, ge=0)  # a step is "due soon" 2 working hours ahead
    scan_batch_size: int = Field(default=500, ge=1, le=5000)  # dossiers per scan transaction
    scan_max_batches: int = Field(default=200, ge=1)  # per run; the rest waits for the next run
    scheduler_misfire_grace_seconds: int = Field(default=300, ge=1)
    digest_time: str = Field(default="07:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # working days, local
    # Late-risk forecast (app/foresight, docs/FORESIGHT.md): `late_risk` to the step holder and its leader
    # when the probability of missing the appointment exceeds the threshold before the dossier is due soon.
    late_risk_threshold: float = Field(default=0.5, gt=0, lt=1)
    late_risk_interval_minutes: int = Field(default=60, ge=1)  # how often the running dossiers are forecast
    late_risk_history_days: int = Field(default=365, ge=30, le=3660)  # the step rounds the model learns from

    smtp_host: str | None = None  # None: no e-mail is sent (messages with only an e-mail address dead-letter)
    smtp_port: int = 25
    smtp_sender: str = "motcua@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_backend: Literal["file", "console", "none"] = "file"  # development adapters; a gateway plugs in here
    sms_outbox_dir: str = "./var/sms"

    log_level: str = "INFO"

    # GET /metrics (Prometheus, docs/OPERATIONS.md): answered to `Authorization: Bearer <metrics_token>`,
    # or without credentials to a client address inside `metrics_networks` (IPs or CIDR networks;
    # none by default). Neither set: /metrics answers 401 to everyone.
    metrics_token: SecretStr | None = None
    metrics_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- abuse and secrets (docs/SECURITY.md) ---
    # Citizen lookup: wrong secrets per address and dossier code per hour, then 429 for that pair.
    lookup_failures_per_address_code_per_hour: int = Field(default=5, ge=1)
    # Password checks (login, password change): failures per username and per address in a window,
    # then 429 with Retry-After before any hash is computed (app/auth/throttle.py).
    login_failures_per_username: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=60, le=3600)  # purged after an hour
    # Argon2 parallelism, and how many hashes one worker computes at once: each holds
    # password_memory_cost KiB for its run, so a worker's hashing memory is capped at
    # concurrency × memory cost (128 MiB by default); a request waits at most
    # password_hash_wait_seconds for a slot, then answers 503 with Retry-After.
    password_parallelism: int = Field(default=4, ge=1, le=16)
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    password_hash_wait_seconds: float = Field(default=10.0, gt=0, le=60)
    # Key for the documents encrypted at rest (outbox payloads, idempotency replays; app/sealing.py).
    # Unset: derived from jwt_secret. Set it in production (32+ characters) and keep it when the JWT
    # secret rotates, or queued messages become unreadable.
    data_key: SecretStr | None = None

    # Signed electronic results and forms 03-05 (app/esign/signing.py, docs/DOCUMENTS.md): the
    # agency's certificate and private key as a PKCS#12 file and its password; the CA certificates
    # (PEM) a signature must chain to for /xac-thuc (unset: the self-signed CA inside the PKCS#12).
    # No PKCS#12: nothing is signed electronically (the result is signed on paper, as before).
    signing_pkcs12: Path | None = None
    signing_pkcs12_password: SecretStr | None = None
    signing_trust_roots: Path | None = None
    # Where `seed-demo` writes the demo CA and agency certificate (labelled DEMO); with MOTCUA_ENV=dev
    # and no PKCS#12 configured, the service signs with that demo certificate when it is there.
    demo_pki_dir: Path = Path("var/pki")
    # The citizen's download link for a signed result lives this long (minutes).
    result_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # PDFs checked on /xac-thuc and POST /api/v1/public/verify per address per minute; size cap.
    verify_rate_per_minute: int = Field(default=10, ge=1)
    verify_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # Citizens' feedback and satisfaction (app/feedback, docs/FEEDBACK.md): the agency answers feedback
    # within this many working days of its own calendar; general feedback (no dossier) per address per
    # hour; the rating link in the "result returned" message lives this many days; the token a lookup
    # gives the page (to send feedback, rate or pay without typing the secret again) this many minutes.
    feedback_answer_days: int = Field(default=10, ge=1, le=60)
    feedback_rate_per_address_per_hour: int = Field(default=5, ge=1)
    rating_link_days: int = Field(default=30, ge=1, le=365)
    citizen_token_minutes: int = Field(default=30, ge=1, le=24 * 60)

    # The HTTP edge (app/edge.py): request bodies are capped while they stream in (413 beyond),
    # JSON and forms at max_body_bytes, multipart uploads and file imports at max_upload_bytes.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=21 * 1024 * 1024, ge=1024)  # the 20 MB import file + multipart framing
    max_json_depth: int = Field(default=32, ge=4, le=200)

    # Dossier files (app/storage, app/documents; docs/STORAGE.md). `local`: a directory (default, under
    # var/); `s3`: an S3-compatible object store (bucket, optional endpoint for MinIO/Ceph/...).
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: str = "./var/files"
    s3_bucket: str = "motcua"
    s3_prefix: str = "files/"
    s3_endpoint_url: str | None = None  # None: AWS; e.g. http://minio:9000
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # None: boto3's own chain (environment, instance role)
    s3_secret_access_key: SecretStr | None = None
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)  # one file (20 MiB)
    max_dossier_bytes: int = Field(default=100 * 1024 * 1024, ge=1)  # all files of one dossier, every version

    @field_validator("working_hours")
    @classmethod
    def _valid_working_hours(cls, value: str) -> str:
        from app.sla.calendar import parse_working_hours

        parse_working_hours(value)
        return value

    @field_validator("trusted_proxies", "metrics_networks", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", "metrics_networks")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "dev" and self.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET:
            raise ValueError("MOTCUA_JWT_SECRET must be set to a real secret outside MOTCUA_ENV=dev")
        if self.env != "dev" and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("MOTCUA_JWT_SECRET must be at least 32 characters")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 16:
            raise ValueError("MOTCUA_METRICS_TOKEN must be at least 16 characters")
        if self.data_key is not None and len(self.data_key.get_secret_value()) < 32:
            raise ValueError("MOTCUA_DATA_KEY must be at least 32 characters")
        return self

    def refuse_to_serve(self, host: str) -> str | None:
        """Why the API must not listen on `host` with these settings (None: it may).

        MOTCUA_ENV unset is dev, where the default JWT secret is allowed; anyone who can reach the
        port could then forge tokens. So dev with the default secret serves the loopback only."""
        import ipaddress

        if self.env != "dev" or self.jwt_secret.get_secret_value() != DEFAULT_JWT_SECRET:
            return None
        try:
            loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            return None
        return (f"Refusing to serve on {host}: MOTCUA_ENV is dev (unset) and MOTCUA_JWT_SECRET is the development "
                "default, which anyone could use to forge tokens. Set MOTCUA_ENV=prod and a real "
                "MOTCUA_JWT_SECRET, or serve on 127.0.0.1.")

    def public_address(self, request_base: str | None = None) -> str:
        """Where citizens reach the service: `public_base_url`, else the address a request came to,
        else the local demo."""
        return (self.public_base_url or request_base or "http://127.0.0.1:8000").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
