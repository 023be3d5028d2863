"""The answers of ``escher extend aws|azure|gcp``: the vision's setup steps as data, their defaults and checks.

The wizard (``escher.cli.commands._extend_wizard``) asks them in a terminal; ``--yes`` and scripts give them as
flags. Either way they end here, as a :class:`SetupAnswers`:

1. the region (default: the config's, else the cloud SDK's, else the cloud's usual one);
2. the preflight (:mod:`escher.infra.preflight`) is run, not answered;
3. the six pre-approval switches (``[remediation]``, written by :func:`escher.policy.remediation
   .save_remediation`, the function ``escher remediation enable`` uses, and recorded in the ledger);
4. notification channels (``[notify.channels]``: an apprise URL, or better the name of the variable holding it)
   and the address the extension's own alerts go to (``[extend] notify_email``);
5. credentials: the extension reaches its own cloud with its own identity; the laptop's keys for the other clouds
   are copied into its secret store only for the clouds the user names (none by default).

Nothing here prompts or prints: :func:`apply` writes the settings the answers change, once, after the final
confirmation.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from escher.clouds import CLOUDS as CLOUDS
from escher.clouds import Cloud as Cloud
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths, Settings
    from escher.notify.config import Channel
    from escher.policy.remediation import RemediationSettings

__all__ = [
    "CLOUDS",
    "ChannelAnswer",
    "SetupAnswers",
    "SetupError",
    "apply",
    "changes",
    "default_answers",
    "default_region",
    "merged_settings",
    "parse_channel",
    "validate_region",
    "with_flags",
]

CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SetupError(EscherError):
    """An answer the setup cannot take: the message says which and what would be accepted."""

    exit_code = 2


class ChannelAnswer(BaseModel):
    """A notification channel to add: its URL inline, or (better: no secret in the file) the variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str | None = None
    url_env: str | None = None

    def channel(self) -> Channel:
        from escher.notify.config import Channel

        return Channel(url=self.url, url_env=self.url_env)

    def shown(self) -> str:
        """How it is shown to a person: the variable's name, or only the URL's scheme (its token is secret)."""
        if self.url_env:
            return f"${self.url_env}"
        return f"{(self.url or '').split('://', 1)[0]}://…"


class SetupAnswers(BaseModel):
    """Every answer of the setup, validated; what :func:`apply` writes and the deploy uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud: Cloud
    region: str
    remediation: dict[str, Any] = Field(description="the [remediation] section as it will be")
    channels: list[ChannelAnswer] = Field(default_factory=list, description="channels to add")
    notify_email: str | None = None
    copy_credentials: list[Cloud] = Field(
        default_factory=list,
        description="other clouds whose keys on this laptop are copied (none by default)",
    )

    @field_validator("notify_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value or None

    def remediation_settings(self) -> RemediationSettings:
        from escher.policy.remediation import RemediationSettings

        return RemediationSettings.model_validate(self.remediation)


def validate_region(cloud: str, region: str) -> str:
    from escher.clouds import provider

    known = provider(cloud)  # its provider says what a region name looks like
    region = region.strip().lower()
    if not re.match(known.region_pattern, region):
        raise SetupError(
            f"{region!r} is not a region name of {cloud}",
            hint=f"give one like {known.region_example} (--region)",
        )
    return region


def default_region(cloud: str, settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The config's region when it names one, else the SDK's (``AWS_REGION``...), else the config default."""
    from escher.clouds import provider

    env = os.environ if env is None else env
    known = provider(cloud)
    section = getattr(settings, cloud)
    field = f"{known.region_kind}s"  # [aws] regions, [azure] locations
    configured: list[str] = list(getattr(section, field))
    if field in section.model_fields_set and configured:
        return configured[0]
    for name in known.region_env:
        if env.get(name):
            return env[name].strip().lower()
    return configured[0]


