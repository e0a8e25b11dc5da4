import math

from hypothesis import given
from hypothesis import strategies as st

from cnnablate.perf.stats import (
    FASTER,
    INCONCLUSIVE,
    SAME,
    SLOWER,
    Ratio,
    paired_ratio,
    rounds_to_settle,
    unpaired_ratio,
    verdict,
)


def test_a_steady_ten_percent_slowdown_is_slower_and_unchanged_code_the_same():
    reference = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03]
    slower = [1.1 * r * (1 + 0.005 * (-1) ** i) for i, r in enumerate(reference)]
    same = [r * (1 + 0.005 * (-1) ** i) for i, r in enumerate(reference)]
    assert verdict(paired_ratio(reference, slower), 0.10) == SLOWER
    assert verdict(paired_ratio(reference, same), 0.10) == SAME
    assert verdict(paired_ratio(slower, reference), 0.10) == FASTER


def test_the_verdict_rules_at_their_edges():
    assert verdict(Ratio(1.08, 1.051, 1.11, 5), 0.10) == SLOWER
    assert (
        verdict(Ratio(1.08, 1.049, 1.11, 5), 0.10) == INCONCLUSIVE
    )  # over 1.10, not clear of 1.05
    assert verdict(Ratio(1.04, 1.01, 1.07, 5), 0.10) == SAME  # a slowdown within the tolerance
    assert verdict(Ratio(1.0, 0.85, 1.15, 5), 0.10) == INCONCLUSIVE


def test_noise_too_large_is_inconclusive_and_says_how_many_rounds_would_settle_it():
    reference = [1.0, 1.0, 1.0, 1.0]
    noisy = [0.8, 1.25, 0.9, 1.15]
    ratio = paired_ratio(reference, noisy)
    assert verdict(ratio, 0.10) == INCONCLUSIVE
    settle = rounds_to_settle(ratio, 0.10)
    assert settle > 4
    # with that many rounds of the same spread, the interval would be narrow enough
    shrunk = ratio.half_width * math.sqrt(ratio.n / settle)
    assert shrunk <= math.log(1 + 0.10 / 4) + 1e-12


def test_unpaired_ratio_of_two_stored_runs():
    ratio = unpaired_ratio([1.0, 1.01, 0.99, 1.0], [1.2, 1.21, 1.19, 1.2])
    assert 1.19 < ratio.estimate < 1.21 and verdict(ratio, 0.10) == SLOWER


times = st.lists(st.floats(0.5, 2.0), min_size=2, max_size=12)


@given(times, st.data())
def test_swapping_the_sides_inverts_the_ratio_and_mirrors_the_verdict(reference, data):
    tested = data.draw(
        st.lists(st.floats(0.5, 2.0), min_size=len(reference), max_size=len(reference))
    )
    forward, backward = paired_ratio(reference, tested), paired_ratio(tested, reference)
    assert math.isclose(forward.estimate * backward.estimate, 1.0, rel_tol=1e-9)
    assert forward.low <= forward.estimate <= forward.high
    mirror = {SLOWER: FASTER, FASTER: SLOWER, SAME: SAME, INCONCLUSIVE: INCONCLUSIVE}
    # the rules are symmetric on the log scale up to the two bounds' rounding
    said, back = verdict(forward, 0.10), verdict(backward, 0.10)
    assert back == mirror[said] or SAME in (said, back) or INCONCLUSIVE in (said, back)
