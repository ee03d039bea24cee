"""The visit analysis service the capture pages, the CLI and the demo call.

* `add_recording_and_analyze`: store the clip under its content hash, analyse it, explain it
  (when its quality is ok), then write Recording + Assessment + measures + explanation in ONE
  transaction. Unusable input or any failure: the stored file (and its landmark cache) is removed
  and nothing is written. The same file twice on one visit is refused with a clear message.
* `score_visit`: the visit's one current score (fused Assessment, recording_id None) from the
  clips that count; the score it replaces stays as history, marked superseded. The estimates of
  the clinic's active own models (core.clinic_models) are refreshed with it.
* `counting_clips`, `choose_clip`, `exclude_clip`, `include_clip`, `relabel_clip`: per task and
  side one clip counts; the clinician can choose it, exclude a clip, or relabel its task/side.
* `set_floor_marks`, `clear_floor_marks`, `measure_clip_again`: the two floor marks of a gait-speed clip, clicked on a
  frame (`floor_marks_frame`), stored with the clip; the clip is analysed again with them.
* `analyze_files`: the same analysis, explanation and fusion for files on disk, no database
  (python -m core.cli analyze ... --json).
* `model_versions_in_use`: which model version produced each stored score (Model page).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.pipeline import Measure, ModelScore, TaskResult, UnusableInput
from core.plain_json import json_safe
from core.tasks import TASKS, task_spec

log = logging.getLogger(__name__)

SOURCE_KINDS = ("upload", "browser", "import")
MEASURES_ONLY_MODEL = "measures"  # model_name of the assessment of a task without a model (tremor)
MEASURES_ONLY_VERSION = "n/a"


@dataclass
class RecordingOutcome:
    """What happened to one added clip. `message` is one line for the clinician."""

    recording_id: int
    assessment_id: int
    task: str
    side: str | None
    quality_ok: bool
    problems: list[str]
    score: ModelScore | None
    message: str
    explanation: dict[str, Any] | None = None
    fused: dict[str, Any] | None = None  # the visit score after this clip (score_visit)
    timings_s: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- plain JSON

def _finite_measures(measures: Iterable[Measure]) -> list[Measure]:
    return [m for m in measures if m.value is not None and math.isfinite(float(m.value))]


def measures_json(measures: Iterable[Measure]) -> list[dict[str, Any]]:
    return json_safe([{"name": m.name, "label": m.label, "value": m.value, "unit": m.unit,
                       "normal_range": list(m.normal_range) if m.normal_range else None,
                       "in_normal_range": m.in_normal_range()} for m in measures])


# ---------------------------------------------------------------- analysis + explanation of one clip

def landmark_cache_path(clip: Path) -> Path:
    """Where a movement clip's landmark series is cached: next to the clip in the data dir."""
    return clip.with_name(clip.name + ".landmarks.npz")


def key_frame_path(clip: Path) -> Path:
    return clip.with_name(clip.name + ".keyframe.jpg")


def _analyze(path: Path, task: str, side: str | None, cache_path: Path | None, setup=None) -> TaskResult:
    from core.analysis import analyze_recording

    return analyze_recording(path, task, side, cache_path=cache_path, setup=setup)


def clip_setup(s: Session, visit_id: int, recording: Any = None):
    """The set-up a clip of this visit is analysed with (core.analysis.ClipSetup): the
    patient's height from the patient record and the clip's floor marks, if any."""
    from core.analysis import ClipSetup
    from core.store.models import Patient, Visit

    height_cm = s.scalar(select(Patient.height_cm).join(Visit, Visit.patient_id == Patient.id)
                         .where(Visit.id == visit_id))
    return ClipSetup.from_json(getattr(recording, "setup_json", None),
                               height_m=height_cm / 100.0 if height_cm else None)


def analyze_and_explain(path: str | Path, task: str, side: str | None = None, explain: bool = True,
                        cache_path: Path | None = None, setup=None,
                        ) -> tuple[TaskResult, dict[str, Any] | None, dict[str, float]]:
    """Analyse a clip and, when its quality is ok, explain its score. Returns (result,
    explanation JSON or None, timings in seconds). The explanation always lists the measures
    with their labels and healthy ranges (the store keeps only name, value, unit). Raises
    UnusableInput."""
    from core.explain import explain_result

    t0 = time.perf_counter()
    result = _analyze(Path(path), task, side, cache_path, setup)
    t1 = time.perf_counter()
    explanation = None
    if explain and result.quality.ok:
        try:
            explanation = explain_result(result)
        except Exception:  # an explanation must never lose a valid analysis
            log.exception("explanation failed for task %s", task)
            explanation = {"error": "The explanation could not be computed for this clip."}
    t2 = time.perf_counter()
    if result.measures:
        explanation = dict(explanation or {})
        explanation["measures"] = measures_json(result.measures)
    if explanation is not None:
        explanation = json_safe(explanation)
    return result, explanation, {"analysis": t1 - t0, "explanation": t2 - t1}


