"""Extend My Laptop: Pulumi components per cloud and the Automation API driver used by ``escher extend``.

Nothing here imports pulumi at import time; the program functions import it when they run.
"""