def parse_channel(text: str) -> ChannelAnswer:
    """``NAME=URL`` or ``NAME=$VARIABLE`` (the flag's form; the wizard asks the two halves)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise SetupError(
            f"--channel {text!r} has no '='", hint="give NAME=URL or NAME=$VARIABLE, e.g. slack=$SLACK_URL"
        )
    return channel_answer(name, value)


def channel_answer(name: str, value: str) -> ChannelAnswer:
    from escher.notify.config import BUILTIN_CHANNELS

    name, value = name.strip().lower(), value.strip()
    if not CHANNEL_NAME.match(name) or name in BUILTIN_CHANNELS:
        raise SetupError(
            f"{name!r} cannot name a channel",
            hint="use lower-case letters, digits, - and _ (banner and morning_report are built in)",
        )
    if value.startswith("$"):
        if not ENV_NAME.match(value[1:]):
            raise SetupError(f"{value!r} is not a variable name", hint="e.g. $ESCHER_SLACK_URL")
        return ChannelAnswer(name=name, url_env=value[1:])
    if "://" not in value:
        raise SetupError(
            f"{value!r} is neither an apprise URL nor $VARIABLE",
            hint="e.g. slack://T000/B000/XXXX, mailto://user:pass@example.com, or $ESCHER_SLACK_URL",
        )
    return ChannelAnswer(name=name, url=value)


def other_clouds(cloud: str, settings: Settings) -> list[Cloud]:
    """The clouds this extension would manage besides its own (the enabled ones)."""
    from escher.clouds import provider

    return [c for c in CLOUDS if c != cloud and provider(c).enabled(settings)]


def default_answers(cloud: str, settings: Settings, env: Mapping[str, str] | None = None) -> SetupAnswers:
    """What ``--yes`` takes when no flag says otherwise: today's settings, changed in nothing."""
    from escher.infra.spec import extend_settings
    from escher.policy.remediation import load_remediation

    return SetupAnswers(
        cloud=cloud,  # type: ignore[arg-type]  # checked by the model
        region=default_region(cloud, settings, env),
        remediation=load_remediation(settings.extensions).model_dump(),
        notify_email=extend_settings(settings).notify_email,
    )


def with_flags(
    answers: SetupAnswers,
    settings: Settings,
    *,
    region: str | None = None,
    enable: list[str] | None = None,
    disable: list[str] | None = None,
    idle_hours: float | None = None,
    capacity_percent: float | None = None,
    channels: list[str] | None = None,
    notify_email: str | None = None,
    copy_credentials: list[str] | None = None,
) -> SetupAnswers:
    """``answers`` changed by the flags given (the same checks the wizard's answers pass)."""
    from escher.policy.remediation import find_switch

    remediation = dict(answers.remediation)
    for names, on in ((enable or [], True), (disable or [], False)):
        for name in names:
            remediation[find_switch(name).setting] = on
    if idle_hours is not None:
        remediation["idle_hours"] = idle_hours
    if capacity_percent is not None:
        remediation["capacity_percent"] = capacity_percent
    wanted = {c.strip().lower() for c in copy_credentials or []}
    others = other_clouds(answers.cloud, settings)
    unknown = sorted(wanted - set(others))
    if unknown:
        raise SetupError(
            f"cannot copy {', '.join(unknown)} credentials into the {answers.cloud} extension",
            hint=f"name other enabled clouds: {', '.join(others) or 'none is enabled'}",
        )
    return build(
        answers.cloud,
        region=validate_region(answers.cloud, region) if region else answers.region,
        remediation=remediation,
        channels=[*answers.channels, *(parse_channel(c) for c in channels or [])],
        notify_email=notify_email if notify_email is not None else answers.notify_email,
        copy_credentials=[c for c in others if c in wanted],
    )


