"""The visit results page and the Models page through AppTest of the real dashboard/app.py, for a
real analysed visit: a real SQLite store in tmp_path, a real vowel recording (public Iyer 2023
sample) and, in the slow test, a synthetic 10 s finger-tapping video analysed with real MediaPipe."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.config import settings
from core.store import Clinician, open_store, repository, transaction
from core.visits import add_recording_and_analyze
from dashboard.formatting import escape_markdown
from models.registry import load_model, model_status
from tests.dashboard.conftest import charts, open_page, signed_in_app, texts

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


@pytest.fixture
def clinic(admin_db):
    """A synthetic clinic: the administrator, one synthetic patient, one visit; returns (sessions, admin id, visit id)."""
    sessions = open_store(admin_db)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        patient = repository.create_patient(s, admin, mrn="SYN-042", name="Synthetic <b>Patient</b>",
                                            birth_date=date(1948, 3, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 2, 1), medication_state="off")
        return sessions, admin.id, visit.id


def trace_types(figure: dict) -> set[str]:
    return {t.get("type", "scatter") for t in figure["data"]}


def test_results_page_renders_every_voice_panel(clinic):
    """Voice is measures-only (models/voice/status.json): the page shows the measures, the quality
    and the reason there is no voice score, and no number for it."""
    sessions, admin_id, visit_id = clinic
    outcome = add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "<img src=x onerror=alert(1)>.wav", "vowel",
                                        None, "upload", settings().data_dir)
    assert outcome.score.probability is None
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    page = texts(at)
    assert [m.value for m in at.get("metric")] == ["not scored"]  # no number for a withheld model
    assert "Measures only" in page and escape_markdown(model_status("voice").reason) in page
    assert "Decision support, not a diagnosis" in page
    assert "Quality ok" in page  # the quality badge (st.badge renders as markdown)
    assert not at.get("json")  # nothing dumped by Streamlit magic
    # measures beside their healthy ranges, the phone-band caution among the quality notes
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["Measure", "Value", "Unit", "Healthy range", "In range"]
    assert "Jitter (local)" in set(frame["Measure"]) and set(frame["In range"]) <= {"yes", "OUTSIDE", "-"}
    # user text is shown literally, never as HTML
    assert re.search(r"(?<!\\)<", page) is None and "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in page
    assert "Synthetic \\<b\\>Patient" in page


def test_results_page_without_a_visit_says_so(clinic):
    at = open_page(signed_in_app(), "views/results.py", visit=999)
    assert not at.exception
    assert "No visit chosen" in texts(at)


def test_models_page_shows_cards_metrics_calibration_and_versions(clinic):
    sessions, admin_id, visit_id = clinic
    add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "v.wav", "vowel", None, "upload",
                              settings().data_dir)
    at = open_page(signed_in_app(), "views/models.py")
    assert not at.exception, at.exception
    page = texts(at)
    assert "Visit score (fusion)" in [h.value for h in at.get("header")]
    assert "fusion itself" in page.lower() or "not validated" in page.lower()
    calibration = [f for f in charts(at) if "calibration" in str(f["layout"].get("title", "")).lower()]
    assert len(calibration) == 3
    versions = at.dataframe[-1].value
    assert {"voice", "fused"} <= set(versions["Model"])


@pytest.mark.slow
def test_results_page_with_finger_tapping_has_signal_and_key_frame(clinic, tmp_path):
    from tests.fixtures.fused.clips import write_tapping_clip

    sessions, admin_id, visit_id = clinic
    clip = write_tapping_clip(tmp_path / "synthetic_tapping.mp4", seconds=10.0)
    add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "v.wav", "vowel", None, "upload",
                              settings().data_dir)
    tap = add_recording_and_analyze(sessions, admin_id, visit_id, clip, "tap.mp4", "finger_tapping", "left",
                                    "upload", settings().data_dir)
    assert tap.quality_ok and tap.score.probability is not None, tap.message
    stored = list((settings().data_dir / "recordings").rglob("*.mp4*"))
    assert any(p.name.endswith(".landmarks.npz") for p in stored)
    assert any(p.name.endswith(".keyframe.jpg") for p in stored)
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    figs = charts(at)
    assert any("image" in trace_types(f) for f in figs)  # key frame with coloured landmarks
    assert sum("heatmap" in trace_types(f) for f in figs) == 0  # voice is measures-only: no saliency
    signal = [f for f in figs if "movement mattered" in str(f["layout"].get("title", ""))]
    assert signal and len(signal[0]["data"][0]["x"]) > 100
    # one scored branch (tapping): the visit score is that branch's, voice is left out with its reason
    assert "Left out: " + escape_markdown("Voice (sustained vowel): measures only") in texts(at)
    assert "Tapping amplitude" in texts(at)
    assert_plain_words_with_internals_folded_away(at)


JARGON = ("log-odds", "log\\-odds", "completeness gap", "Integrated gradients", "occlusion", "dBFS",
          "spectral flatness", "fused-1", "fused\\-1", "finger_tapping-2", "finger\\_tapping\\-2", "sha256")


def assert_plain_words_with_internals_folded_away(at) -> None:
    """Model builds, methods and log-odds only inside a "Technical details" expander; the
    decision-support statement right beside the large score, not only at the bottom."""
    from core.summary import NOT_A_DIAGNOSIS

    technical = [e for e in at.expander if e.label == "Technical details"]
    assert technical
    folded = [c.value for e in technical for c in e.caption]
    plain = [c.replace("\\", "") for c in folded]
    assert any("log-odds" in c for c in plain) and any(c.startswith("Visit score model: fused-1.") for c in plain)
    assert any(c.startswith("Model: finger_tapping-2.") for c in plain)
    shown = texts(at).split("\n")
    for line in folded:
        shown.remove(line)
    outside = "\n".join(shown)
    assert not [word for word in JARGON if word in outside], [w for w in JARGON if w in outside]
    for figure in charts(at):
        assert "log-odds" not in str(figure["layout"]) and "log-odds" not in str([t.get("hovertemplate") for t in figure["data"]])
    [score_column] = [c for c in at.columns if c.get("metric")]
    assert [i.value for i in score_column.get("alert")] == [NOT_A_DIAGNOSIS] or \
        NOT_A_DIAGNOSIS in [i.value for i in score_column.info]


def test_results_page_says_why_a_withheld_voice_model_gives_no_score(clinic, tmp_path, monkeypatch):
    """A voice model withheld by its status.json (a temporary copy of the shipped model dir): the
    real vowel is measured, not scored, and the Results page says why in plain words (escaped)."""
    import json
    import shutil

    from core.config import MODELS_DIR
    from models import registry

    models_root = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "voice", models_root / "voice", ignore=shutil.ignore_patterns("status.json"))
    reason = "Not validated on phone recordings <b>yet</b>: the voice measures are shown without a score."
    (models_root / "voice" / "status.json").write_text(json.dumps({"status": "withheld", "reason": reason}))
    monkeypatch.setattr(registry, "MODELS_DIR", models_root)
    registry.load_model.cache_clear()
    try:
        sessions, admin_id, visit_id = clinic
        outcome = add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "v.wav", "vowel", None, "upload",
                                            settings().data_dir)
        assert outcome.quality_ok and outcome.score.probability is None and outcome.score.abstained == reason
        assert outcome.score.model_version == "withheld"
        assert "Voice (sustained vowel): measures only - " + reason in outcome.fused["excluded"]["voice"]
        at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
        assert not at.exception, at.exception
        page = texts(at)
        from dashboard.formatting import escape_markdown

        assert "Measures only: " + escape_markdown(reason) in page  # on the recording's panel
        assert "Left out: " + escape_markdown("Voice (sustained vowel): measures only - " + reason) in page
        assert at.get("metric")[0].value == "not scored"
        assert "Jitter (local)" in set(at.dataframe[0].value["Measure"])  # the measures are still shown
        assert "<b>" not in page
    finally:
        registry.load_model.cache_clear()


def test_models_page_shows_a_withheld_model_as_measures_only_with_its_figures(clinic, tmp_path, monkeypatch):
    import json
    import shutil

    from core.config import MODELS_DIR
    from dashboard.formatting import escape_markdown
    from models import registry

    models_root = tmp_path / "models"
    for name in registry.MODEL_NAMES:
        shutil.copytree(MODELS_DIR / name, models_root / name, ignore=shutil.ignore_patterns("status.json"))
    reason = "It did not separate real phone recordings of people aged 55 and over <i>better than chance</i>."
    (models_root / "voice" / "status.json").write_text(json.dumps({"status": "withheld", "reason": reason}))
    monkeypatch.setattr(registry, "MODELS_DIR", models_root)
    registry.load_model.cache_clear()
    try:
        at = open_page(signed_in_app(), "views/models.py")
        assert not at.exception, at.exception
        warnings = [str(w.value) for w in at.get("warning")]
        assert any(w.startswith("Measures only: " + escape_markdown(reason)) for w in warnings), warnings
        assert len([w for w in warnings if w.startswith("Measures only")]) == 1  # the other models are active
        page = texts(at)
        assert "kept for the record" in page and "<i>" not in page
        assert load_model("voice", allow_withheld=True).version in page  # its figures are still shown
    finally:
        registry.load_model.cache_clear()