def save_key_frame(clip: Path, explanation: dict[str, Any] | None, data_dir: Path,
                   clip_relative: str | None = None) -> Path | None:
    """Decode the key frame of a movement clip at the explanation's key-frame time, save it as a
    JPEG next to the clip and record its relative path in the explanation. clip_relative: the
    stored clip's path relative to the data dir, when `clip` is a decrypted working copy
    (core.store.files.open_recording) outside it."""
    from core.explain import decode_key_frame

    kf = (explanation or {}).get("key_frame")
    if not kf or kf.get("time") is None:
        return None
    image = decode_key_frame(clip, kf["time"])
    if image is None:
        return None
    from PIL import Image

    out = key_frame_path(clip)
    Image.fromarray(image).save(out, format="JPEG", quality=85)
    kf["file"] = ((Path(clip_relative).parent / out.name).as_posix() if clip_relative
                  else out.resolve().relative_to(Path(data_dir).resolve()).as_posix())
    return out


def _resolve_actor(s: Session, actor: Any):
    from core.store.models import Clinician

    actor_id = actor if isinstance(actor, int) else getattr(actor, "id", None)
    return s.get(Clinician, actor_id) if actor_id is not None else None


def require_role(sessions: sessionmaker[Session], actor: Any, action: str) -> None:
    """PermissionDenied before any file is stored or analysed when the actor's role may not do
    `action` (core.permissions; e.g. a reviewer recording). The repository checks again on write."""
    from core.store import transaction
    from core.store.repository import _may

    with transaction(sessions) as s:
        _may(s, _resolve_actor(s, actor), action)


def _side_files(path: Path) -> list[Path]:
    """Files the pipelines write next to a clip (landmark cache, key frame): <clip>.*"""
    return [p for p in path.parent.glob(path.name + ".*") if p != path]


@dataclass
class _StoredClip:
    """A clip stored under its content hash for one visit, before its rows are written."""

    relative: str
    sha256: str
    stored: Path
    side: str | None
    suffix: str
    shared: bool  # the same content already belongs to another recording: never deleted here
    side_files_before: set[Path]

    def discard(self, data_dir: str | Path) -> None:
        """Remove what storing and analysing this clip wrote (nothing of another recording's)."""
        from core.store.files import delete_recording_file

        if not self.shared:
            delete_recording_file(data_dir, self.relative)
            for p in set(_side_files(self.stored)) - self.side_files_before:
                p.unlink(missing_ok=True)


def _store_clip(sessions: sessionmaker[Session], visit_id: int, source: str | Path | bytes, original_name: str,
                task: str, side: str | None, source_kind: str, data_dir: str | Path) -> _StoredClip:
    """Check the source kind and side, store the clip and refuse one already on this visit
    (UnusableInput, core.store.ValidationError; nothing new is left stored then)."""
    from core.store import ValidationError, transaction
    from core.store.files import resolve_recording_path, store_recording_file
    from core.store.models import Recording

    spec = task_spec(task)
    if source_kind not in SOURCE_KINDS:
        raise ValidationError(f"Unknown source '{source_kind}': use one of {', '.join(SOURCE_KINDS)}.")
    if spec.sided and side not in ("left", "right"):
        raise ValidationError(f"{spec.label} is recorded per hand: say which side (left or right) was tested.")
    if not spec.sided:
        side = None
    suffix = Path(original_name or (str(source) if not isinstance(source, (bytes, bytearray)) else "")).suffix
    try:
        relative, sha256 = store_recording_file(data_dir, source, suffix)
    except ValueError as exc:
        raise UnusableInput(str(exc)) from None
    stored = resolve_recording_path(data_dir, relative)
    with transaction(sessions) as s:
        duplicate = s.scalar(select(Recording.id).where(Recording.visit_id == visit_id, Recording.sha256 == sha256))
        shared = s.scalar(select(func.count()).select_from(Recording).where(Recording.stored_path == relative))
    if duplicate is not None:
        raise ValidationError("This file was already added to this visit: it is not stored twice.")
    return _StoredClip(relative, sha256, stored, side, suffix, bool(shared), set(_side_files(stored)))


