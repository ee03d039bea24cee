"""The demo database: real, public longitudinal data and a few demo patients with analysed clips,
to try pdlens on without the clinic's record.

1. The UCI Parkinsons Telemonitoring data (Tsanas, Little, McSharry, Ramig, IEEE TBME 2010;
   CC BY 4.0; models/datasets/voice/uci_telemonitoring): home voice recordings of people with
   early-stage Parkinson's disease over six months. Each subject becomes a demo patient
   "Demo patient NN (UCI telemonitoring)", each recording day a visit (2024-01-01 + day since
   recruitment), the day's recordings averaged into one assessment of 16 voice measures, and the
   UPDRS scores into two clinician ratings. Those UPDRS scores are the study's values, which the
   data documentation (parkinsons_updrs.names) describes as the clinician's score "linearly
   interpolated": not a rating made on the day shown (TELEMONITORING_RATINGS_NOTE).
2. Demo patients A-C "(synthetic movement clips)": fictional people whose visits hold clips
   analysed by the real service (core.visits.add_recording_and_analyze, then score_visit), so the
   results, explanations, key frames, visit scores and trends are pdlens's own output. Their
   finger-tapping and rest-tremor videos are synthetic (core/synthetic: a photograph of a hand,
   animated; nobody was filmed); their sustained vowels are parts of real public recordings
   (Iyer et al., Sci Rep 2023; figshare 23849127), never shown by file name. Every such patient,
   visit and clip says so (names, visit notes, file names, patient_note()).

    python -m core.demo [--url URL] [--data-dir DIR] [--if-missing] [--no-clips]

The clips live in the demo data dir (PDLENS_DEMO_DATA_DIR, default <data dir>/demo), apart from the
clinic's recordings. Log in to the demo database as `demo` / `demo-password`. These credentials
exist in the demo database only. Rebuilding replaces the demo database and its clips; a database
that holds any non-demo patient, or a data dir that is not the demo's, is never touched.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import math
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import make_url

from core.auth import hash_password
from core.config import DATASETS_DIR, settings
from core.tasks import task_spec
from core.store.db import close_store, current_revision, downgrade, make_engine, migrate, session_factory, transaction
from core.store.models import (
    Assessment,
    AuditEvent,
    Clinician,
    ClinicianRating,
    MeasureValue,
    Patient,
    Visit,
)

TELEMONITORING_FILE = DATASETS_DIR / "voice" / "uci_telemonitoring" / "parkinsons_updrs.data"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_RATER_USERNAME = "demo-rater"
DEMO_MRN_PREFIX = "DEMO-"
BASE_DATE = date(2024, 1, 1)  # day 0 of the study for every demo patient
IMPORT_MODEL_NAME = "uci_telemonitoring_import"
IMPORT_MODEL_VERSION = "uci-telemonitoring-2009"
SOURCE = "UCI Parkinsons Telemonitoring (Tsanas et al., IEEE TBME 2010; CC BY 4.0)"
# What the data documentation (parkinsons_updrs.names) says of motor_UPDRS and total_UPDRS:
# "Clinician's ... UPDRS score, linearly interpolated".
TELEMONITORING_RATINGS_NOTE = (
    "The UPDRS ratings of the UCI telemonitoring patients are the study's values: the clinicians' motor and "
    "total UPDRS scores, linearly interpolated to each recording day (UCI data documentation; "
    "Tsanas et al., IEEE TBME 2010), not ratings made on the day shown."
)
TELEMONITORING_NOTE = (
    "Demo patient from the public UCI Parkinsons Telemonitoring study (real, de-identified at source): "
    "each visit is one day of home voice recordings, averaged. " + TELEMONITORING_RATINGS_NOTE
)

# ---------------------------------------------------------------- demo patients with analysed clips

VOWELS_DIR = DATASETS_DIR / "voice" / "iyer2023_vowels_originals"
VOWEL_SOURCE = ("Iyer et al., Sci Rep 2023, \"Voice Samples for Patients with Parkinson's Disease and Healthy "
                "Controls\" (figshare 23849127, CC BY 4.0)")
CLIPS_LABEL = "(synthetic movement clips)"
CLIPS_MRN_PREFIX = DEMO_MRN_PREFIX + "SYN-"
DATA_DIR_MARKER = ".pdlens-demo-data"  # marks a data dir the demo builder may empty
SYNTHETIC_NOTE = (
    "Demo patient with synthetic movement clips: a fictional person. The finger-tapping and rest-tremor videos "
    "were made by the pdlens team by animating one photograph of a hand (nobody was filmed); the sustained "
    f"vowels are parts of one real public recording ({VOWEL_SOURCE}), reused for this fictional patient. "
    "Scores, explanations and trends are pdlens's real analysis of these clips, not a clinical finding. "
    "Its outcome-test values (stopwatch times, balance totals, walk distance) are invented for the demo."
)


@dataclass(frozen=True)
class DemoVisit:
    visit_date: date
    medication_state: str
    hours_since_dose: float | None
    tapping_left: dict | None = None  # core.synthetic.hand.irregular_tapping_frames parameters
    tremor_left: dict | None = None  # core.synthetic.hand.shaking_frames parameters
    # Physical-therapy outcome values "entered" for the fictional patient (core.ratings outcome
    # items: stopwatch times, balance totals, walk distance): invented, like the patient.
    outcomes: dict | None = None


@dataclass(frozen=True)
class DemoClipPatient:
    """A fictional demo patient whose visits hold analysed clips. The vowel is chosen by the content
    hash (sha1 in labels.csv) of one Iyer 2023 recording; its file name is never stored or shown."""

    key: str
    sex: str
    birth_date: date
    diagnosis: str
    more_affected_side: str
    vowel_sha1: str
    visits: tuple[DemoVisit, ...] = field(default_factory=tuple)

    @property
    def mrn(self) -> str:
        return f"{CLIPS_MRN_PREFIX}{self.key}"

    @property
    def name(self) -> str:
        return f"Demo patient {self.key} {CLIPS_LABEL}"


# Three fictional patients; the tapping gets slower and smaller, and the tremor larger, over the
# visits, so the trends have something to show. Clips are short (5-6 s) to keep the build quick.
# The hand photo is a left hand: every synthetic hand clip is of the left side.
CLIP_PATIENTS: tuple[DemoClipPatient, ...] = (
    DemoClipPatient("A", "female", date(1956, 3, 14), "pd", "left", "7419b23c66f2ffca1a5081aefad1d9c5c2a1cc8b", (
        DemoVisit(date(2025, 9, 8), "on", 2.0, tapping_left=dict(rate_hz=2.7, rate_jitter=0.12, final_opening=0.9),
                  outcomes=dict(tug_stopwatch_s=10.2, berg_balance=52, mini_bestest=23, gait_speed_stopwatch_m_s=1.12)),
        DemoVisit(date(2025, 12, 8), "on", 2.5, tapping_left=dict(rate_hz=2.4, rate_jitter=0.2, final_opening=0.7),
                  outcomes=dict(tug_stopwatch_s=10.9, berg_balance=51, mini_bestest=22, gait_speed_stopwatch_m_s=1.08)),
        DemoVisit(date(2026, 3, 9), "on", 3.0, tapping_left=dict(rate_hz=2.2, rate_jitter=0.25, final_opening=0.55),
                  outcomes=dict(tug_stopwatch_s=14.8, berg_balance=45, mini_bestest=18, gait_speed_stopwatch_m_s=0.91)),
    )),
    DemoClipPatient("B", "male", date(1950, 11, 2), "pd", "left", "52b49d170334dc6fc9f1fd24c2d31cc423714d6c", (
        DemoVisit(date(2025, 10, 6), "off", 12.0, tapping_left=dict(rate_hz=2.5, rate_jitter=0.15, final_opening=0.8),
                  tremor_left=dict(freq_hz=5.0, amplitude_px=3.0),
                  outcomes=dict(sts_stopwatch_s=15.1, six_minute_walk_m=410, fga=21)),
        DemoVisit(date(2026, 2, 2), "off", 12.0, tapping_left=dict(rate_hz=2.3, rate_jitter=0.2, final_opening=0.65),
                  tremor_left=dict(freq_hz=4.8, amplitude_px=7.0),
                  outcomes=dict(sts_stopwatch_s=17.4, six_minute_walk_m=372, fga=19)),
    )),
    DemoClipPatient("C", "male", date(1981, 6, 20), "unknown", "unknown", "c29dab8115318bea8ba2bf563bc14d686331ae1f", (
        DemoVisit(date(2025, 11, 3), "unknown", None, tapping_left=dict(rate_hz=2.9, rate_jitter=0.1, final_opening=0.95)),
        DemoVisit(date(2026, 1, 12), "unknown", None, tapping_left=dict(rate_hz=2.8, rate_jitter=0.1, final_opening=0.9)),
    )),
)
TAPPING_SECONDS = 5.0  # at 2.2-2.9 taps a second: 11-14 taps, above the item's 10
TREMOR_SECONDS = 5.5  # the task's minimum is 5 s


def patient_note(mrn: str | None) -> str | None:
    """The sentence a page shows beside a demo patient of the demo database (None for any other
    MRN): synthetic clips, or the telemonitoring study with its interpolated ratings. Callers show
    it only when the demo database is in use (a clinic may have its own MRNs starting DEMO-)."""
    if not mrn:
        return None
    if mrn.startswith(CLIPS_MRN_PREFIX):
        return SYNTHETIC_NOTE
    if mrn.startswith(DEMO_MRN_PREFIX):
        return TELEMONITORING_NOTE
    return None

# data column -> (measure name, unit, scale). The UCI "Jitter(%)" column holds a fraction
# (0.0066 = 0.66 %, consistent with Jitter(Abs) / pitch period), so it is scaled to percent to
# match the name jitter_local_pct. Other ratios stay fractions, as Praat reports them.
VOICE_MEASURES: dict[str, tuple[str, str, float]] = {
    "Jitter(%)": ("jitter_local_pct", "%", 100.0),
    "Jitter(Abs)": ("jitter_abs_s", "s", 1.0),
    "Jitter:RAP": ("jitter_rap", "", 1.0),
    "Jitter:PPQ5": ("jitter_ppq5", "", 1.0),
    "Jitter:DDP": ("jitter_ddp", "", 1.0),
    "Shimmer": ("shimmer_local", "", 1.0),
    "Shimmer(dB)": ("shimmer_db", "dB", 1.0),
    "Shimmer:APQ3": ("shimmer_apq3", "", 1.0),
    "Shimmer:APQ5": ("shimmer_apq5", "", 1.0),
    "Shimmer:APQ11": ("shimmer_apq11", "", 1.0),
    "Shimmer:DDA": ("shimmer_dda", "", 1.0),
    "NHR": ("nhr", "", 1.0),
    "HNR": ("hnr_db", "dB", 1.0),
    "RPDE": ("rpde", "", 1.0),
    "DFA": ("dfa", "", 1.0),
    "PPE": ("ppe", "", 1.0),
}
RATINGS = {"motor_UPDRS": "updrs_motor_total", "total_UPDRS": "updrs_total"}


@dataclass(frozen=True)
class DemoSummary:
    url: str  # password hidden
    patients: int
    visits: int
    measures: int
    ratings: int
    seconds: float
    built: bool  # False when --if-missing found an existing demo database
    clip_patients: int = 0
    recordings: int = 0
    clip_seconds: float = 0.0  # of `seconds`, the time spent making and analysing the clips


class NotADemoDatabase(RuntimeError):
    """The target database holds real (non-demo) patients or accounts."""


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def load_visits(path=TELEMONITORING_FILE) -> pd.DataFrame:
    """One row per subject and recording day: the day's recordings averaged."""
    data = pd.read_csv(path)
    data["day"] = data["test_time"].map(math.floor)
    value_columns = ["age", "sex", *RATINGS, *VOICE_MEASURES]
    days = data.groupby(["subject#", "day"], sort=True)
    visits = days[value_columns].mean()
    visits["recordings"] = days.size()
    return visits.reset_index()


