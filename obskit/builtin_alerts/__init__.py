"""The built-in alert catalog, shipped as package data (obskit.builtin_alerts)."""
