"""Speed benchmarks (pytest-benchmark): run with `tox -e bench`, see bench/README.md."""
