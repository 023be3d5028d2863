"""Escher's configuration: one TOML file, ``ESCHER_*`` environment overrides, validated with clear errors.

Where things live (each can be moved with an environment variable):

- config file: ``<user config dir>/escher/config.toml`` (``ESCHER_CONFIG_DIR``)
- data dir (embedded store, keys, caches): ``<user data dir>/escher`` (``ESCHER_DATA_DIR``)

Environment overrides use ``ESCHER_<SECTION>__<KEY>`` (``ESCHER_AWS__REGIONS=eu-west-1,eu-central-1``), read by
pydantic-settings (prefix ``ESCHER_``, nested delimiter ``__``; a list is comma-separated or JSON); a few common
ones have short names (``ESCHER_DATABASE_URL``, ``ESCHER_BRAIN_URL``, ``ESCHER_TIMEZONE``). The file is
validated first, then the variables on top of it, so an error names the file or the variable. Packages that need their own
settings add a section model here, or own a free-form section named in ``EXTENSION_SECTIONS`` (validated by its
package; the ones named in ``_SECTION_CHECKS`` are checked at load too), so that one file validates everything at
load: any other section or key is refused, with the closest known name. Every error here is a ``ConfigError``
(exit code 2), and no hint suggests a command that would overwrite the user's file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from escher.errors import EscherError

__all__ = [
    "ConfigError",
    "Paths",
    "Settings",
    "init_config",
    "load_settings",
    "resolve_paths",
]

ENV_PREFIX = "ESCHER_"
# Short names for the overrides people reach for most; the long form ESCHER_SECTION__KEY always works too.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "ESCHER_DATABASE_URL": ("store", "database_url"),
    "ESCHER_BRAIN_URL": ("brain", "url"),
    "ESCHER_BRAIN_TOKEN": ("brain", "token"),
    "ESCHER_TIMEZONE": ("general", "timezone"),
}
# Sections owned and validated by a package, kept as they are in ``Settings.extensions``.
EXTENSION_SECTIONS = frozenset(
    {"severity", "remediation", "personas", "report", "extend", "notify", "state", "policy", "audit"}
    | {"watch", "backup"}  # escher.watch (issue 20), escher.store.backup: interval_minutes
)
# Owners whose own errors would not say "config" (nor exit 2): checked at load, their error becomes a ConfigError.
_SECTION_CHECKS: dict[str, tuple[str, str]] = {
    "remediation": ("escher.policy.remediation", "load_remediation"),
    "personas": ("escher.policy.personas", "load_personas"),
    "notify": ("escher.notify.config", "load_notify"),
}
_FIX_HINT = "edit the file named (escher doctor checks it again)"


class ConfigError(EscherError):
    """The configuration file or an ``ESCHER_*`` variable is invalid."""

    exit_code = 2


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# AWS (us-east-1, us-gov-west-1, cn-north-1), GCP (us-central1, europe-west4) and Azure (eastus, westeurope)
# region names all fit here; the scan checks them against each SDK's list and suggests the closest.
_REGION = re.compile(r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$")


def _http_url(value: str | None, example: str) -> str | None:
    if not value:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{_redact(value)} is not an http(s) URL; write {example}")
    return value


def _regions(values: list[str]) -> list[str]:
    for value in values:
        if not _REGION.match(value) or not any(ch.isalpha() for ch in value):
            raise ValueError(
                f"{value!r} is not a region name (such as 'us-east-1', 'europe-west4', 'eastus')"
            )
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GeneralSettings(_Section):
    timezone: str = Field(default="UTC", description="IANA time zone for schedules and reports")
    daily_scan_at: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris'") from exc
        return value


class AwsSettings(_Section):
    enabled: bool = True
    profile: str | None = None
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"])
    endpoint_url: str | None = Field(default=None, description="e.g. a moto server or LocalStack")
    organization_role: str = Field(
        default="OrganizationAccountAccessRole",
        pattern=r"^[\w+=,.@/-]{1,64}$",
        description="the role `escher scan --all-accounts` / `--account ID` assumes in each account",
    )
    accounts: list[str] = Field(
        default_factory=list, description="the accounts --all-accounts reads; empty: the organization's"
    )
    organization_units: list[str] = Field(
        default_factory=list, description="only the organization's accounts under these OUs (ou-..., r-...)"
    )
    account_tags: list[str] = Field(
        default_factory=list,
        description='only accounts of the organization with these tags ("team=platform")',
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _http_url(value, "e.g. http://127.0.0.1:5000 for moto, or leave it empty for AWS itself")

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"\d{12}", item):
                raise ValueError(f"{item!r} is not an AWS account id (12 digits, such as '111122223333')")
        return value

    @field_validator("account_tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[^=]+=.*", item):
                raise ValueError(f"{item!r} is not KEY=VALUE (such as 'team=platform')")
        return value

    def tag_filter(self) -> dict[str, str]:
        """``account_tags`` as a dict (key -> value)."""
        return dict(item.split("=", 1) for item in self.account_tags)

    _check_regions = field_validator("regions")(_regions)


class AzureSettings(_Section):
    enabled: bool = True
    subscription_id: str | None = None
    tenant_id: str | None = None
    locations: list[str] = Field(default_factory=lambda: ["eastus"])
    subscriptions: list[str] = Field(
        default_factory=list,
        description="the subscriptions `escher scan --cloud azure --all-accounts` reads; empty: those under "
        "management_group, else every subscription the credential sees",
    )
    management_group: str | None = Field(
        default=None,
        description="--all-accounts reads the subscriptions under this management group (any depth)",
    )

    _check_locations = field_validator("locations")(_regions)


class GcpSettings(_Section):
    enabled: bool = True
    project: str | None = None
    regions: list[str] = Field(default_factory=lambda: ["us-central1"])
    projects: list[str] = Field(
        default_factory=list,
        description="the projects `escher scan --cloud gcp --all-accounts` reads; empty: those under parent, "
        "else every active project the credential sees",
    )
    parent: str | None = Field(
        default=None,
        description="--all-accounts reads the projects under this organizations/N or folders/N (any depth)",
    )

    @field_validator("parent")
    @classmethod
    def _check_parent(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"(organizations|folders)/\d+", value):
            raise ValueError(
                f"{value!r} is not organizations/N or folders/N (such as organizations/123456789)"
            )
        return value

    billing_export_table: str | None = Field(
        default=None,
        description="the Cloud Billing BigQuery export, project.dataset.table (daily cost snapshot)",
    )

    _check_regions = field_validator("regions")(_regions)


class StoreSettings(_Section):
    database_url: str | None = Field(
        default=None,
        description="any Postgres with pgvector; empty means the embedded server in the data dir",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"{_redact(value)} is not a Postgres URL; write postgresql://user:password@host:5432/dbname, "
                "or leave it empty for the embedded store"
            )
        from escher.lazy import is_installed

        if is_installed(
            "psycopg"
        ):  # libpq's own parser: a bad parameter is a config error now, not at connect
            import psycopg

            try:
                psycopg.conninfo.conninfo_to_dict(value)
            except psycopg.ProgrammingError as exc:
                raise ValueError(
                    f"{_redact(value)} is not a usable Postgres URL: {str(exc).strip()}"
                ) from None
        return value


class BrainSettings(_Section):
    url: str | None = Field(default=None, description="the Escher brain; empty means the local planner")
    timeout_seconds: float = Field(default=30.0, gt=0)
    token: str | None = Field(
        default=None,
        description="bearer token the brain requires (ESCHER_BRAIN_TOKEN); `escher brain serve` prints its own",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _http_url(value, "e.g. http://127.0.0.1:8765, or leave it empty for the local planner")


class RetentionSettings(_Section):
    cost_days: int = Field(default=90, ge=1)
    audit_days: int = Field(default=365, ge=1)


class Settings(BaseModel):
    """Every setting, each section validated on its own model."""

    model_config = ConfigDict(extra="forbid")

    general: GeneralSettings = Field(default_factory=GeneralSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    azure: AzureSettings = Field(default_factory=AzureSettings)
    gcp: GcpSettings = Field(default_factory=GcpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    brain: BrainSettings = Field(default_factory=BrainSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    # Free-form sections owned by packages that validate them themselves (severity rules, remediation, ...).
    extensions: dict[str, Any] = Field(default_factory=dict)


def _redact(url: str) -> str:
    """A URL as it may be shown: no password (``user:secret@`` becomes ``user:***@``)."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


