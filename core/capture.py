"""Clips into a visit, without Streamlit: what the capture page, the upload widget, the browser
recorder (for its finished clips) and the batch import share.

* The visit checklist: the standard task slots (task, side) and each one's status derived from
  the visit's recordings (to do / recorded / analysed / needs retake).
* File names -> (task, side) guesses on whole words ("tap_L.mp4", "vowel.m4a", "gait 2.mov").
* Upload validation: size limit by the declared size (before reading the file), type by the
  file's first bytes (never by its name), and the clip's duration against the task's minimum.
* `add_clip`: one file (path or binary stream) -> the visit, through
  core.visits.add_recording_and_analyze, with a per-file outcome (stored / failed / duplicate).

The WebRTC frame processors of the browser recorder live in core/recorders.py.
"""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


from core.pipeline import UnusableInput
from core.store.files import file_sha256
from core.tasks import SIDES, TASKS, task_spec
from core.words import plural

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024**3  # 2 GiB: far beyond any task clip; refused before reading
HEAD_BYTES = 64  # enough of the file's start to recognise every supported container

# ---------------------------------------------------------------- checklist


@dataclass(frozen=True)
class Slot:
    """One line of the visit checklist: a task, and a side for the sided tasks."""

    task: str
    side: str | None

    @property
    def key(self) -> str:
        return f"{self.task}_{self.side}" if self.side else self.task

    @property
    def label(self) -> str:
        spec = TASKS[self.task]
        return f"{spec.label}, {self.side} hand" if self.side else spec.label


CHECKLIST: tuple[Slot, ...] = tuple(
    Slot(key, side) for key, spec in TASKS.items() for side in (SIDES if spec.sided else (None,))
)

STATUS_LABELS = {"todo": "To do", "recorded": "Recorded", "analysed": "Analysed", "needs_retake": "Needs retake"}


@dataclass(frozen=True)
class ChecklistItem:
    slot: Slot
    status: str  # a key of STATUS_LABELS
    recording_id: int | None  # the latest recording of this slot
    attempts: int  # recordings of this slot on the visit
    problems: tuple[str, ...]  # why a retake is needed (quality messages)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def _recording_status(recording: Any) -> str:
    if recording.status == "analysed" and recording.quality_ok:
        return "analysed"
    if recording.status in ("needs_retake", "failed") or (recording.status == "analysed" and not recording.quality_ok):
        return "needs_retake"
    return "recorded"


def _quality_problems(recording: Any) -> tuple[str, ...]:
    checks = (recording.quality_json or {}).get("checks") or []
    return tuple(c.get("message", "") for c in checks if not c.get("passed", True))


def checklist(recordings: list[Any]) -> list[ChecklistItem]:
    """The checklist of a visit from its recordings (anything with id, task, side, status,
    quality_ok, quality_json, counts, excluded_reason; ordered by id). A slot is done when a clip
    counts for it (core.store.repository.refresh_counting_clips: a failed retake never displaces
    a good clip); "Needs retake" means clips exist and none of them is usable."""
    by_slot: dict[Slot, list[Any]] = {}
    for r in sorted(recordings, key=lambda r: r.id):
        by_slot.setdefault(Slot(r.task, r.side if TASKS[r.task].sided else None), []).append(r)
    items = []
    for slot in CHECKLIST:
        attempts = by_slot.get(slot, [])
        usable = [r for r in attempts if getattr(r, "excluded_reason", None) is None]
        if not usable:
            items.append(ChecklistItem(slot, "todo", None, len(attempts), ()))
            continue
        counting = next((r for r in usable if getattr(r, "counts", False)), None)
        if counting is not None:
            status = _recording_status(counting)
            if status == "needs_retake":  # the clinician chose a clip that failed its check
                status = "analysed"
            items.append(ChecklistItem(slot, status, counting.id, len(attempts), ()))
            continue
        latest = usable[-1]
        status = _recording_status(latest)
        items.append(ChecklistItem(slot, status, latest.id, len(attempts),
                                   _quality_problems(latest) if status == "needs_retake" else ()))
    return items


def counted_items(items: list[ChecklistItem]) -> list[ChecklistItem]:
    """The checklist lines a visit's progress counts: every standard task, and the outcome
    tests (TUG, 5xSTS, gait speed) only where the therapist recorded one."""
    return [i for i in items if not TASKS[i.slot.task].optional or i.attempts]


