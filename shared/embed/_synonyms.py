"""Domain synonym expansion for cloud operations text, applied the same way at index and at query time.

People say the same thing many ways ("stop idle dev instances" / "shut down unused development VMs"). A small
embedder cannot learn that; a table can. Each group maps surface forms (single words or phrases, compared after
light stemming) to one concept token such as ``xcompute``; :func:`expand` appends the concept tokens of a text,
so documents and queries that share a concept share a token for both full text and the hashing embedder.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["CONCEPTS", "STOPWORDS", "concepts", "expand", "stem", "tokens"]

_WORD = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "my",
        "our",
        "all",
        "that",
        "which",
        "are",
        "is",
        "be",
        "and",
        "or",
        "any",
        "me",
        "show",
        "list",
        "find",
        "what",
        "how",
        "do",
        "i",
        "we",
        "please",
        "it",
        "its",
        "this",
        "these",
        "those",
        "by",
        "from",
        "at",
        "as",
        "there",
        "their",
        "them",
        "can",
        "you",
        "your",
        "should",
    ]
)

# concept -> surface forms. Written from general cloud-operations vocabulary (provider docs and console terms).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "xcompute": (
        "vm",
        "virtual machine",
        "instance",
        "server",
        "ec2",
        "compute engine",
        "gce",
        "host",
        "node",
        "machine",
        "box",
        "droplet",
    ),
    "xstop": (
        "stop",
        "shut down",
        "shutdown",
        "power off",
        "deallocate",
        "halt",
        "turn off",
        "suspend",
        "pause",
    ),
    "xstart": ("start", "boot", "power on", "turn on", "resume", "bring up"),
    "xcreate": ("create", "provision", "launch", "spin up", "deploy", "new", "add"),
    "xdelete": (
        "delete",
        "remove",
        "terminate",
        "destroy",
        "drop",
        "tear down",
        "decommission",
        "purge",
        "clean up",
        "cleanup",
        "get rid of",
    ),
    "xidle": (
        "idle",
        "unused",
        "underutilized",
        "underused",
        "inactive",
        "dormant",
        "orphaned",
        "unattached",
        "zombie",
        "low utilization",
        "not used",
        "forgotten",
        "abandoned",
        "detached",
        "no traffic",
    ),
    "xnonprod": (
        "dev",
        "development",
        "test",
        "testing",
        "staging",
        "stage",
        "non production",
        "nonprod",
        "sandbox",
        "qa",
    ),
    "xprod": ("prod", "production", "live"),
    "xstorage": (
        "bucket",
        "storage account",
        "container",
        "blob",
        "s3",
        "gcs",
        "object storage",
        "cloud storage",
        "storage",
    ),
    "xpublic": (
        "public",
        "publicly",
        "open to the internet",
        "exposed",
        "world readable",
        "anonymous access",
        "internet facing",
        "anyone",
        "everyone",
        "0.0.0.0/0",
        "all users",
    ),
    "xencrypt": ("encrypt", "encrypted", "encryption", "unencrypted", "kms", "cmk", "cmek", "key vault"),
    "xcost": (
        "cost",
        "spend",
        "spending",
        "bill",
        "billing",
        "charge",
        "expense",
        "price",
        "money",
        "budget",
        "invoice",
    ),
    "xincrease": (
        "spike",
        "increase",
        "jump",
        "surge",
        "rise",
        "grew",
        "grow",
        "higher",
        "went up",
        "doubled",
    ),
    "xdatabase": ("database", "db", "rds", "sql", "cloud sql", "aurora", "postgres", "mysql", "cosmos"),
    "xdisk": ("disk", "volume", "ebs", "persistent disk", "managed disk"),
    "xsnapshot": ("snapshot", "backup", "image", "restore point"),
    "xfirewall": (
        "security group",
        "firewall",
        "nsg",
        "network security group",
        "firewall rule",
        "acl",
        "ingress",
        "inbound",
    ),
    "xremote": ("ssh", "port 22", "rdp", "port 3389", "remote access", "remote login"),
    "xiam": ("iam", "role", "permission", "policy", "privilege", "rbac", "access", "admin", "administrator"),
    "xidentity": ("user", "identity", "principal", "service account", "service principal"),
    "xsecret": ("access key", "credential", "secret", "api key", "token", "password", "key"),
    "xrotate": ("rotate", "rotation", "renew", "cycle", "refresh"),
    "xtag": ("tag", "label", "owner", "cost center"),
    "xmissing": ("missing", "without", "untagged", "lacking", "no", "absent", "unlabeled"),
    "xresize": ("resize", "scale", "downsize", "rightsize", "right size", "shrink", "smaller", "sku"),
    "xlog": ("log", "logging", "audit trail", "cloudtrail", "activity log", "flow log", "trail"),
    "xalert": ("alert", "alarm", "notification", "notify", "page", "warning", "warn"),
    "xloadbalancer": ("load balancer", "elb", "alb", "nlb", "application gateway"),
    "xschedule": (
        "schedule",
        "nightly",
        "every night",
        "cron",
        "daily",
        "overnight",
        "every evening",
        "after hours",
        "off hours",
        "weekend",
    ),
    "xreport": ("report", "summary", "digest", "overview", "briefing"),
    "xipaddr": ("public ip", "elastic ip", "static ip", "external ip", "ip address", "eip"),
    "xfunction": ("lambda", "function", "cloud function", "azure function", "serverless", "cloud run"),
    "xkubernetes": ("kubernetes", "k8s", "eks", "aks", "gke", "cluster"),
    "xnetwork": ("vpc", "vnet", "virtual network", "network", "subnet"),
    "xmfa": ("mfa", "multi factor", "two factor", "2fa"),
    "xcert": ("certificate", "cert", "tls", "ssl", "https"),
    "xexpire": ("expire", "expiring", "expiration", "expiry", "due", "lapse"),
    "xrestart": ("restart", "reboot", "bounce"),
    "xcompliance": ("compliance", "cis", "benchmark", "violation", "non compliant", "noncompliant", "audit"),
    "xremediate": ("remediate", "remediation", "fix", "auto remediate", "repair", "correct", "resolve"),
    "xapprove": ("approve", "approval", "sign off", "authorize", "authorise", "consent"),
    "xold": ("old", "stale", "outdated", "aged", "ancient", "older than", "expired"),
    "xfail": ("fail", "failed", "failure", "error", "broken", "crash", "down", "unhealthy"),
    "xcpu": ("cpu", "utilization", "utilisation", "load", "usage"),
    "xregion": ("region", "location", "zone", "availability zone"),
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately light stemmer: plural and common verb endings (instances -> instance, stopped -> stop)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        base = word[:-3]
        return base[:-1] if len(base) > 2 and base[-1] == base[-2] else base
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        base = word[:-2]
        return base[:-1] if len(base) > 2 and base[-1] == base[-2] else base
    if len(word) >= 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    return word


def tokens(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, lightly stemmed word tokens."""
    words = _WORD.findall(text.lower())
    return [stem(w) for w in words if keep_stopwords or w not in STOPWORDS]


def _phrase_table() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for concept, forms in CONCEPTS.items():
        for form in forms:
            key = tuple(tokens(form.replace("/", " "), keep_stopwords=True))
            if key:
                table.setdefault(key, concept)
    return table


_PHRASES = _phrase_table()
_LONGEST = max(len(k) for k in _PHRASES)


def concepts(text: str) -> list[str]:
    """The concept tokens named in ``text``, in order of appearance, each once (longest phrase wins)."""
    words = tokens(text.replace("/", " "), keep_stopwords=True)
    found: list[str] = []
    i = 0
    while i < len(words):
        for length in range(min(_LONGEST, len(words) - i), 0, -1):
            concept = _PHRASES.get(tuple(words[i : i + length]))
            if concept is not None:
                if concept not in found:
                    found.append(concept)
                i += length
                break
        else:
            i += 1
    return found


def expand(text: str) -> str:
    """``text`` followed by its concept tokens: what gets indexed and what gets searched."""
    found = concepts(text)
    return f"{text} {' '.join(found)}" if found else text
