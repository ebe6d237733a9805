"""``legajo reindex --engine ray``: the shards of an index built on a Ray cluster.

The driver (this process) reads the database, cuts the ids into ranges and makes one
`indexer.search.shard_files.ShardJob` per shard (the forms or passage texts of its range,
and the file to write). `RayShardRunner` hands the jobs to a pool of ``workers`` Ray actors
(`indexer.search.shard_files.ShardBuilder`: each loads the sentence model once, on its GPU
when it is given one) and each actor embeds its shard's passages, builds its FAISS index (flat,
HNSW or IVF by the shard's size) and writes its file atomically under a name that no
manifest names yet. When every shard is built, the driver writes the manifest; a worker
killed meanwhile leaves at most a temporary file, which the driver removes after the
manifest is written. Ray restarts a dead actor and retries its shard (`TASK_RETRIES`); a shard
that fails for another reason (a bug, a full disk) fails the build and the previous index
stays in use.

What it needs, as ``legajo index --engine ray`` (`indexer.transfer.ray_engine`, whose Ray
session this reuses): Ray (``pip install 'legajo[ray]'``), imported only when this engine
runs; the index folder and a local sentence model at the same paths on every node (a shared
file system for a cluster of machines). The workers do not open the database: the driver
sends each one its shard's texts, which are small beside the vectors the worker makes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from indexer.errors import RayClusterError
from indexer.search.index_manifests import ShardEntry
from indexer.search.shard_files import ShardBuilder, ShardJob, ShardProgress
from indexer.transfer.ray_engine import RayOptions, import_ray, ray_session

logger = logging.getLogger(__name__)

TASK_RETRIES = 3
"""Tries of a shard whose actor dies (killed, out of memory, node lost) before the build fails."""


class RayShardRunner:
    """Builds shards on a Ray cluster (module docstring); a `ShardRunner`.

    Used as a context manager, it stays connected to the cluster (or keeps the local one it
    started) for every build inside the block; otherwise each call connects on its own.

    Args:
        options: The cluster (None address: a local one for the build) and its workers.
    """

    def __init__(self, options: RayOptions) -> None:
        self._options = options
        self._session = contextlib.ExitStack()

    def __enter__(self) -> RayShardRunner:
        """Connects to the cluster now (starting a local one without an address).

        Raises:
            RayUnavailableError: If Ray is not installed.
            RayClusterError: If the cluster cannot be reached.
        """
        self._session.enter_context(ray_session(import_ray(), self._options))
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Disconnects (and stops a local cluster it started)."""
        self._session.close()

    def __call__(
        self, jobs: Sequence[ShardJob], on_progress: ShardProgress | None = None
    ) -> list[ShardEntry]:
        """Builds the shards and returns their entries, in the order of `jobs`.

        Raises:
            RayUnavailableError: If Ray is not installed.
            RayClusterError: If the cluster cannot be reached or a shard cannot be built.
        """
        if not jobs:
            return []
        ray = import_ray()
        # The workers may run elsewhere: every path they see is absolute.
        jobs = [replace(job, path=job.path.resolve()) for job in jobs]
        models = {job.model_id for job in jobs}
        with ray_session(ray, self._options):
            builder = ray.remote(ShardBuilder).options(
                num_cpus=self._options.cpus_per_worker,
                num_gpus=self._options.gpus_per_worker,
                max_restarts=TASK_RETRIES,
                max_task_retries=TASK_RETRIES,
            )
            count = min(self._options.workers, len(jobs))
            actors = [builder.remote(next(iter(models))) for _ in range(count)]
            try:
                return self._run(ray, actors, jobs, on_progress)
            finally:
                for actor in actors:
                    ray.kill(actor)

    def _run(
        self,
        ray: Any,
        actors: list[Any],
        jobs: Sequence[ShardJob],
        on_progress: ShardProgress | None,
    ) -> list[ShardEntry]:
        """Gives each idle actor the next job until every shard is built."""
        waiting = list(jobs)
        idle = list(actors)
        running: dict[Any, tuple[Any, ShardJob]] = {}
        built: dict[int, ShardEntry] = {}
        total = sum(len(job.ids) for job in jobs)
        done = 0
        while waiting or running:
            while waiting and idle:
                actor, job = idle.pop(), waiting.pop(0)
                running[actor.build.remote(job)] = (actor, job)
            ready, _ = ray.wait(list(running), num_returns=1)
            for reference in ready:
                actor, job = running.pop(reference)
                try:
                    built[job.number] = ray.get(reference)
                except ray.exceptions.RayError as error:
                    cause = getattr(error, "cause", None) or error
                    raise RayClusterError(
                        f"{job.kind} shard {job.number} could not be built on Ray: {cause}"
                    ) from error
                idle.append(actor)
                done += len(job.ids)
                logger.info("%s shard %d built on Ray", job.kind, job.number)
                if on_progress is not None:
                    on_progress(done, total)
        return [built[job.number] for job in jobs]