def add_recording_and_analyze(sessions: sessionmaker[Session], actor: Any, visit_id: int,
                              source: str | Path | bytes, original_name: str, task: str,
                              side: str | None, source_kind: str, data_dir: str | Path,
                              rescore: bool = True, live_landmarks: Any = None) -> RecordingOutcome:
    """Store, analyse, explain and record one clip of a visit (see module docstring).

    live_landmarks: a browser recording's live tracker (core.live.LiveVideoTracker): it writes
    the stored clip's landmark cache from the landmarks it tracked during the recording when
    the stored file is the one it tracked, so the analysis runs no MediaPipe.

    Raises UnusableInput (file cannot be analysed) or core.store.ValidationError (duplicate,
    wrong side, unknown visit...) with a one-line message; nothing is stored then."""
    from core.executor import ClipJob, run_analysis
    from core.store import transaction
    from core.store.files import open_recording

    require_role(sessions, actor, "record")
    clip = _store_clip(sessions, visit_id, source, original_name, task, side, source_kind, data_dir)
    try:
        with transaction(sessions) as s:
            setup = clip_setup(s, visit_id)
        with open_recording(data_dir, clip.relative) as work:  # decrypted in a private temp dir if encrypted
            cache = landmark_cache_path(work)
            if live_landmarks is not None and task_spec(task).modality == "movement" and not cache.is_file():
                try:
                    live_landmarks.write_cache(work, cache)
                except Exception:  # the analysis then tracks the clip itself
                    log.exception("live landmarks could not be used")
            # the landmark cache is kept next to `work` (encrypted back beside the stored clip)
            analysis = run_analysis(ClipJob(None, task, clip.side, path=str(work), cache_path=str(cache),
                                            setup_json=setup.to_json(), height_m=setup.height_m))
        return _record_analysis(sessions, actor, visit_id, clip, original_name, task, source_kind, data_dir,
                                analysis, rescore)
    except BaseException:
        clip.discard(data_dir)
        raise


def add_analysed_recording(sessions: sessionmaker[Session], actor: Any, visit_id: int,
                           source: str | Path | bytes, original_name: str, task: str, side: str | None,
                           source_kind: str, data_dir: str | Path, analysis: Any,
                           rescore: bool = False) -> RecordingOutcome:
    """The client half of a clip analysed elsewhere (core.executor.analyze_clip, maybe on another
    machine): store the clip under its content hash, put the side files the worker returned (landmark
    cache, key frame) next to it, and write Recording + Assessment + measures + explanation in ONE
    transaction. A failed analysis raises UnusableInput with its reason (or RuntimeError for a
    crash); duplicates and bad sides raise core.store.ValidationError. Nothing is stored then."""
    from core.store.files import write_stored_file

    require_role(sessions, actor, "record")
    if not analysis.ok:
        raise (UnusableInput if analysis.unusable else RuntimeError)(analysis.error or "the analysis failed")
    clip = _store_clip(sessions, visit_id, source, original_name, task, side, source_kind, data_dir)
    try:
        cache = landmark_cache_path(clip.stored)
        if analysis.landmarks_npz is not None and not cache.exists():
            write_stored_file(cache, analysis.landmarks_npz)  # encrypted when a key is set
        return _record_analysis(sessions, actor, visit_id, clip, original_name, task, source_kind, data_dir,
                                analysis, rescore)
    except BaseException:
        clip.discard(data_dir)
        raise


def _record_analysis(sessions, actor, visit_id: int, clip: _StoredClip, original_name: str, task: str,
                     source_kind: str, data_dir: str | Path, analysis: Any, rescore: bool) -> RecordingOutcome:
    """Key frame next to the stored clip, then the clip's rows in one transaction."""
    from core.store import transaction
    from core.store import repository as repo
    from core.store.files import write_stored_file

    spec = task_spec(task)
    stored, relative, sha256, suffix, side = clip.stored, clip.relative, clip.sha256, clip.suffix, clip.side
    result, explanation, timings = analysis.result, analysis.explanation, dict(analysis.timings_s)
    kf = (explanation or {}).get("key_frame")
    if analysis.key_frame_jpeg and kf:
        out = key_frame_path(stored)
        write_stored_file(out, analysis.key_frame_jpeg)  # encrypted when a key is set
        kf["file"] = out.resolve().relative_to(Path(data_dir).resolve()).as_posix()
    score = result.score
    quality = result.quality
    measures = _finite_measures(result.measures)
    if explanation is not None and len(measures) < len(result.measures):  # NaN: not storable
        explanation["unmeasured"] = [m.name for m in result.measures if m not in measures]
    model_name, model_version, probability, interval, severity, abstained = _score_fields(task, score, quality)
    with transaction(sessions) as s:
        who = _resolve_actor(s, actor)
        recording = repo.add_recording(
            s, who, visit_id, task=task, side=side, stored_path=relative, sha256=sha256,
            duration_s=float(result.duration_s) if math.isfinite(result.duration_s) else None,
            format=(suffix.lstrip(".").lower() or "unknown")[:32], source=source_kind,
            original_name=Path(original_name).name[:255] if original_name else "",
            quality_ok=quality.ok, quality_json=json_safe(quality.as_dict()),
            status="analysed" if quality.ok else "needs_retake")
        assessment = repo.save_assessment(
            s, who, visit_id=visit_id, recording_id=recording.id, model_name=model_name,
            model_version=model_version, probability=probability,
            interval=tuple(interval) if interval else None,
            severity=severity, abstained_reason=abstained, inputs_sha256=sha256,
            explanation=explanation, measures=measures)
        recording_id, assessment_id = recording.id, assessment.id

    outcome = RecordingOutcome(
        recording_id=recording_id, assessment_id=assessment_id, task=task, side=side,
        quality_ok=quality.ok, problems=list(quality.problems), score=score,
        message=_outcome_message(spec.label, side, quality.ok, quality.problems, score),
        explanation=explanation, timings_s=timings)
    if rescore:
        outcome.fused = score_visit(sessions, actor, visit_id)
    return outcome


