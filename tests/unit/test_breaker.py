import pytest

from adapters.redis.breaker import CircuitBreaker
from application.errors import CacheSkipped


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_after_a_failure_calls_are_skipped_until_the_cooldown_ends():
    clock = Clock()
    breaker = CircuitBreaker(cooldown_seconds=2, clock=clock)
    breaker.check()
    breaker.failed(ConnectionError("refused"))
    with pytest.raises(CacheSkipped):
        breaker.check()
    clock.now += 2.1
    breaker.check()  # one call goes through to see whether Redis is back


def test_a_failed_probe_opens_it_again_and_a_success_closes_it():
    clock = Clock()
    breaker = CircuitBreaker(cooldown_seconds=2, clock=clock)
    breaker.failed(ConnectionError())
    clock.now += 3
    breaker.failed(ConnectionError())
    with pytest.raises(CacheSkipped):
        breaker.check()
    clock.now += 3
    breaker.succeeded()
    breaker.check()


def test_a_zero_cooldown_never_skips():
    breaker = CircuitBreaker(cooldown_seconds=0, clock=Clock())
    breaker.failed(ConnectionError())
    breaker.check()
