"""``legajo index --engine ray``: the batch of `indexer.transfer.ingest` on a Ray cluster.

The driver (this process) lists and counts the inputs, opens the run and records the files
that cannot even be counted, exactly as the local engine does. Ray Data then reads the list
of the other files, one file per block, and an actor pool of `RayPageIndexer` workers (each
loads the recognizer once, on its GPU when it is given one) indexes them: every worker
stores its pages in the database itself, one transaction per page, and sends back per file
the tallies and progress events that the driver adds up and shows. See
`indexer.transfer.ray_worker` for why the workers write and how retries stay idempotent.

What it needs:

- Ray, an optional extra: ``pip install 'legajo[ray]'``. Ray is imported only here, only
  when this engine runs.
- The same paths everywhere: the inputs and a local ``--model`` are read by the workers at
  the paths the driver sees (relative paths are made absolute first), so a cluster of
  several machines needs a shared file system and legajo installed on every node.
- A database every worker reaches at the same URL. A SQLite file works for workers on the
  driver's machine (writers queue for its lock); a cluster of machines needs PostgreSQL.

Failures: a page or file that fails is recorded by the worker as the local engine records
it (`legajo errors` lists it). A worker that dies (killed, out of memory, node lost) is
restarted by Ray and its file's task retried (Ray Data's actor pools restart actors and retry
their tasks without limit); a file whose task raises instead (a bug, a database error) is
recorded as failed (`WorkerLostError`) and the batch goes on. With ``on_error=abort``, the
driver stops at the first failure it hears of; files that other workers are indexing at that
moment may still be stored. Ray's own log messages follow legajo's logging level: errors
only, unless ``-v``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from htr.recognizer import RecognizerSettings
from indexer.errors import NoInputError, RayClusterError, RayUnavailableError, WorkerLostError
from indexer.store.orm import RUN_ABORTED, RUN_FINISHED
from indexer.store.repository import Repository
from indexer.transfer.file_indexer import (
    BatchContext,
    BatchRecorder,
    batch_report,
    count_pages,
    end_run,
    open_batch,
)
from indexer.transfer.ingest import find_inputs
from indexer.transfer.ingest_records import (
    CountedFile,
    EventKind,
    IndexReport,
    IndexSettings,
    OnError,
    ProgressCallback,
    ProgressEvent,
)
from indexer.transfer.inputs import InputEntry
from indexer.transfer.ray_worker import FileOutcome, RayPageIndexer, check_worker

logger = logging.getLogger(__name__)

CHECK_RETRIES = 3
"""Retries of the task that checks the workers before the batch, when its worker dies."""


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how wide a batch runs on Ray.

    Attributes:
        address: The cluster to connect to (``host:port`` of a head started with
            ``ray start --head``, or ``auto``); None starts a local cluster for the batch.
        workers: Recognizer actors, each with its own copy of the model.
        gpus_per_worker: GPUs given to each actor (fractions share a GPU); 0 reads on CPU.
        cpus_per_worker: CPUs reserved for each actor.
    """

    address: str | None = None
    workers: int = 1
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0


@dataclass(frozen=True, slots=True)
class RayBatch:
    """What a Ray batch reads and where it writes.

    Attributes:
        database_url: The database, as the workers reach it (password included).
        model: The checkpoint directory or hub name the workers load.
        recognizer: Decoding and device settings of the workers' recognizers.
        settings: Collection, layout, error policy, force.
    """

    database_url: str
    model: str
    recognizer: RecognizerSettings
    settings: IndexSettings


def index_paths_on_ray(
    paths: Sequence[Path],
    repository: Repository,
    batch: RayBatch,
    options: RayOptions,
    on_progress: ProgressCallback | None = None,
    *,
    inputs: Sequence[InputEntry] | None = None,
) -> IndexReport:
    """Indexes image and PDF files and folders on a Ray cluster (module doc).

    Args:
        paths: Files and folders (walked recursively).
        repository: The driver's view of `batch.database_url` (the run, the failures of
            files that cannot be counted).
        batch: Database URL, model and settings, as the workers use them.
        options: The cluster and its workers.
        on_progress: Called with each `ProgressEvent`: the counting events in order, then
            each file's events together, files in the order they finish.
        inputs: `find_inputs` of `paths`, when the caller has it already.

    Returns:
        What was indexed, skipped and failed; failures in input order.

    Raises:
        InputPathError: If a path does not exist (nothing is indexed).
        NoInputError: If the paths hold no page image (nothing is indexed).
        RayUnavailableError: If Ray is not installed.
        RayClusterError: If the cluster cannot be reached, or its workers cannot load the
            model or reach the database.
    """
    ray = import_ray()
    started = time.perf_counter()
    entries = list(inputs) if inputs is not None else find_inputs(paths)
    if not entries:
        raise NoInputError(f"no page images in {', '.join(str(p) for p in paths)}")
    files = count_pages(entries, on_progress)
    batch = replace(
        batch,
        database_url=_url_for_workers(batch.database_url),
        model=_model_for_workers(batch.model),
    )
    with ray_session(ray, options):
        step = _check_workers(ray, batch, options)
        context = open_batch(repository, step, batch.settings)
        recorder = BatchRecorder(repository, context, on_progress)
        status = RUN_ABORTED
        try:
            total = sum(counted.frames for counted in files)
            recorder.emit(ProgressEvent(EventKind.PAGES_COUNTED, files[-1].path, frames=total))
            if _run_files(ray, files, batch, options, recorder):
                status = RUN_FINISHED
        finally:
            end_run(repository, context.run_id, status)
    order = {str(counted.path): number for number, counted in enumerate(files)}
    recorder.failures.sort(key=lambda failure: order.get(failure.path, len(order)))
    return batch_report(recorder, len(files), started, status)


