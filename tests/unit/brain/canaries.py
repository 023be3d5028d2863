"""Obviously fake, credential-shaped canaries. None of them may ever reach the brain, the model or a log."""

from __future__ import annotations

AWS_KEY_ID = "AKIAFAKECANARY000001"
AWS_SESSION_KEY_ID = "ASIAFAKECANARY000002"
AWS_SECRET = "aws_secret_access_key = FAKEcanarySECRETkey" + "0" * 21  # exactly 40 characters
AZURE_SECRET = "abc8Q~FAKEcanaryFAKEcanaryFAKEcanary00"
GCP_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIFAKECANARYFAKECANARY\n-----END PRIVATE KEY-----\n"
SERVICE_ACCOUNT = '{"type": "service_account", "project_id": "p", "private_key_id": "fakecanary0001"}'
BEARER = "Bearer FAKEcanaryTOKEN00000000000000"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlY2FuYXJ5In0.FAKEcanarySIGNATURE0000"
CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=fake;AccountKey=FAKEcanaryKEY000000000000==;EndpointSuffix=x"
)
DB_URL = "postgresql://admin:FAKEcanaryPW0001@db.internal:5432/app"

ALL = [AWS_KEY_ID, AWS_SESSION_KEY_ID, AWS_SECRET, AZURE_SECRET, GCP_PRIVATE_KEY, SERVICE_ACCOUNT, BEARER, JWT,
       CONNECTION_STRING, DB_URL]  # fmt: skip
# The distinctive part of each: what must not appear anywhere outside the client.
MARKERS = ["FAKECANARY", "FAKEcanary", "fakecanary", "ZmFrZWNhbmFyeQ", "BEGIN PRIVATE KEY"]


def leaked(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]
