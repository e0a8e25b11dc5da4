"""What `cnnablate bench` measures: the bench suite's training of one preset per family (ours,
`bench/comparators.run_ours`), updates per measured run: 150 of warm-up, then a steady window of
about a second on a 2-core CPU."""

BENCHMARKS = {"nielsen-conv2-relu": 400, "nielsen-mlp30-mse": 2000, "udl-cnn": 500}
