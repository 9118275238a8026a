"""The thread variables: HTCondor's STARTER_NUM_THREADS_ENV_VARS default list.

HTCondor's starter sets each to the slot's cores unless the job set it. Containers
and interactive login shells can lose them, so jobwrapper sets them again, keeping
any value the user set in the job's ``environment``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HTCONDOR_THREAD_VARIABLES: tuple[str, ...] = (
    "CUBACORES",
    "GOMAXPROCS",
    "JULIA_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OMP_THREAD_LIMIT",
    "OPENBLAS_NUM_THREADS",
    "PYTHON_CPU_COUNT",
    "ROOT_MAX_THREADS",
    "TF_LOOP_PARALLEL_ITERATIONS",
    "TF_NUM_THREADS",
)


def thread_variables(
    cores: int, user_set: Mapping[str, str], extra: Iterable[str] = ()
) -> dict[str, str]:
    """Each thread variable set to ``cores``, or to the value the user set in the job."""
    names = list(dict.fromkeys([*HTCONDOR_THREAD_VARIABLES, *extra]))
    return {name: user_set.get(name, str(cores)) for name in names}
