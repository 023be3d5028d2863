"""Resolution that never widens: every word of a request must name something, or nothing is planned.

The planner reads filters it knows (kind, cloud, region, environment, tags, state, names, ids). A word it does
not know used to be skipped, so "stop web-99" became "stop every instance" and "restart the databse server"
became "restart every VM". Here each word of the request is accounted for: it is a word of Escher's vocabulary,
a pattern the parser consumed (``env=dev``, an id, a region, a size, a time), or the name or id of something in
the estate the client sent. Anything else is *unresolved*: the answer says what was not found, offers close
matches (difflib), and plans nothing. Questions and listings are held to names only (``web-99``, ids, tags);
actions to every word.

Only the user's query is read here; names in the estate are matched against it, never parsed for verbs.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

from escher.brain import _parse
from escher.brain._parse import Query, canonical_env
from escher.brain.models import ContextItem, Filters, InformationResponse, Scope, Unresolved

__all__ = ["VOCABULARY", "check_selection", "not_found", "scope_of", "unresolved"]

_W = str.split
_DOMAIN = set(_W("""
stop start restart reboot reset bounce resize rightsize right-size upsize downsize scale snapshot snapshots backup
back up tag label delete remove clean cleanup purge terminate destroy make private block public close restrict
revoke encrypt encryption enable turn on off shut shutdown power deallocate pause halt boot resume bring list show
display find get give tell explain summarize summarise summary lock locking down change type size versioning
object add default take cycle create open access
vm vms virtual machine machines instance instances ec2 server servers compute engine gce node nodes database
databases db dbs rds sql postgres mysql bucket buckets s3 blob blobs container containers storage account accounts
gcs volume volumes disk disks ebs security group groups firewall firewalls rule rules nsg nsgs port ports ssh rdp
ingress resource resources
restore recover grow expand extend
roll rollback revert swap slot slots alias aliases revision revisions deployment deployments max maximum
auto-pause autopause delay
lambda lambdas function functions app apps functionapp functionapps run service services
aws amazon azure gcp google microsoft cloud clouds multi multi-cloud multicloud
environment environments env
running stopped deallocated available unattached terminated paused online
old older stale than day days week weeks month months publicly exposed world internet idle underutilized
underutilised under-utilized under-utilised utilized low cpu underused over-provisioned overprovisioned oversized
unencrypted encrypted orphan orphaned unused dangling tagged labelled labeled named called id ids
cost costs driver drivers biggest most expensive highest spend spending spent bill alerts alert incidents incident
events event report reports morning findings finding scan results timeline timelines happened exposure sequence
playbook playbooks runbook runbooks disaster recovery dr plan hardening harden increase increased rise rose went
details detail status state region regions zone zones everything
daily nightly weekly monthly hourly night nights evening evenings weekday weekdays weekend weekends weeknights
tonight tomorrow today hour hours after business office working workday workdays overnight noon midnight
monday mondays tuesday tuesdays wednesday wednesdays thursday thursdays friday fridays saturday saturdays sunday
sundays mon fri afternoon minutes minute schedule scheduled schedules cron job
""")) | set(_parse._ENVS)  # fmt: skip
_FILLER = set([*_W("""
the a an my our your me us i we you its their all every each any some only both across of to in on at for from
by with into onto as so then too please pls now right immediately asap quickly just also and or via using
currently still already again more less same is are was were be been being am would will should shall can could
may might do does did which what whats how why when where who whom whose if happen happens happened safe ok okay
risk risks impact consequences consequence many much wise good idea allowed need needs affected affect affects
there here hey hi hello thanks thank want wanted like let lets go ahead have has had kindly also end out outside
next later this that whole entire currently one two three four five six seven eight nine ten o'clock oclock am pm
mean means about happening try trying consider considering before yet ever way
"""), "what's", "it's", "i'd", "i'm", "let's", "that's", "don't"])  # fmt: skip
VOCABULARY = frozenset(_DOMAIN | _FILLER)

_NEGATION = frozenset(_W("not no non nonprod non-prod non-production except excluding exclude besides but without "
                         "other apart unless"))  # fmt: skip
_REFERENCE = frozenset(_W("it them they those these ones"))
# a question may say "what if I stopped...": the verb, read as such by the parser in question mode
_INFLECTED = frozenset(_W("stopped stopping started starting deleted deleting removed removing terminated "
                          "terminating restarted restarting rebooted rebooting resized resizing snapshotted "
                          "snapshotting destroyed destroying purged purging shutting backed backing restored "
                          "restoring recovered recovering rolled rolling reverted reverting swapped swapping "
                          "increased increasing grew resumed resuming"))  # fmt: skip
# services Escher has no operation for yet: naming one never falls back to "every VM"
_UNSUPPORTED = {
    "app service": "Azure App Service", "webapp": "Azure App Service", "web app": "Azure App Service",
    "app engine": "App Engine", "aks": "AKS", "eks": "EKS", "gke": "GKE", "kubernetes": "Kubernetes",
    "k8s": "Kubernetes", "cluster": "clusters", "clusters": "clusters", "pod": "Kubernetes pods",
    "pods": "Kubernetes pods", "dynamodb": "DynamoDB", "cosmos": "Cosmos DB", "cosmosdb": "Cosmos DB",
    "bigquery": "BigQuery", "ecs": "ECS", "fargate": "Fargate", "sqs": "SQS", "sns": "SNS", "queue": "queues",
    "queues": "queues", "topic": "topics", "topics": "topics", "pubsub": "Pub/Sub", "redis": "Redis",
    "elasticache": "ElastiCache", "memorystore": "Memorystore", "cache": "caches", "cloudfront": "CloudFront",
    "cdn": "CDNs", "load balancer": "load balancers", "load balancers": "load balancers", "elb": "load balancers",
    "alb": "load balancers", "route53": "Route 53", "dns": "DNS", "iam": "IAM", "user": "users", "users": "users",
    "role": "roles", "roles": "roles", "key vault": "Key Vault", "keyvault": "Key Vault", "secret": "secrets",
    "secrets": "secrets", "kms": "KMS", "spanner": "Spanner", "firestore": "Firestore", "redshift": "Redshift",
    "sagemaker": "SageMaker", "api gateway": "API Gateway", "step functions": "Step Functions",
    "logic app": "Logic Apps", "logic apps": "Logic Apps", "scale set": "scale sets", "scale sets": "scale sets",
    "vmss": "scale sets", "autoscaling": "auto scaling groups", "asg": "auto scaling groups", "emr": "EMR",
    "dataproc": "Dataproc", "aurora": "Aurora clusters", "elastic beanstalk": "Elastic Beanstalk",
}  # fmt: skip
_MULTI_UNSUPPORTED = re.compile(
    r"\b("
    + "|".join(re.escape(k) for k in sorted((k for k in _UNSUPPORTED if " " in k), key=len, reverse=True))
    + r")\b"
)
_KIND_NOUN = (r"(?:vms?|virtual machines?|instances?|servers?|machines?|nodes?|databases?|dbs?|buckets?|"
              r"containers?|volumes?|disks?|snapshots?|firewalls?|(?:firewall |nsg )?rules?|security groups?|nsgs?|"
              r"resources?)")  # fmt: skip
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10}  # fmt: skip
_COUNT = re.compile(
    r"\b(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")\s+((?:[a-z0-9-]+\s+){0,3}?)" + _KIND_NOUN + r"\b"
)
_SINGULAR = re.compile(
    r"\b(the|this|that)\s+((?:[a-z0-9-]+\s+){0,3}?)(vm|virtual machine|instance|server|machine|node|database|db|"
    r"bucket|container|volume|disk|snapshot|firewall|firewall rule|rule|security group|nsg)\b(?!s)"
)
_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those)\s+(?:[a-z0-9-]+\s+){0,2}?" + _KIND_NOUN + r"\b")
_CONSUMED = (
    _parse._PAIR, _parse._IDS, _parse._AWS_REGION, _parse._GCP_REGION, _parse._AWS_SIZE, _parse._AZURE_SIZE,
    _parse._GCP_SIZE, _parse._CIDR, _parse._AGE,
    re.compile(r"\bports?\s+\d{1,5}\b"),
    re.compile(r"\bby\s+\d{1,3}\s*(?:%|percent)"),  # "increase the storage of db-1 by 20%"
    # what a restore makes and what grows: only these phrases ("new" alone is no filter to ignore)
    re.compile(r"\b(?:to|as|into)\s+(?:a\s+)?new\s+(?:volumes?|disks?|databases?|dbs?|instances?)\b"),
    re.compile(r"\ballocated\s+storage\b"),
    _parse._SQL_TIER, _parse._SQL_SKU,
    re.compile(r"\b(?:after|to)\s+\d{1,5}\s*(?:minutes?|mins?|hours?)\b"),  # an auto-pause delay
    re.compile(r"\b(?:set|change|disable)\s+(?:the\s+)?auto-?pause\b"),
    re.compile(r"\bnot encrypted\b|\bwithout encryption\b|\bopen to the (?:world|internet)\b"),
    re.compile(r"\b(?:at\s+)?\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?(?![a-z])|\b(?:at\s+)?(?:[01]?\d|2[0-3])[:h][0-5]\d\b"),
    re.compile(r"\bat\s+(?:[01]?\d|2[0-3])(?:\s*o'?clock)?\b"),
    re.compile(r"\bin (?:an|one|\d{1,3}) (?:minutes?|hours?)\b"),
    re.compile(r"\bmon-fri\b|\bmonday\s*-\s*friday\b"),
)  # fmt: skip
# in a rollback only: a Lambda alias ("orders-api:live", "the live alias of orders-api"; the planner accepts it
# only on a function of the estate the request names) or a deployment slot ("the canary slot")
_ROLLBACK_NAMES = re.compile(r"(?<=[a-z0-9]):[a-z0-9_-]{1,128}\b|\b[a-z0-9_-]{1,128}\s+(?=alias\b|slot\b)")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.@/'-]*[a-z0-9]|[a-z0-9]")


def _canon_env(item: ContextItem) -> str:
    return canonical_env(item.environment) if item.environment else ""


def _resources(context: Iterable[ContextItem]) -> list[ContextItem]:
    return [i for i in context if i.kind == "resource"]


def _close(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.75) -> list[str]:
    pool = sorted(set(choices))
    found = difflib.get_close_matches(word, pool, n=n, cutoff=cutoff)
    if not found and re.search(r"[\d-]", word):  # "web-99": the names sharing its stem ("web-prod-1")
        stem = re.split(r"[-_.\d]", word, maxsplit=1)[0]
        found = [c for c in pool if len(stem) >= 2 and c.lower().startswith(stem)][:n]
    return found


def _blank(low: str) -> str:
    for pattern in _CONSUMED:
        low = pattern.sub(" ", low)
    for _name, pattern in _parse._AZURE_REGION:
        low = pattern.sub(" ", low)
    return low


def _suggest_kind_word(word: str) -> list[str]:
    return _close(word, _DOMAIN - {"db", "dr", "on", "off", "up", "low", "mon", "fri"}, n=2, cutoff=0.8)


def unresolved(q: Query, context: list[ContextItem], *, strict: bool) -> list[Unresolved]:
    """The words of ``q`` that resolve to nothing. ``strict`` (an action to plan or schedule): every word. A
    question about an action: names, ids, tags, services and misspelled words. Any other question: names, ids,
    tags and services."""
    question = q.mode == "question"
    spelling = strict
    strict = strict and not question
    resources = _resources(context)
    pool = resources if strict else context  # a question may name an alert or a report row too
    names = {i.name.lower(): i.name for i in pool if i.name}
    ids = {i.id for i in pool}
    short_ids = {i.id.rsplit("/", 1)[-1].lower() for i in pool}
    tag_pairs = {f"{k}={v}" for i in resources for k, v in i.tags.items()}
    out: list[Unresolved] = []
    seen: set[str] = set()

    def add(text: str, reason: str, did_you_mean: list[str], message: str) -> None:
        if text not in seen:
            seen.add(text)
            out.append(Unresolved(text=text, reason=reason, did_you_mean=did_you_mean, message=message))  # type: ignore[arg-type]

    for named in q.named:
        if named not in ids:
            add(named, "no_such_resource", _close(named, ids, cutoff=0.6),
                f"no resource with id {named!r} in your estate")  # fmt: skip
    if q.intent != "tag":
        for key, value in q.tags.items():
            if not any(i.tags.get(key) == value for i in resources):
                pair = f"{key}={value}"
                add(pair, "no_such_tag", _close(pair, tag_pairs, cutoff=0.6),
                    f"nothing in your estate is tagged {pair}")  # fmt: skip
    low = " ".join(q.text.lower().split()).replace("\u2019", "'")
    for phrase in _MULTI_UNSUPPORTED.findall(low):
        add(phrase, "unsupported_service", [], f"Escher has no operation for {_UNSUPPORTED[phrase]} yet")
    low = _MULTI_UNSUPPORTED.sub(" ", low)
    if q.intent == "rollback":  # elsewhere "web-1:foo" stays an unknown word, never dropped
        low = _ROLLBACK_NAMES.sub(" ", low)
    if strict and len(q.actions) > 1:
        add(" and ".join(q.actions), "ambiguous", [],
            f"one request, one action: ask for {' and '.join(q.actions)} separately")  # fmt: skip
    pointers = strict  # in a question ("is it safe to...") "it" points at nothing, and nothing runs
    m = _DEMONSTRATIVE.search(low) if pointers else None
    if m and not q.named and not any(i.name and i.name.lower() in low for i in resources):
        add(m.group(0), "reference", [], f"{m.group(0)!r} points at something this request does not name")
    counted = {m.group(1) for m in _COUNT.finditer(_blank(q.bare.lower() or low))}
    for raw in _TOKEN.findall(_blank(low)):
        word = raw.removesuffix("'s").strip("'")
        if not word or word in names or word in short_ids or word in seen:
            continue
        if word in _UNSUPPORTED:
            add(word, "unsupported_service", [], f"Escher has no operation for {_UNSUPPORTED[word]} yet")
            continue
        if strict and word in _NEGATION:
            add(
                word,
                "exclusion",
                [],
                "a plan cannot leave things out ('not', 'except'): name what to include",
            )
            continue
        if pointers and word in _REFERENCE:
            add(word, "reference", [], f"{word!r} refers to nothing in this request: name the resources")
            continue
        if word in _REFERENCE or (question and word in _INFLECTED):
            continue
        if word in VOCABULARY or (word.isdigit() and (not strict or word in counted)):
            continue  # a count ("2 dev instances") is checked against the selection by check_selection
        parts = [p for p in re.split(r"[-_]", word) if p]
        if len(parts) > 1 and all(p in VOCABULARY for p in parts):
            continue
        name_like = bool(re.search(r"[\d\-_./]", word))
        if not strict and not name_like and not (spelling and _suggest_kind_word(word)):
            continue
        if name_like:
            add(word, "no_such_resource", _close(word, names.values(), cutoff=0.6),
                f"no resource named {word!r} in your estate")  # fmt: skip
            continue
        guess = _suggest_kind_word(word)
        if guess:
            add(word, "misspelled", guess, f"{word!r} is not a word Escher knows")
            continue
        similar = _close(word, names.values(), cutoff=0.7)
        pairs = sorted(p for p in tag_pairs if p.split("=", 1)[1].lower() == word)
        add(word, "unknown", similar + pairs[:3], f"{word!r} names nothing in your estate")
    return out


def check_selection(q: Query, matched: list[ContextItem], *, named: bool) -> list[Unresolved]:
    """What the request said about how many it meant, against what its filters select. ``named``: the request
    names resources of the estate."""
    out: list[Unresolved] = []
    named = named or bool(q.named)
    bare = _blank(" ".join((q.bare or q.text).lower().split()))
    said = (q.kind_explicit, named, q.environment, q.tags, q.cloud, q.clouds, q.region, q.state, q.wants_idle,
            q.wants_public, q.wants_unencrypted, q.wants_orphaned, q.older_than_days is not None)  # fmt: skip
    if not any(said):  # "stop that", "stop everything": nothing says what to act on, so nothing is chosen
        out.append(Unresolved(text=q.text[:120], reason="reference", did_you_mean=[],
                              message="the request does not say what to act on: name resources, a kind "
                              "(instances, buckets...) or a filter (environment, region, tag)"))  # fmt: skip
    if m := _COUNT.search(bare):
        n = _NUMBER_WORDS.get(m.group(1)) or int(m.group(1))
        if not re.search(r"\bclouds?\b", m.group(0)) and n != len(matched):
            out.append(Unresolved(text=m.group(0), reason="count_mismatch",
                                  message=f"you said {n} but {len(matched)} match: name the ones you mean",
                                  did_you_mean=[i.name or i.id for i in matched][:10]))  # fmt: skip
    m = _SINGULAR.search(bare) if not named and len(matched) > 1 else None
    if m and not re.search(r"\b(all|every|each|any)\b", m.group(2)):
        out.append(Unresolved(text=m.group(0), reason="ambiguous",
                              message=f"{m.group(0)!r} is one resource but {len(matched)} match: say which",
                              did_you_mean=[i.name or i.id for i in matched][:10]))  # fmt: skip
    return out


def scope_of(
    items: list[ContextItem], targets: Iterable[str] = (), select_by_tags: dict[str, str] | None = None
) -> Scope:
    """The resolved list, counted per environment, account and cloud."""
    ids = sorted(set(targets) or {i.id for i in items})
    chosen = list({i.id: i for i in items}.values())
    return Scope(
        targets=ids, total=len(ids),
        by_environment=dict(sorted(Counter(_canon_env(i) or "(none)" for i in chosen).items())),
        by_account=dict(sorted(Counter(i.account or "(unknown)" for i in chosen).items())),
        by_cloud=dict(sorted(Counter(i.cloud or "(unknown)" for i in chosen).items())),
        select_by_tags=dict(select_by_tags or {}),
    )  # fmt: skip


def not_found(q: Query, filters: Filters, missing: list[Unresolved]) -> InformationResponse:
    """The answer to a request that names something that is not there: what, close matches, nothing planned."""
    parts = []
    for u in missing:
        hint = f" (did you mean {', '.join(u.did_you_mean)}?)" if u.did_you_mean else ""
        parts.append(f"{u.message}{hint}")
    verb = q.intent.replace("_", " ")
    planned = "nothing was planned" if q.is_action else "nothing was listed"
    suggestions = [f"{verb} {m}" if q.is_action else f"show {m}" for u in missing for m in u.did_you_mean][:3]
    return InformationResponse(
        intent="not_found", filters=filters, unresolved=missing,
        summary="; ".join(parts)[:1500] + f". {planned.capitalize()}.",
        notices=[f"every name, filter and service in a request must resolve in your estate; {planned}"],
        suggested_questions=suggestions,
    )  # fmt: skip
