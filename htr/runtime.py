"""How legajo uses the CPU: OpenMP's waiting policy and torch's thread count.

**Waiting policy.** The CPU build of torch parallelises with OpenMP (GNU libgomp). Unless told
otherwise, libgomp's worker threads spin, busy-waiting, for a while at the end of every
parallel region before they sleep. legajo's line model does many small operations, so its
threads spend much of their time in that wait; when another process also wants the CPUs,
the spinning threads take the time slices that the working ones need, and recognition runs
several times slower (``bench/contention.py`` measures it). With ``OMP_WAIT_POLICY=PASSIVE``
waiting threads sleep at once. libgomp reads the variable once, when torch is first imported,
so legajo's front doors (``import legajo``, the ``legajo`` command, the workbench script) call
`configure_cpu_runtime` before anything imports torch. A value the user set is kept, and a
program that imported torch before legajo keeps the policy torch started with.

**Threads.** `apply_torch_threads` gives torch one intra-op thread per CPU this process may
run on (its CPU affinity, capped by a cgroup CPU quota: `available_cpus`), once per process,
when a model is first loaded. ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``), which torch reads
itself, and an explicit count (``legajo train``'s ``threads``) take precedence; so does a
``torch.set_num_threads`` call made after legajo loaded its first model.

Nothing here imports torch at module level: `htr.runtime` is imported by ``legajo`` and ``ui``
before torch may be.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
from collections.abc import Iterator, MutableMapping
from pathlib import Path

logger = logging.getLogger(__name__)

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
DEFAULT_WAIT_POLICY = "PASSIVE"
"""Waiting OpenMP threads sleep instead of spinning (see the module docstring)."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables through which the user chooses torch's thread count."""
CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")

_threads_lock = threading.Lock()
_threads_chosen = False


def configure_cpu_runtime(environ: MutableMapping[str, str] | None = None) -> None:
    """Sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy; call before torch loads.

    Args:
        environ: The environment to change; defaults to `os.environ`.
    """
    env = os.environ if environ is None else environ
    if WAIT_POLICY_VARIABLE in env:
        return
    env[WAIT_POLICY_VARIABLE] = DEFAULT_WAIT_POLICY
    if environ is None and "torch" in sys.modules:
        logger.debug("torch was imported before legajo: OMP_WAIT_POLICY=PASSIVE has no effect")


def available_cpus() -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup CPU quota.

    Returns:
        At least 1.
    """
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU counts
    cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def user_thread_count(environ: MutableMapping[str, str] | None = None) -> int | None:
    """The thread count the user asked for with ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``.

    Args:
        environ: The environment to read; defaults to `os.environ`.

    Returns:
        The first positive count found (``OMP_NUM_THREADS=4,2`` counts as 4), or None.
    """
    env = os.environ if environ is None else environ
    for name in THREAD_VARIABLES:
        first = env.get(name, "").split(",")[0].strip()
        if first.isdigit() and int(first) > 0:
            return int(first)
    return None


def apply_torch_threads(threads: int | None = None) -> int:
    """Sets torch's intra-op thread count, once per process unless `threads` is given.

    Without `threads`, the first call sets one thread per available CPU (`available_cpus`),
    unless ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set (torch has then used it); later
    calls change nothing, so that a count set afterwards with ``torch.set_num_threads`` is kept.

    Args:
        threads: An explicit count, set whatever was set before; None chooses as above.

    Returns:
        torch's intra-op thread count now.

    Raises:
        ValueError: If `threads` is below 1.
    """
    global _threads_chosen
    import torch

    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    with _threads_lock:
        if threads is not None:
            torch.set_num_threads(threads)
        elif not _threads_chosen and user_thread_count() is None:
            cpus = available_cpus()
            if torch.get_num_threads() != cpus:
                logger.debug("torch threads: %d -> %d", torch.get_num_threads(), cpus)
                torch.set_num_threads(cpus)
        _threads_chosen = True
        return int(torch.get_num_threads())


def _cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time the process's cgroup may use per period, or None without a quota."""
    try:
        if CGROUP_V2_CPU_MAX.is_file():
            quota, _, period = CGROUP_V2_CPU_MAX.read_text().strip().partition(" ")
            if quota == "max" or not period:
                return None
            return int(quota) / int(period)
        if CGROUP_V1_QUOTA.is_file() and CGROUP_V1_PERIOD.is_file():
            quota_us = int(CGROUP_V1_QUOTA.read_text())
            period_us = int(CGROUP_V1_PERIOD.read_text())
            return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None
    return None


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """Keeps transformers' own bars ("Loading weights") off stderr while a model loads or is saved.

    A library prints no progress bars (the CLI has its own); the setting is put back after.
    """
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()
