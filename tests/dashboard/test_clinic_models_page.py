"""The Clinic models section of the Models page (issue 15) through AppTest of the real
dashboard/app.py on a real SQLite file. The clinics are SYNTHETIC (tests.core.test_clinic_models:
finger-tapping measures with a 3.4 rating that depends on them, or not)."""
from __future__ import annotations

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import clinic_models as cm
from core.store import AuditEvent, Clinician, open_store, repository, transaction
from tests.core.test_clinic_models import synthetic_rated_clinic
from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in, signed_in_app, texts


def _admin_id(url: str) -> int:
    with transaction(open_store(url)) as s:
        return s.scalar(select(Clinician.id).where(Clinician.username == ADMIN["username"]))


def _buttons(at: AppTest) -> dict:
    return {b.key: b for b in at.button if b.key}


def test_administrator_trains_activates_and_rolls_back_in_clicks(admin_db):
    synthetic_rated_clinic(open_store(admin_db), _admin_id(admin_db), patients=24, depends=True, visits=3)
    at = open_page(signed_in_app(), "views/models.py")
    assert not at.exception, at.exception
    assert "Clinic models" in [h.value for h in at.get("header")]
    assert "3.4 Finger tapping (left) (24 patients, 72 rated visits)" in at.selectbox(key="clinic_target").options
    _buttons(at)["clinic_train"].click()
    at.run()
    assert not at.exception, at.exception
    assert "beats the baseline: yes" in texts(at)
    with transaction(open_store(admin_db)) as s:
        version = cm.list_versions(s)[0]
    activate = _buttons(at)[f"clinic_activate_{version.id}"]
    assert not activate.disabled
    frames = [d.value for d in at.dataframe if "Model" in d.value.columns and "clinic model" in list(d.value["Model"])]
    assert len(frames) == 1 and list(frames[0]["Model"]) == ["clinic model", "baseline: training fold mean"]
    assert frames[0]["MAE"].iloc[0] < frames[0]["MAE"].iloc[1]
    assert any("Calibration" in str(c.proto.spec) for c in at.get("plotly_chart"))
    assert "Within-patient change" in texts(at)
    assert "Decision support, not a diagnosis" in texts(at)
    activate.click()
    at.run()
    assert not at.exception, at.exception
    assert f"Activated {version.label}: 72 visit estimates written" in texts(at)
    _buttons(at)[f"clinic_rollback_{version.id}"].click()
    at.run()
    assert not at.exception, at.exception
    assert f"Rolled back {version.label}" in texts(at)
    with transaction(open_store(admin_db)) as s:
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(
            AuditEvent.action.in_(["train_clinic_model", "activate_clinic_model", "rollback_clinic_model"]))
            .order_by(AuditEvent.id))]
        assert actions == ["train_clinic_model", "activate_clinic_model", "rollback_clinic_model"]
        assert cm.active_version(s, "3.4:left") is None


def test_a_losing_model_cannot_be_activated_and_says_why(admin_db):
    sessions = open_store(admin_db)
    synthetic_rated_clinic(sessions, _admin_id(admin_db), patients=24, depends=False, visits=3)
    result = cm.train(sessions, _admin_id(admin_db), "3.4", "left", n_boot=200)
    assert not result.beats_baseline
    at = open_page(signed_in_app(), "views/models.py")
    assert not at.exception, at.exception
    activate = _buttons(at)[f"clinic_activate_{result.version_id}"]
    assert activate.disabled
    assert "cannot be activated" in texts(at)


def test_too_few_rated_patients_shows_what_is_missing_instead_of_train(admin_db):
    synthetic_rated_clinic(open_store(admin_db), _admin_id(admin_db), patients=6, depends=True, visits=2)
    at = open_page(signed_in_app(), "views/models.py")
    assert not at.exception, at.exception
    assert "clinic_train" not in _buttons(at)
    warning = " ".join(w.value for w in at.warning)
    assert "Not enough data" in warning and f"Rate {cm.minimum_patients() - 6} more patients" in warning


def test_clinicians_see_versions_and_cards_but_no_controls(admin_db):
    sessions = open_store(admin_db)
    admin_id = _admin_id(admin_db)
    synthetic_rated_clinic(sessions, admin_id, patients=24, depends=True, visits=3)
    result = cm.train(sessions, admin_id, "3.4", "left", n_boot=200)
    with transaction(sessions) as s:
        admin = s.get(Clinician, admin_id)
        repository.create_clinician(s, admin, username="clin", display_name="Synthetic Clin",
                                    password="clinician-pass-1", role="clinician")
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60), "clin", "clinician-pass-1")
    open_page(at, "views/models.py")
    assert not at.exception, at.exception
    keys = _buttons(at)
    assert not any(k.startswith("clinic_") for k in keys)
    assert result.version_label in texts(at)
    assert "Only an administrator can train a clinic model" in texts(at)


def test_the_demo_trains_updrs_motor_total_in_one_click(clinic_db):
    """The worked example: the demo database (34 real UCI telemonitoring patients, voice measures,
    interpolated UPDRS ratings) trains in one click and reports whatever the data gives; the
    Activate button follows the rule, whichever way the result goes."""
    from core.config import settings
    from core.demo import DEMO_PASSWORD, DEMO_USERNAME, build_demo_database
    from core.store import close_store

    url = settings().demo_database_url
    build_demo_database(url, clips=False)
    try:
        at = sign_in(AppTest.from_file(str(APP), default_timeout=120), DEMO_USERNAME, DEMO_PASSWORD, demo=True)
        open_page(at, "views/models.py")
        assert not at.exception, at.exception
        target = at.selectbox(key="clinic_target")
        option = next(o for o in target.options if o.startswith("UPDRS motor (part III) total"))
        assert "(34 patients" in option
        target.select(option)
        at.run()
        _buttons(at)["clinic_train"].click()
        at.run()
        assert not at.exception, at.exception
        page = texts(at)
        assert "34 patients" in page and "interpolated" in page
        with transaction(open_store(url)) as s:
            version = cm.list_versions(s)[0]
        assert _buttons(at)[f"clinic_activate_{version.id}"].disabled == (not version.beats_baseline)
    finally:
        close_store(url)


def test_results_and_trends_pages_name_the_clinic_model_version(admin_db):
    sessions = open_store(admin_db)
    admin_id = _admin_id(admin_db)
    visit_ids = synthetic_rated_clinic(sessions, admin_id, patients=24, depends=True, visits=3)
    result = cm.train(sessions, admin_id, "3.4", "left", activate_if_better=True, n_boot=200)
    assert result.activated
    with transaction(sessions) as s:
        patient_id = s.get(repository.Visit, visit_ids[0]).patient_id
    at = open_page(signed_in_app(), "views/results.py", visit=visit_ids[0])
    assert not at.exception, at.exception
    assert "Clinic model estimates" in [h.value for h in at.get("subheader")]
    assert result.version_label in texts(at).replace("\\", "")  # markdown-escaped on the page
    at = open_page(at, "views/trends.py", patient=patient_id)
    assert not at.exception, at.exception
    shown = [d.value for d in at.dataframe if "Model version" in d.value.columns]
    assert len(shown) == 1 and len(shown[0]) == 3 and set(shown[0]["Model version"]) == {result.version_label}