def _score_fields(task: str, score: ModelScore | None, quality) -> tuple:
    """(model name, version, probability, interval, severity, abstention reason) to store."""
    if score is not None:
        return (score.model, score.model_version, score.probability, score.interval, score.severity,
                score.abstained)
    model_name, model_version = _unscored_model(task)
    abstained = ("The clip failed its quality check: " + " ".join(quality.problems)) if not quality.ok else (
        None if model_name == MEASURES_ONLY_MODEL else "No score for this clip.")
    return model_name, model_version, None, None, None, abstained


def _unscored_model(task: str) -> tuple[str, str]:
    from models.fused import BRANCHES

    for b in BRANCHES:
        if b.task == task:
            return b.model, "not scored"
    return MEASURES_ONLY_MODEL, MEASURES_ONLY_VERSION


def _outcome_message(label: str, side: str | None, quality_ok: bool, problems: list[str],
                     score: ModelScore | None) -> str:
    what = f"{label}{f' ({side})' if side else ''}"
    if not quality_ok:
        return f"{what}: saved, but it failed the quality check: " + " ".join(problems)
    if score is None:
        return f"{what}: analysed and measured."
    if score.probability is None and score.model_version == "withheld":
        return f"{what}: analysed and measured (measures only: {score.abstained})"
    if score.probability is None:
        return f"{what}: analysed and measured, not scored: {score.abstained}"
    return f"{what}: analysed and scored."


# ---------------------------------------------------------------- the visit score

def _branch_inputs_from_store(s: Session, visit_id: int):
    """(BranchInputs for the fusion, reported tremor measures) from the clips that count: per
    task and side one clip (core.store.repository.refresh_counting_clips), its current
    assessment. A task whose clips all failed their quality check counts no clip, so the fusion
    reports that branch as left out rather than scoring an older clip silently."""
    from models.fused import BranchInput, branch_for

    # A task with clips but none usable enters as its latest failed clip: the fusion then says
    # the branch was left out because the clip failed its quality check.
    entered = [(clip, t.assessments.get(clip.id)) for t in counting_clips(s, visit_id)
               if (clip := t.counting or t.latest_attempt) is not None]
    inputs: list = []
    reported: list[dict[str, Any]] = []
    for r, a in sorted(entered, key=lambda pair: pair[0].id):
        if a is None:
            continue
        branch = branch_for(r.task, r.side)
        if branch is None:
            if r.counts and r.quality_ok:
                reported.append({"task": r.task, "side": r.side, "recording_id": r.id,
                                 "measures": [{"name": m.name, "value": m.value, "unit": m.unit} for m in a.measures]})
            continue
        score = ModelScore(a.model_name, a.model_version, a.probability,
                           interval=(a.interval_low, a.interval_high) if a.interval_low is not None else None,
                           severity=a.severity, abstained=a.abstained_reason)
        inputs.append((BranchInput(branch.key, score, quality_ok=r.quality_ok, recording_id=r.id), a))
    return inputs, reported


def fused_explanation(fused, inputs_with_explanations: list[tuple[Any, dict | None]],
                      reported: list[dict[str, Any]]) -> dict[str, Any]:
    """The visit-level explanation: the fusion's terms, each branch's top measures rescaled by
    its fusion weight (so they are log-odds of the visit score), reported tremor measures and the
    plain-language summary."""
    from core.summary import fused_summary

    out = fused.as_dict()
    branches = {}
    for bi, expl in inputs_with_explanations:
        w = fused.weights.get(bi.branch)
        attr = (expl or {}).get("measure_attributions")
        if w is None or not attr:
            continue
        branches[bi.branch] = {
            "recording_id": bi.recording_id,
            "measure_contributions_logodds": {n: (a * w if a is not None else None)
                                              for n, a in zip(attr["names"], attr["attributions"])},
        }
    out["branches"] = branches
    out["reported_measures"] = reported
    out["summary"] = fused_summary(out)
    return json_safe(out)


