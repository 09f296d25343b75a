"""The plan: tiers, burn-rate math, DR math and every derived number and name, per environment."""
