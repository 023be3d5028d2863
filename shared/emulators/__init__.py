"""Local emulators on 127.0.0.1 and free ports, for ``escher demo`` and the test suite.

Each is a context manager that always stops what it started. Nothing here imports an emulator package at
import time; they come with the ``demo`` extra (and azurite from npm).
"""

from escher.emulators._process import Emulator, EmulatorError, free_port
from escher.emulators.aws import MotoEmulator
from escher.emulators.azure import AzuriteEmulator
from escher.emulators.gcp import FakeGcsEmulator, GcsStorageEmulator, PubSubEmulator
from escher.emulators.postgres import EmbeddedPostgres

__all__ = [
    "AzuriteEmulator",
    "EmbeddedPostgres",
    "Emulator",
    "EmulatorError",
    "FakeGcsEmulator",
    "GcsStorageEmulator",
    "MotoEmulator",
    "PubSubEmulator",
    "free_port",
]
