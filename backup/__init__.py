"""What the generated backup jobs run, shipped as package data (obskit.builtin_backup)."""
