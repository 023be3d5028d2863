"""The built-in report templates (package data); a user's own in <config dir>/templates/ come first."""
