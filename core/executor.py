"""Where clip analyses run: in this process, on a local Dask cluster, or on an existing one.

The per-clip work is split in two halves:

* `analyze_clip(job) -> ClipAnalysis` is pure: given the clip (bytes, or a path on a filesystem
  the worker shares), its task, side and set-up (core.analysis.ClipSetup as JSON), it returns
  the TaskResult (without its plot signals), the explanation, the timings and the side files the
  pipelines produce (landmark cache .npz, key frame JPEG) as bytes. It touches no database and
  writes nothing outside a temporary folder, so it runs in a worker process on another machine.
  It never raises: a clip that cannot be analysed (UnusableInput) or that crashes the pipeline
  comes back as a failed ClipAnalysis with its one-line reason.
* the client writes each result in ONE transaction per clip (core.visits.add_analysed_recording),
  so SQLite keeps a single writer and PostgreSQL works the same.

Executors (`make_executor`):

* `SerialExecutor`: in this process, one clip after the other (a single clip, tests, `--workers 0`).
* `DaskExecutor`: a `dask.distributed` LocalCluster of N worker processes with one thread each
  (N defaults to os.cpu_count()), or an existing cluster at `scheduler` (`--scheduler
  tcp://HOST:8786`, or the setting PDLENS_DASK_SCHEDULER). Each worker imports the pipelines,
  loads the models and MediaPipe once (`warm_worker`, through a worker plugin, so a restarted
  worker is warmed too). Results are yielded as they complete; a worker that dies fails the clip
  it was running (after one retry elsewhere) and the others go on.

Nothing here logs or returns file names: a job carries an opaque key the caller maps back.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CRASH_MESSAGE = "the analysis failed unexpectedly; nothing was stored. Try again or report it."
WORKER_LOST_MESSAGE = ("the analysis stopped: the worker process analysing this clip ended (out of memory or a "
                       "crash); nothing was stored. Try again or report it.")


@dataclass(frozen=True)
class ClipJob:
    """One clip to analyse. `key` is the caller's handle (an index, never a file name)."""

    key: Any
    task: str
    side: str | None
    suffix: str = ""  # the clip's extension (".wav"), used for the temporary copy of `data`
    path: str | None = None  # a path the worker can read (same machine or shared filesystem)
    data: bytes | None = None  # or the clip itself
    setup_json: dict[str, Any] | None = None  # Recording.setup_json (floor marks)
    height_m: float | None = None  # the patient's height (gait speed without marks)
    explain: bool = True
    cache_path: str | None = None  # in-process only: keep/reuse the landmark cache here (else returned as bytes)
    landmarks_npz: bytes | None = None  # an existing landmark cache of this content, reused as is
    cost: float = 0.0  # expected analysis time (any unit): a parallel executor starts the costliest first


def expected_cost(task: str, duration_s: float | None) -> float:
    """A rough analysis cost of a clip for ordering (video: MediaPipe on every frame, about
    0.5 s per second of clip here; voice: about 0.1 s per second)."""
    from core.tasks import task_spec

    seconds = duration_s if duration_s else task_spec(task).target_seconds
    return seconds * (0.5 if task_spec(task).modality == "movement" else 0.1)


@dataclass
class ClipAnalysis:
    """What a worker returns for one ClipJob. `ok` False: `error` says why (one line, no file name)."""

    key: Any
    ok: bool
    error: str | None = None
    unusable: bool = False  # True when the clip cannot be analysed (the user's to fix), not a crash
    result: Any = None  # core.pipeline.TaskResult, signal dropped
    explanation: dict[str, Any] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    landmarks_npz: bytes | None = None
    key_frame_jpeg: bytes | None = None
    worker_pid: int | None = None


def _setup(job: ClipJob):
    from core.analysis import ClipSetup

    return ClipSetup.from_json(job.setup_json, height_m=job.height_m)


