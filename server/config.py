"""Service configuration: defaults, then FLOWBOX_* environment variables,
then command-line flags (cli.py). Every setting is documented in README."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bindings import Egress, FetchLimits, S3Config


class ConfigError(ValueError):
    """A setting with a bad value; the message names it."""


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path("data")
    database_url: str | None = None  # postgresql://…; SQLite under data_dir when absent
    db_pool_size: int = 10  # PostgreSQL connections this node may hold at most
    workers: int = max(2, os.cpu_count() or 2)  # threads executing runs
    max_queued: int = 10_000  # runs waiting, all accounts (503 beyond)
    max_queued_per_account: int = 2_000  # runs waiting, one account (429 beyond)
    run_timeout: float = 30.0  # seconds of wall clock per run
    run_memory_mb: int = 64
    max_body_bytes: int = 1024 * 1024  # JSON request bodies
    max_file_bytes: int = 5 * 1024 * 1024  # file uploads
    rate_global: int = 200  # requests per minute per client IP (0: no limit)
    rate_write: int = 30  # writes per minute per API key
    rate_events: int = 600  # events per minute per API key
    rate_deploy: int = 10  # deploys, triggers and run control per minute per key (/api)
    rate_verify: int = 10  # credential checks per minute per key (/api)
    s3_bucket: str | None = None  # files in S3 instead of data_dir/files
    s3_endpoint: str | None = None
    s3_region: str = "auto"
    s3_prefix: str = ""
    egress: str = "public"  # where user code's fetch may go: public or none
    egress_allow: str = ""  # HOST[:PORT],... reachable even when private (flag repeatable)
    subrequests: int = FetchLimits.subrequests  # fetch calls per execution
    step_keepalive: float = 5.0  # seconds of sleep or retry delay an activation waits out
    sweep_interval: float = 5.0  # seconds between sweeps for lapsed leases and unannounced work
    trusted_proxies: str = ""  # addresses whose X-Forwarded-For is believed (comma-separated)
    access_log: str = "on"  # one line per request (server/accesslog.py): on or off

    def s3(self) -> S3Config | None:
        """The S3 settings; credentials come from boto3's usual places
        (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws)."""
        if not self.s3_bucket:
            return None
        return S3Config(bucket=self.s3_bucket, endpoint_url=self.s3_endpoint,
                        region=self.s3_region, prefix=self.s3_prefix)

    def egress_policy(self) -> Egress:
        """The egress policy of user code's fetch."""
        return Egress.from_flags(self.egress, allow_list(self.egress_allow))


def allow_list(text: str) -> list[str]:
    """The entries of a comma-separated --egress-allow value."""
    return [item.strip() for item in text.split(",") if item.strip()]


def env_name(field: str) -> str:
    return "FLOWBOX_" + field.upper()


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Defaults, overridden by FLOWBOX_<FIELD> variables, then by `overrides`
    (flags given on the command line; None means not given)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        raw = environ.get(env_name(field.name))
        if raw is not None and raw != "":
            values[field.name] = _convert(field, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = Config(**values)
    _check(config)
    return config


def converter(field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    """How a setting's text (a variable or a flag) becomes its value."""
    kind = str(field.type)  # annotations are strings here
    if kind.startswith("int"):
        return int
    if kind.startswith("float"):
        return float
    return Path if kind == "Path" else str


def _convert(field: dataclasses.Field[Any], raw: str) -> Any:
    try:
        return converter(field)(raw)
    except ValueError:
        raise ConfigError(f"{env_name(field.name)} must be a number, got {raw!r}") from None


def _check(config: Config) -> None:
    for name in ("workers", "max_queued", "max_queued_per_account", "run_memory_mb",
                 "max_body_bytes", "max_file_bytes", "db_pool_size"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    for name in ("rate_global", "rate_write", "rate_events", "rate_deploy", "rate_verify"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{name} must be 0 (no limit) or more")
    if config.run_timeout <= 0:
        raise ConfigError("run_timeout must be more than 0 seconds")
    if not 0 < config.port < 65536:
        raise ConfigError("port must be from 1 to 65535")
    if config.sweep_interval <= 0:
        raise ConfigError("sweep_interval must be more than 0 seconds")
    if config.step_keepalive < 0:
        raise ConfigError("step_keepalive must be 0 (always suspend) or more seconds")
    if config.access_log not in ("on", "off"):
        raise ConfigError("access_log must be on or off")
    if config.subrequests < 0:
        raise ConfigError("subrequests must be 0 or more")
    try:
        config.egress_policy()
    except ValueError as exc:
        raise ConfigError(f"egress: {exc}") from None
