"""Cloud SDK failures become one Escher error that says what to do (``escher.clouds.<cloud>.translate``).

The exceptions come from real SDK calls where one is cheap on loopback (a dead port, a server that is not AWS,
no credentials); the others are the SDK's own exception classes built as the SDK builds them.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from escher.clouds.errors import CloudError, Failure, translate


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def not_aws() -> Iterator[str]:
    """An HTTP server that answers every request with a web page: what a wrong endpoint often is."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b"<html><body>Welcome to nginx!</body>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _aws_call(endpoint: str | None, **env: str) -> BaseException:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(**env)  # type: ignore[arg-type]
    client = session.client(
        "sts", region_name="us-east-1", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1})
    )
    with pytest.raises(Exception) as err:
        client.get_caller_identity()
    return err.value


def _expect(exc: BaseException, cloud: str, failure: Failure, exit_code: int, *words: str) -> CloudError:
    error = translate(exc)
    assert error is not None, f"{type(exc).__module__}.{type(exc).__name__} was not mapped"
    assert (error.cloud, error.failure, error.exit_code) == (cloud, failure, exit_code)
    assert error.hint
    text = f"{error.message} {error.hint}"
    for word in words:
        assert word in text, text
    return error


def test_aws_unreachable_endpoint() -> None:
    port = _dead_port()
    exc = _aws_call(f"http://127.0.0.1:{port}", aws_access_key_id="k", aws_secret_access_key="s")
    _expect(exc, "aws", Failure.unreachable, 1, f"127.0.0.1:{port}", "AWS_ENDPOINT_URL")


def test_aws_endpoint_that_is_not_aws(not_aws: str) -> None:
    exc = _aws_call(not_aws, aws_access_key_id="k", aws_secret_access_key="s")
    assert (
        type(exc).__name__ == "ResponseParserError"
    )  # not a BotoCoreError: the CLI used to show its traceback
    _expect(exc, "aws", Failure.bad_response, 1, "not an AWS API response", "region")


def test_aws_no_credentials() -> None:
    exc = _aws_call(f"http://127.0.0.1:{_dead_port()}")  # the suite scrubs every credential source
    _expect(exc, "aws", Failure.no_credentials, 4, "aws configure")


@pytest.mark.parametrize(
    ("code", "failure", "exit_code", "words"),
    [
        ("AccessDenied", Failure.denied, 4, "permission"),
        ("UnauthorizedOperation", Failure.denied, 4, "permission"),
        ("ThrottlingException", Failure.throttled, 1, "try again"),
        ("RequestLimitExceeded", Failure.throttled, 1, "try again"),
        ("InvalidClientTokenId", Failure.no_credentials, 4, "aws configure"),
        ("InternalError", Failure.refused, 1, "InternalError"),
    ],
)
def test_aws_answers(code: str, failure: Failure, exit_code: int, words: str) -> None:
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeInstances")
    _expect(exc, "aws", failure, exit_code, words)


def test_azure_unreachable_and_no_credentials() -> None:
    from azure.core.exceptions import ServiceRequestError
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient

    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{_dead_port()}/devstoreaccount1;"
    )
    client = BlobServiceClient.from_connection_string(conn, retry_total=0)
    with pytest.raises(ServiceRequestError) as err:
        client.get_service_properties()
    _expect(err.value, "azure", Failure.unreachable, 1, "cannot reach Azure")
    with pytest.raises(Exception) as cred:
        DefaultAzureCredential(exclude_managed_identity_credential=True).get_token("https://x/.default")
    _expect(cred.value, "azure", Failure.no_credentials, 4, "az login")