def key_frame_jpeg(clip: Path, explanation: dict[str, Any] | None) -> bytes | None:
    """The key frame of a movement clip at the explanation's key-frame time, as JPEG bytes."""
    import io

    from core.explain import decode_key_frame

    kf = (explanation or {}).get("key_frame")
    if not kf or kf.get("time") is None:
        return None
    image = decode_key_frame(clip, kf["time"])
    if image is None:
        return None
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _one_blas_thread():
    """BLAS on one thread while a clip is analysed, wherever it runs: a matrix product's sums
    depend on how many threads share it (the voice D2 measure differed in its 6th digit between
    this process and a worker process, whose BLAS Dask's nanny limits to one thread), so a clip's
    measures are the same in-process, on a local worker and on a remote one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run_analysis(job: ClipJob) -> ClipAnalysis:
    """The analysis half of one clip; raises UnusableInput (and whatever a bug raises)."""
    from core.visits import analyze_and_explain

    with tempfile.TemporaryDirectory(prefix="pdlens-analysis-") as tmp:
        if job.data is not None:
            clip = Path(tmp) / f"clip{job.suffix if len(job.suffix) <= 9 else ''}"
            clip.write_bytes(job.data)
        elif job.path is not None:
            clip = Path(job.path)
        else:
            raise ValueError("a ClipJob needs the clip's bytes or its path")
        returned_cache = job.cache_path is None
        cache = Path(job.cache_path) if job.cache_path else Path(tmp) / "landmarks.npz"
        if job.landmarks_npz is not None and not cache.exists():
            cache.write_bytes(job.landmarks_npz)
        import numpy  # noqa: F401  (loaded, so its BLAS is found and limited)

        with _one_blas_thread():
            result, explanation, timings = analyze_and_explain(clip, job.task, job.side, explain=job.explain,
                                                               cache_path=cache, setup=_setup(job))
        t = time.perf_counter()
        jpeg = key_frame_jpeg(clip, explanation)
        timings["key_frame"] = time.perf_counter() - t
        npz = cache.read_bytes() if returned_cache and cache.is_file() else None
    result.signal = {}  # arrays for plots: not needed once explained, and heavy to send back
    return ClipAnalysis(job.key, True, result=result, explanation=explanation, timings_s=timings,
                        landmarks_npz=npz, key_frame_jpeg=jpeg, worker_pid=os.getpid())


def analyze_clip(job: ClipJob) -> ClipAnalysis:
    """The analysis half of one clip (see the module docstring). Never raises."""
    from core.pipeline import UnusableInput

    t0 = time.perf_counter()
    try:
        return run_analysis(job)
    except UnusableInput as exc:
        return ClipAnalysis(job.key, False, error=str(exc), unusable=True, worker_pid=os.getpid(),
                            timings_s={"analysis": time.perf_counter() - t0})
    except Exception as exc:  # a bug must not lose the other clips of a batch
        # the traceback names no file: clips are under temporary or content-hash names
        log.error("analysing a %s clip failed: %s\n%s", job.task, type(exc).__name__, traceback.format_exc())
        return ClipAnalysis(job.key, False, error=CRASH_MESSAGE, worker_pid=os.getpid(),
                            timings_s={"analysis": time.perf_counter() - t0})


# ---------------------------------------------------------------- warm workers

_WARM = False


def warm_worker() -> dict[str, Any]:
    """Load what every analysis needs once per process: the pipeline modules (Praat, MediaPipe,
    torch), the shipped models (models.registry.load_model caches them per process), the measure
    vocabulary, and a MediaPipe hand and pose landmarker (created and closed: the first one
    loads the runtime, later ones cost milliseconds). Returns what it did and how long it took."""
    global _WARM
    t0 = time.perf_counter()
    if _WARM:
        return {"pid": os.getpid(), "seconds": 0.0, "already": True}
    import importlib

    from core.analysis import TASK_MODULES

    for module in TASK_MODULES.values():
        importlib.import_module(module)
    importlib.import_module("core.explain")
    from models.registry import MODEL_NAMES, load_model

    for name in MODEL_NAMES:
        try:
            load_model(name)
        except Exception:  # withheld or missing: the pipeline says so per clip
            pass
    from core.vocabulary import _build as vocabulary  # every task's measure_infos(), normal ranges read once

    vocabulary()
    from core.movement.landmarks import hand_landmarker, pose_landmarker

    with hand_landmarker():
        pass
    with pose_landmarker():
        pass
    _WARM = True
    return {"pid": os.getpid(), "seconds": time.perf_counter() - t0, "already": False}


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - distributed is in requirements.txt
    _WorkerPlugin = object


class WarmPlugin(_WorkerPlugin):
    """Warms every worker of the cluster, including one that joins or restarts later."""

    name = "pdlens-warm"

    def setup(self, worker) -> None:
        warm_worker()


# ---------------------------------------------------------------- executors

class SerialExecutor:
    """In this process, one clip after the other."""

    workers = 1
    shared_filesystem = True
    description = "in-process"

    def map_unordered(self, jobs: Iterable[ClipJob]) -> Iterator[ClipAnalysis]:
        for job in jobs:
            yield analyze_clip(job)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@contextmanager
def _plain_main():
    """Dask starts its worker processes with multiprocessing's "spawn", which runs the parent's
    __main__ file again in each child. Under Streamlit, __main__ is the page script the server
    is running (and under AppTest a generated script that fails outside its run, so the workers
    died and were restarted forever): the workers start from an empty __main__ instead."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class DaskExecutor:
    """A dask.distributed cluster: a new LocalCluster (`workers` processes, one thread each) or
    the existing scheduler at `scheduler` (then the clip's bytes travel, unless
    `shared_filesystem`). Close it (or use `with`) to stop a LocalCluster it started."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 shared_filesystem: bool | None = None, warm: bool = True, allowed_failures: int = 1,
                 saturation: float = 1.0):
        import dask
        from distributed import Client, LocalCluster

        self.cluster = None
        self.scheduler = scheduler
        self.task_keys: dict[Any, str] = {}
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="20s")
                self.shared_filesystem = bool(shared_filesystem)
                self.description = "Dask cluster"
            else:
                n = workers or default_workers()
                # A clip that kills its worker is retried once elsewhere, then fails alone.
                # Saturation 1.0: a worker holds only the clip it is analysing (none queued behind
                # a long clip), so a dying worker loses that clip alone and the next clip goes to
                # whichever worker frees first. The scheduler reads both when it starts.
                with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures,
                                      "distributed.scheduler.worker-saturation": saturation}), _plain_main():
                    self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                dashboard_address=None, host="127.0.0.1")
                self.client = Client(self.cluster)
                self.shared_filesystem = True if shared_filesystem is None else shared_filesystem
                self.description = f"local Dask cluster of {n} worker processes"
            if warm:
                self.client.register_plugin(WarmPlugin(), name=WarmPlugin.name)
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        try:
            return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))
        except TypeError:  # older signature
            return max(1, len(self.client.scheduler_info()["workers"]))
        except Exception:
            return 1

    def _portable(self, job: ClipJob) -> ClipJob:
        if job.cache_path is not None:
            job = replace(job, cache_path=None)
        if self.shared_filesystem or job.data is not None or job.path is None:
            return job
        return replace(job, data=Path(job.path).read_bytes(), path=None)

    def map_unordered(self, jobs: Iterable[ClipJob]) -> Iterator[ClipAnalysis]:
        """Submit every job, then yield each result as it completes (not in order)."""
        from distributed import as_completed

        # Longest first (a long video started last would finish alone); one graph update for all,
        # so the scheduler queues them and hands each worker one clip at a time.
        portable = sorted((self._portable(job) for job in jobs), key=lambda j: -j.cost)
        if not portable:
            return
        stamp = time.time_ns()
        keys = [f"pdlens-clip-{n}-{stamp}" for n in range(len(portable))]
        submitted = self.client.map(analyze_clip, portable, key=keys, pure=False)
        futures = {future: job.key for future, job in zip(submitted, portable)}
        self.task_keys = {job.key: future.key for future, job in zip(submitted, portable)}
        for future in as_completed(list(futures)):
            key = futures.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # the worker died (KilledWorker), or the cluster went away
                log.warning("a clip's analysis was lost: %s", type(exc).__name__)
                yield ClipAnalysis(key, False, error=WORKER_LOST_MESSAGE)
            finally:
                future.release()

    def close(self) -> None:
        for thing in ("client", "cluster"):
            obj = getattr(self, thing, None)
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    log.debug("closing the %s failed", thing, exc_info=True)
                setattr(self, thing, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_executor(workers: int | None = None, scheduler: str | None = None):
    """`workers` 0: in this process; otherwise a Dask executor (an existing cluster when
    `scheduler` or the setting PDLENS_DASK_SCHEDULER says where, else a LocalCluster of
    `workers` processes, default the number of cores)."""
    from core.config import settings

    scheduler = scheduler or settings().dask_scheduler
    if workers == 0 and not scheduler:
        return SerialExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler)
