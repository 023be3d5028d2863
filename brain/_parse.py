"""Reading a question into intent, resource kind and filters: rules, no model, the same answer every time.

Only the user's query is parsed. Text found in the estate (tags, names, alert summaries) is never parsed for
verbs: it can narrow a selection, never start an action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from escher.brain._when import Mode, When, base_verbs, mode_of, when_of
from escher.brain.models import Cloud

__all__ = ["KIND_TYPES", "Query", "canonical_env", "kind_of", "parse"]

# intent -> pattern; when several match, the earliest in the sentence wins (ties: this order).
_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("playbook", r"\b(playbooks?|runbooks?|disaster[ -]recovery|dr plan|recovery plan)\b"),
        ("make_private", r"\bmake\b[^.?!]*\bprivate\b|\bblock public\b|\bremove public\b|\block(?:ing)? down\b"),
        ("restrict", r"\b(close|restrict|revoke)\b[^.?!]*\b(ports?|ssh|rdp|ingress|firewall|security groups?|nsgs?)\b"),
        ("encrypt", r"\bencrypt\b|\b(enable|turn on|add) (default )?encryption\b"),
        ("versioning", r"\b(enable|turn on) (object )?versioning\b"),
        ("delete", r"\b(delete|remove|clean ?up|purge|get rid of|terminate|destroy)\b"),
        # before "stop": "turn off auto-pause" is not "turn off"; "pause" inside "auto-pause" is no stop either
        ("auto_pause", r"\b(?:(?:turn off|disable|set|change)\s+(?:the\s+)?)?auto-?pause\b"),
        # a failed deployment undone: the Lambda alias, the function app's slot swap, the Cloud Run revision
        ("rollback", r"\broll(?:ed|ing)?[ -]?back\b|\brevert\b|\bswap\b[^.?!]*\bslots?\b"),
        ("restart", r"\b(restart|reboot|reset|bounce|power ?cycle)\b"),
        ("stop", r"\b(stop|shut ?down|turn off|power off|deallocate|pause|halt)\b"),
        ("start", r"\b(start|turn on|power on|boot|resume|bring up)\b"),
        ("resize", r"\b(resize|right-?size|upsize|downsize|scale (?:up|down)|change (?:the )?(?:instance|machine|vm) (?:type|size))\b"),
        ("restore", r"\brestore\b(?! scaling)|\brecover\b"),
        ("grow", r"\b(?:increase|grow|expand|extend)\s+(?:the\s+)?(?:(?:allocated\s+)?storage|max(?:imum)?\s+size)\b"),
        ("snapshot", r"\btake (?:a |an )?(?:snapshot|backup)s?\b|\bsnapshot\b(?!s)|\bback ?up\b(?!s)"),
        ("tag", r"\b(tag|label)\b(?!s?\s*[=:])"),
        ("list", r"\b(list|show|display|which|what|how many|find|get|give me|are there|do i have|tell me|why|explain|summar(?:y|ize|ise))\b"),
    )
)  # fmt: skip
ACTIONS = frozenset(
    {"make_private", "restrict", "encrypt", "versioning", "delete", "restart", "stop", "start", "resize",
     "snapshot", "tag", "restore", "grow", "rollback", "auto_pause"}
)  # fmt: skip

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "function",
            r"\b(lambdas?|(?:lambda |azure |cloud )?functions?(?: apps?)?|functionapps?|cloud run(?: services?)?)\b",
        ),
        ("database", r"\b(databases?|dbs?|rds|cloud sql|sql|postgres|mysql)\b"),
        ("snapshot", r"\bsnapshots?\b"),
        (
            "bucket",
            r"\b(buckets?|s3|blobs?|containers?|storage accounts?|gcs|cloud storage|object storage|storage)\b",
        ),
        ("disk", r"\b(volumes?|disks?|ebs)\b"),
        ("firewall", r"\b(security groups?|firewall(?: rules?)?|nsgs?|ports?|ssh|rdp|ingress)\b"),
        ("vm", r"\b(vms?|virtual machines?|instances?|ec2|servers?|machines?|compute engine|gce|nodes?)\b"),
    )
)

KIND_TYPES: dict[str, frozenset[str]] = {
    "vm": frozenset({"aws.ec2.instance", "azure.compute.vm", "azure.compute.virtual_machine", "gcp.compute.instance"}),
    "bucket": frozenset({"aws.s3.bucket", "azure.storage.container", "azure.storage.account", "gcp.storage.bucket"}),
    "database": frozenset({"aws.rds.instance", "azure.sql.database", "gcp.sql.instance"}),
    "function": frozenset({"aws.lambda.function", "azure.web.function_app", "gcp.run.service"}),
    "disk": frozenset({"aws.ec2.volume", "azure.compute.disk", "gcp.compute.disk"}),
    "snapshot": frozenset({"aws.ec2.snapshot", "aws.rds.snapshot", "azure.compute.snapshot", "gcp.compute.snapshot"}),
    "firewall": frozenset(
        {"aws.ec2.security_group", "azure.network.nsg_rule", "azure.network.nsg", "gcp.compute.firewall"}
    ),
}  # fmt: skip
_TYPE_KIND = {t: k for k, types in KIND_TYPES.items() for t in types}

_CLOUDS: tuple[tuple[Cloud, re.Pattern[str]], ...] = (
    ("aws", re.compile(r"\b(aws|amazon|ec2|s3|rds|ebs|lambdas?)\b")),
    ("azure", re.compile(r"\b(azure|blobs?|storage accounts?|nsgs?|function ?apps?)\b")),
    (
        "gcp",
        re.compile(
            r"\b(gcp|google|gce|gcs|compute engine|cloud sql|cloud storage|cloud run|cloud functions?)\b"
        ),
    ),
)
_ALL_CLOUDS = re.compile(r"\b(all|every|across|each)( the| my| three| 3)* clouds?\b|\bmulti-?cloud\b")
_AWS_REGION = re.compile(
    r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d)\b"
)
_GCP_REGION = re.compile(
    r"\b((?:us|europe|asia|australia|northamerica|southamerica|me|africa)-"
    r"(?:north|south|east|west|central|northeast|southeast|northwest|southwest)\d)(?:-[a-f])?\b"
)
_AZURE_REGIONS = {
    "eastus": "east us", "eastus2": "east us 2", "westus": "west us", "westus2": "west us 2",
    "westus3": "west us 3", "centralus": "central us", "northcentralus": "north central us",
    "southcentralus": "south central us", "westcentralus": "west central us", "northeurope": "north europe",
    "westeurope": "west europe", "uksouth": "uk south", "ukwest": "uk west", "eastasia": "east asia",
    "southeastasia": "southeast asia", "japaneast": "japan east", "australiaeast": "australia east",
    "canadacentral": "canada central", "francecentral": "france central",
    "germanywestcentral": "germany west central", "swedencentral": "sweden central",
}  # fmt: skip
_AZURE_REGION = [
    (name, re.compile(r"\b" + r"\s?".join(display.split()) + r"\b"))
    for name, display in sorted(_AZURE_REGIONS.items(), key=lambda kv: -len(kv[1]))
]
_ENVS = {
    "prod": "prod", "production": "prod", "prd": "prod", "staging": "staging", "stage": "staging",
    "stg": "staging", "dev": "dev", "development": "dev", "test": "test", "testing": "test", "qa": "qa",
    "sandbox": "sandbox", "uat": "uat",
}  # fmt: skip
_ENV = re.compile(r"\b(" + "|".join(_ENVS) + r")\b")
_PAIR = re.compile(r"\b([A-Za-z][\w.-]{0,63})\s*[=:]\s*([\w.@/-]{1,128})")
_STATES = {"running": "running", "stopped": "stopped", "deallocated": "deallocated", "available": "available",
           "unattached": "available", "terminated": "terminated", "paused": "paused"}  # fmt: skip
_STATE = re.compile(r"\b(" + "|".join(_STATES) + r")\b")
_IDS = re.compile(
    r"\b((?:i|vol|snap|sg|ami|eni)-[0-9a-f]{8,17})\b|(/subscriptions/[^\s,;'\"]+)|\b(projects/[^\s,;'\"]+)"
)
_AWS_SIZE = re.compile(r"\b([a-z][a-z0-9]{1,5}\.(?:nano|micro|small|medium|large|\d*xlarge|metal))\b")
_AZURE_SIZE = re.compile(r"\b(Standard_[A-Za-z0-9_]+)\b", re.IGNORECASE)
# database sizes: a Cloud SQL tier, an Azure SQL service objective ("to S3", "to GP_Gen5_2": only after "to",
# so S3 the service and a database named p1 stay what they are)
_SQL_TIER = re.compile(
    r"\b(db-(?:custom|perf-optimized-n|n1-standard|n1-highmem|n1-highcpu|e2-standard|e2-highmem|f1-micro|g1-small)"
    r"(?:-\d+)*)\b"
)
_SQL_SKU = re.compile(r"\bto\s+((?:gp|bc|hs)(?:_s)?_gen5(?:_\d{1,3})?|[sp]\d{1,2}|basic)\b", re.IGNORECASE)
_GCP_SIZE = re.compile(r"\b([a-z][a-z0-9]{1,3}-(?:standard|highmem|highcpu|micro|small|medium)(?:-\d+)?)\b")
_CIDR = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})\b")
_AGE = re.compile(r"\bolder than (\d{1,4}) ?(day|week|month)s?\b")


def canonical_env(value: str) -> str:
    return _ENVS.get(value.strip().lower(), value.strip().lower())


def kind_of(resource_type: str | None) -> str | None:
    if not resource_type:
        return None
    if resource_type in _TYPE_KIND:
        return _TYPE_KIND[resource_type]
    rt = resource_type.lower()
    for needle, kind in (("snapshot", "snapshot"), ("bucket", "bucket"), ("volume", "disk"), ("disk", "disk"),
                         ("firewall", "firewall"), ("security_group", "firewall"), ("sql", "database"),
                         ("rds", "database"), ("instance", "vm"), ("vm", "vm")):  # fmt: skip
        if needle in rt:
            return kind
    return None


@dataclass
class Query:
    text: str
    intent: str
    kind: str | None = None
    kind_explicit: bool = False
    cloud: Cloud | None = None
    clouds: list[Cloud] = field(default_factory=list)  # "on AWS and GCP": two of the three, never all
    region: str | None = None
    environment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    state: str | None = None
    size: str | None = None
    cidrs: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    named: list[str] = field(default_factory=list)
    older_than_days: int | None = None
    wants_public: bool = False
    wants_idle: bool = False
    wants_unencrypted: bool = False
    wants_orphaned: bool = False
    special: str | None = None  # cost_driver, public_buckets, underutilized, alerts, timeline, report
    actions: list[str] = field(
        default_factory=list
    )  # every action the text asks for ("stop ... and delete ...")
    # the text with the estate's names masked (set by the planner): counts and pointers read this
    bare: str = ""
    mode: Mode = "imperative"  # only an imperative action becomes a plan
    when: When | None = None  # the schedule a schedule phrase states

    @property
    def is_action(self) -> bool:
        return self.intent in ACTIONS

    @property
    def narrows(self) -> list[str]:
        """The filters that a tag selector cannot carry: a plan with any of these needs resolved targets."""
        flags = {"state": self.state, "idle": self.wants_idle, "public": self.wants_public,
                 "unencrypted": self.wants_unencrypted, "orphaned": self.wants_orphaned,
                 "age": self.older_than_days is not None, "named": self.named}  # fmt: skip
        return [name for name, on in flags.items() if on]


def _intent(low: str, *, question: bool = False) -> str:
    hits: list[tuple[int, int, str]] = []
    for order, (name, pattern) in enumerate(_INTENTS):
        m = pattern.search(low)
        if m:
            hits.append((0 if name == "playbook" else m.start(), order, name))
    if question:  # "what would happen if I stopped web-1": the question is about stopping, not a listing
        hits = [h for h in hits if h[2] in ACTIONS] or hits
    return min(hits)[2] if hits else "help"


_NOUN_BEFORE = re.compile(r"\b(the|a|an|this|that|each|every|any|old|my|one|last|latest|newest|oldest)\s+$")


def _actions(low: str) -> list[str]:
    """The distinct actions a text asks for. Overlapping matches are one phrase ("turn on versioning" is not
    also "turn on", "remove public access" not also "remove")."""
    spans = sorted(
        (m.start(), m.end(), order, name)
        for order, (name, pattern) in enumerate(_INTENTS)
        if name in ACTIONS
        for m in pattern.finditer(low)
        if not (m.group(0) == "snapshot" and _NOUN_BEFORE.search(low[: m.start()]))  # "delete the snapshot"
    )
    groups: list[tuple[int, list[tuple[int, str]]]] = []
    for start, end, order, name in spans:
        if groups and start < groups[-1][0]:
            groups[-1] = (max(end, groups[-1][0]), [*groups[-1][1], (order, name)])
        else:
            groups.append((end, [(order, name)]))
    found = list(dict.fromkeys(min(members)[1] for _, members in groups))
    if "restore" in found:  # "restore snapshot snap-1": the snapshot is what is restored, not a second action
        found = [a for a in found if a != "snapshot"]
    return found


def _region(low: str) -> tuple[str | None, Cloud | None]:
    if m := _AWS_REGION.search(low):
        return m.group(1), "aws"
    if m := _GCP_REGION.search(low):
        return m.group(1), "gcp"
    for name, pattern in _AZURE_REGION:
        if pattern.search(low):
            return name, "azure"
    return None, None


def parse(text: str) -> Query:
    low = " ".join(text.lower().split())
    mode = mode_of(low)
    if mode == "question":  # "what if I stopped web-1": the verb, not the state
        low = base_verbs(low)
    q = Query(text=text, intent=_intent(low, question=mode == "question"), mode=mode, bare=text)
    if mode == "schedule":
        q.when = when_of(low)
    q.actions = _actions(low)
    sku = _SQL_SKU.search(text) if q.intent == "resize" else None
    if sku:  # "to S3" is a service objective, not Amazon S3
        low = _SQL_SKU.sub(" ", low)
    clouds = [cloud for cloud, pattern in _CLOUDS if pattern.search(low)]
    q.region, region_cloud = _region(low)
    if len(clouds) == 1:
        q.cloud = clouds[0]
    elif len(clouds) == 2 and not _ALL_CLOUDS.search(low):
        q.clouds = clouds
    elif not clouds and region_cloud and not _ALL_CLOUDS.search(low):
        q.cloud = region_cloud
    if m := _ENV.search(low):
        q.environment = _ENVS[m.group(1)]
    for key, value in _PAIR.findall(text):
        if key.lower() in ("env", "environment", "stage"):
            q.environment = canonical_env(value)
        elif not key.lower().startswith(("http", "sig")):
            q.tags[key] = value
    if m := _STATE.search(low):
        q.state = _STATES[m.group(1)]
    q.named = [next(g for g in m.groups() if g) for m in _IDS.finditer(text)]
    if sku:
        q.size = sku.group(1)
        q.cloud = q.cloud or "azure"
    for pattern, cloud in (
        (_SQL_TIER, "gcp"),
        (_AWS_SIZE, "aws"),
        (_AZURE_SIZE, "azure"),
        (_GCP_SIZE, "gcp"),
    ):
        if q.size:
            break
        if m := pattern.search(text):
            q.size = m.group(1)
            q.cloud = q.cloud or cloud  # type: ignore[assignment]
            break
    q.cidrs = _CIDR.findall(text)
    ports = set()
    if re.search(r"\bssh\b|\bport 22\b", low):
        ports.add(22)
    if re.search(r"\brdp\b|\bport 3389\b", low):
        ports.add(3389)
    q.ports = sorted(ports)
    if m := _AGE.search(low):
        n, unit = int(m.group(1)), m.group(2)
        q.older_than_days = n * {"day": 1, "week": 7, "month": 30}[unit]
    elif re.search(r"\bold\b|\bstale\b", low):
        q.older_than_days = 90
    q.wants_public = bool(re.search(r"\bpublic(ly)?\b|\bexposed\b|\bopen to the (world|internet)\b", low))
    q.wants_idle = bool(re.search(r"underutili[sz]ed|under-utili[sz]ed|\bidle\b|low cpu|underused|over-?provisioned|oversized", low))  # fmt: skip
    q.wants_unencrypted = bool(re.search(r"\bunencrypted\b|\bnot encrypted\b|\bwithout encryption\b", low))
    q.wants_orphaned = bool(re.search(r"\borphan(ed)?\b|\bunused\b|\bdangling\b", low))
    q.kind, q.kind_explicit = _kind(low, q.intent)
    if (
        q.intent == "resize"
        and not q.kind_explicit
        and q.size
        and (sku or _SQL_TIER.fullmatch(q.size) or f"db.{q.size}".lower() in low)
    ):  # "resize orders to GP_Gen5_4": a database size says what is resized (and what context the client sends)
        q.kind = "database"
    q.special = _special(low, q)
    return q


def _kind(low: str, intent: str) -> tuple[str | None, bool]:
    if intent == "restore":  # what is restored is a snapshot, whatever it becomes ("to a new database")
        return "snapshot", True
    for name, pattern in _KINDS:
        if name == "snapshot" and intent == "snapshot":
            continue
        if name == "bucket" and intent in (
            "grow",
            "auto_pause",
        ):  # "increase the storage of db-1": the storage is the object
            continue
        if pattern.search(low):
            if intent == "snapshot" and name == "vm":
                return "disk", True
            return name, True
    return {
        "stop": "vm", "start": "vm", "restart": "vm", "resize": "vm", "make_private": "bucket",
        "versioning": "bucket", "snapshot": "disk", "restrict": "firewall", "tag": "vm", "grow": "database",
        "rollback": "function", "auto_pause": "database",
    }.get(intent), False  # fmt: skip


def _special(low: str, q: Query) -> str | None:
    if q.is_action or q.intent == "playbook":
        return None
    if re.search(r"\btimelines?\b|\bwhat happened\b|\bexposure\b|\bsequence of events\b", low):
        return "timeline"
    if re.search(
        r"cost driver|biggest cost|most expensive|highest cost|\bspend(ing)?\b|\bcosts?\b|\bbill\b|\bspent\b",
        low,
    ):
        return "cost_driver"
    if re.search(r"\balerts?\b|\bincidents?\b|\bevents?\b", low):
        return "alerts"
    if re.search(r"\b(morning )?report\b|\bfindings?\b|\bscan results?\b", low):
        return "report"
    if q.wants_idle:
        return "underutilized"
    if q.wants_public and q.kind in (None, "bucket"):
        return "public_buckets"
    return None