class _Response:
    """The few attributes azure-core's HttpResponseError reads from a response."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers: dict[str, str] = {}
        self.content_type = "application/json"

    def text(self, encoding: str | None = None) -> str:
        return '{"error": {"code": "Code", "message": "the message"}}'

    def body(self) -> bytes:
        return self.text().encode()


@pytest.mark.parametrize(
    ("status", "failure", "exit_code"),
    [(403, Failure.denied, 4), (429, Failure.throttled, 1), (500, Failure.refused, 1)],
)
def test_azure_answers(status: int, failure: Failure, exit_code: int) -> None:
    from azure.core.exceptions import HttpResponseError

    _expect(HttpResponseError(response=_Response(status)), "azure", failure, exit_code)


def test_gcp_no_credentials() -> None:
    import google.auth

    with pytest.raises(Exception) as err:
        google.auth.default()
    _expect(err.value, "gcp", Failure.no_credentials, 4, "gcloud auth application-default login")


@pytest.mark.parametrize(
    ("name", "failure", "exit_code"),
    [
        ("Forbidden", Failure.denied, 4),
        ("PermissionDenied", Failure.denied, 4),
        ("Unauthorized", Failure.no_credentials, 4),
        ("TooManyRequests", Failure.throttled, 1),
        ("ServiceUnavailable", Failure.unreachable, 1),
        ("InternalServerError", Failure.refused, 1),
    ],
)
def test_gcp_answers(name: str, failure: Failure, exit_code: int) -> None:
    import google.api_core.exceptions as core

    _expect(getattr(core, name)("the message"), "gcp", failure, exit_code)


def test_gcp_discovery_client_answers() -> None:
    import httplib2
    from googleapiclient.errors import HttpError

    exc = HttpError(httplib2.Response({"status": "403"}), b'{"error": {"message": "no"}}')
    _expect(exc, "gcp", Failure.denied, 4, "roles/viewer")


def test_an_sdk_refusing_its_own_settings_is_a_setup_error() -> None:
    import boto3

    with pytest.raises(ValueError) as err:  # botocore raises a plain ValueError for AWS_ENDPOINT_URL=notaurl
        boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url="notaurl")
    _expect(err.value, "aws", Failure.setup, 2, "Invalid endpoint: notaurl", "AWS_*")


def test_other_errors_are_not_cloud_errors() -> None:
    assert translate(KeyError("x")) is None
    assert translate(RecursionError()) is None


@pytest.mark.parametrize(
    ("module", "check", "names", "words"),
    [
        ("aws", "check_regions", ["us-eats-1"], "did you mean 'us-east-1'"),
        ("aws", "check_regions", ["42"], "'42' is not an AWS region"),
        ("aws", "check_regions", ["eu-west-1", "euwest1"], "'euwest1'"),
        ("azure", "check_locations", ["westeurop"], "did you mean 'westeurope'"),
        ("gcp", "check_regions", ["us-centrl1"], "did you mean 'us-central1'"),
    ],
)
def test_region_names_are_checked_with_a_suggestion(
    module: str, check: str, names: list[str], words: str
) -> None:
    import importlib

    with pytest.raises(CloudError) as err:
        getattr(importlib.import_module(f"escher.clouds.{module}"), check)(names)
    assert err.value.failure is Failure.bad_region and err.value.exit_code == 2
    assert words in err.value.message


def test_real_and_newer_region_names_pass() -> None:
    from escher.clouds import aws, azure, gcp

    aws.check_regions(["us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2"])
    gcp.check_regions(
        ["europe-west4", "me-central2", "zz-newplace7"]
    )  # right shape, not a typo of a known one
    azure.check_locations(["westeurope", "eastus2"])


@pytest.mark.parametrize(
    "code",
    ["ResourceNotFoundException", "NoSuchBucket", "InvalidInstanceID.NotFound", "DBInstanceNotFoundFault"],
)
def test_aws_not_found_answers_are_recognised_whatever_the_service_calls_them(code: str) -> None:
    """Lambda, Secrets Manager, Logs, ECS... answer a missing resource with ResourceNotFoundException."""
    from botocore.exceptions import ClientError

    from escher.clouds.aws import is_not_found

    assert is_not_found(ClientError({"Error": {"Code": code, "Message": "gone"}}, "GetFunction"))
    assert not is_not_found(ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetFunction"))
