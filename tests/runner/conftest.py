import textwrap
from pathlib import Path

import pytest

TINY_SPEC = """
name: tiny
base:
  preset: udl-mlp
  set:
    data.num_samples: 600
    model.hidden: [16]
    train.eval_every_epochs: 1
factors:
  model.activation: [relu, tanh]
seeds: [0, 1, 2]
budget: {max_steps: 24}
mode: grid
"""


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY_SPEC))
    return path
