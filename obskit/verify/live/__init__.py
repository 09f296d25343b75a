"""`obskit check`: the spec held against a live Prometheus, through its read-only HTTP API."""