def checklist_status(items: list[ChecklistItem]) -> str:
    """A visit's progress in a few words for lists: "No clips yet", "3 of 7 tasks done",
    "3 of 7 tasks done, 1 needs a retake"."""
    if not any(item.attempts for item in items):
        return "No clips yet"
    items = counted_items(items)
    done = sum(item.status == "analysed" for item in items)
    retakes = sum(item.status == "needs_retake" for item in items)
    text = f"{done} of {plural(len(items), 'task')} done"
    if retakes:
        text += f", {retakes} {'needs' if retakes == 1 else 'need'} a retake"
    return text


# ---------------------------------------------------------------- file names -> task, side

# Whole words only (a name is split at _ - . spaces, digits and camelCase first): "tug" is the
# Timed Up and Go only as a word of its own, never inside "tugboat"; "read" never inside
# "renamed" or "ready". Generic words ("text", "speech", "test") say nothing about the task.
# A few run-together compounds are words of their own ("fingertap", "resttremor").
_TASK_WORDS = {
    "vowel": ("vowel", "vowels", "ah", "aah", "aaah", "aaaah", "aaa", "phonation", "sustained"),
    "reading": ("read", "reading", "passage", "rainbow", "grandfather", "readaloud"),
    "finger_tapping": ("tap", "taps", "tapping", "finger", "fingertap", "fingertaps", "fingertapping", "ft"),
    "tremor": ("tremor", "tremors", "rest", "resting", "resttremor"),
    "gait": ("gait", "walk", "walks", "walking", "stride", "strides"),
    "tug": ("tug", "tugt"),
    "sit_to_stand": ("sts", "5sts", "ftsts", "5xsts", "sit", "stand", "chair", "situps"),
    "gait_speed": ("10mwt", "mwt", "speed", "gaitspeed", "walkspeed"),
}
# Two words in a row that name a task where neither alone does (or the pair beats a single word).
_TASK_PAIRS = {("timed", "up"): "tug", ("up", "go"): "tug", ("sit", "stand"): "sit_to_stand",
               ("gait", "speed"): "gait_speed", ("walk", "speed"): "gait_speed",
               ("walking", "speed"): "gait_speed", ("10", "m"): "gait_speed"}
_SIDE_WORDS = {"left": ("left", "l", "lh", "lt", "links", "lhand", "lefthand"),
               "right": ("right", "r", "rh", "rt", "rhand", "righthand")}


def name_words(file_name: str) -> list[str]:
    """The words of a file name, lower case: split at separators (_ - . space and any other
    punctuation), between letters and digits, and at camelCase ("tapLeft" -> tap, left;
    "TUGTest" -> tug, test). The extension is dropped."""
    stem = Path(file_name).stem if Path(file_name).suffix[1:].isalnum() else Path(file_name).name
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)  # tapLeft -> tap Left
    stem = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", stem)  # TUGTest -> TUG Test
    stem = re.sub(r"([A-Za-z])(\d)", r"\1 \2", stem)
    stem = re.sub(r"(\d)([A-Za-z])", r"\1 \2", stem)
    return [t for t in re.split(r"[^a-z0-9]+", stem.lower()) if t]


def _first_match(words: list[str], singles: dict[str, tuple[str, ...]], pairs: dict[tuple[str, str], str]) -> str | None:
    for i, word in enumerate(words):
        if i + 1 < len(words) and (word, words[i + 1]) in pairs:
            return pairs[(word, words[i + 1])]
        found = next((key for key, choices in singles.items() if word in choices), None)
        if found:
            return found
    return None


def guess_task_and_side(file_name: str) -> tuple[str | None, str | None]:
    """Best guess of (task, side) from a file name, on whole words only; None where the name
    does not say. Unsided tasks always get side None."""
    words = name_words(file_name)
    task = _first_match(words, _TASK_WORDS, _TASK_PAIRS)
    side = _first_match(words, _SIDE_WORDS, {})
    if task is not None and not TASKS[task].sided:
        side = None
    return task, side


# ---------------------------------------------------------------- upload validation