def _inputs_hash(inputs, reported: list[dict[str, Any]] = ()) -> str:
    payload = [[bi.branch, bi.recording_id, bi.quality_ok, bi.score.model_version, bi.score.probability,
                list(bi.score.interval) if bi.score.interval else None] for bi in inputs]
    payload.append(sorted(r.get("recording_id") or 0 for r in reported))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def score_visit(sessions: sessionmaker[Session], actor: Any, visit_id: int) -> dict[str, Any]:
    """Fuse the scores of the clips that count and store the visit's current score
    (Assessment, recording_id None, model "fused"); the previous visit score is kept as history,
    marked superseded (repository.save_assessment). When the inputs are unchanged, the current
    score stays as it is and nothing is written. Returns the stored explanation (fusion terms +
    summary) with "assessment_id"."""
    from core.store import transaction
    from core.store import repository as repo
    from models.fused import fuse

    with transaction(sessions) as s:
        who = _resolve_actor(s, actor)
        items, reported = _branch_inputs_from_store(s, visit_id)
        inputs = [bi for bi, _ in items]
        fused = fuse(inputs)
        explanation = fused_explanation(fused, [(bi, a.explanation_json) for bi, a in items], reported)
        sc = fused.score
        inputs_sha256 = _inputs_hash(inputs, reported)
        current = current_visit_score(s, visit_id)
        # the clinic's own active models (core.clinic_models) estimate their rating from the
        # visit's measures: written or refreshed with the visit score, in the same transaction
        from core.clinic_models import refresh_visit_estimates

        refresh_visit_estimates(s, who, visit_id)
        if (current is not None and current.inputs_sha256 == inputs_sha256
                and current.model_version == sc.model_version and current.explanation_json):
            return {**current.explanation_json, "assessment_id": current.id}
        assessment = repo.save_assessment(
            s, who, visit_id=visit_id, recording_id=None, model_name=sc.model, model_version=sc.model_version,
            probability=sc.probability, interval=tuple(sc.interval) if sc.interval else None, severity=None,
            abstained_reason=sc.abstained, inputs_sha256=inputs_sha256, explanation=explanation,
            measures=[])
        explanation["assessment_id"] = assessment.id
    return explanation


# ---------------------------------------------------------------- reads for the pages

def current_visit_score(s: Session, visit_id: int):
    """The visit's current combined score (the one every page, report and export shows), or
    None before any clip was scored."""
    from core.store.models import Assessment

    # model "fused" only: imported visit-level measures (the demo's telemonitoring rows) are no score
    return s.scalar(select(Assessment).where(Assessment.visit_id == visit_id, Assessment.recording_id.is_(None),
                                             Assessment.model_name == "fused", Assessment.superseded_at.is_(None))
                    .order_by(Assessment.id.desc()).limit(1))


@dataclass
class TaskClips:
    """One task (and side) of a visit: the clip that counts, the other clips (older attempts,
    failed retakes, excluded clips) that do not, and the current assessment of each."""

    task: str
    side: str | None
    counting: Any | None  # Recording
    others: list[Any]  # Recordings that do not count, oldest first
    assessments: dict[int, Any]  # recording id -> its current Assessment

    @property
    def assessment(self) -> Any | None:
        """The current assessment of the clip that counts."""
        return self.assessments.get(self.counting.id) if self.counting is not None else None

    @property
    def chosen_by_clinician(self) -> bool:
        return self.counting is not None and bool(self.counting.chosen)

    @property
    def latest_attempt(self) -> Any | None:
        """When no clip counts: the latest clip not excluded (the one that needs a retake)."""
        usable = [r for r in self.others if r.excluded_reason is None]
        return usable[-1] if self.counting is None and usable else None

    @property
    def state(self) -> str:
        """"counts" (a usable clip counts), "needs_retake" (clips exist, none usable) or "to_do"."""
        if self.counting is not None:
            return "counts"
        return "needs_retake" if self.latest_attempt is not None else "to_do"


def counting_clips(s: Session, visit_id: int) -> list[TaskClips]:
    """Per task and side that has clips on this visit, which clip counts and which do not."""
    from core.store import repository as repo

    current = {a.recording_id: a for a in repo.list_assessments(s, visit_id) if a.recording_id is not None}
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for r in repo.list_recordings(s, visit_id):
        groups.setdefault((r.task, r.side), []).append(r)
    order = {key: n for n, key in enumerate(TASKS)}
    out = []
    for (task, side), clips in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1] or "")):
        counting = next((r for r in clips if r.counts), None)
        out.append(TaskClips(task, side, counting, [r for r in clips if r is not counting],
                             {r.id: current[r.id] for r in clips if r.id in current}))
    return out


def clip_label(recording: Any) -> str:
    """How pages name a clip: its task, side, number and when it was added ("Finger tapping
    (3.4), left - clip 3 added 09:41"); never its file name, which may carry the patient's."""
    when = recording.created_at.strftime("%H:%M") if recording.created_at else ""
    return f"{TASKS[recording.task].label}{f', {recording.side}' if recording.side else ''} - clip {recording.id}" + (
        f" added {when}" if when else "")


# ---------------------------------------------------------------- corrections of clips

def _change_clip(sessions: sessionmaker[Session], actor: Any, change) -> dict[str, Any]:
    """Run `change(session, actor)` (a repository correction returning the Recording) in one
    transaction, then score the clip's visit again."""
    from core.store import transaction

    with transaction(sessions) as s:
        visit_id = change(s, _resolve_actor(s, actor)).visit_id
    return score_visit(sessions, actor, visit_id)


