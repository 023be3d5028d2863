"""Fake credentials of every shape Escher must keep on the laptop: one per kind, each with a distinctive part.

None of these is live: the AWS, Azure and random-looking values were generated for these tests, and those with
a known prefix carry ``FAKE`` / ``Fake`` in their body. ``leaked(text)`` names every shape whose value or
distinctive part appears in ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    name: str
    value: str
    marker: str  # a part of the value that appears nowhere else; a partial leak shows it

    def __post_init__(self) -> None:
        assert self.marker in self.value, self.name


def _s(name: str, value: str, marker: str | None = None) -> Shape:
    return Shape(name, value, marker or value[-14:])


_PEM_BODY = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7FAKEpemBODYq0x9Vd3kLm2Qw7Rz4Ttp8HsW1aYc5Nf6JgB"
             "3uKeXo9DvL2iMqPb")  # fmt: skip

SHAPES: list[Shape] = [
    _s("aws access key id", "AKIAQ7FAKESHAPE00031"),
    _s("aws session key id", "ASIAQ7FAKESHAPE00032"),
    _s("aws secret access key, bare", "q9Xk2LmT7vR4wZ8nB1cY5hJ3dF6gS0aPeUoIrWtQ", "LmT7vR4wZ8nB1cY5"),
    _s(
        "aws secret access key, assigned",
        "aws_secret_access_key=Zp4Nq8Rw2Lx6Tv0Bk3Hm7Cj1Fg5Sd9Ya2EuQoWiX",
        "Lx6Tv0Bk3Hm7Cj1F",
    ),
    _s(
        "aws session token",
        "IQoJb3JpZ2luX2VjEFAKEaCXVzLWVhc3QtMSJHMEUCIQD7k2Lm9Xq4Rt8Vw1Zy5Bc3Nd6Fg0Hj2Kp7Ms4Qu9Tx"
        "1WaGIgR3vY8cE6oJ5iL2nP0sD7fA4gH1kM9qT3wX6zB8uC2CqYCCAoQABoMMTIzNDU2Nzg5MDEy",
        "EFAKEaCXVzLWVhc3Qt",
    ),
    _s("azure client secret", "Xy38Q~FAKEshapeAzure.Secret_Value-0001~", "FAKEshapeAzure"),
    _s("azure client secret, legacy", "Jx8+mQ2vT5nR7wK3pL9sF4dH6gB1cZ0aYeXuWiOo9k=", "mQ2vT5nR7wK3pL9s"),
    _s(
        "azure storage connection string",
        "DefaultEndpointsProtocol=https;AccountName=stfake;AccountKey=FAKEshape"
        "Key0x9Ab3Cd5Ef7Gh1Ij3Kl5Mn7Op9Qr1St3Uv5Wx7Yz9Ab1Cd3Ef5Gh7Ij9Kl1Mn3Op5Qr7St9Uv1Ww==;EndpointSuffix=core"
        ".windows.net",
        "FAKEshapeKey0x9",
    ),
    _s(
        "azure service bus connection string",
        "Endpoint=sb://ns-fake.servicebus.windows.net/;SharedAccessKeyName="
        "RootManageSharedAccessKey;SharedAccessKey=FAKEshapeSBkey0123456789abcdefABCDEFghij=",
        "FAKEshapeSBkey",
    ),
    _s(
        "azure sas url",
        "https://stfake.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-"
        "01-01T00:00:00Z&sig=FAKEshapeSig0123456789abcdefGHIJKL%3D",
        "FAKEshapeSig0123",
    ),
    _s(
        "gcp oauth access token",
        "ya29.a0FAKEshapeAccessToken_0123456789abcdefghijklmnopqrstuvwxyzABCDEF",
        "FAKEshapeAccessToken",
    ),
    _s(
        "gcp service account json",
        '{"type": "service_account", "project_id": "p-fake", "private_key_id": '
        '"fakeshape0123456789abcdef", "client_email": "sa@p-fake.iam.gserviceaccount.com"}',
        "fakeshape01234567",
    ),
    _s("gcp oauth client secret", "GOCSPX-FAKEshape0123456789abcdefgh", "FAKEshape01234567"),
    _s("google api key", "AIzaSyFAKEshape0123456789abcdefghijklmn", "FAKEshape0123456"),
    _s(
        "private key, pem",
        f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE KEY-----\n",
        "7FAKEpemBODYq0x9",
    ),
    _s("private key, no header", _PEM_BODY, "7FAKEpemBODYq0x9"),
    _s(
        "openssh private key, no header",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACFAKEsshBODY",
        "FAKEsshBODY",
    ),
    _s(
        "slack incoming webhook",
        "https://hooks.slack.com/services/T0FAKE001/B0FAKE002/FAKEshapeSlackHook0123456",
        "FAKEshapeSlackHook",
    ),
    _s("slack bot token", "xoxb-123456789012-1234567890123-FAKEshapeSlackBot01", "FAKEshapeSlackBot"),
    _s(
        "teams webhook",
        "https://contoso.webhook.office.com/webhookb2/0000-fake@0000/IncomingWebhook/FAKEshapeTeams0123/0000",
        "FAKEshapeTeams",
    ),
    _s(
        "discord webhook",
        "https://discord.com/api/webhooks/123456789012345678/FAKEshapeDiscord-0123456789_abc",
        "FAKEshapeDiscord",
    ),
    _s("stripe secret key", "sk_live_FAKEshapeStripe0123456789ab", "FAKEshapeStripe"),
    _s(
        "sendgrid key",
        "SG.FAKEshapeSendGrid0123a.FAKEshapeSendGridSecret0123456789abcdefghij",
        "FAKEshapeSendGrid",
    ),
    _s("twilio api key", "SK0fa4e5a6e0123456789abcdef0123456", "0fa4e5a6e012345"),
    _s("pagerduty api token", "u+FAKEshapePD0123456", "FAKEshapePD01"),
    _s(
        "pagerduty routing key",
        "pagerduty routing key 0fa4e5a6e0123456789abcdef9876543",
        "e0123456789abcdef98",
    ),
    _s("npm token", "npm_FAKEshapeNpm0123456789abcdefghijklmn", "FAKEshapeNpm012"),
    _s("github token", "ghp_FAKEshapeGitHub0123456789abcdefghijk", "FAKEshapeGitHub"),
    _s("gitlab token", "glpat-FAKEshapeGitLab012345", "FAKEshapeGitLab"),
    _s(
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlc2hhcGUifQ.FAKEshapeJwtSignature0123",
        "FAKEshapeJwtSignat",
    ),
    _s("bearer header", "Authorization: Bearer FAKEshapeBearerToken0123456789", "FAKEshapeBearerTok"),
    _s("basic auth header", "Authorization: Basic RkFLRXNoYXBlOmJhc2ljcGFzc3dvcmQ=", "RkFLRXNoYXBlOmJh"),
    _s("postgres dsn", "postgresql://app:FAKEshapePgPass01@db.internal:5432/app", "FAKEshapePgPass"),
    _s("mongodb url", "mongodb+srv://admin:FAKEshapeMongo01@cluster0.fake.mongodb.net/db", "FAKEshapeMongo"),
    _s(
        "sentry dsn",
        "https://0fa4e5a6e0123456789abcdeffa4e5a6@o123456.ingest.sentry.io/4505",
        "9abcdeffa4e5a6",
    ),
    _s(
        "odbc connection string",
        "Server=tcp:sql-fake.database.windows.net;Database=app;User Id=sa;Password="
        "FAKEshapeOdbc01;Encrypt=true",
        "FAKEshapeOdbc",
    ),
    _s("password in json text", '{"user": "svc", "password": "FAKEshapeJsonPw!7"}', "FAKEshapeJsonPw"),
    _s("password assignment", "db_password=FAKEshapeAssignPw9", "FAKEshapeAssignPw"),
    _s("client secret assignment", 'clientSecret: "FAKEshapeClientSecret01"', "FAKEshapeClientSec"),
    _s("anthropic api key", "sk-ant-api03-FAKEshapeAnthropic0123456789abcdef", "FAKEshapeAnthropic"),
    _s("openai project key", "sk-proj-FAKEshapeOpenAI0123456789abcdefghijklmnopqrstuv", "FAKEshapeOpenAI"),
    _s("mailgun key", "key-0fa4e5a6e0123456789abcdef0fa4e5a", "e0123456789abcdef0f"),
    _s(
        "pypi token",
        "pypi-AgEIcHlwaS5vcmcFAKEshapePyPI0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
        "FAKEshapePyPI",
    ),
]

# Values of secret-named fields: nothing in the value says "secret", the field name does.
FIELD_SECRETS: dict[str, str] = {
    "db_password": "FAKEfieldPw-hunter2",
    "api_key": "FAKEfieldApiKey",
    "clientSecret": "FAKEfieldClientSecret",
    "routing_key": "FAKEfieldRouting",
    "webhook_url": "https://example.invalid/FAKEfieldWebhook",
}


def leaked(text: str) -> list[str]:
    """The shapes (and field secrets) whose value or distinctive part occurs in ``text``."""
    out = [s.name for s in SHAPES if s.marker in text or s.value in text]
    out.extend(k for k, v in FIELD_SECRETS.items() if v in text)
    return out
