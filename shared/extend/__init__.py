"""What the laptop hands to its extension in the cloud: the user's effective settings as one versioned, hashed
object in the state storage (:mod:`escher.extend.settings_doc`), the secrets it references by name
(:mod:`escher.extend.secrets`), and the laptop's side of publishing it (:mod:`escher.extend.publish`).

Nothing here imports a cloud SDK at import time.
"""

from __future__ import annotations

__all__: list[str] = []
