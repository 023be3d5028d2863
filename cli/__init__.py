"""The ``escher`` command line: thin. It parses, calls the core, and renders with rich."""
