"""What may leave the user's machine: credential detection, scrubbing and identity pseudonymization.

Used on both sides of the brain. The client scrubs and pseudonymizes everything it sends; the server refuses any
payload that still carries a credential-shaped string. Detection names the *kind* of secret and where it was,
never its value, so a refusal or a log line cannot leak what it found.

    findings = find_credentials(text)              # [] when clean
    clean, withheld = scrub(payload)               # JSON-like data with secrets replaced by a marker
    names = Pseudonymizer(); out = names.apply(clean); back = names.restore(answer)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from escher.errors import EscherError

__all__ = [
    "CredentialFinding",
    "CredentialInPayloadError",
    "Pseudonymizer",
    "find_credentials",
    "find_credentials_in",
    "scrub",
]

# (kind, pattern). Patterns are deliberately specific: a refusal on an innocent payload is a bug too.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    (
        "aws_secret_access_key",
        re.compile(r"(?i)aws.{0,24}secret.{0,24}?[\"'=:\s]+[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
    ),
    ("azure_client_secret", re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}")),
    (
        "client_secret",
        re.compile(r"(?i)client[_-]?secret[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_~.\-+/]{16,}"),
    ),
    ("private_key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("gcp_service_account_json", re.compile(r"\"type\"\s*:\s*\"service_account\"|\"private_key_id\"\s*:")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("bearer_token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{16,}=*")),
    (
        "connection_string_key",
        re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*[^;\s\"']{8,}"),
    ),
    ("sas_signature", re.compile(r"[?&]sig=[A-Za-z0-9%/+=]{20,}")),
    ("password_assignment", re.compile(r"(?i)\b(?:password|pwd)\s*=\s*[^;\s\"']{4,}")),
    ("url_with_password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s@\"']+@")),
    ("anthropic_api_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("github_token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b")),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
)

# Field names whose values are withheld whatever they look like.
_SECRET_KEYS = re.compile(
    r"(?i)(password|passwd|secret|token|private[_-]?key|credential|connection[_-]?string|access[_-]?key"
    r"|account[_-]?key|sas|api[_-]?key)"
)
WITHHELD = "[withheld]"


@dataclass(frozen=True)
class CredentialFinding:
    kind: str
    where: str  # a JSON path such as "context[3].tags.note", or "text"

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}"


class CredentialInPayloadError(EscherError):
    """Something about to cross the privacy boundary looks like a credential."""

    exit_code = 2

    def __init__(self, findings: list[CredentialFinding]) -> None:
        kinds = ", ".join(sorted({f.where + ": " + f.kind for f in findings})[:8])
        super().__init__(
            f"the request carries credential-shaped text ({kinds}); it was refused and not processed",
            hint="send only the question and resource metadata; the Escher client scrubs secrets for you",
        )
        self.findings = findings


def find_credentials(text: str, where: str = "text") -> list[CredentialFinding]:
    return [CredentialFinding(kind, where) for kind, pattern in _PATTERNS if pattern.search(text)]


def find_credentials_in(data: Any, where: str = "$") -> list[CredentialFinding]:
    """Every credential-shaped string anywhere in JSON-like data (keys included)."""
    found: list[CredentialFinding] = []
    if isinstance(data, str):
        found.extend(find_credentials(data, where))
    elif isinstance(data, dict):
        for key, value in data.items():
            found.extend(find_credentials(str(key), f"{where}.<key>"))
            found.extend(find_credentials_in(value, f"{where}.{key}"))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            found.extend(find_credentials_in(value, f"{where}[{i}]"))
    return found


def scrub(data: Any, where: str = "$") -> tuple[Any, list[CredentialFinding]]:
    """A copy of ``data`` with every credential-shaped string, and every secret-named field, withheld."""
    withheld: list[CredentialFinding] = []

    def walk(value: Any, path: str, key: str | None) -> Any:
        if key is not None and _SECRET_KEYS.search(key) and value not in (None, "", [], {}):
            withheld.append(CredentialFinding("secret_field", path))
            return WITHHELD
        if isinstance(value, str):
            hits = find_credentials(value, path)
            if hits:
                withheld.extend(hits)
                return WITHHELD
            return value
        if isinstance(value, dict):
            return {
                k: walk(v, f"{path}.{k}", str(k)) for k, v in value.items() if not find_credentials(str(k))
            }
        if isinstance(value, list | tuple):
            return [walk(v, f"{path}[{i}]", None) for i, v in enumerate(value)]
        return value

    return walk(data, where, None), withheld


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_ARN_PRINCIPAL = re.compile(
    r"(arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:user|assumed-role/[^/\s\"']+))/([^\s\"',]+)"
)
_TOKEN = re.compile(r"person-\d{4}(?:@redacted\.invalid)?")
# Tag / field names whose values name a person.
_PERSON_KEYS = re.compile(
    r"(?i)^(owner|created[_-]?by|createdby|contact|author|user(name)?|requester|email)$"
)


@dataclass
class Pseudonymizer:
    """Identities out, stable tokens in; the same person gets the same token within one exchange.

    One instance per exchange: ``apply`` on the way out, ``restore`` on the answer. The mapping lives only in
    the client's memory and is never sent.
    """

    _forward: dict[str, str] = field(default_factory=dict)
    _back: dict[str, str] = field(default_factory=dict)

    def _token(self, original: str, email: bool) -> str:
        if original in self._forward:
            return self._forward[original]
        n = len(self._forward) + 1
        token = f"person-{n:04d}" + ("@redacted.invalid" if email else "")
        self._forward[original] = token
        self._back[token] = original
        return token

    def text(self, value: str) -> str:
        if _TOKEN.fullmatch(value):
            return value
        value = _EMAIL.sub(lambda m: m.group(0) if _TOKEN.fullmatch(m.group(0)) else self._token(m.group(0), True),
                           value)  # fmt: skip
        return _ARN_PRINCIPAL.sub(lambda m: f"{m.group(1)}/{self._token(m.group(2), False)}", value)

    def apply(self, data: Any, key: str | None = None) -> Any:
        if isinstance(data, str):
            if key is not None and _PERSON_KEYS.match(key) and data and not _EMAIL.fullmatch(data):
                return self._token(data, False)
            return self.text(data)
        if isinstance(data, dict):
            return {k: self.apply(v, str(k)) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.apply(v) for v in data]
        return data

    def restore(self, data: Any) -> Any:
        if isinstance(data, str):
            return _TOKEN.sub(lambda m: self._back.get(m.group(0), m.group(0)), data)
        if isinstance(data, dict):
            return {k: self.restore(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.restore(v) for v in data]
        return data

    @property
    def count(self) -> int:
        return len(self._forward)
