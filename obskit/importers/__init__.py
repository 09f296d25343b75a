"""`obskit import`: SLOs written for other tools (OpenSLO v1, Sloth) as a commented obskit spec."""
