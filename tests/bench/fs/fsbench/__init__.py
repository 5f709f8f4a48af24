"""The filesystem benchmark harness behind scripts/bench.sh (see bench.py)."""
