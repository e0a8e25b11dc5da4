"""The one clock: steps timed end to end past the warm-up, pauses and epoch turnovers left out."""

import pytest

from cnnablate.perf.clock import SteadyClock


class FakeTime(SteadyClock):
    """The clock, reading a time the test sets."""

    time = 0.0

    def now(self) -> float:
        return self.time


def steps(clock: FakeTime, durations: list[float], samples: int = 10) -> None:
    for seconds in durations:
        clock.time += seconds
        clock.tick(samples)


def test_counts_the_steps_after_the_warm_up_up_to_the_total():
    clock = FakeTime(warmup_samples=20, total_samples=50)
    clock.resume()
    steps(clock, [5.0, 5.0, 1.0, 2.0, 3.0, 9.0])  # two of warm-up, three counted, one past
    assert clock.steps == [(10, 1.0), (10, 2.0), (10, 3.0)]
    assert clock.steady_samples_per_s() == pytest.approx(30 / 6.0)
    assert clock.seconds_per_sample_by_step() == pytest.approx([0.1, 0.2, 0.3])


def test_a_pause_or_an_epoch_turnover_is_left_out():
    clock = FakeTime(warmup_samples=0)
    clock.resume()
    steps(clock, [1.0])
    clock.time += 100.0  # validation, a checkpoint, a paced wait
    clock.resume()
    steps(clock, [1.0])
    assert clock.samples_per_s == pytest.approx(20 / 2.0)


def test_a_run_within_its_warm_up_is_a_rough_figure_but_no_steady_state():
    clock = FakeTime(warmup_samples=100, total_samples=200)
    clock.resume()
    steps(clock, [1.0, 3.0])
    assert clock.samples_per_s == pytest.approx(20 / 4.0)
    with pytest.raises(RuntimeError, match="within the warm-up of 100 or short of its 200"):
        clock.steady_samples_per_s()


def test_nothing_timed_is_no_figure_and_the_state_survives_a_resume():
    clock = FakeTime(warmup_samples=0)
    assert clock.samples_per_s is None
    clock.resume()
    steps(clock, [2.0, 2.0])
    restored = FakeTime(warmup_samples=0)
    restored.load_state_dict(clock.state_dict())
    assert restored.samples == 20 and restored.samples_per_s == clock.samples_per_s
