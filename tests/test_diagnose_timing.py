"""The one timer against oracles: a clock that moves only when the timed call runs (so every call's duration
is known exactly), a forward that counts its calls, and one that sleeps a known time."""

import time

import pytest
import torch
from torch import nn

from depthlab.diagnose.timing import time_calls, time_forward
from depthlab.errors import DepthlabError


class FakeClock:
    """A clock that moves only when the timed function runs: each call takes the next of ``durations``."""

    def __init__(self, durations):
        self.now, self.calls, self.durations = 0.0, 0, durations

    def __call__(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += self.durations[self.calls % len(self.durations)]
        self.calls += 1


class ClockedNet(nn.Module):
    """A forward that takes ``seconds`` on ``clock``, counts its calls and notes the state it ran in."""

    def __init__(self, clock: FakeClock, seconds: float = 0.0):
        super().__init__()
        self.clock, self.seconds, self.calls, self.seen = clock, seconds, 0, set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.now += self.seconds
        self.calls += 1
        self.seen.add((torch.is_grad_enabled(), torch.get_num_threads()))
        return x


@pytest.mark.parametrize("budget", [0.1, 1.0])
def test_a_noisy_call_is_timed_until_the_budget_is_spent(budget):
    clock = FakeClock([0.003, 0.001])  # never steady: the interquartile range stays as large as the median
    timing = time_calls(clock.step, budget, clock=clock)
    warmup = 0.003  # the first call sizes the blocks and is not part of the budget
    assert budget < clock.now - warmup <= budget + 0.003  # stops at the first block past the budget
    assert timing.calls == clock.calls - 1  # every call but the sizing one is timed
    assert timing.calls == pytest.approx(budget / 0.002, abs=3)  # so a larger budget buys more calls
    assert 0.001 - 1e-9 <= timing.seconds <= 0.003 + 1e-9  # the median of the calls' own durations


def test_a_steady_call_stops_long_before_the_budget():
    clock = FakeClock([0.005])
    timing = time_calls(clock.step, 10.0, clock=clock)
    assert timing.seconds == pytest.approx(0.005) and timing.ms == pytest.approx(5.0)
    assert (timing.calls, clock.calls) == (4, 1 + 4)  # the sizing call, then the fewest blocks the rule takes


def test_time_forward_reports_the_forward_own_duration_and_counts_its_calls():
    clock = FakeClock([])
    net = ClockedNet(clock, seconds=0.002)
    timing = time_forward(net, torch.zeros(3), budget=0.05, clock=clock)
    assert timing.seconds == pytest.approx(0.002)  # each forward moved the clock by exactly 2 ms
    assert timing.calls < net.calls <= timing.calls + 3  # timed calls, plus the few that sized the blocks
    assert timing.calls * timing.seconds <= clock.now  # the timed time is part of all the time spent


def test_time_forward_runs_without_autograd_on_the_threads_asked_for():
    net = ClockedNet(FakeClock([]), seconds=0.001)
    time_forward(net, torch.zeros(3), budget=0.02, threads=1, clock=net.clock)
    assert net.seen == {(False, 1)}
    before = torch.is_grad_enabled(), torch.get_num_threads()
    assert before[0]  # autograd and the thread count are the caller's again afterwards
    assert before == (torch.is_grad_enabled(), torch.get_num_threads())


class Sleeper(nn.Module):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        self.calls += 1
        return x


def test_time_forward_on_the_real_clock_never_reports_less_than_the_forward_sleeps():
    net = Sleeper(0.002)
    started = time.perf_counter()
    timing = time_forward(net, torch.zeros(3), budget=0.05)
    elapsed = time.perf_counter() - started
    assert timing.seconds >= 0.002  # sleep() waits at least as long as asked
    assert timing.calls < net.calls  # the sizing calls come on top of the timed ones
    assert timing.calls * timing.seconds <= elapsed  # no more timed time than passed on the wall


@pytest.mark.parametrize("budget", [0, -1.0, float("nan"), float("inf"), "1"])
def test_a_budget_that_is_not_a_positive_number_of_seconds_is_one_clear_error(budget):
    with pytest.raises(DepthlabError, match="time budget"):
        time_forward(nn.Identity(), torch.zeros(1), budget)