# format key -> what a clinician reads
SUPPORTED_FORMATS = {
    "wav": "WAV", "flac": "FLAC", "mp3": "MP3", "ogg": "OGG/Opus", "mp4": "MP4/M4A/MOV (phone clips)",
    "webm": "WebM/MKV", "avi": "AVI",
}
SUPPORTED_TEXT = ", ".join(SUPPORTED_FORMATS.values())
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def sniff_format(head: bytes) -> str | None:
    """The container of a file from its first bytes (a key of SUPPORTED_FORMATS), or None."""
    if len(head) >= 12 and head[:4] == b"RIFF":
        return {b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12])
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mp4"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06)):
        return "mp3"
    return None


def check_upload(name: str, size: int | None, head: bytes, limit: int = MAX_UPLOAD_BYTES) -> str:
    """Refuse a file by its declared size and its content before it is read in full. Returns the
    format key; raises UnusableInput with a one-line reason."""
    shown = Path(name or "file").name
    if size is not None and size > limit:
        raise UnusableInput(f"{shown} is {size / 1024**3:.1f} GB; files over {limit / 1024**3:.0f} GB are refused: "
                            "trim the clip to the task and upload it again.")
    if size == 0 or not head:
        raise UnusableInput(f"{shown} is empty (0 bytes): record or export it again.")
    fmt = sniff_format(head)
    if fmt is None:
        raise UnusableInput(f"{shown} is not a supported audio or video file. Supported formats: {SUPPORTED_TEXT}.")
    return fmt


def clip_duration(info) -> float | None:
    """Duration in seconds of a probed file (core.media.audio.MediaInfo) from the container or
    its longest stream; None when not declared."""
    durations = [d for d in [info.duration_s, *(s.duration_s for s in info.streams)] if d]
    return max(durations) if durations else None


def check_clip(path: str | Path, task: str) -> float | None:
    """Refuse a clip that cannot hold the task: no sound track for a voice task, no picture for a
    movement task, or shorter than the task's minimum ("The clip is 1.2 s; finger tapping needs
    at least 5 s")."""
    from core.media.audio import probe_media

    spec = task_spec(task)
    info = probe_media(path)
    if spec.modality == "voice" and not info.has_audio:
        raise UnusableInput(f"This file has no sound: {spec.label.lower()} needs a voice recording.")
    if spec.modality == "movement" and not any(s.kind == "video" and (s.frames or 0) != 1 for s in info.streams):
        raise UnusableInput(f"This file has no video: {spec.label.lower()} needs a video clip, not a photo or audio.")
    duration = clip_duration(info)
    if duration is not None and duration < spec.min_seconds:
        what = spec.label.split(" (")[0].lower()
        raise UnusableInput(f"The clip is {duration:.1f} s; {what} needs at least {spec.min_seconds:g} s: "
                            f"record it again (aim for {spec.target_seconds:.0f} s).")
    return duration


# ---------------------------------------------------------------- one clip -> the visit

@dataclass
class ClipOutcome:
    """What happened to one file. status: "stored" (analysed, maybe needing a retake), "duplicate"
    (this content is already on the visit) or "failed" (nothing written; `message` says why)."""

    name: str
    task: str | None
    side: str | None
    status: str
    message: str
    recording_id: int | None = None
    quality_ok: bool | None = None


def _copy_to_temp(stream: BinaryIO, folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, suffix=suffix)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return Path(name)


