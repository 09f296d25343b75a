"""The dashboard templates and library, shipped as package data (obskit.builtin_dashboards)."""
