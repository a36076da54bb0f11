"""Scale: run rekindle's batch stages on local threads or an existing distributed engine.

Each batch stage takes ``executor=``: any :class:`concurrent.futures.Executor`
(process pools, Dask via :func:`dask_executor`, ``mpi4py.futures``) maps its chunks.
"""

from rekindle.scale.executors import dask_executor, default_n_jobs, local_processes, map_ordered

__all__ = ["dask_executor", "default_n_jobs", "local_processes", "map_ordered"]