def add_clip(sessions, actor: Any, visit_id: int, source: str | Path | BinaryIO | bytes, name: str,
             task: str | None, side: str | None, source_kind: str, data_dir: str | Path,
             size: int | None = None, rescore: bool = True, live_landmarks: Any = None) -> ClipOutcome:
    """Validate one clip and add it to a visit (stored, analysed, explained, one transaction).
    Never raises for bad input: returns a ClipOutcome. A binary stream (an upload) is copied to a
    temporary file that is always removed; only complete, valid clips reach the store.
    live_landmarks: the browser recorder's live tracker, passed on to
    core.visits.add_recording_and_analyze (the clip's landmarks from the recording)."""
    from sqlalchemy import select

    from core.store import PermissionDenied, ValidationError, transaction
    from core.store.models import Recording
    from core.visits import add_recording_and_analyze

    shown = Path(name).name
    if task not in TASKS:
        return ClipOutcome(shown, task, side, "failed", f"{shown}: choose the task of this clip.")
    if TASKS[task].sided and side not in SIDES:
        return ClipOutcome(shown, task, side, "failed",
                           f"{shown}: {TASKS[task].label} is recorded per hand: choose left or right.")
    side = side if TASKS[task].sided else None
    with tempfile.TemporaryDirectory(prefix="pdlens-clip-") as tmp:
        try:
            if isinstance(source, (str, Path)):
                path = Path(source)
                if not path.is_file():
                    raise UnusableInput(f"File not found: {shown}.")
                size = path.stat().st_size
                with open(path, "rb") as fh:
                    head = fh.read(HEAD_BYTES)
            else:
                stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
                if size is None:
                    size = len(source) if isinstance(source, (bytes, bytearray)) else getattr(source, "size", None)
                head = stream.read(HEAD_BYTES)
                check_upload(shown, size, head)  # before copying the rest
                stream.seek(0)
                path = _copy_to_temp(stream, Path(tmp), Path(shown).suffix.lower()[:9])
            fmt = check_upload(shown, size, head)
            sha256 = file_sha256(path)
            with transaction(sessions) as s:
                existing = s.scalar(select(Recording.id).where(Recording.visit_id == visit_id,
                                                               Recording.sha256 == sha256))
            if existing is not None:
                return ClipOutcome(shown, task, side, "duplicate",
                                   f"{shown}: already on this visit (the same file): not stored twice.", existing)
            check_clip(path, task)
            # the stored file keeps a clean extension: the name's, else the sniffed format's
            stored_name = shown if re.fullmatch(r"\.[a-z0-9]{1,8}", Path(shown).suffix.lower()) else f"{shown}.{fmt}"
            outcome = add_recording_and_analyze(sessions, actor, visit_id, path, stored_name,
                                                task, side, source_kind, data_dir, rescore=False,
                                                live_landmarks=live_landmarks)
        except (UnusableInput, ValidationError, PermissionDenied) as exc:  # (a reviewer: core.permissions)
            return ClipOutcome(shown, task, side, "failed", f"{shown}: {exc}")
        except OSError as exc:  # the data dir is full or read-only (core/store/datadir.py)
            from core.store.datadir import unwritable_message

            log.warning("storing a clip failed: %s", type(exc).__name__)
            return ClipOutcome(shown, task, side, "failed", f"{shown}: {unwritable_message(exc)}")
        except Exception:  # a bug must not lose the other files of a batch: say so, keep going
            log.exception("adding a clip failed")
            return ClipOutcome(shown, task, side, "failed",
                               f"{shown}: the analysis failed unexpectedly; nothing was stored. Try again or report it.")
    message = outcome.message
    if rescore:
        from core.visits import score_visit

        try:  # the clip is stored whatever happens here; the score can be recomputed on Results
            score_visit(sessions, actor, visit_id)
        except Exception:
            log.exception("visit score after a clip failed")
            message += " The visit score could not be updated: recompute it on the visit's Results page."
    return ClipOutcome(shown, task, side, "stored", message, outcome.recording_id, outcome.quality_ok)


# ---------------------------------------------------------------- many clips -> the visit, in parallel

@dataclass
class ClipRequest:
    """One file of a multi-file upload. `key` is the caller's handle (e.g. the uploader's file id)."""

    key: Any
    source: str | Path | BinaryIO | bytes
    name: str
    task: str | None
    side: str | None
    size: int | None = None


