"""The job wrapper every engine's backup and drill jobs run, shipped as package data (obskit.jobs)."""
