"""The config file ``escher init`` writes: every section, every setting commented out with its default.

Uncommented, each line is valid (a test uncomments the whole file and loads it), so the file is both the
defaults and the reference of what can be set.
"""

from __future__ import annotations

from escher.config import EXTENSION_SECTIONS, Settings

__all__ = ["commented_config"]

_SECTION_TITLES: dict[str, str] = {
    "general": "time zone and the daily scan",
    "aws": "AWS: profile, regions, an endpoint for moto or LocalStack (--profile overrides the profile per run)",
    "azure": "Azure: the subscription a scan reads (--subscription ID per run), tenant, locations",
    "gcp": "GCP: the project a scan reads (--project PROJECT per run), regions, the billing export",
    "store": "the knowledge store: empty means embedded Postgres + pgvector in the data dir",
    "brain": "the stateless AI brain: empty url means the local planner ('escher doctor' checks url and token)",
    "retention": "how long cost snapshots and audit records are kept",
}
# Sections owned by packages: what each is for and an example (uncommented, each example is valid).
_EXTENSION_EXAMPLES: dict[str, str] = {
    "notify": """notification channels (apprise URLs) and which severities go where; try them: escher notify test
[notify.channels.slack]
url_env = "ESCHER_NOTIFY_SLACK_URL"
[notify.routes]
CRITICAL = ["slack", "banner"]""",
    "remediation": """pre-approved fixes, off by default (escher remediation list | enable | disable)
[remediation]
stop_idle_instances = false
idle_hours = 2.0""",
    "personas": """who may approve: managers approve, executors run (one person alone: single_operator)
[personas]
managers = ["alice"]
executors = ["bob"]""",
    "policy": """the policy gate: what needs an approval
[policy]
max_targets_without_approval = 10
production_needs_approval = true""",
    "state": """where backups and Extend-mode state go (or ESCHER_STATE_URL)
[state]
url = "file:///var/backups/escher"
""",
    "severity": """severity rules for events ([[severity.rules]], see the README's Events section)""",
    "report": """the morning report: template, thresholds (see the README's report section)""",
    "extend": """settings for escher extend (see the README's Extend My Laptop section)""",
    "audit": """the audit log's anchor (see the README's Store and state section)""",
    "backup": """hourly backups of the local store to [state] url
[backup]
interval_minutes = 60""",
    "watch": """the activity-log watcher run by escher agent (see the README)""",
}


def _commented(text: str) -> str:
    return "\n".join(f"# {line}" if line else "#" for line in text.splitlines()) + "\n"


def commented_config() -> str:
    """The file ``escher init`` writes: every section, each setting commented out with its default and what it
    is for, so the file loads as the defaults and shows what can be set."""
    import tomli_w  # deferred: only `escher init` writes the file

    parts = [
        "# Escher configuration (escher doctor checks it). Uncomment a line to change it.\n"
        "# Any setting can also be given as ESCHER_<SECTION>__<KEY> (ESCHER_AWS__REGIONS=eu-west-1,eu-central-1);\n"
        "# ESCHER_DATABASE_URL, ESCHER_BRAIN_URL, ESCHER_BRAIN_TOKEN and ESCHER_TIMEZONE are short forms.\n"
    ]
    defaults = Settings()
    for name in Settings.model_fields:
        if name == "extensions":
            continue
        section = getattr(defaults, name)
        lines = [f"\n# -- {_SECTION_TITLES.get(name, name)}\n[{name}]\n"]
        for key, info in type(section).model_fields.items():
            value = getattr(section, key)
            if info.description:
                lines.append(f"# {info.description}\n")
            shown = tomli_w.dumps({key: value}).strip() if value is not None else f'{key} = ""'
            lines.append(_commented(shown))
        parts.append("".join(lines))
    for name in sorted(EXTENSION_SECTIONS):
        title, _, example = _EXTENSION_EXAMPLES.get(name, name).partition("\n")
        parts.append(f"\n# -- [{name}]: {title}\n" + (_commented(example) if example else ""))
    return "".join(parts)