def add_clips(sessions, actor: Any, visit_id: int, requests: list[ClipRequest], source_kind: str,
              data_dir: str | Path, executor=None, rescore: bool = True):
    """Add several clips to one visit, analysed through `executor` (core.executor; default in this
    process): each file is validated here (as add_clip does), the valid ones are analysed in
    parallel, and each is written in its own transaction as soon as its analysis completes.
    Yields (key, ClipOutcome) in the order the outcomes are known: refusals first, then the
    analysed clips as they finish. The visit is scored once at the end (when `rescore`)."""
    from sqlalchemy import select

    from core.executor import ClipJob, SerialExecutor, expected_cost
    from core.store import PermissionDenied, ValidationError, transaction
    from core.store.models import Recording
    from core.visits import add_analysed_recording, clip_setup, require_role

    try:  # a role that may not record (a reviewer): every file refused, nothing read or analysed
        require_role(sessions, actor, "record")
    except PermissionDenied as exc:
        for req in requests:
            yield req.key, ClipOutcome(Path(req.name).name, req.task, req.side, "failed", f"{Path(req.name).name}: {exc}")
        return
    executor = executor or SerialExecutor()
    stored_any = False
    with tempfile.TemporaryDirectory(prefix="pdlens-clips-") as tmp:
        jobs: list[ClipJob] = []
        pending: dict[int, tuple[ClipRequest, Path, str, str, str | None]] = {}
        seen: dict[str, str] = {}  # sha256 -> name, within this upload
        with transaction(sessions) as s:
            setup = clip_setup(s, visit_id)
        for i, req in enumerate(requests):
            shown = Path(req.name).name
            task, side = req.task, req.side
            try:
                if task not in TASKS:
                    raise UnusableInput("choose the task of this clip.")
                if TASKS[task].sided and side not in SIDES:
                    raise UnusableInput(f"{TASKS[task].label} is recorded per hand: choose left or right.")
                side = side if TASKS[task].sided else None
                path, fmt = _local_copy(req.source, shown, req.size, Path(tmp), i)
                sha256 = file_sha256(path)
                with transaction(sessions) as s:
                    existing = s.scalar(select(Recording.id).where(Recording.visit_id == visit_id,
                                                                   Recording.sha256 == sha256))
                if existing is not None or sha256 in seen:
                    yield req.key, ClipOutcome(shown, task, side, "duplicate",
                                               f"{shown}: already on this visit (the same file): not stored twice.",
                                               existing)
                    continue
                seen[sha256] = shown
                duration = check_clip(path, task)
            except (UnusableInput, ValidationError) as exc:
                yield req.key, ClipOutcome(shown, task, side, "failed", f"{shown}: {exc}")
                continue
            except Exception:
                log.exception("checking a clip failed")
                yield req.key, ClipOutcome(shown, task, side, "failed",
                                           f"{shown}: the file could not be read; nothing was stored. Try again.")
                continue
            stored_name = shown if re.fullmatch(r"\.[a-z0-9]{1,8}", Path(shown).suffix.lower()) else f"{shown}.{fmt}"
            pending[i] = (req, path, stored_name, task, side)
            jobs.append(ClipJob(i, task, side, suffix=Path(stored_name).suffix.lower(), path=str(path),
                                setup_json=setup.to_json(), height_m=setup.height_m,
                                cost=expected_cost(task, duration)))
        for analysis in executor.map_unordered(jobs):
            req, path, stored_name, task, side = pending.pop(analysis.key)
            shown = Path(req.name).name
            try:
                outcome = add_analysed_recording(sessions, actor, visit_id, path, stored_name, task, side,
                                                 source_kind, data_dir, analysis, rescore=False)
            except (UnusableInput, ValidationError, PermissionDenied) as exc:
                yield req.key, ClipOutcome(shown, task, side, "failed", f"{shown}: {exc}")
                continue
            except Exception:
                log.exception("adding an analysed clip failed")
                yield req.key, ClipOutcome(shown, task, side, "failed",
                                           f"{shown}: the analysis failed unexpectedly; nothing was stored. "
                                           "Try again or report it.")
                continue
            stored_any = True
            yield req.key, ClipOutcome(shown, task, side, "stored", outcome.message, outcome.recording_id,
                                       outcome.quality_ok)
    if rescore and stored_any:
        from core.visits import score_visit

        try:
            score_visit(sessions, actor, visit_id)
        except Exception:
            log.exception("visit score after an upload failed")


def _local_copy(source, shown: str, size: int | None, folder: Path, index: int) -> tuple[Path, str]:
    """A file on disk for a clip given as a path, bytes or a stream, checked by its declared size
    and first bytes before the rest is read. Returns (path, format key)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise UnusableInput(f"File not found: {shown}.")
        with open(path, "rb") as fh:
            return path, check_upload(shown, path.stat().st_size, fh.read(HEAD_BYTES))
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    if size is None:
        size = len(source) if isinstance(source, (bytes, bytearray)) else getattr(source, "size", None)
    stream.seek(0)
    fmt = check_upload(shown, size, stream.read(HEAD_BYTES))
    stream.seek(0)
    sub = folder / str(index)
    sub.mkdir()
    return _copy_to_temp(stream, sub, Path(shown).suffix.lower()[:9]), fmt
