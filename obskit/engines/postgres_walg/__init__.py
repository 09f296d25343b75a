"""PostgreSQL backed up with WAL-G: the engine (plan.ENGINE) and everything it knows."""
