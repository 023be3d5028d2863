"""Versioned SQL migrations, applied in order by :mod:`escher.store.migrate` (``NNNN_name.sql``)."""