def resolve_paths(env: os._Environ[str] | dict[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    config_dir = env.get("ESCHER_CONFIG_DIR")
    data_dir = env.get("ESCHER_DATA_DIR")
    if not (config_dir and data_dir):
        import platformdirs  # deferred: only needed when a directory is not given

        config_dir = config_dir or platformdirs.user_config_dir("escher", appauthor=False)
        data_dir = data_dir or platformdirs.user_data_dir("escher", appauthor=False)
    return Paths(config_dir=Path(config_dir).expanduser(), data_dir=Path(data_dir).expanduser())


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}", hint="fix the line named, or move the file away"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not a text file (byte {exc.start} is not UTF-8)",
            hint="config.toml must be UTF-8 TOML: move this file away and run 'escher init' to write a fresh one",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check the file's permissions") from exc


def _check_env_sections(env: Mapping[str, str]) -> None:
    """pydantic-settings reads only the variables that name a section; one that names no section would be
    silently ignored, so it is refused here with the closest name."""
    sections = set(Settings.model_fields) - {"extensions"}
    for name in env:
        if name.startswith(ENV_PREFIX) and "__" in name and name not in ENV_ALIASES:
            section = name[len(ENV_PREFIX) :].lower().partition("__")[0]
            if section not in sections:
                raise ConfigError(
                    f"environment variable {name} names an unknown section '{section}'"
                    + did_you_mean(section, sections),
                    hint=f"known sections: {', '.join(sorted(sections))}; or unset {name}",
                )


def _long_forms(env: Mapping[str, str]) -> dict[str, str]:
    """The variables pydantic-settings reads: ``ESCHER_<SECTION>__<KEY>``, the short names spelled out (the long
    form wins when both are set)."""
    out = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX) and "__" in k}
    for alias, (section, key) in ENV_ALIASES.items():
        if alias in env:
            out.setdefault(f"{ENV_PREFIX}{section.upper()}__{key.upper()}", env[alias])
    return out