def import_ray() -> ModuleType:
    """The ``ray`` module, with Ray Data imported (also for `indexer.search.ray_shards`).

    Raises:
        RayUnavailableError: If Ray is not installed.
    """
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise RayUnavailableError("the Ray engine needs Ray: pip install 'legajo[ray]'") from error
    return ray


def _url_for_workers(url: str) -> str:
    """The database URL with a relative SQLite path made absolute (workers run elsewhere)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path, _, query = url[len(prefix) :].partition("?")
        if path and path != ":memory:":
            absolute = prefix + str(Path(path).resolve())
            return absolute + (f"?{query}" if query else "")
    return url


def _model_for_workers(model: str) -> str:
    """A local checkpoint folder as an absolute path; a hub name as it is."""
    local = Path(model).expanduser()
    return str(local.resolve()) if local.exists() else model


@contextmanager
def ray_session(ray: ModuleType, options: RayOptions) -> Iterator[None]:
    """Connects to the cluster (or starts a local one) for the batch, and disconnects.

    A session the caller opened already (`ray.is_initialized`) is used as it is.

    Raises:
        RayClusterError: If the cluster cannot be started or reached.
    """
    if ray.is_initialized():  # the caller's own session (a notebook, a test)
        yield
        return
    level = logging.INFO if logger.isEnabledFor(logging.INFO) else logging.ERROR
    logging.getLogger("ray.data").setLevel(level)
    try:
        ray.init(address=options.address, logging_level=level, include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = options.address or "a local cluster"
        raise RayClusterError(f"cannot start or reach Ray at {where}: {error}") from error
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # A file whose task fails on every try is recorded as failed; the batch goes on.
    context.max_errored_blocks = -1
    try:
        yield
    finally:
        ray.shutdown()


def _resources(options: RayOptions) -> dict[str, float]:
    return {"num_cpus": options.cpus_per_worker, "num_gpus": options.gpus_per_worker}


def _check_workers(ray: ModuleType, batch: RayBatch, options: RayOptions) -> Any:
    """Runs `check_worker` once on the cluster: the model's step as the workers see it."""
    task = ray.remote(check_worker).options(max_retries=CHECK_RETRIES, **_resources(options))
    try:
        return ray.get(task.remote(batch.database_url, batch.model, batch.recognizer))
    except ray.exceptions.RayError as error:
        cause = getattr(error, "cause", None) or error
        raise RayClusterError(f"the Ray workers cannot index: {cause}") from error


def _run_files(
    ray: ModuleType,
    files: Sequence[CountedFile],
    batch: RayBatch,
    options: RayOptions,
    recorder: BatchRecorder,
) -> bool:
    """Indexes the files on the actor pool; False when the batch stopped at a failure."""
    on_error = batch.settings.on_error
    readable: list[CountedFile] = []
    for counted in files:
        if counted.error is None:
            readable.append(counted)
            continue
        recorder.fail(counted.path, counted.error)
        if on_error is OnError.ABORT:
            return False
    if not readable:
        return True
    heard: set[int] = set()
    for number, outcome in _outcomes(ray, readable, batch, options, recorder.context):
        heard.add(number)
        recorder.add(outcome.tally)
        for event in outcome.events:
            recorder.emit(event)
        if outcome.tally.failures and on_error is OnError.ABORT:
            logger.warning("stopping at the first failure (on-error abort)")
            return False
    for number, counted in enumerate(readable):
        if number not in heard:
            error = WorkerLostError("its Ray task failed (see the Ray logs)")
            recorder.fail(counted.path, error, pages_left=counted.frames)
            if on_error is OnError.ABORT:
                return False
    return True


def _outcomes(
    ray: ModuleType,
    files: Sequence[CountedFile],
    batch: RayBatch,
    options: RayOptions,
    context: BatchContext,
) -> Iterator[tuple[int, FileOutcome]]:
    """Each file's number in `files` and outcome, as the workers finish them."""
    items = [
        {"index": number, "path": str(counted.path), "frames": counted.frames}
        for number, counted in enumerate(files)
    ]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    indexed = dataset.map_batches(
        RayPageIndexer,
        fn_constructor_kwargs={
            "database_url": batch.database_url,
            "model": batch.model,
            "recognizer_settings": batch.recognizer,
            "context": context,
        },
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        **_resources(options),
    )
    try:
        for row in indexed.iter_rows():
            yield int(row["index"]), FileOutcome.from_json(str(row["outcome"]))
    except ray.exceptions.RayError as error:
        raise RayClusterError(f"the Ray batch failed: {error}") from error
