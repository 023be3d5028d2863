"""Compliance frameworks over the scans: which controls the latest scan passes, fails or could not decide.

:mod:`escher.compliance.catalogue` holds the frameworks (CIS Foundations for AWS, Azure and GCP, SOC 2, HIPAA,
NIST SP 800-53 rev 5) as data files with each control's Escher checks; :mod:`escher.compliance.evaluate` turns a
stored scan into a verdict per control and account; :mod:`escher.compliance.render` writes the report formats.
"""
