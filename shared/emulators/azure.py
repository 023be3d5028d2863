"""Azure Blob and Queue storage on loopback: azurite from npm (installed by the project's package.json)."""

from __future__ import annotations

from escher.emulators._process import (
    LOOPBACK,
    Emulator,
    EmulatorError,
    ManagedProcess,
    find_node_bin,
    free_port,
)

# Azurite's well-known development account (public, documented; not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteEmulator(Emulator):
    """One azurite service: ``blob`` (the default) or ``queue`` (``azurite-blob`` / ``azurite-queue``)."""

    def __init__(self, service: str = "blob") -> None:
        self.service = service
        self.name = f"azurite ({service})"
        self.port = 0
        self._proc: ManagedProcess | None = None

    def _start(self) -> None:
        binary = find_node_bin(f"azurite-{self.service}")
        if binary is None:
            raise EmulatorError(
                "azurite is not installed", hint="run 'make emulators' (npm install in the repo)"
            )
        self.port = free_port()
        self._proc = ManagedProcess(
            self.name,
            [
                str(binary),
                f"--{self.service}Host",
                LOOPBACK,
                f"--{self.service}Port",
                str(self.port),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
                "--loose",
            ],
        )
        self._proc.start(self.port, timeout=60)

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    @property
    def endpoint(self) -> str:
        """The service's URL for the development account (``http://127.0.0.1:<port>/devstoreaccount1``)."""
        return f"http://{LOOPBACK}:{self.port}/{ACCOUNT_NAME}"

    @property
    def blob_endpoint(self) -> str:
        return self.endpoint

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}