def build(cloud: str, **fields: Any) -> SetupAnswers:
    """A :class:`SetupAnswers`, or a :class:`SetupError` that says which answer is wrong."""
    from pydantic import ValidationError

    from escher.policy.remediation import RemediationSettings

    try:
        RemediationSettings.model_validate(fields.get("remediation", {}))
        return SetupAnswers.model_validate({"cloud": cloud, **fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        raise SetupError(
            f"{where}: {err['msg']}",
            hint="idle hours above 0, capacity percent above 0 and at most 100, an e-mail address like "
            "ops@example.com",
        ) from None


def changes(answers: SetupAnswers, settings: Settings) -> dict[str, Any]:
    """What :func:`apply` would change in the config, as before/after pairs (empty: nothing)."""
    from escher.infra.spec import extend_settings
    from escher.notify.config import load_notify
    from escher.policy.remediation import load_remediation

    out: dict[str, Any] = {}
    before = load_remediation(settings.extensions).model_dump()
    diff = {k: [before[k], v] for k, v in answers.remediation.items() if before.get(k) != v}
    if diff:
        out["remediation"] = diff
    known = load_notify(settings.extensions).channels
    added = {c.name: c.shown() for c in answers.channels if known.get(c.name) != c.channel()}
    if added:
        out["channels"] = added
    if answers.notify_email != extend_settings(settings).notify_email:
        out["notify_email"] = [extend_settings(settings).notify_email, answers.notify_email]
    return out


def apply(paths: Paths, answers: SetupAnswers, settings: Settings, *, actor: Any) -> dict[str, Any]:
    """Write what the answers change: the switches through :func:`save_remediation` (a manager's act, in the
    ledger like ``escher remediation enable``), the channels into ``[notify.channels]``, the address into
    ``[extend]``. Returns :func:`changes`. Nothing is written when nothing changes."""
    from escher.policy.errors import PolicyError

    changed = changes(answers, settings)
    if not changed:
        return changed
    if "remediation" in changed and not actor.is_manager:
        raise PolicyError(
            f"{actor.name} is not a manager: only managers change which fixes run without asking",
            hint="ask a manager (the [personas] managers list in the config), or keep the switches as they are",
        )
    from escher.audit import AuditRecord
    from escher.audit.ledger import recorded
    from escher.policy.remediation import save_remediation

    with recorded(paths) as ledger:  # a policy change is an act: recorded before it is reported done
        _ = ledger.store  # the ledger is reachable before anything changes
        if "remediation" in changed:
            save_remediation(paths, answers.remediation_settings())
        raw = _raw(paths)
        if "channels" in changed:
            notify = dict(raw.get("notify", {}))
            channels = dict(notify.get("channels", {}))
            for c in answers.channels:
                channels[c.name] = c.channel().model_dump(exclude_none=True)
            save_section(paths, "notify", {**notify, "channels": channels})
        if "notify_email" in changed:
            extend = {k: v for k, v in dict(raw.get("extend", {})).items() if k != "notify_email"}
            if answers.notify_email:
                extend["notify_email"] = answers.notify_email
            save_section(paths, "extend", extend)
        ledger.append(
            AuditRecord(
                actor=str(actor),
                action="extend.setup",
                target=f"escher/{answers.cloud}/{answers.region}",
                cloud=answers.cloud,
                outcome="succeeded",
                reason="escher extend setup",
                before={"remediation": {k: v[0] for k, v in changed.get("remediation", {}).items()}},
                after={
                    "remediation": {k: v[1] for k, v in changed.get("remediation", {}).items()},
                    "channels": sorted(changed.get("channels", {})),
                    "notify_email": bool(answers.notify_email),
                },
                details={"config_file": str(paths.config_file)},
            )
        )
    return changed


def _raw(paths: Paths) -> dict[str, Any]:
    from escher.config import ConfigError

    if not paths.config_file.exists():
        return {}
    try:
        return tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{paths.config_file} is not valid TOML: {exc}", hint="fix it first") from exc


def save_section(paths: Paths, name: str, data: dict[str, Any]) -> None:
    """Write table ``[name]`` (and its sub-tables) into the config, the rest of the file as it is."""
    from escher.config_write import write_section

    write_section(paths, name, data)


def merged_settings(settings: Settings, answers: SetupAnswers) -> Settings:
    """``settings`` as they will be once :func:`apply` has written ``answers`` (for the review before it)."""
    extensions = dict(settings.extensions)
    extensions["remediation"] = dict(answers.remediation)
    extend = {k: v for k, v in dict(extensions.get("extend", {})).items() if k != "notify_email"}
    if answers.notify_email:
        extend["notify_email"] = answers.notify_email
    extensions["extend"] = extend
    return settings.model_copy(update={"extensions": extensions})
