"""Restart storms and live minute counts (jobs/storms.py) against a model written from the definition, with no
window sliding: the qualifying starts are found by counting, storms by linking neighbours."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.storms import MINUTE, KeyState, Storm, detect, step


def model_storms(starts: list[int], n: int, window: int) -> list[Storm]:
    """Storms by the definition: qualifying starts (n starts in the window ending at them), linked when the later
    one's window holds the earlier one."""
    qualifying = [t for t in starts if sum(1 for s in starts if t - window < s <= t) >= n]
    groups: list[list[int]] = []
    for t in qualifying:
        if groups and groups[-1][-1] > t - window:
            groups[-1].append(t)
        else:
            groups.append([t])
    storms = []
    for group in groups:
        first = min(s for s in starts if group[0] - window < s <= group[0])
        storms.append(Storm(first, group[-1], sum(1 for s in starts if first <= s <= group[-1])))
    return storms


times = st.lists(st.integers(min_value=0, max_value=60 * MINUTE), max_size=40)


@settings(max_examples=300, deadline=None)
@given(times, st.integers(min_value=2, max_value=6), st.integers(min_value=1, max_value=15))
def test_detect_finds_the_storms_of_the_definition(starts, n, minutes):
    starts = sorted(starts)
    assert detect(starts, n, minutes * MINUTE) == model_storms(starts, n, minutes * MINUTE)


def test_a_crash_loop_is_one_storm_and_noise_below_the_threshold_none():
    loop = [MINUTE * 10 + s * 20_000_000 for s in range(6)]  # six starts, 20 s apart
    assert detect(loop, 5, 10 * MINUTE) == [Storm(loop[0], loop[-1], 6)]
    assert detect(loop[:4], 5, 10 * MINUTE) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=30 * MINUTE), st.integers(0, 5)), max_size=40),
       st.integers(min_value=1, max_value=4), st.randoms(use_true_random=False))
def test_batches_in_any_split_give_what_one_batch_gives(events, batches, rng):
    """Arriving in batches, in time order (lines sent twice among them, nothing late), changes neither the counts
    nor the storms: the last change of each minute and each storm equals what one batch over everything reports."""
    starts = sorted((t, f"o{t}-{k}") for t, k in events)
    for again in rng.sample(range(len(starts)), len(starts) // 3):  # lines sent twice, soon after
        starts.insert(min(len(starts), again + rng.randint(1, 3)), starts[again])
    n, window = 3, 5 * MINUTE
    _, whole = step(KeyState(), starts, 0, n, window)
    state, minutes, storms = KeyState(), {}, {}
    cuts = sorted(rng.sample(range(len(starts) + 1), min(batches - 1, len(starts) + 1)))
    for part in [starts[a:b] for a, b in zip([0, *cuts], [*cuts, len(starts)], strict=True)]:
        state, changes = step(state, part, 0, n, window)
        minutes.update(changes.minutes)
        storms.update({s.first: s for s in changes.storms})
    assert minutes == whole.minutes
    assert sorted(storms.values(), key=lambda s: s.first) == whole.storms


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60 * MINUTE), max_size=50),
       st.lists(st.integers(min_value=-60 * MINUTE, max_value=-1), max_size=8),
       st.integers(min_value=1, max_value=8), st.integers(min_value=0, max_value=5 * MINUTE),
       st.randoms(use_true_random=False))
def test_batches_at_a_moving_watermark_give_what_one_batch_gives(times, late, batches, delay, rng):
    """As Spark runs it: each batch at the watermark the batches before it moved to (the latest event time seen
    minus a delay), so minutes close, old starts are dropped from the state and storms end between batches, and
    starts behind the watermark (here: before every other start, in any batch) are late. The counts and storms
    are what one batch over the starts that were not late reports, each late start is reported late once, and
    the state keeps nothing the watermark has left behind."""
    starts = [(t, f"o{i}") for i, t in enumerate(sorted(times))]
    for i, t in enumerate(late):  # late starts arrive anywhere among the others
        starts.insert(rng.randint(0, len(starts)), (t, f"late{i}"))
    n, window = 3, 5 * MINUTE
    _, whole = step(KeyState(), [s for s in starts if s[0] >= 0], 0, n, window)
    state, minutes, storms, reported_late, watermark = KeyState(), {}, {}, [], 0
    cuts = sorted(rng.sample(range(len(starts) + 1), min(batches - 1, len(starts) + 1)))
    for part in [starts[a:b] for a, b in zip([0, *cuts], [*cuts, len(starts)], strict=True)]:
        state, changes = step(state, part, watermark, n, window)
        minutes.update(changes.minutes)
        storms.update({s.first: s for s in changes.storms})
        reported_late += changes.late
        horizon = min(watermark - window, state.storm.first if state.storm else watermark - window)
        assert all(t >= horizon for t in state.times)  # what the watermark left behind is dropped
        assert all(m + MINUTE > watermark for m in state.minutes)
        watermark = max([watermark, *(t - delay for t, _ in part)])
    assert minutes == whole.minutes
    assert sorted(storms.values(), key=lambda s: s.first) == whole.storms
    assert sorted(reported_late) == sorted((t, f"late{i}") for i, t in enumerate(late))


def test_starts_behind_the_watermark_are_late_once_and_not_counted():
    state, changes = step(KeyState(), [(10 * MINUTE, "a"), (11 * MINUTE, "b")], 0, 5, 10 * MINUTE)
    assert changes.minutes == {10 * MINUTE: 1, 11 * MINUTE: 1}
    state, changes = step(state, [(2 * MINUTE, "late"), (11 * MINUTE + 5, "c"), (11 * MINUTE, "b")],
                          watermark=9 * MINUTE, n=5, window=10 * MINUTE)
    assert changes.late == [(2 * MINUTE, "late")]
    assert changes.minutes == {11 * MINUTE: 2}  # "b" again is the same line: skipped


def test_a_storm_grows_across_batches_and_is_reported_each_time_it_grows():
    loop = [(s * 30_000_000, f"s{s}") for s in range(8)]
    state, first = step(KeyState(), loop[:5], 0, 5, 10 * MINUTE)
    assert first.storms == [Storm(0, 4 * 30_000_000, 5)]
    state, second = step(state, loop[5:7], 0, 5, 10 * MINUTE)
    assert second.storms == [Storm(0, 6 * 30_000_000, 7)]
    state, third = step(state, [(40 * MINUTE, "later")], 31 * MINUTE, 5, 10 * MINUTE)
    assert third.storms == []
    assert state.storm is None  # over: nothing in the window can extend it any more


def test_a_start_out_of_order_before_a_storm_leaves_it_the_same_alert():
    state, first = step(KeyState(), [(t * MINUTE, f"s{t}") for t in range(3, 8)], 0, 5, 10 * MINUTE)
    assert first.storms == [Storm(3 * MINUTE, 7 * MINUTE, 5)]
    _, again = step(state, [(1 * MINUTE, "early"), (8 * MINUTE, "s8")], 0, 5, 10 * MINUTE)
    assert again.storms == [Storm(3 * MINUTE, 8 * MINUTE, 6)]
    assert again.minutes == {1 * MINUTE: 1, 8 * MINUTE: 1}
