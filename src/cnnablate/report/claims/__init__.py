"""The lecture's claims 1–8 (docs/lecture.md) as objects, one module each (`claim1` … `claim8`).

A claim is tested by parts. A part compares two groups of trials or measures trained networks:

- a step, preset against preset (`steps.py`): trials whose data, network, loss and optimiser are
  exactly a preset's (budget aside; short budgets are marked), compared as independent groups;
- a contrast of a grid's factor levels (`contrasts.py`, e.g. `loss` mse → ce): trials paired on
  every other factor and the seed;
- a probe of a trained network (claims 6–8, and claim 4's ensemble), given `evidence.Evidence`.

`verdicts.py` combines each claim's parts into its verdict and writes the tables.
"""
