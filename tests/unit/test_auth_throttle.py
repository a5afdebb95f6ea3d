"""The failed-login throttle: 5 free failures per user name and per source address, then
0.25 s doubling up to 30 s; a success clears the user name's count."""

from __future__ import annotations

import logging

import pytest

from regd.auth.throttle import FREE_FAILURES, MAX_DELAY, LoginThrottle


def _fail(throttle: LoginThrottle, times: int, source: str, user: str) -> None:
    for _ in range(times):
        throttle.failed(source, user)


def test_five_failures_are_free_then_each_attempt_waits_longer() -> None:
    throttle = LoginThrottle()
    delays = []
    for _ in range(FREE_FAILURES + 4):
        delays.append(throttle.delay("10.0.0.1", "alice"))
        throttle.failed("10.0.0.1", "alice")
    assert delays == [0, 0, 0, 0, 0, 0.25, 0.5, 1.0, 2.0]


def test_the_delay_is_capped() -> None:
    throttle = LoginThrottle()
    _fail(throttle, 40, "10.0.0.1", "alice")
    assert throttle.delay("10.0.0.1", "alice") == MAX_DELAY


def test_failures_count_per_user_name_from_any_address() -> None:
    throttle = LoginThrottle()
    for n in range(FREE_FAILURES + 1):
        throttle.failed(f"10.0.0.{n}", "alice")
    assert throttle.delay("10.9.9.9", "alice") == 0.5
    assert throttle.delay("10.9.9.9", "bob") == 0


def test_failures_count_per_address_for_any_user_name() -> None:
    throttle = LoginThrottle()
    for n in range(FREE_FAILURES + 1):
        throttle.failed("10.0.0.1", f"user-{n}")
    assert throttle.delay("10.0.0.1", "someone-new") == 0.5
    assert throttle.delay("10.0.0.2", "someone-new") == 0


def test_a_success_clears_the_user_names_count_not_the_addresss() -> None:
    throttle = LoginThrottle()
    _fail(throttle, FREE_FAILURES + 1, "10.0.0.1", "alice")
    throttle.succeeded("10.0.0.1", "alice")
    assert throttle.delay("10.0.0.2", "alice") == 0
    assert throttle.delay("10.0.0.1", "bob") == 0.5


def test_repeated_failures_are_logged_with_name_and_address_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = LoginThrottle()
    with caplog.at_level(logging.WARNING, logger="regd.auth.throttle"):
        _fail(throttle, FREE_FAILURES - 1, "10.0.0.1", "alice")
        assert caplog.records == []
        throttle.failed("10.0.0.1", "alice")
    assert [record.getMessage() for record in caplog.records] == [
        "repeated failed logins: user 'alice' from 10.0.0.1 (5 in a row)"
    ]
