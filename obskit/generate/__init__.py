"""Generation: pure functions from a Plan to files, one module per artifact family, registered
in the output table (outputs.py) that tree assembly (tree.py) iterates."""
