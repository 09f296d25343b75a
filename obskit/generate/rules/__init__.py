"""The rules family: every rule group of a service (catalog, SLO and DR alerts) as a PrometheusRule
and a plain rule file, and the promtool tests that prove them."""