class _BadList(ValueError):
    def __init__(self, key: str, value: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.value, self.reason = key, value, reason


_ENVIRONMENT: ContextVar[Mapping[str, str]] = ContextVar("escher_config_environment")
_FROM_ENVIRONMENT: Any = None


def _environment_model() -> Any:
    """``Settings`` read from the file's values plus the environment by pydantic-settings (built on first use:
    only a run with ``ESCHER_<SECTION>__<KEY>`` variables pays for it)."""
    global _FROM_ENVIRONMENT
    if _FROM_ENVIRONMENT is not None:
        return _FROM_ENVIRONMENT
    import json

    from pydantic.fields import FieldInfo
    from pydantic_settings import (
        BaseSettings,
        EnvSettingsSource,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
    )

    class _Variables(EnvSettingsSource):
        """The environment given to ``load_settings`` (not always ``os.environ``); lists also comma-separated."""

        def _load_env_vars(self) -> Mapping[str, str | None]:
            return {k.lower(): v for k, v in _ENVIRONMENT.get().items()}

        def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
            if isinstance(value, str) and not value.lstrip().startswith(("[", "{")):
                return [part.strip() for part in value.split(",") if part.strip()]
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise _BadList(field_name, value, exc.msg) from None

    class FromEnvironment(BaseSettings, Settings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid"
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (_Variables(settings_cls), init_settings)  # the variables win over the file

    _FROM_ENVIRONMENT = FromEnvironment
    return FromEnvironment


def _apply_environment(settings: Settings, env: Mapping[str, str]) -> Settings:
    variables = _long_forms(env)
    if not variables:
        return settings
    from pydantic_settings import SettingsError

    token = _ENVIRONMENT.set(variables)
    try:
        loaded = _environment_model()(**settings.model_dump(exclude={"extensions"}, exclude_unset=True))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, None, env), hint="fix or unset the variable named") from exc
    except SettingsError as exc:
        cause = exc.__cause__
        if not isinstance(cause, _BadList):
            raise ConfigError(f"ESCHER_* environment: {exc}", hint="fix or unset the variable named") from exc
        suffix = f"__{cause.key.upper()}"
        name = next((k for k in variables if k.upper().endswith(suffix)), f"ESCHER_*{suffix}")
        raise ConfigError(
            f"environment variable {name}: {cause.value!r} starts like JSON but is not ({cause.reason})",
            hint='write a list comma-separated (a,b) or as JSON (["a", "b"]), or unset the variable',
        ) from None
    finally:
        _ENVIRONMENT.reset(token)
    values = {name: getattr(loaded, name) for name in Settings.model_fields if name != "extensions"}
    return Settings.model_construct(**values, extensions=settings.extensions)


