"""Credential-shaped text, found in time linear in the input: detect-secrets' detectors plus Escher's own shapes.

    spans = scan_text(text)                      # [Span(kind, start, end)], by position, never by value
    hits = scan_strings(["a", "b", ...])         # [(index, Span)]: many strings, one pass per rule
    secret_key_name("db_password")               # True: a field whose value is withheld whatever it holds

Why it looks like this: the hand-written patterns this replaces had unbounded repeats in front of a literal
(``[a-z0-9+.-]*://``), so one 240 KB tag took 27.8 s. Here every pattern starts with a literal, so the regex
engine skips to candidates at memory speed (a leading ``\b``, lookbehind or class would make it try every
position: those checks run after a match, in ``locate``); none has nested or adjacent overlapping repeats, so
each is linear. Case-insensitive patterns are written in lower case and run on the lower-cased text. The few
detect-secrets patterns that cannot start with a literal run only when one of their *anchors* occurs. Many
strings are joined with a separator no rule can cross (a NUL between newlines) and scanned once per rule; each
match is mapped back to its string by bisection. ``bench/bench_privacy.py`` prints the cost per MB.

detect-secrets (Yelp) supplies the shapes it knows well — AWS key ids, Stripe, SendGrid, Twilio, Slack, GitHub,
GitLab, private key headers, basic-auth URLs, PyPI, Square, Mailchimp —
used as a library: its detectors' own compiled patterns and its heuristic filters (sequential strings, UUIDs). It
is imported on the first scan, not with this module. Detectors whose patterns are costly on long lines and out
of Escher's scope (IBM, Cloudant, SoftLayer, Artifactory, Telegram, Discord bot tokens, public IPs, which are
metadata here) are left out; its npm, JWT and OpenAI patterns backtrack on long lines (quadratic on ``"eyJ" * n``
or ``"sk-" * n``), so Escher's own shapes replace them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SEPARATOR",
    "Span",
    "benign_value",
    "rules",
    "scan_strings",
    "scan_text",
    "secret_key_name",
]

SEPARATOR = "\n\x00\n"  # no rule matches across a NUL, and `.` stops at a newline


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    whole: bool = False  # withhold the whole string, not only the span (a key block: its body follows)


@dataclass(frozen=True)
class Rule:
    """A pattern that starts with a literal (so the regex engine skips to it at memory speed), optionally run on
    the lower-cased text, with an optional second look at where it matched."""

    kind: str
    pattern: re.Pattern[str]
    lower: bool = False  # the pattern is written in lower case and runs on text.lower()
    anchors: tuple[str, ...] = ()  # for a pattern that cannot start with a literal: run only if one occurs
    locate: Callable[[str, int, int], tuple[int, int] | None] | None = None  # widen the span, or reject it
    confirm: Callable[[str], bool] | None = None  # a second look at the matched text
    whole: bool = False


def _r(kind: str, pattern: str, *, lower: bool = False, locate: Any = None, whole: bool = False) -> Rule:
    return Rule(kind, re.compile(pattern), lower=lower, locate=locate, whole=whole)


_WORDCH = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _word_start(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``\\b`` before a literal, checked after the match: ``\\b`` in front of a pattern disables the fast skip."""
    return None if start and text[start - 1] in _WORDCH else (start, end)


def _back(chars: str, n: int) -> Callable[[str, int, int], tuple[int, int] | None]:
    """The match must follow ``n`` characters of ``chars`` (then a word boundary); the span takes them in."""
    allowed = frozenset(chars)

    def locate(text: str, start: int, end: int) -> tuple[int, int] | None:
        i = start - n
        if i < 0 or not all(c in allowed for c in text[i:start]) or (i and text[i - 1] in _WORDCH):
            return None
        return i, end

    return locate


def _after(chars: str) -> Callable[[str, int, int], tuple[int, int] | None]:
    """The match must follow one of ``chars`` (``?sig=``, ``&sig=``)."""

    def locate(text: str, start: int, end: int) -> tuple[int, int] | None:
        return (start - 1, end) if start and text[start - 1] in chars else None

    return locate


_AZURE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-")


