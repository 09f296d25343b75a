"""obskit: observability and disaster-recovery config generated from one service spec."""
