"""The tracker's sync clock, driven by a model server on a virtual clock (no sleeping): it learns a
relay's 15 s sync and then polls just after each one; where changes come at any moment it gives
the pace back to the tracker."""

import random

from mjnb.sync_phase import SyncPhase


def drive(phase, changes_at, until, unit=1.0, latency=0.02):
    """Poll as the tracker does (next_poll, else every `unit` s); returns the poll times and, for
    each change, how long after it the first poll showed it."""
    now, polls, seen_upto, delays = 0.0, [], -1.0, []
    while now < until:
        sent, answered = now, now + latency
        fresh = [c for c in changes_at if seen_upto < c <= sent]
        delays += [answered - c for c in fresh]
        if fresh:
            seen_upto = max(fresh)
        phase.observe(sent, answered, bool(fresh))
        polls.append(sent)
        at = phase.next_poll(answered)
        now = at if at is not None else answered + unit
    return polls, delays


def test_locks_onto_a_15_s_sync_and_then_polls_once_per_sync():
    syncs = [4.2 + 15 * k for k in range(60)]  # the relay's loop: a change visible at each
    phase = SyncPhase(unit=1.0)
    polls, delays = drive(phase, syncs, until=900)
    assert phase.locked and abs(phase.period - 15) < 0.2
    late = [p for p in polls if p > 120]  # after learning
    assert len(late) / ((900 - 120) / 60) <= 6  # requests per minute
    warm = delays[10:]
    assert max(warm) < 1.0 and sorted(warm)[len(warm) // 2] < 0.5


def test_a_sync_that_changes_nothing_does_not_lose_the_phase():
    syncs = [4.2 + 15 * k for k in range(60) if k % 7 != 3]  # some syncs show nothing new
    phase = SyncPhase(unit=1.0)
    _, delays = drive(phase, syncs, until=900)
    assert phase.locked and max(delays[10:]) < 1.0


def test_changes_at_any_moment_leave_the_pace_to_the_tracker():
    rng = random.Random(3)
    changes = sorted(rng.uniform(0, 300) for _ in range(400))  # a raw upstream: progress any time
    phase = SyncPhase(unit=1.0)
    drive(phase, changes, until=300)
    assert phase.aperiodic and phase.next_poll(301) is None
