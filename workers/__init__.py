"""Thin per-cloud entry points (AWS Lambda, Azure Functions, GCP functions-framework).

Each is a few dozen lines that parse the platform's payload and call the core pipeline. Importing a worker
module loads no cloud SDK: the SDKs are imported lazily by ``escher.clouds``.
"""
