"""The framework files (JSON): a package so that the wheel carries them (setup.py packages folders with an __init__.py)."""
