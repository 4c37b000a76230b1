"""The switch interval our threads ask for is counted: jobs that overlap put it back."""

from __future__ import annotations

import sys

from fastapi_route.runtime.switching import switch_interval_at_most


def test_interleaved_jobs_leave_the_interval_as_it_was() -> None:
    before = sys.getswitchinterval()
    reload, document = switch_interval_at_most(0.0005), switch_interval_at_most(0.001)
    reload.__enter__()
    assert sys.getswitchinterval() == min(before, 0.0005)
    document.__enter__()
    assert sys.getswitchinterval() == min(before, 0.0005)  # the shortest asked for
    reload.__exit__(None, None, None)  # the first one ends while the second runs
    assert sys.getswitchinterval() == min(before, 0.001)
    document.__exit__(None, None, None)
    assert sys.getswitchinterval() == before  # not the short one for good
