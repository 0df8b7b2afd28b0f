"""Lanes: one key's jobs run in order, other keys' jobs are not held behind them."""

from __future__ import annotations

import trio
from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.lanes import Lanes


async def test_a_blocked_key_holds_only_its_own_jobs(autojump_clock: trio.abc.Clock) -> None:
    log: list[str] = []
    release = trio.Event()

    def job(name: str, wait: trio.Event | None = None) -> object:
        async def run() -> None:
            if wait is not None:
                await wait.wait()
            log.append(name)

        return run

    async with trio.open_nursery() as nursery:
        lanes = Lanes(nursery)
        lanes.submit(1, job("1a", release))
        lanes.submit(1, job("1b"))
        lanes.submit(2, job("2a"))
        lanes.submit(2, job("2b"))
        await trio.sleep(1)
        assert log == ["2a", "2b"]  # key 1 waits on its first job; key 2 ran
        assert lanes.busy() == 1
        release.set()
    assert log == ["2a", "2b", "1a", "1b"]
    assert lanes.busy() == 0


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=40))
def test_each_key_runs_its_jobs_once_in_submission_order(jobs: list[tuple[int, int]]) -> None:
    ran: list[tuple[int, int]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            lanes = Lanes(nursery)
            for seq, (key, pause) in enumerate(jobs):

                async def run(key: int = key, seq: int = seq, pause: int = pause) -> None:
                    for _ in range(pause):
                        await trio.lowlevel.checkpoint()
                    ran.append((key, seq))

                lanes.submit(key, run)
                if pause % 2:
                    # Let some lanes drain and end between submissions: a later submit
                    # must start a new lane, not lose the job.
                    await trio.testing.wait_all_tasks_blocked()

    trio.run(main)
    assert sorted(ran, key=lambda r: r[1]) == [(k, i) for i, (k, _) in enumerate(jobs)]
    for key in {k for k, _ in jobs}:
        seqs = [s for k, s in ran if k == key]
        assert seqs == sorted(seqs)
