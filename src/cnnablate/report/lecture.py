"""The lecture's claims 1–8 (docs/lecture.md) in one table: each claim's statement, the topics that
must have evidence, the preset comparisons with the lecture's numbers (floats, read from the
presets), what produces the evidence, and the verdict rule, its text made from the same
constants the verdicts use."""

from __future__ import annotations

from dataclasses import dataclass

from cnnablate.presets import PRESETS

TOLERANCE = 0.02  # two means within 2 percentage points of the lecture's: its numbers hold
LITTLE = 0.005  # "adds little": a gain below 0.5 percentage points
EQUIVARIANCE_TOLERANCE = 1e-4
ENSEMBLE_ACC = 0.9967  # Nielsen's ensemble of five dropout networks; no preset of its own


@dataclass(frozen=True)
class Step:
    """A comparison of two presets (b improves on a) with the lecture's accuracies."""

    claim: int
    topic: str
    a: str
    b: str

    @property
    def claimed(self) -> tuple[float, float]:
        return PRESETS[self.a].lecture.acc, PRESETS[self.b].lecture.acc


@dataclass(frozen=True)
class Claim:
    number: int
    statement: str
    topics: frozenset[str]  # each needs evidence for the claim to be wholly run
    produced_by: str
    numbers: str = ""  # the lecture's words where its numbers are not a preset's accuracy

    @property
    def steps(self) -> list[Step]:
        return [step for step in STEPS if step.claim == self.number]

    @property
    def lecture(self) -> str:
        """The lecture's numbers: each compared network's, then any words of its own."""
        named = []
        for step in self.steps:
            for name in (step.b, step.a):
                text = f"{PRESETS[name].claimed} ({name})"
                if text not in named:
                    named.append(text)
        if self.number == 4:
            named.append(f"{100 * ENSEMBLE_ACC:.2f}% (ensemble of nielsen-dropout)")
        return "; ".join([*named, *([self.numbers] if self.numbers else [])])


STEPS = [
    Step(1, "CNN vs fully connected", "udl-fc", "udl-cnn"),
    Step(2, "conv vs MLP", "nielsen-shallow", "nielsen-conv1"),
    Step(3, "activation", "nielsen-conv2", "nielsen-conv2-relu"),
    Step(4, "augmentation", "nielsen-conv2-relu", "nielsen-expanded"),
    Step(4, "second FC layer", "nielsen-expanded", "nielsen-fc2"),
    Step(4, "dropout", "nielsen-fc2", "nielsen-dropout"),
]

_CONV_SPEC = "any spec with a conv network and checkpoint: true, e.g. ablations/mnist1d-quick.yaml"
CLAIMS = {
    claim.number: claim
    for claim in (
        Claim(
            1,
            "A CNN generalises far better than a fully connected net with many more parameters",
            frozenset({"CNN vs fully connected"}),
            "ablations/mnist1d-udl.yaml (udl-cnn vs udl-fc), or ablations/mnist1d-quick.yaml",
        ),
        Claim(
            2,
            "Conv/pool layers beat the plain MLP on MNIST",
            frozenset({"conv vs MLP"}),
            "ablations/nielsen-chain.yaml (shallow, conv1) or ablations/lecture-factors.yaml",
        ),
        Claim(
            3,
            "ReLU beats sigmoid; cross-entropy beats squared error",
            frozenset({"activation", "loss"}),
            "ablations/nielsen-chain.yaml (conv2, conv2-relu), ablations/lecture-factors.yaml",
            numbers="MSE learns slower",
        ),
        Claim(
            4,
            "Augmentation, a second FC layer, dropout and ensembles each help",
            frozenset({"augmentation", "second FC layer", "dropout", "ensemble"}),
            "ablations/nielsen-chain.yaml (expanded, fc2, 5× dropout with checkpoints for the "
            "ensemble) or ablations/lecture-factors.yaml (augmentation, dropout)",
        ),
        Claim(
            5,
            "L2 regularisation adds little on top of conv/pool layers",
            frozenset({"L2"}),
            "ablations/nielsen-l2.yaml (optim.l2 from 0 to 100 on nielsen-conv2-relu)",
            numbers="no gain for λ from 1e-5 to 100",
        ),
        Claim(
            6,
            "Convolution is translation-equivariant; max pooling gives partial invariance",
            frozenset({"equivariance", "invariance"}),
            _CONV_SPEC,
            numbers="equivariance exact; small change under a one-pixel shift with max pooling",
        ),
        Claim(
            7,
            "Receptive fields grow with depth",
            frozenset({"receptive field"}),
            _CONV_SPEC,
            numbers="kernel 3: 3, 5, 7 …, then the whole input",
        ),
        Claim(
            8,
            "A conv layer has C_i·C_o·K·K weights + C_o biases",
            frozenset({"parameter count"}),
            _CONV_SPEC,
            numbers="C_i·C_o·K·K + C_o",
        ),
    )
}


def _topics() -> str:
    several = [c for c in CLAIMS.values() if len(c.topics) > 1]
    return "; ".join(f"claim {c.number}: {', '.join(sorted(c.topics))}" for c in several)


RULE = (
    "A part comparing two networks with the lecture's numbers is reproduced when the lecture's "
    "direction holds for the means over seeds and either both means are within "
    f"{100 * TOLERANCE:g} percentage points of the lecture's numbers or the lecture's "
    "difference lies inside the 95% interval of the measured difference (Welch for presets, "
    "paired t for factor levels); when neither holds but the 95% interval lies wholly on the "
    "lecture's side of zero, its verdict is 'direction reproduced, size differs'. A part "
    "without numbers is reproduced when the 95% interval of the difference lies wholly on the "
    f"lecture's side of zero; 'adds little' (claim 5) when the mean gain is below "
    f"{100 * LITTLE:g} points. Claim 6: the convolution's equivariance error is below "
    f"{EQUIVARIANCE_TOLERANCE:g} of its output scale, and max pooling changes less under a "
    "one-position shift than stride-2 subsampling and than no pooling. Claim 7: the measured "
    "receptive field equals the formula at every depth and grows with it. Claim 8: every conv "
    "layer holds C_i·C_o·K^d + C_o parameters. A claim is reproduced when each of its topics "
    f"({_topics()}) has evidence and every part is reproduced; 'direction reproduced, size "
    "differs' when no part is worse than that and one is that; not reproduced when any part "
    "is not; not run when no part ran; '(partly run)' when some topic has no evidence. A part "
    "at a short budget (†) is shown but not counted when its topic has a part at full budget."
)
