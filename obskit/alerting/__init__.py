"""What the alert generators and the engines share: rule and group shapes, alerts with the
promtool cases that prove them, and when those cases sample and evaluate. Below the plan, so
that the engine interface the plan defines can speak of checked alerts."""
