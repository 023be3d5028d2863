"""Each cloud's Extension in parts: child components with typed outputs (see :mod:`escher.infra.component`).

``aws``, ``azure`` and ``gcp`` declare the parts; the cloud modules (:mod:`escher.infra.aws` ...) compose them
and name the stack outputs. Nothing here imports pulumi at import time.
"""