def _azure_secret(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``xxx8Q~...``: three secret characters and a digit before the ``Q~`` the pattern starts with."""
    head = text[max(0, start - 5) : start]
    if len(head) < 4 or not head[-1].isdigit() or not all(c in _AZURE_CHARS for c in head[-4:-1]):
        return None
    if len(head) == 5 and head[0] in _AZURE_CHARS:
        return None
    return start - 4, end


_KEY_PREFIX = re.compile(
    r"(?:api|access|account|auth|private|routing|integration|service|client|secret|signing|master|shared|storage"
    r"|subscription|primary|secondary)[_-]?$"
)


def _key_prefix(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``key`` alone names anything; ``api_key``, ``routing-key``, ``accountKey`` name a secret."""
    m = _KEY_PREFIX.search(text[max(0, start - 14) : start].lower())
    return (start - (m.end() - m.start()), end) if m else None


def _key_head(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Widen back over the key's own characters (at most 200) to take in its ``sk-...`` head."""
    head = text[max(0, start - 200) : start]
    return start - (len(head) - len(head.rstrip(_KEY_CHARS))), end


_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _scheme(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``postgres://user:pw@``: widen back over the scheme, so the span covers the URL's credentials."""
    i = start
    while i > 0 and start - i < 32 and (text[i - 1].isalnum() or text[i - 1] in "+.-"):
        i -= 1
    return i, end


_KV_TAIL = re.compile(
    r"s?[\"'\]]{0,2}[ \t]{0,4}(?::=|=>|:|=)[ \t]{0,4}[\"']?(?P<value>[^\s\"',;&}{)(\]\[<>]{4,256})"
)


def _kv_confirm(matched: str) -> bool:
    m = _KV_TAIL.search(matched)
    return m is not None and not benign_value(m.group("value"))


def _not_a_segment(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``arn:aws:secretsmanager:...:secret:prod/db`` names a secret; it is not one."""
    return None if start and text[start - 1] in ":/" else (start, end)


def _kv(head: str, locate: Any = _not_a_segment) -> Rule:
    """``password: "hunter2"``, ``db_password=hunter2``, ``"clientSecret": "..."`` (lower-cased): the keyword
    ends right before the assignment, so ``secret_arn=...`` or ``token_expiry=3600`` do not match."""
    return Rule("key_value_secret", re.compile(head + _KV_TAIL.pattern), lower=True, locate=locate,
                confirm=_kv_confirm)  # fmt: skip


_B64 = "A-Za-z0-9+/"
# Escher's own shapes: the clouds it runs on and the channels it notifies. Each starts with a literal.
_ESCHER_RULES: tuple[Rule, ...] = (
    _r("aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])", locate=_word_start),
    _r(
        "aws_secret_access_key",
        r"aws.{0,24}?secret.{0,24}?[\"'=:\s]{1,8}[a-z0-9/+]{40}(?![a-z0-9/+])",
        lower=True,
    ),
    _r("aws_session_token", r"IQoJb3JpZ2luX2Vj[A-Za-z0-9/+=]{40,}"),  # base64 of the token's own header
    _r("aws_session_token", r"FwoGZXIvYXdz[A-Za-z0-9/+=]{40,}"),
    _r("aws_session_token", r"FQoGZXIvYXdz[A-Za-z0-9/+=]{40,}"),
    _r("azure_client_secret", r"Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])", locate=_azure_secret),
    _r("azure_storage_connection_string", r"accountkey\s{0,4}=\s{0,4}[^;\s\"']{8,}", lower=True),
    _r(
        "azure_storage_connection_string",
        r"shared(?:accesskey|accesssignature|secretvalue)\s{0,4}=\s{0,4}"
        r"[^;\s\"']{8,}",
        lower=True,
    ),
    _r("sas_token", r"sig=[a-z0-9%/+=]{16,}", lower=True, locate=_after("?&;")),
    _r("gcp_oauth_token", r"ya29\.[0-9A-Za-z_-]{20,}", locate=_word_start),
    _r("gcp_refresh_token", r"1//0[0-9A-Za-z_-]{30,}", locate=_word_start),
    _r("gcp_oauth_client_secret", r"GOCSPX-[0-9A-Za-z_-]{20,}"),
    _r("google_api_key", r"AIza[0-9A-Za-z_-]{35}", locate=_word_start),
    _r("gcp_service_account_json", r"\"service_account\"", whole=True),
    _r("gcp_service_account_json", r"\"private_key_id\"\s{0,4}:", whole=True),
    _r("private_key", r"-----BEGIN[A-Z ]{0,32}PRIVATE KEY(?: BLOCK)?-----", whole=True),
    _r("private_key", r"PuTTY-User-Key-File", whole=True),
    # Key material without its PEM header: DER of PKCS#1 / PKCS#8 / SEC1 keys and OpenSSH's own format, in
    # base64 (certificates, which are public, start differently: MII..CC..).
    _r("private_key", rf"MII[{_B64}]{{2}}[AQgw]IBA(?:AK|DA)", whole=True),
    _r("private_key", rf"MIG[{_B64}]AgE(?:AMBMG|BBD)", whole=True),
    _r("private_key", r"MH[cQ]CAQEE", whole=True),
    _r("private_key", r"MC4CAQAwBQYDK2Vw", whole=True),
    _r("private_key", r"b3BlbnNzaC1rZXktdjEA", whole=True),
    # The lookbehind *after* the literal keeps the fast skip and rejects an `eyJ` inside a run before the run is
    # read: "eyJ" * 80,000 made every occurrence read the rest of the run (quadratic) without it.
    _r("jwt", r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _r("bearer_token", r"bearer\s{1,4}[a-z0-9\-._~+/]{16,}=*", lower=True, locate=_word_start),
    _r("basic_auth_header", r"basic\s{1,4}[a-z0-9+/]{16,}={0,2}", lower=True, locate=_word_start),
    _r("url_with_password", r"://[^/\s:@\"'<>]{0,256}:[^/\s@\"'<>]{1,256}@", locate=_scheme),
    _r("url_with_token", r"://[A-Za-z0-9_\-]{20,256}@", locate=_scheme),  # https://<token>@host, Sentry DSNs
    _r("slack_token", r"xox[abposr]-[A-Za-z0-9-]{10,}", locate=_word_start),
    _r("slack_token", r"xapp-\d-[A-Za-z0-9-]{10,}", locate=_word_start),
    _r("slack_webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{8,}"),
    _r("teams_webhook", r"\.webhook\.office\.com/webhookb2/[^\s\"'<>]{8,}"),
    _r("teams_webhook", r"outlook\.office(?:365)?\.com/webhook/[^\s\"'<>]{8,}"),
    _r("discord_webhook", r"discord(?:app)?\.com/api/webhooks/\d{5,}/[A-Za-z0-9_-]{8,}"),
    _r("pagerduty_key", r"u\+[A-Za-z0-9_-]{18}(?![A-Za-z0-9_+-])", locate=_word_start),
    _r("pagerduty_key", r"pagerduty[^\n]{0,60}?[^0-9a-f][0-9a-f]{32}(?![0-9a-z])", lower=True),
    _r("pagerduty_key", r"pagerduty://[^\s\"'<>]+", lower=True),
    _r("stripe_key", r"k_(?:live|test)_[0-9A-Za-z]{20,}", locate=_back("rs", 1)),
    _r("npm_token", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", locate=_word_start),
    _r("npm_token", r"_authtoken=\s{0,4}[a-z0-9-]{36}", lower=True),
    _r("anthropic_api_key", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    _r("openai_api_key", r"sk-proj-[A-Za-z0-9_-]{40,}"),
    _r("openai_api_key", r"T3BlbkFJ[A-Za-z0-9_-]{20}", locate=_key_head),  # base64("OpenAI") mid-key
    _r("github_token", r"github_pat_[A-Za-z0-9_]{22,}"),
    _r("mailgun_key", r"key-[0-9a-f]{32}(?![0-9a-z])", locate=_word_start),
    _kv(r"pass(?:word|wd|phrase)"),
    _kv(r"pwd"),
    _kv(r"secret"),
    _kv(r"token"),
    _kv(r"credential"),
    _kv(r"key", locate=_key_prefix),
)


# detect-secrets detectors used, by class (kind names are Escher's); anchors gate the patterns that cannot start
# with a literal
_DS_DETECTORS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("aws", "AWSKeyDetector", "aws_access_key_id", ()),
    ("azure_storage_key", "AzureStorageKeyDetector", "azure_storage_connection_string", ()),
    ("basic_auth", "BasicAuthDetector", "url_with_password", ()),
    ("github_token", "GitHubTokenDetector", "github_token", ()),
    ("gitlab_token", "GitLabTokenDetector", "gitlab_token", ()),
    ("mailchimp", "MailchimpDetector", "mailchimp_key", ("-us",)),
    ("private_key", "PrivateKeyDetector", "private_key", ()),
    ("pypi_token", "PypiTokenDetector", "pypi_token", ()),
    ("sendgrid", "SendGridDetector", "sendgrid_key", ()),
    ("slack", "SlackDetector", "slack_token", ()),
    ("square_oauth", "SquareOAuthDetector", "square_oauth_secret", ()),
    ("stripe", "StripeDetector", "stripe_key", ("k_live_",)),
    ("twilio", "TwilioKeyDetector", "twilio_key", ()),
)

_lock = threading.Lock()
_rules: tuple[Rule, ...] | None = None


def rules() -> tuple[Rule, ...]:
    """Escher's rules and detect-secrets', built once (importing detect-secrets then, not at module import)."""
    global _rules
    if _rules is None:
        with _lock:
            if _rules is None:
                _rules = _ESCHER_RULES + _detect_secrets_rules()
    return _rules


def _detect_secrets_rules() -> tuple[Rule, ...]:
    import importlib

    out: list[Rule] = []
    for module, cls_name, kind, anchors in _DS_DETECTORS:
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls_name)()
        for pattern in plugin.denylist:
            lower = bool(pattern.flags & re.IGNORECASE)  # case-folded once, then matched case-sensitively
            compiled = re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE) if lower else pattern
            out.append(Rule(kind, compiled, lower=lower, anchors=anchors,
                            whole=kind == "private_key"))  # fmt: skip
    return tuple(out)


# -- high-entropy tokens: AWS secret keys, legacy Azure client secrets, keys nobody wrote a pattern for -------
# Led by the character before the run: a lookbehind there would make the engine try every position.
_TOKEN = re.compile(r"[^A-Za-z0-9+/=_.~-][A-Za-z0-9+/=_.~-]{32,}")
_TOKEN_SEPARATORS = frozenset("/._~-+=")


def _entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _looks_random(token: str) -> bool:
    """Mixed case and digits, switching class often, high entropy, not a UUID or a counting run.

    Random base64 switches between upper case, lower case and digits on ~62% of its characters (99% of random
    40-character keys above 45%); names, even camel-cased ones (``service-role/MyLambdaRole-abc123XYZ``), on
    under a third. Separators are left out of that count: they are what names are made of.
    """
    sample = token[:4096]
    core = [c for c in sample if c not in _TOKEN_SEPARATORS]
    if len(core) < 28 or len(sample) - len(core) > len(sample) * 0.12:
        return False
    classes = [0 if c.isupper() else 1 if c.islower() else 2 if c.isdigit() else 3 for c in core]
    if not {0, 1, 2} <= set(classes):
        return False
    switches = sum(a != b for a, b in itertools.pairwise(classes))
    if switches < (len(core) - 1) * 0.42 or _entropy(sample) < 4.0:
        return False
    from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string

    return not (is_sequential_string(sample) or is_potential_uuid(sample))


def _entropy_spans(text: str) -> list[Span]:
    out: list[Span] = []
    for m in _TOKEN.finditer("\n" + text):  # offsets in `text` are one less
        token = m.group(0)[1:].rstrip("=.-_~")
        if len(token) >= 32 and _looks_random(token):
            kind = ("aws_secret_access_key" if len(token) == 40 and _AWS_SECRET.fullmatch(token)
                    else "high_entropy_string")  # fmt: skip
            out.append(Span(kind, m.start(), m.end() - 1))
    return out


_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")


# -- the scan ---------------------------------------------------------------------------------------------------
def scan_text(text: str) -> list[Span]:
    """Every credential-shaped span in ``text``, ordered by position."""
    low = text.lower()
    aligned = len(low) == len(text)  # a few non-ASCII letters change length when lower-cased
    present: dict[str, bool] = {}

    def occurs(anchor: str) -> bool:
        if anchor not in present:
            present[anchor] = anchor in low
        return present[anchor]

    spans: list[Span] = []
    for rule in rules():
        if rule.anchors and not any(occurs(a) for a in rule.anchors):
            continue
        subject, pattern = text, rule.pattern
        if rule.lower:
            subject, pattern = (low, rule.pattern) if aligned else (text, _folding(rule.pattern))
        for m in pattern.finditer(subject):
            start, end = m.span()
            if end == start:
                continue
            if rule.locate is not None:
                located = rule.locate(text, start, end)
                if located is None:
                    continue
                start, end = located
            if rule.confirm is not None and not rule.confirm(text[m.start() : m.end()]):
                continue
            spans.append(Span(rule.kind, start, end, rule.whole))
    spans.extend(_entropy_spans(text))
    spans.sort(key=lambda s: (s.start, -s.end))
    return spans


@functools.cache
def _folding(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)


def scan_strings(strings: Sequence[str]) -> list[tuple[int, Span]]:
    """Scan many strings at once; each span is reported against the string it starts in, offsets local to it."""
    if not strings:
        return []
    starts = list(itertools.accumulate((len(s) + len(SEPARATOR) for s in strings[:-1]), initial=0))
    joined = SEPARATOR.join(strings)
    out: list[tuple[int, Span]] = []
    for span in scan_text(joined):
        i = bisect.bisect_right(starts, span.start) - 1
        base = starts[i]
        end = min(span.end - base, len(strings[i]))
        if span.start - base >= len(strings[i]):
            continue  # a match that starts in the separator (cannot happen with the rules above; kept safe)
        out.append((i, Span(span.kind, span.start - base, end, span.whole)))
    return out


# -- field names and values -------------------------------------------------------------------------------------
_SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens", "credential",
    "credentials", "apikey", "sas", "dsn", "webhook", "privatekey", "connectionstring", "accountkey",
    "accesskey", "contrasena", "contraseña",
})  # fmt: skip
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("account", "key"), ("private", "key"), ("client", "secret"),
    ("connection", "string"), ("auth", "key"), ("routing", "key"), ("integration", "key"), ("service", "key"),
    ("client", "key"), ("secret", "key"), ("signing", "key"), ("master", "key"), ("shared", "key"),
    ("storage", "key"), ("primary", "key"), ("secondary", "key"), ("db", "pass"), ("database", "pass"),
    ("key", "pass"),
})  # fmt: skip
# The last word of a name that is *about* a secret rather than the secret: `secret_arn`, `access_key_last_used`.
_METADATA_WORDS = frozenset({
    "arn", "id", "ids", "name", "names", "ref", "version", "versions", "expiry", "expires", "expiration", "age",
    "days", "rotation", "rotated", "enabled", "policy", "type", "length", "count", "created", "updated", "at",
    "status", "state", "used", "set", "present", "configured", "required", "source", "location", "path",
})  # fmt: skip
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9ñ]+|(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=8192)  # field names repeat across a request's items
def secret_key_name(key: str) -> bool:
    """True for a field whose value is a secret whatever it looks like (``password``, ``clientSecret``)."""
    if len(key) > 128:
        return False
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    if not words or words[-1] in _METADATA_WORDS:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


_BENIGN = frozenset({
    "", "none", "null", "nil", "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "required",
    "optional", "redacted", "withheld", "[withheld]", "hidden", "masked", "unset", "unknown", "default", "n/a",
    "na", "-", "***", "****", "*****", "<redacted>", "[redacted]", "placeholder", "rotated", "expired", "set",
})  # fmt: skip
_TEMPLATED = re.compile(r"^(?:\$\{[^}]{1,128}\}|\{\{[^}]{1,128}\}\}|<[^>]{1,128}>|%\([^)]{1,64}\)s|\*+)$")


def benign_value(value: str) -> bool:
    """A value under a secret-named field that carries nothing: empty, a flag, a mask or a template."""
    v = value.strip().strip("\"'")
    return v.lower() in _BENIGN or bool(_TEMPLATED.match(v)) or v.startswith("person-")