def choose_clip(sessions: sessionmaker[Session], actor: Any, recording_id: int) -> dict[str, Any]:
    """The clinician makes this clip the one that counts; the visit is scored again."""
    from core.store import repository as repo

    return _change_clip(sessions, actor, lambda s, who: repo.choose_recording(s, who, recording_id))


def automatic_clip(sessions: sessionmaker[Session], actor: Any, recording_id: int) -> dict[str, Any]:
    """Back to the rule (latest clip that passed its quality check) for this clip's task."""
    from core.store import repository as repo

    return _change_clip(sessions, actor, lambda s, who: repo.clear_recording_choice(s, who, recording_id))


def exclude_clip(sessions: sessionmaker[Session], actor: Any, recording_id: int, reason: str) -> dict[str, Any]:
    from core.store import repository as repo

    return _change_clip(sessions, actor, lambda s, who: repo.exclude_recording(s, who, recording_id, reason))


def include_clip(sessions: sessionmaker[Session], actor: Any, recording_id: int) -> dict[str, Any]:
    from core.store import repository as repo

    return _change_clip(sessions, actor, lambda s, who: repo.include_recording(s, who, recording_id))


def relabel_clip(sessions: sessionmaker[Session], actor: Any, recording_id: int, task: str, side: str | None,
                 data_dir: str | Path) -> RecordingOutcome:
    """Give a stored clip another task or side: analyse it again as that task, store the new
    assessment (the old one is kept, superseded), mark the clip that counts and score the visit
    again. Raises core.store.ValidationError (unknown task, missing side) or UnusableInput (the
    file cannot be analysed as the new task); nothing changes then."""
    from core.store import ValidationError, transaction
    from core.store import repository as repo
    from core.store.files import open_recording, resolve_recording_path

    require_role(sessions, actor, "record")
    spec = task_spec(task)
    if spec.sided and side not in ("left", "right"):
        raise ValidationError(f"{spec.label} is recorded per hand: say which side (left or right) was tested.")
    if not spec.sided:
        side = None
    with transaction(sessions) as s:
        recording = repo.get_recording(s, recording_id)
        visit_id, relative, sha256 = recording.visit_id, recording.stored_path, recording.sha256
        if (recording.task, recording.side) == (task, side):
            raise ValidationError("The clip already has this task and side: nothing to change.")
        setup = clip_setup(s, visit_id, recording)
    stored = resolve_recording_path(data_dir, relative)
    if not stored.exists():
        raise UnusableInput("The stored file of this clip is missing, so it cannot be analysed again. "
                            "Upload the clip again with the right task and side.")
    # The landmark cache and key frame belong to the old label (hand of the other side, or pose
    # instead of hand landmarks): set aside while the clip is analysed again, put back on failure.
    set_aside = [(p, p.with_name(p.name + ".relabel-old")) for p in _side_files(stored)
                 if not p.name.endswith(".relabel-old")]
    for p, old in set_aside:
        p.replace(old)
    try:
        with open_recording(data_dir, relative) as work:
            result, explanation, timings = analyze_and_explain(work, task, side, cache_path=landmark_cache_path(work),
                                                               setup=setup)
            save_key_frame(work, explanation, Path(data_dir), clip_relative=relative)
    except BaseException:
        for p, old in set_aside:
            old.replace(p)
        raise
    for _, old in set_aside:
        old.unlink(missing_ok=True)
    quality, score = result.quality, result.score
    measures = _finite_measures(result.measures)
    model_name, model_version, probability, interval, severity, abstained = _score_fields(task, score, quality)
    with transaction(sessions) as s:
        who = _resolve_actor(s, actor)
        repo.relabel_recording(
            s, who, recording_id, task=task, side=side, quality_ok=quality.ok,
            quality_json=json_safe(quality.as_dict()), status="analysed" if quality.ok else "needs_retake",
            duration_s=float(result.duration_s) if math.isfinite(result.duration_s) else None)
        assessment = repo.save_assessment(
            s, who, visit_id=visit_id, recording_id=recording_id, model_name=model_name,
            model_version=model_version, probability=probability, interval=tuple(interval) if interval else None,
            severity=severity, abstained_reason=abstained, inputs_sha256=sha256, explanation=explanation,
            measures=measures)
        assessment_id = assessment.id
    outcome = RecordingOutcome(
        recording_id=recording_id, assessment_id=assessment_id, task=task, side=side, quality_ok=quality.ok,
        problems=list(quality.problems), score=score,
        message=_outcome_message(spec.label, side, quality.ok, quality.problems, score),
        explanation=explanation, timings_s=timings)
    outcome.fused = score_visit(sessions, actor, visit_id)
    return outcome


# ---------------------------------------------------------------- floor marks (gait speed)

