"""A supervised worker pool, embedded in a plain trio program.

    uv run python examples/actors_worker_pool.py

Three workers square numbers under a one-for-one supervisor. A dispatcher actor queues
jobs and hands each to an idle worker with ``ctx.ask_into``, so it never blocks on a
worker. A negative number is poison: the worker crashes, the supervisor restarts it (same
``Ref``, same mailbox), the held ask fails with ``ActorCrashed``, and the dispatcher fails
just that job. Everything else carries on, and leaving ``open_system`` stops it all.
"""

from __future__ import annotations

import functools
from collections import deque

import attrs
import trio

import actors


@attrs.frozen
class Compute(actors.Ask[int]):
    """Worker protocol: square ``n``."""

    n: int


@attrs.frozen
class Submit(actors.Ask[int]):
    """Dispatcher protocol: run a job, reply with its result."""

    n: int


@attrs.frozen
class Finished:
    """Posted to the dispatcher by ``ask_into`` when a worker answered (or failed)."""

    job: Submit
    worker: actors.Ref[Compute]
    result: int | Exception


@attrs.define(eq=False)
class JobFailed(Exception):
    """The worker handling a job crashed or timed out."""

    n: int
    cause: Exception

    def __str__(self) -> str:
        return f"job {self.n} failed: {self.cause}"


async def square_worker(ctx: actors.Context[Compute]) -> None:
    async for job in ctx.mailbox:
        await trio.sleep(0.01)  # stands in for real work
        if job.n < 0:
            raise ValueError(f"cannot square poison {job.n}")
        job.reply(job.n * job.n)


async def dispatcher(
    ctx: actors.Context[Submit | Finished], workers: list[actors.Ref[Compute]]
) -> None:
    idle: deque[actors.Ref[Compute]] = deque(workers)
    waiting: deque[Submit] = deque()
    async for msg in ctx.mailbox:
        match msg:
            case Submit() as job:
                waiting.append(job)
            case Finished(job, worker, result):
                idle.append(worker)  # restarted or not, the same Ref still works
                if isinstance(result, Exception):
                    job.fail(JobFailed(job.n, result))
                else:
                    job.reply(result)
        while idle and waiting:
            job, worker = waiting.popleft(), idle.popleft()
            ctx.ask_into(
                worker, Compute(job.n), timeout=5, map=functools.partial(Finished, job, worker)
            )


async def run_pool(numbers: list[int], *, workers: int = 3) -> dict[int, int | str]:
    """Square ``numbers`` on a pool of ``workers``; failed jobs map to an error message."""
    results: dict[int, int | str] = {}
    async with actors.open_system(name="pool-demo") as system:
        spec = actors.SupervisorSpec(
            strategy=actors.Strategy.ONE_FOR_ONE,
            max_restarts=10,
            within=1.0,
            children=[actors.ChildSpec(square_worker, id=f"w{i}") for i in range(workers)],
        )
        pool = await system.start_supervisor(spec, name="workers")
        refs = [child.ref for child in pool.which_children().values()]
        front = await system.spawn(dispatcher, refs, name="dispatcher")

        async def submit(n: int) -> None:
            try:
                square = await front.ask(Submit(n), timeout=10)
            except JobFailed as exc:
                results[n] = str(exc)
            else:
                results[n] = square

        async with trio.open_nursery() as nursery:
            for n in numbers:
                nursery.start_soon(submit, n)
    return results


async def main() -> None:
    results = await run_pool([1, 2, 3, -4, 5, 6, -7, 8])
    for n, outcome in sorted(results.items()):
        print(f"{n:>3} -> {outcome}")


if __name__ == "__main__":
    import logging

    # The runtime logs crashes to the "actors" logger; the application decides where they go.
    logging.basicConfig(level=logging.CRITICAL)
    trio.run(main)
