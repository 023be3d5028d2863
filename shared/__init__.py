"""Escher: operate AWS, Azure and GCP from one place.

The core library. Importing it is cheap and loads no cloud SDK, pulumi or anthropic; the subpackages
(``escher.events``, ``escher.ops``, ``escher.store``, ...) are imported where they are used.
"""

from escher._version import __version__
from escher.errors import EscherError

__all__ = ["EscherError", "__version__"]