def _variable(loc: tuple[Any, ...], env: Mapping[str, str]) -> str:
    """The variable a value came from: the short name when that is what the user set."""
    section, key = (str(p) for p in (*loc, "", "")[:2])
    for alias, target in ENV_ALIASES.items():
        if (
            target == (section, key)
            and alias in env
            and f"{ENV_PREFIX}{section.upper()}__{key.upper()}" not in env
        ):
            return alias
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def _describe(exc: ValidationError, source: str | None, env: Mapping[str, str] | None = None) -> str:
    """One line per error: where (the file, or the variable), ``[section.key]``, and the reason."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        origin = source if source is not None else f"environment variable {_variable(err['loc'], env or {})}"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and len(err["loc"]) == 2:
            section, key = str(err["loc"][0]), str(err["loc"][1])
            fields = Settings.model_fields[section].annotation.model_fields  # type: ignore[union-attr]
            msg = f"unknown setting '{key}'{did_you_mean(key, fields)}; known: {', '.join(fields)}"
        lines.append(f"{origin}: [{where}] {msg}")
    return "\n".join(lines)


def _split_sections(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    """The file's sections as ``Settings`` takes them; an unknown section is refused with the closest name."""
    known = set(Settings.model_fields) - {"extensions"}
    unknown = [k for k in raw if k not in known and k not in EXTENSION_SECTIONS]
    if unknown:
        every = sorted(known | EXTENSION_SECTIONS)
        raise ConfigError(
            "\n".join(f"{source}: unknown section [{k}]{did_you_mean(k, every)}" for k in unknown),
            hint=f"rename or remove the section; known sections: {', '.join(every)}",
        )
    for name in known:
        if name in raw and not isinstance(raw[name], dict):
            raise ConfigError(
                f"{source}: '{name}' must be a section ([{name}]), not a value",
                hint=f"write it as a [{name}] table",
            )
    data: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
    data["extensions"] = {k: v for k, v in raw.items() if k in EXTENSION_SECTIONS}
    return data


def _check_extensions(extensions: dict[str, Any], source: Path) -> None:
    """Run the owners' own checks of their sections now, so a mistake there is a config error at load."""
    import importlib

    for name, (module, function) in _SECTION_CHECKS.items():
        if name not in extensions:
            continue
        try:
            getattr(importlib.import_module(module), function)(extensions)
        except EscherError as exc:
            raise ConfigError(f"{source}: {exc.message}", hint=exc.hint or _FIX_HINT) from exc


def load_settings(
    paths: Paths | None = None, env: os._Environ[str] | dict[str, str] | None = None
) -> Settings:
    """Read the config file (if any), apply ``ESCHER_*`` overrides and validate everything."""
    env = os.environ if env is None else env
    paths = paths or resolve_paths(env)
    raw: dict[str, Any] = _read_toml(paths.config_file) if paths.config_file.exists() else {}
    try:
        settings = Settings.model_validate(_split_sections(raw, paths.config_file))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(paths.config_file)), hint=_FIX_HINT) from exc
    _check_extensions(settings.extensions, paths.config_file)
    _check_env_sections(env)
    return _apply_environment(settings, env)


def render_toml(settings: Settings) -> str:
    """``settings`` as plain TOML (every value written out)."""
    import tomli_w  # deferred: only `escher init` writes the file

    data = settings.model_dump(exclude_none=True)
    extensions = data.pop("extensions", {})
    data.update(extensions)
    header = "# Escher configuration. Every key can be overridden with ESCHER_<SECTION>__<KEY>.\n\n"
    return header + tomli_w.dumps(data)


def init_config(paths: Paths | None = None, *, force: bool = False) -> tuple[Paths, bool]:
    """Create the config file and the data dir. Idempotent: an existing, valid file is kept.

    Returns the paths and whether the file was written.
    """
    paths = paths or resolve_paths()
    for directory, variable in ((paths.data_dir, "ESCHER_DATA_DIR"), (paths.config_dir, "ESCHER_CONFIG_DIR")):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create {directory}: {exc.strerror}",
                hint=f"check the permissions of its parent, or set {variable} to a directory you can write",
            ) from None
    if paths.config_file.exists() and not force:
        load_settings(paths)  # an existing file must be valid: say so now, not at first use
        return paths, False
    tmp = paths.config_file.with_suffix(".toml.tmp")
    try:
        from escher.config_template import commented_config  # deferred: only init writes the file

        tmp.write_text(commented_config(), encoding="utf-8")
        tmp.replace(paths.config_file)  # atomic: never a half-written config
    except OSError as exc:
        raise ConfigError(
            f"cannot write {paths.config_file}: {exc.strerror}",
            hint="check the directory's permissions, or set ESCHER_CONFIG_DIR to a directory you can write",
        ) from None
    load_settings(paths)  # the ESCHER_* variables must be valid too: say so now, not at first use
    return paths, True
