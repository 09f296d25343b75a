"""Verifying a written tree: promtool, object and schema checks."""