FLOOR_MARKS_TASK = "gait_speed"
MARKS_DISTANCE_M = (1.0, 20.0)


def floor_marks_frame(clip: Path, max_side: int = 960) -> Path | None:
    """A frame of the clip on which the clinician clicks the floor marks: the explanation's key
    frame if one was saved, else the clip's first frame (the walkway before the person is in the
    way), saved next to the clip once. None when the file cannot be decoded. `clip` is a path the
    pipelines can read (plaintext): for a stored clip use `floor_marks_jpeg`, which handles
    encryption at rest."""
    existing = key_frame_path(clip)
    if existing.is_file():
        return existing
    out = clip.with_name(clip.name + ".marksframe.jpg")
    if out.is_file():
        return out
    from core.explain import decode_key_frame

    try:
        image = decode_key_frame(clip, 0.0, max_side=max_side)
    except Exception:  # a clip that no longer decodes: no frame, the page says so
        log.exception("floor-marks frame could not be decoded")
        return None
    if image is None:
        return None
    from PIL import Image

    Image.fromarray(image).save(out, format="JPEG", quality=90)
    return out


def floor_marks_jpeg(data_dir: str | Path, relative_path: str | Path) -> bytes | None:
    """The JPEG bytes of the floor-marks frame of a stored clip (`floor_marks_frame`), whether or
    not the clip is encrypted at rest: read through core.store.files.open_recording, so an
    encrypted clip is decrypted in a private temporary folder and the frame saved with it is
    encrypted back next to the stored clip. None when no frame can be shown (no key or the wrong
    one, the clip removed by retention, a clip that does not decode)."""
    from core.store.files import open_recording

    try:
        with open_recording(data_dir, relative_path) as work:
            frame = floor_marks_frame(work)
            return frame.read_bytes() if frame is not None else None
    except (ValueError, OSError):  # RecordingLocked is a ValueError; a missing file an OSError
        return None


def _validated_marks(marks: Any, distance_m: Any) -> tuple[tuple[tuple[float, float], tuple[float, float]], float]:
    from core.store import ValidationError

    try:
        points = tuple((float(x), float(y)) for x, y in marks)
    except (TypeError, ValueError):
        points = ()
    if len(points) != 2 or not all(0.0 <= v <= 1.0 and math.isfinite(v) for p in points for v in p):
        raise ValidationError("Click two floor marks inside the picture (each a point on the frame).")
    if points[0] == points[1]:
        raise ValidationError("The two floor marks are the same point: click the mark at each end of the timed distance.")
    try:
        distance = float(distance_m)
    except (TypeError, ValueError):
        distance = float("nan")
    lo, hi = MARKS_DISTANCE_M
    if not (math.isfinite(distance) and lo <= distance <= hi):
        raise ValidationError(f"The distance between the marks must be {lo:g}-{hi:g} m (6 m for the middle "
                              "part of a 10 m walk).")
    return points, distance  # type: ignore[return-value]


def set_floor_marks(sessions: sessionmaker[Session], actor: Any, recording_id: int, marks: Any, distance_m: Any,
                    data_dir: str | Path) -> RecordingOutcome:
    """Store the two floor marks the clinician clicked on a gait-speed clip (fractions of the
    picture's width and height, `distance_m` apart on the floor) and analyse the clip again from
    its landmark cache: the new assessment supersedes the old one, the visit is scored again.
    Raises core.store.ValidationError (marks outside the picture, distance outside 1-20 m, not a
    gait-speed clip) or UnusableInput (the stored file is gone); nothing changes then."""
    from core.analysis import ClipSetup

    points, distance = _validated_marks(marks, distance_m)
    return _analyse_with_setup(sessions, actor, recording_id, ClipSetup(marks=points, marks_distance_m=distance).to_json(),
                               data_dir)


def clear_floor_marks(sessions: sessionmaker[Session], actor: Any, recording_id: int,
                      data_dir: str | Path) -> RecordingOutcome:
    """Remove a gait-speed clip's floor marks and analyse it again (scaled by the patient's height
    if the patient record has one, refused for want of a scale otherwise)."""
    return _analyse_with_setup(sessions, actor, recording_id, {}, data_dir)


def measure_clip_again(sessions: sessionmaker[Session], actor: Any, recording_id: int,
                       data_dir: str | Path) -> RecordingOutcome:
    """Analyse a gait-speed clip again with its stored floor marks and the patient's height as the
    patient record has it now (a height entered after the clip was added scales it)."""
    from core.store import transaction
    from core.store import repository as repo

    with transaction(sessions) as s:
        stored = dict(repo.get_recording(s, recording_id).setup_json or {})
    return _analyse_with_setup(sessions, actor, recording_id, stored, data_dir, measured_again=True)


