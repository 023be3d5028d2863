"""Azure Functions worker (v2 programming model): ``escher.workers.azure.function_app`` exposes ``app``.

The logic is in :mod:`escher.workers.azure.handlers` (no Azure import); ``function_app`` only binds triggers.
"""
