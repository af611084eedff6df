"""Benchmarks and the data they run on. Run them all with `python -m bench`."""