def _analyse_with_setup(sessions: sessionmaker[Session], actor: Any, recording_id: int, setup_json: dict[str, Any],
                        data_dir: str | Path, measured_again: bool = False) -> RecordingOutcome:
    from core.analysis import ClipSetup
    from core.store import ValidationError, transaction
    from core.store import repository as repo
    from core.store.files import open_recording, resolve_recording_path

    require_role(sessions, actor, "record")
    with transaction(sessions) as s:
        recording = repo.get_recording(s, recording_id)
        if recording.task != FLOOR_MARKS_TASK:
            raise ValidationError(f"Floor marks belong to {task_spec(FLOOR_MARKS_TASK).label} clips; this clip is "
                                  f"{task_spec(recording.task).label}.")
        visit_id, relative, sha256, task = recording.visit_id, recording.stored_path, recording.sha256, recording.task
        setup = ClipSetup.from_json(setup_json, height_m=clip_setup(s, visit_id).height_m)
    stored = resolve_recording_path(data_dir, relative)
    if not stored.exists():
        raise UnusableInput("The stored file of this clip is missing, so it cannot be analysed again. "
                            "Upload the clip again.")
    with open_recording(data_dir, relative) as work:
        result, explanation, timings = analyze_and_explain(work, task, None, cache_path=landmark_cache_path(work),
                                                           setup=setup)
        save_key_frame(work, explanation, Path(data_dir), clip_relative=relative)
    quality, score = result.quality, result.score
    measures = _finite_measures(result.measures)
    model_name, model_version, probability, interval, severity, abstained = _score_fields(task, score, quality)
    with transaction(sessions) as s:
        who = _resolve_actor(s, actor)
        repo.set_recording_setup(
            s, who, recording_id, setup_json, quality_ok=quality.ok, quality_json=json_safe(quality.as_dict()),
            status="analysed" if quality.ok else "needs_retake",
            duration_s=float(result.duration_s) if math.isfinite(result.duration_s) else None,
            measured_again=measured_again)
        assessment = repo.save_assessment(
            s, who, visit_id=visit_id, recording_id=recording_id, model_name=model_name,
            model_version=model_version, probability=probability, interval=tuple(interval) if interval else None,
            severity=severity, abstained_reason=abstained, inputs_sha256=sha256, explanation=explanation,
            measures=measures)
        assessment_id = assessment.id
    label = task_spec(task).label
    outcome = RecordingOutcome(
        recording_id=recording_id, assessment_id=assessment_id, task=task, side=None, quality_ok=quality.ok,
        problems=list(quality.problems), score=score,
        message=_outcome_message(label, None, quality.ok, quality.problems, score),
        explanation=explanation, timings_s=timings)
    outcome.fused = score_visit(sessions, actor, visit_id)
    return outcome


def model_versions_in_use(s: Session) -> list[dict[str, Any]]:
    """Which model version produced the stored scores: model, version, count, first and last date."""
    from core.store.models import Assessment

    rows = s.execute(
        select(Assessment.model_name, Assessment.model_version, func.count(Assessment.id),
               func.min(Assessment.created_at), func.max(Assessment.created_at))
        .group_by(Assessment.model_name, Assessment.model_version)
        .order_by(Assessment.model_name, func.max(Assessment.created_at).desc()))
    return [{"model": m, "version": v, "assessments": n, "first": first, "last": last}
            for m, v, n, first, last in rows]


# ---------------------------------------------------------------- files only (CLI)

def analyze_files(recordings: Iterable[tuple[str | Path, str, str | None]], explain: bool = True,
                  setup=None) -> dict[str, Any]:
    """Analyse (path, task, side) recordings of one visit without a database: per-recording
    results, explanations and summaries, the fused visit score and the visit summary.
    Raises UnusableInput (with the task in the message) for a file that cannot be analysed."""
    from core.summary import recording_summary
    from models.fused import BranchInput, branch_for, fuse

    out_recordings, items, reported = [], [], []
    for path, task, side in recordings:
        try:
            result, explanation, timings = analyze_and_explain(path, task, side, explain=explain, setup=setup)
        except UnusableInput as exc:
            raise UnusableInput(f"{TASKS[task].label if task in TASKS else task}: {exc}") from None
        # No file name in the output: clinic file names often carry the patient's name, and the
        # JSON is saved and logged. The task (and side) identify each entry.
        entry = result.to_json()
        entry["explanation"] = explanation
        entry["summary"] = recording_summary(TASKS[task].label + (f" ({side})" if result.side else ""),
                                             result.measures, explanation, result.quality.ok,
                                             result.quality.problems,
                                             extra=(explanation or {}).get("sentences", []))
        entry["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        out_recordings.append(entry)
        branch = branch_for(task, result.side)
        if branch is not None:
            items.append((BranchInput(branch.key, result.score, quality_ok=result.quality.ok), explanation))
        elif result.quality.ok:
            reported.append({"task": task, "side": result.side, "measures": measures_json(result.measures)})
    fused = fuse([bi for bi, _ in items])
    return json_safe({"recordings": out_recordings,
                      "fused": fused_explanation(fused, items, reported)})
