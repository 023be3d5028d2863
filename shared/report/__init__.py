"""The morning report: template settings, the builder, and renderers for every export format."""

from __future__ import annotations
