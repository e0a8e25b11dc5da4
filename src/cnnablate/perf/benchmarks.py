"""What `cnnablate bench` measures: ours training one preset per family (the package's workload,
`cnnablate.perf.workloads.run_ours`), updates per measured run: 150 of warm-up, then a steady
window of about a second on a 2-core CPU. Light on purpose: the CLI reads the names."""

BENCHMARKS = {"nielsen-conv2-relu": 400, "nielsen-mlp30-mse": 2000, "udl-cnn": 500}