def _existing_demo(engine) -> tuple[int, bool]:
    """(patients, only demo content) for an existing database."""
    if "patients" not in inspect(engine).get_table_names():
        return 0, True
    with engine.connect() as connection:
        patients = connection.scalar(select(func.count(Patient.id))) or 0
        foreign_patients = connection.scalar(
            select(func.count(Patient.id)).where(~Patient.mrn.startswith(DEMO_MRN_PREFIX))
        )
        foreign_accounts = connection.scalar(
            select(func.count(Clinician.id)).where(Clinician.username.not_in([DEMO_USERNAME, DEMO_RATER_USERNAME]))
        )
    return patients, not foreign_patients and not foreign_accounts


def _clip_patients_present(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            select(func.count(Patient.id)).where(Patient.mrn.in_([p.mrn for p in CLIP_PATIENTS]))) or 0


def prepare_demo_data_dir(data_dir: Path) -> None:
    """Empty the demo data dir's recordings for a rebuild. Only a folder that is empty, new, or
    marked by an earlier demo build is touched: never the clinic's data dir."""
    data_dir = Path(data_dir).resolve()
    marker = data_dir / DATA_DIR_MARKER
    if data_dir == settings().data_dir or (data_dir.exists() and any(data_dir.iterdir()) and not marker.exists()):
        raise NotADemoDatabase(
            f"{data_dir} is not a demo data dir (it holds files no demo build made): refusing to empty it. "
            "Point --data-dir (or PDLENS_DEMO_DATA_DIR) at a separate folder.")
    shutil.rmtree(data_dir / "recordings", ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("Demo clips made by python -m core.demo; rebuilding the demo database empties this folder.\n")


def build_demo_database(url: str | None = None, *, if_missing: bool = False, data_dir: str | Path | None = None,
                        clips: bool = True, progress: Callable[[str], None] | None = None) -> DemoSummary:
    """(Re)build the demo database at `url` (default: settings().demo_database_url) and, with
    `clips`, the demo patients' clips under `data_dir` (default: settings().demo_data_dir).
    With `if_missing` an existing demo database is kept, unless it lacks the demo patients with
    clips (an earlier build) or their data dir is gone: then it is rebuilt."""
    url = url or settings().demo_database_url
    data_dir = Path(data_dir or settings().demo_data_dir).resolve()
    started = time.perf_counter()
    close_store(url)  # a cached engine of this process would keep serving the old schema
    engine = make_engine(url)
    try:
        existing_patients, only_demo = _existing_demo(engine)
        if not only_demo:
            raise NotADemoDatabase(
                f"{_safe_url(url)} holds patients or accounts that are not demo data: refusing to replace it. "
                "Point --url at a separate demo database."
            )
        if if_missing and existing_patients and current_revision(engine) is not None:
            migrate(engine)
            current = not clips or (_clip_patients_present(engine) == len(CLIP_PATIENTS)
                                    and (data_dir / DATA_DIR_MARKER).exists())
            if current:
                return DemoSummary(_safe_url(url), existing_patients, 0, 0, 0, time.perf_counter() - started, False)
        if clips:
            prepare_demo_data_dir(data_dir)
        downgrade(engine, "base")  # drops every table of a previous demo build
        migrate(engine)
        sessions = session_factory(engine)
        patients, visits, measures, ratings = _fill(sessions)
        clip_started = time.perf_counter()
        clip_patients = recordings = 0
        if clips:
            clip_patients, clip_visits, recordings = add_clip_patients(sessions, data_dir, progress=progress)
            patients, visits = patients + clip_patients, visits + clip_visits
        now = time.perf_counter()
        return DemoSummary(_safe_url(url), patients, visits, measures, ratings, now - started, True,
                           clip_patients, recordings, now - clip_started if clips else 0.0)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the clips

def _vowel_file(sha1: str) -> Path:
    with open(VOWELS_DIR / "labels.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["sha1"] == sha1:
                return VOWELS_DIR / row["file"]
    raise FileNotFoundError(f"No Iyer 2023 recording with sha1 {sha1} in {VOWELS_DIR}.")


def vowel_parts(sha1: str, parts: int, folder: Path) -> list[Path]:
    """One real recording cut into `parts` consecutive pieces of equal length (8 kHz float WAV as
    published), written under neutral names: one piece per visit of a fictional demo patient."""
    import soundfile as sf

    samples, rate = sf.read(_vowel_file(sha1), dtype="float32")
    n = len(samples) // parts
    out = []
    for k in range(parts):
        path = folder / f"vowel_part{k + 1}.wav"
        sf.write(path, samples[k * n:(k + 1) * n], rate, subtype="FLOAT")
        out.append(path)
    return out


def _tapping_clip(path: Path, params: dict) -> Path:
    from core.synthetic.hand import write_tapping_clip

    return write_tapping_clip(path, seconds=TAPPING_SECONDS, seed=3, **params)


def _tremor_clip(path: Path, params: dict) -> Path:
    from core.synthetic.hand import frames_only, shaking_frames
    from core.synthetic.video import write_video

    return write_video(path, frames_only(shaking_frames(seconds=TREMOR_SECONDS, **params)), fps=30)


def _visit_note(k: int, n: int, visit: DemoVisit) -> str:
    movement = " and ".join(what for what, present in (("finger-tapping", visit.tapping_left),
                                                       ("rest-tremor", visit.tremor_left)) if present)
    return (f"Demo visit of a fictional patient {CLIPS_LABEL}. The {movement} video{'s are' if ' and ' in movement else ' is'} "
            "synthetic: one photograph of a hand, animated by the pdlens team; nobody was filmed. The sustained "
            f"vowel is part {k} of {n} of one real public recording ({VOWEL_SOURCE}), not recorded at this visit. "
            "Scores and explanations are pdlens's real analysis of these clips, not a clinical finding."
            + (" The outcome-test values of this visit are invented for the demo." if visit.outcomes else ""))


def add_clip_patients(sessions, data_dir: Path, progress: Callable[[str], None] | None = None) -> tuple[int, int, int]:
    """Create the fictional CLIP_PATIENTS and their visits, and add every clip through the real
    service (add_recording_and_analyze, then one score_visit per visit). Returns (patients,
    visits, recordings)."""
    from core.store import repository as repo
    from core.visits import add_recording_and_analyze, score_visit

    say = progress or (lambda message: None)
    with transaction(sessions) as s:
        actor_id = s.scalar(select(Clinician.id).where(Clinician.username == DEMO_USERNAME))
    visits = recordings = 0
    with tempfile.TemporaryDirectory(prefix="pdlens-demo-") as tmp, ThreadPoolExecutor(max_workers=1) as maker:
        tmp = Path(tmp)
        # Every synthetic movement clip is made up front by one background thread (OpenCV and the
        # encoder release the GIL), in order, while the clips before it are analysed: on two cores
        # the making costs little wall time. The clips themselves do not depend on the timing.
        made = {}
        for spec in CLIP_PATIENTS:
            (tmp / spec.key).mkdir()
            for k, visit in enumerate(spec.visits, start=1):
                if visit.tapping_left:
                    made[spec.key, k, "tapping"] = maker.submit(_tapping_clip, tmp / spec.key / f"tapping_{k}.mp4",
                                                                visit.tapping_left)
                if visit.tremor_left:
                    made[spec.key, k, "tremor"] = maker.submit(_tremor_clip, tmp / spec.key / f"tremor_{k}.mp4",
                                                               visit.tremor_left)
        for spec in CLIP_PATIENTS:
            with transaction(sessions) as s:
                actor = s.get(Clinician, actor_id)
                patient = repo.create_patient(s, actor, mrn=spec.mrn, name=spec.name, birth_date=spec.birth_date,
                                              sex=spec.sex, diagnosis=spec.diagnosis,
                                              more_affected_side=spec.more_affected_side)
                visit_ids = [repo.create_visit(s, actor, patient.id, visit_date=v.visit_date,
                                               medication_state=v.medication_state, hours_since_dose=v.hours_since_dose,
                                               notes=_visit_note(k, len(spec.visits), v)).id
                             for k, v in enumerate(spec.visits, start=1)]
                for v, visit_id in zip(spec.visits, visit_ids):
                    for item, value in (v.outcomes or {}).items():
                        repo.set_rating(s, actor, visit_id, item, None, value)
            vowels = vowel_parts(spec.vowel_sha1, len(spec.visits), tmp / spec.key)
            for k, (visit, visit_id, vowel) in enumerate(zip(spec.visits, visit_ids, vowels), start=1):
                say(f"{spec.name}, visit {k} of {len(spec.visits)}: making and analysing its clips")
                clips = [(vowel, f"public_vowel_iyer2023_part{k}.wav", "vowel", None)]
                if visit.tapping_left:
                    clips.append((made[spec.key, k, "tapping"].result(),
                                  "synthetic_finger_tapping_left.mp4", "finger_tapping", "left"))
                if visit.tremor_left:
                    clips.append((made[spec.key, k, "tremor"].result(),
                                  "synthetic_rest_tremor_left.mp4", "tremor", "left"))
                for path, name, task, side in clips:
                    outcome = add_recording_and_analyze(sessions, actor_id, visit_id, path, name, task, side,
                                                        "import", data_dir, rescore=False)
                    recordings += 1
                    done = "scored" if outcome.score is not None and outcome.score.probability is not None else (
                        "measured" if outcome.quality_ok else "failed its quality check")
                    say(f"  {task_spec(task).label}{f' ({side})' if side else ''}: {done} "
                        f"({sum(outcome.timings_s.values()):.1f} s)")
                score_visit(sessions, actor_id, visit_id)  # one visit score, after all its clips
                visits += 1
    return len(CLIP_PATIENTS), visits, recordings


def _fill(sessions) -> tuple[int, int, int, int]:
    visits = load_visits()
    inputs_sha256 = hashlib.sha256(TELEMONITORING_FILE.read_bytes()).hexdigest()
    with transaction(sessions) as s:
        admin = Clinician(username=DEMO_USERNAME, display_name="Demo administrator", role="admin",
                          password_hash=hash_password(DEMO_PASSWORD), active=True)
        # Rater of the study's UPDRS scores; inactive with an unknown password: nobody logs in as it.
        rater = Clinician(username=DEMO_RATER_USERNAME, display_name="UCI telemonitoring study raters (demo)",
                          role="clinician", password_hash=hash_password(secrets.token_urlsafe(24)), active=False)
        s.add_all([admin, rater])
        s.flush()

        subjects = visits.groupby("subject#").first()
        patient_rows = []
        for subject, row in subjects.iterrows():
            name = f"Demo patient {int(subject):02d} (UCI telemonitoring)"
            mrn = f"{DEMO_MRN_PREFIX}{int(subject):02d}"
            patient_rows.append(dict(
                mrn=mrn, mrn_lower=mrn.lower(), name=name, name_lower=name.lower(),
                # only the age at recruitment is known: born mid-year, age years before day 0
                birth_date=date(BASE_DATE.year - int(row["age"]), 7, 1),
                sex="female" if int(row["sex"]) == 1 else "male",
                diagnosis="pd", more_affected_side="unknown", archived=False,
            ))
        patient_ids = s.scalars(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), patient_rows).all()
        patient_id = dict(zip(subjects.index, patient_ids))

        visit_rows = [
            dict(
                patient_id=patient_id[row["subject#"]],
                visit_date=BASE_DATE + timedelta(days=int(row["day"])),
                medication_state="unknown", hours_since_dose=None, clinician_id=rater.id,
                notes=(f"Demo data, not a clinic visit: {int(row['recordings'])} home voice recordings of day "
                       f"{int(row['day'])} of the study, averaged. Source: {SOURCE}."),
            )
            for _, row in visits.iterrows()
        ]
        visit_ids = s.scalars(insert(Visit).returning(Visit.id, sort_by_parameter_order=True), visit_rows).all()

        assessment_rows = [
            dict(
                visit_id=visit_id, recording_id=None, model_name=IMPORT_MODEL_NAME,
                model_version=IMPORT_MODEL_VERSION, probability=None, interval_low=None, interval_high=None,
                severity=None, abstained_reason=None, inputs_sha256=inputs_sha256,
                explanation_json={"source": SOURCE, "recordings_averaged": int(recordings)},
            )
            for visit_id, recordings in zip(visit_ids, visits["recordings"])
        ]
        assessment_ids = s.scalars(
            insert(Assessment).returning(Assessment.id, sort_by_parameter_order=True), assessment_rows
        ).all()

        measure_rows, rating_rows = [], []
        for (_, row), visit_id, assessment_id in zip(visits.iterrows(), visit_ids, assessment_ids):
            for column, (name, unit, scale) in VOICE_MEASURES.items():
                measure_rows.append(dict(assessment_id=assessment_id, name=name, value=float(row[column]) * scale, unit=unit))
            for column, item in RATINGS.items():
                rating_rows.append(dict(visit_id=visit_id, item=item, side=None, score=round(float(row[column]), 2),
                                        rater_id=rater.id))
        s.execute(insert(MeasureValue), measure_rows)
        s.execute(insert(ClinicianRating), rating_rows)
        s.add(AuditEvent(clinician_id=admin.id, action="build_demo_database",
                         detail=f"patients={len(patient_ids)} visits={len(visit_ids)}"))
    return len(patient_ids), len(visit_ids), len(measure_rows), len(rating_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL (default: PDLENS_DEMO_DATABASE_URL or <data dir>/demo.sqlite)")
    parser.add_argument("--data-dir", help="folder of the demo clips (default: PDLENS_DEMO_DATA_DIR or <data dir>/demo)")
    parser.add_argument("--if-missing", action="store_true", help="keep an existing, current demo database")
    parser.add_argument("--no-clips", action="store_true",
                        help="only the UCI telemonitoring patients: no demo patients with analysed clips (quicker)")
    args = parser.parse_args(argv)
    from core.cli import _quiet_native_stderr  # MediaPipe's runtime chatter on stderr

    def progress(message: str) -> None:
        print(message, flush=True)  # stdout: stderr is filtered (MediaPipe) until the build ends

    try:
        with _quiet_native_stderr():
            summary = build_demo_database(args.url, if_missing=args.if_missing, data_dir=args.data_dir,
                                          clips=not args.no_clips, progress=progress)
    except NotADemoDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if summary.built:
        print(f"Demo database built at {summary.url}: {summary.patients} patients, {summary.visits} visits, "
              f"{summary.measures} imported measures, {summary.ratings} ratings"
              + (f", {summary.recordings} clips of {summary.clip_patients} demo patients analysed "
                 f"({summary.clip_seconds:.0f} s)" if summary.clip_patients else "")
              + f" in {summary.seconds:.1f} s.")
    else:
        print(f"Demo database already present at {summary.url} ({summary.patients} patients): kept.")
    print(f"Log in to the demo with username '{DEMO_USERNAME}' and password '{DEMO_PASSWORD}' (demo database only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
