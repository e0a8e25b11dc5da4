"""The speed checks live in the package: the worker and the workloads it trains import neither
pytest nor the repository's `bench/`, so that `cnnablate bench` runs from an installed wheel."""

import os
import subprocess
import sys

CHECK = """
import sys
import cnnablate.perf.worker as worker
loaded_by_import = 'pytest' in sys.modules, 'bench' in sys.modules
load, run = worker.tree_workloads()  # what a worker imports before its first request
print(*loaded_by_import, 'pytest' in sys.modules, 'bench' in sys.modules)
print('cnnablate.perf.workloads' in sys.modules)
"""


def test_the_worker_and_its_workloads_need_neither_pytest_nor_the_bench(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"] * 4 + ["True"], done.stdout
