"""Repository behaviour on a real SQLite file and a real PostgreSQL server (synthetic data only)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.pipeline import Measure
from core.store import NotFound, PermissionDenied, ValidationError, repository as repo, transaction

TOMORROW = date.today() + timedelta(days=1)
SCRIPT_NAME = '<script>alert("x")</script><b>Synthetic</b> & Co'


def new_patient(s, actor, **overrides):
    fields = dict(mrn="SYN-0100", name="Synthetic Two", birth_date=date(1960, 1, 2), sex="male",
                  diagnosis="control", more_affected_side="none")
    fields.update(overrides)
    return repo.create_patient(s, actor, **fields)


def rejected(sessions, row_counts, write, message_part):
    """Run a write in its own transaction: it must raise ValidationError naming the problem and
    leave every table exactly as it was."""
    before = row_counts()
    with pytest.raises(ValidationError) as error:
        with transaction(sessions) as s:
            write(s)
    assert message_part in str(error.value)
    assert "\n" not in str(error.value)
    assert row_counts() == before
    return error.value


# ------------------------------------------------------------ clinicians and login


def test_first_run_admin_then_only_admins_add_clinicians(sessions, row_counts):
    with transaction(sessions) as s:
        assert not repo.has_any_clinician(s)
    with transaction(sessions) as s:
        admin = repo.create_clinician(s, None, username="Chief", display_name="Chief", password="long-enough", role="admin")
    assert admin.username == "chief"
    before = row_counts()
    with pytest.raises(PermissionDenied):
        with transaction(sessions) as s:
            repo.create_clinician(s, None, username="second", display_name="x", password="long-enough", role="admin")
    assert row_counts() == before
    with transaction(sessions) as s:
        pt = repo.create_clinician(s, admin, username="pt1", display_name="PT", password="pt-password", role="clinician")
    with pytest.raises(PermissionDenied):
        with transaction(sessions) as s:
            repo.create_clinician(s, pt, username="pt2", display_name="PT", password="pt-password", role="clinician")
    with pytest.raises(PermissionDenied):
        with transaction(sessions) as s:
            repo.set_clinician_active(s, pt, admin.id, False)
    with transaction(sessions) as s:
        assert [c.username for c in repo.list_clinicians(s, admin)] == ["chief", "pt1"]


def test_first_account_must_be_admin(sessions):
    with pytest.raises(ValidationError, match="administrator"):
        with transaction(sessions) as s:
            repo.create_clinician(s, None, username="pt", display_name="PT", password="long-enough", role="clinician")


def test_clinician_input_is_checked(sessions, admin, row_counts):
    make = lambda **kw: lambda s: repo.create_clinician(s, admin, **{  # noqa: E731
        **dict(username="newpt", display_name="New PT", password="pt-password", role="clinician"), **kw})
    rejected(sessions, row_counts, make(password="short"), "at least 8")
    rejected(sessions, row_counts, make(username="ADMIN"), "already taken")
    rejected(sessions, row_counts, make(username="a b"), "Username")
    rejected(sessions, row_counts, make(role="root"), "Role")


def test_authenticate_audits_without_password(sessions, admin):
    with transaction(sessions) as s:
        assert repo.authenticate(s, "ADMIN ", "admin-password").id == admin.id
        assert repo.authenticate(s, "admin", "wrong-password") is None
        assert repo.authenticate(s, "nobody", "admin-password") is None
    with transaction(sessions) as s:
        events = repo.list_audit(s, admin)
    assert [e.action for e in events[:3]] == ["login_failed", "login_failed", "login"]
    assert events[0].clinician_id is None and events[1].clinician_id == admin.id
    assert all("password" not in e.detail.replace("wrong_password", "") for e in events)


def test_deactivated_clinician_cannot_log_in_or_write(sessions, admin):
    with transaction(sessions) as s:
        pt = repo.create_clinician(s, admin, username="pt1", display_name="PT", password="pt-password", role="clinician")
    with transaction(sessions) as s:
        repo.set_clinician_active(s, admin, pt.id, False)
    with transaction(sessions) as s:
        assert repo.authenticate(s, "pt1", "pt-password") is None
    with pytest.raises(PermissionDenied):
        with transaction(sessions) as s:
            new_patient(s, pt)  # pt is the stale object from before the deactivation
    with pytest.raises(ValidationError, match="own account"):
        with transaction(sessions) as s:
            repo.set_clinician_active(s, admin, admin.id, False)


def test_change_password(sessions, admin):
    with transaction(sessions) as s:
        repo.change_password(s, admin, admin.id, "a-new-password")
    with transaction(sessions) as s:
        assert repo.authenticate(s, "admin", "admin-password") is None
        assert repo.authenticate(s, "admin", "a-new-password") is not None


# ------------------------------------------------------------ patients


def test_create_and_get_patient_audits_without_names(sessions, admin, patient):
    with transaction(sessions) as s:
        opened = repo.get_patient(s, admin, patient.id)
        assert (opened.mrn, opened.name, opened.birth_date) == ("SYN-0001", "Synthetic Patient One", date(1950, 5, 17))
    with transaction(sessions) as s:
        events = repo.list_audit(s, admin)
    assert [(e.action, e.patient_id, e.clinician_id) for e in events[:2]] == [
        ("view_patient", patient.id, admin.id), ("create_patient", patient.id, admin.id)]
    assert not any("Synthetic" in e.detail or "SYN-0001" in e.detail for e in events)


def test_duplicate_mrn_is_rejected_ignoring_case(sessions, admin, patient, row_counts):
    error = rejected(sessions, row_counts, lambda s: new_patient(s, admin, mrn=" syn-0001 "), "already exists")
    assert str(error) == "A patient with MRN syn-0001 already exists."


@pytest.mark.parametrize("overrides, message", [
    (dict(name="   "), "Name is required"),
    (dict(name="x" * 201), "Name is too long"),
    (dict(mrn=""), "MRN is required"),
    (dict(mrn="M" * 33), "MRN is too long"),
    (dict(birth_date=TOMORROW), "cannot be in the future"),
    (dict(birth_date=date(1899, 12, 31)), "before 1900"),
    (dict(birth_date=None), "Birth date is required"),
    (dict(birth_date=""), "Birth date is required"),
    (dict(birth_date="2090-01-01"), "cannot be in the future (2090-01-01)"),  # as typed in the form
    (dict(birth_date="02/04/1950"), "must be a date like"),  # day-first is ambiguous: refused
    (dict(birth_date="1950-02-30"), "is not a real date"),
    (dict(sex="x"), "Sex must be one of"),
    (dict(diagnosis="maybe"), "Diagnosis must be one of"),
    (dict(more_affected_side="both"), "More affected side"),
])
def test_bad_patient_input_leaves_the_database_unchanged(sessions, admin, row_counts, overrides, message):
    rejected(sessions, row_counts, lambda s: new_patient(s, admin, **overrides), message)


@pytest.mark.parametrize("typed", ["1950-04-02", "1950-4-2", "1950/04/02", "1950.4.2", "19500402", " 1950-04-02 "])
def test_a_typed_birth_date_is_read_year_month_day(sessions, admin, typed):
    with transaction(sessions) as s:
        assert new_patient(s, admin, birth_date=typed).birth_date == date(1950, 4, 2)


def test_html_and_script_in_a_name_are_stored_verbatim(sessions, admin):
    with transaction(sessions) as s:
        created = new_patient(s, admin, name=SCRIPT_NAME)
    with transaction(sessions) as s:
        assert repo.get_patient(s, admin, created.id).name == SCRIPT_NAME
        assert [r.name for r in repo.search_patients(s, "<script>")] == [SCRIPT_NAME]


def test_update_patient_changes_fields_and_audits_field_names(sessions, admin, patient, row_counts):
    with transaction(sessions) as s:
        repo.update_patient(s, admin, patient.id, name="Synthetic Renamed", diagnosis="unknown")
    with transaction(sessions) as s:
        assert [r.name for r in repo.search_patients(s, "renamed")] == ["Synthetic Renamed"]
        event = repo.list_audit(s, admin, limit=1)[0]
    assert (event.action, event.detail) == ("update_patient", "fields=name,diagnosis")
    with transaction(sessions) as s:
        other = new_patient(s, admin)
    rejected(sessions, row_counts, lambda s: repo.update_patient(s, admin, other.id, mrn="SYN-0001"), "already exists")
    rejected(sessions, row_counts, lambda s: repo.update_patient(s, admin, other.id, archived=True), "Cannot change archived")
    rejected(sessions, row_counts, lambda s: repo.update_patient(s, admin, other.id, name="ok", sex="?"), "Sex")


@pytest.mark.parametrize("birth_date, message", [
    (TOMORROW, "cannot be in the future"), (date(2090, 1, 1), "cannot be in the future"),
    ("2090-01-01", "cannot be in the future"), (date(1899, 12, 31), "before 1900"), ("", "Birth date is required"),
])
def test_a_birth_date_out_of_range_is_refused_and_the_old_one_kept(sessions, admin, patient, row_counts,
                                                                  birth_date, message):
    """The birth-date bug: an out-of-range date must never leave the previous value saved as if
    the correction had worked; nothing changes, nothing is audited as an update."""
    rejected(sessions, row_counts, lambda s: repo.update_patient(s, admin, patient.id, name="Synthetic Changed",
                                                                  birth_date=birth_date), message)
    with transaction(sessions) as s:
        kept = s.get(type(patient), patient.id)
        assert (kept.name, kept.birth_date) == ("Synthetic Patient One", date(1950, 5, 17))
        assert "update_patient" not in [e.action for e in repo.list_audit(s, admin, limit=20)]


def test_archive_hides_patient_from_list_and_blocks_new_visits(sessions, admin, patient, row_counts):
    with transaction(sessions) as s:
        repo.archive_patient(s, admin, patient.id)
    with transaction(sessions) as s:
        assert repo.search_patients(s) == []
        assert repo.count_patients(s) == 0
        assert [r.archived for r in repo.search_patients(s, include_archived=True)] == [True]
    rejected(sessions, row_counts, lambda s: repo.create_visit(
        s, admin, patient.id, visit_date=date(2024, 1, 1), medication_state="on"), "archived")
    with transaction(sessions) as s:
        repo.unarchive_patient(s, admin, patient.id)
    with transaction(sessions) as s:
        assert repo.count_patients(s) == 1


def test_missing_patient_is_not_found(sessions, admin):
    with pytest.raises(NotFound, match="No patient with id 424242"):
        with transaction(sessions) as s:
            repo.get_patient(s, admin, 424242)


def test_search_by_name_substring_word_order_and_mrn_anywhere(sessions, admin):
    with transaction(sessions) as s:
        new_patient(s, admin, mrn="AB-1234", name="Ada Synthetic-Lovelace")
        new_patient(s, admin, mrn="CD-5678", name="Grace Synthetic-Hopper")
        new_patient(s, admin, mrn="XAB-9", name="Zed 100%_Synthetic")
        new_patient(s, admin, mrn="EF-0001", name="Émile Ünïcode")
    with transaction(sessions) as s:
        names = lambda q: [r.name for r in repo.search_patients(s, q)]  # noqa: E731
        assert names("") == ["Ada Synthetic-Lovelace", "Grace Synthetic-Hopper", "Zed 100%_Synthetic", "Émile Ünïcode"]
        assert names("LOVE") == ["Ada Synthetic-Lovelace"]
        assert names("hopper grace") == ["Grace Synthetic-Hopper"]
        assert names("ab-1") == ["Ada Synthetic-Lovelace"]
        assert names("ab") == ["Ada Synthetic-Lovelace", "Zed 100%_Synthetic"]  # AB-1234 and XAB-9
        assert names("0001") == ["Émile Ünïcode"]  # anywhere in the MRN: EF-0001
        assert names("5678") == ["Grace Synthetic-Hopper"]
        assert names("cd") == ["Grace Synthetic-Hopper"]
        assert names("0%_") == ["Zed 100%_Synthetic"]  # wildcards are literal
        assert names("%") == ["Zed 100%_Synthetic"]
        assert names("émile") == ["Émile Ünïcode"]
        assert names("nobody") == []
        assert repo.count_patients(s, "synthetic") == 3
        assert [r.name for r in repo.search_patients(s, "synthetic", limit=2, offset=1)] == [
            "Grace Synthetic-Hopper", "Zed 100%_Synthetic"]


def test_search_rows_carry_visit_count_and_last_visit(sessions, admin, patient):
    with transaction(sessions) as s:
        for day in (date(2023, 5, 1), date(2024, 2, 29), date(2023, 12, 31)):
            repo.create_visit(s, admin, patient.id, visit_date=day, medication_state="off")
        new_patient(s, admin, mrn="SYN-0200", name="Synthetic Zero Visits")
    with transaction(sessions) as s:
        rows = {r.mrn: r for r in repo.search_patients(s, "synthetic")}
    assert (rows["SYN-0001"].visit_count, rows["SYN-0001"].last_visit_date) == (3, date(2024, 2, 29))
    assert (rows["SYN-0200"].visit_count, rows["SYN-0200"].last_visit_date) == (0, None)


# ------------------------------------------------------------ visits


def test_visits_newest_first_and_view_audited(sessions, admin, patient):
    with transaction(sessions) as s:
        older = repo.create_visit(s, admin, patient.id, visit_date=date(2023, 1, 1), medication_state="off",
                                  hours_since_dose=12)
        newer = repo.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 1), medication_state="on")
    with transaction(sessions) as s:
        assert [v.id for v in repo.list_visits(s, patient.id)] == [newer.id, older.id]
        opened = repo.get_visit(s, admin, older.id)
        assert (opened.hours_since_dose, opened.clinician_id, opened.notes) == (12.0, admin.id, "")
    with transaction(sessions) as s:
        event = repo.list_audit(s, admin, limit=1)[0]
    assert (event.action, event.patient_id, event.detail) == ("view_visit", patient.id, f"visit={older.id}")


def test_notes_up_to_10000_characters(sessions, admin, patient, row_counts):
    with transaction(sessions) as s:
        visit = repo.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 1), medication_state="on",
                                  notes="n" * 10_000)
    with transaction(sessions) as s:
        assert len(repo.get_visit(s, admin, visit.id).notes) == 10_000
    rejected(sessions, row_counts, lambda s: repo.create_visit(
        s, admin, patient.id, visit_date=date(2024, 1, 1), medication_state="on", notes="n" * 10_001), "Notes are too long")
    rejected(sessions, row_counts, lambda s: repo.update_visit(s, admin, visit.id, notes="n" * 10_001), "Notes are too long")


@pytest.mark.parametrize("overrides, message", [
    (dict(visit_date=TOMORROW), "cannot be in the future"),
    (dict(medication_state="half"), "Medication state"),
    (dict(hours_since_dose=-1), "at least 0"),
    (dict(hours_since_dose=72.5), "at most 72"),
    (dict(hours_since_dose=float("nan")), "finite"),
])
def test_bad_visit_input_leaves_the_database_unchanged(sessions, admin, patient, row_counts, overrides, message):
    fields = {**dict(visit_date=date(2024, 1, 1), medication_state="on"), **overrides}
    rejected(sessions, row_counts, lambda s: repo.create_visit(s, admin, patient.id, **fields), message)


def test_update_visit(sessions, admin, visit):
    with transaction(sessions) as s:
        repo.update_visit(s, admin, visit.id, medication_state="off", hours_since_dose=None)
    with transaction(sessions) as s:
        changed = repo.get_visit(s, admin, visit.id)
        assert (changed.medication_state, changed.hours_since_dose) == ("off", None)


def test_a_bad_visit_correction_changes_nothing(sessions, admin, visit, row_counts):
    rejected(sessions, row_counts, lambda s: repo.update_visit(s, admin, visit.id, notes="corrected",
                                                                visit_date="2090-01-01"), "cannot be in the future")
    with transaction(sessions) as s:
        kept = s.get(type(visit), visit.id)
        assert (kept.visit_date, kept.notes) == (date(2024, 3, 1), "synthetic")


# ------------------------------------------------------------ recordings, assessments, measures, ratings


def add_vowel(s, actor, visit_id, sha256="a" * 64, **overrides):
    fields = dict(task="vowel", side=None, stored_path=f"recordings/{sha256[:2]}/{sha256}.wav", sha256=sha256,
                  duration_s=5.2, format="wav", source="upload", original_name="synthetic.wav", quality_ok=True,
                  quality_json={"ok": True, "checks": []}, status="recorded")
    fields.update(overrides)
    return repo.add_recording(s, actor, visit_id, **fields)


def test_recordings_and_duplicate_hash(sessions, admin, visit, row_counts):
    with transaction(sessions) as s:
        recording = add_vowel(s, admin, visit.id)
        add_vowel(s, admin, visit.id, sha256="b" * 64, task="finger_tapping", side="left", format="mp4")
    error = rejected(sessions, row_counts, lambda s: add_vowel(s, admin, visit.id), "already added")
    assert str(error) == "This file was already added to this visit."
    with transaction(sessions) as s:
        listed = repo.list_recordings(s, visit.id)
        assert [(r.task, r.side) for r in listed] == [("vowel", None), ("finger_tapping", "left")]
        assert listed[0].quality_json == {"ok": True, "checks": []}
        repo.set_recording_status(s, admin, recording.id, "needs_retake", quality_ok=False)
    with transaction(sessions) as s:
        assert repo.get_recording(s, recording.id).status == "needs_retake"


@pytest.mark.parametrize("overrides, message", [
    (dict(task="dance"), "Task must be one of"),
    (dict(task="tremor", side=None), "Side for Rest tremor"),
    (dict(side="left"), "not recorded per side"),
    (dict(sha256="xyz"), "sha256"),
    (dict(stored_path="../../etc/passwd"), "relative to the data folder"),
    (dict(stored_path="/etc/passwd"), "relative to the data folder"),
    (dict(source="fax"), "Source"),
    (dict(status="done"), "Status"),
    (dict(quality_json={"bad": object()}), "JSON"),
])
def test_bad_recording_input(sessions, admin, visit, row_counts, overrides, message):
    rejected(sessions, row_counts, lambda s: add_vowel(s, admin, visit.id, **overrides), message)


def assessment_fields(visit_id, recording_id=None, **overrides):
    fields = dict(visit_id=visit_id, recording_id=recording_id, model_name="voice", model_version="v-test",
                  probability=0.42, interval=(0.3, 0.55), severity=1.5, abstained_reason=None,
                  inputs_sha256="c" * 64, explanation={"top": ["jitter_local_pct"]},
                  measures=[Measure("jitter_local_pct", 0.61, "%", "Jitter (local)"),
                            Measure("hnr_db", 19.5, "dB", "HNR")])
    fields.update(overrides)
    return fields


def test_assessment_with_measures_and_series(sessions, admin, patient, visit):
    with transaction(sessions) as s:
        recording = add_vowel(s, admin, visit.id)
        saved = repo.save_assessment(s, admin, **assessment_fields(visit.id, recording.id))
        later = repo.create_visit(s, admin, patient.id, visit_date=date(2024, 6, 1), medication_state="off")
        repo.save_assessment(s, admin, **assessment_fields(
            later.id, probability=None, interval=None, severity=None, abstained_reason="synthetic: no model",
            explanation=None, measures=[Measure("jitter_local_pct", 0.9, "%", "Jitter (local)")]))
    with transaction(sessions) as s:
        stored = repo.list_assessments(s, visit.id)[0]
        assert (stored.id, stored.probability, stored.interval_low, stored.interval_high) == (saved.id, 0.42, 0.3, 0.55)
        assert stored.explanation_json == {"top": ["jitter_local_pct"]}
        assert {(m.name, m.value, m.unit) for m in stored.measures} == {("jitter_local_pct", 0.61, "%"), ("hnr_db", 19.5, "dB")}
        series = repo.measure_series(s, patient.id, ["jitter_local_pct"])
        everything = repo.measure_series(s, patient.id)
    assert list(series.columns[:8]) == ["visit_id", "visit_date", "medication_state", "task", "side", "name", "value", "unit"]
    assert series["value"].tolist() == [0.61, 0.9]
    assert series["medication_state"].tolist() == ["on", "off"]
    assert series["task"].tolist()[0] == "vowel" and series["task"].isna().tolist()[1]
    assert str(series["visit_date"].dt.date.iloc[1]) == "2024-06-01"
    assert len(everything) == 3


@pytest.mark.parametrize("overrides, message", [
    (dict(probability=1.2), "Probability must be at most 1"),
    (dict(interval=(0.6, 0.2)), "Interval low must not be above"),
    (dict(severity=5), "Severity"),
    (dict(model_name=""), "Model name is required"),
    (dict(measures=[Measure("x", float("inf"), "", "X")]), "Measure x must be a finite number"),
    (dict(measures=[Measure("x", 1.0, "", "X"), Measure("x", 2.0, "", "X")]), "appears twice"),
    (dict(recording_id=999_999), "does not belong"),
])
def test_bad_assessment_writes_nothing(sessions, admin, visit, row_counts, overrides, message):
    rejected(sessions, row_counts, lambda s: repo.save_assessment(s, admin, **assessment_fields(visit.id, **overrides)), message)


def test_ratings_replace_per_item_and_side(sessions, admin, visit, row_counts):
    with transaction(sessions) as s:
        repo.set_rating(s, admin, visit.id, "3.4", "left", 2)
        repo.set_rating(s, admin, visit.id, "3.4", "right", 1)
        repo.set_rating(s, admin, visit.id, "hoehn_yahr", None, 2)
    with transaction(sessions) as s:
        repo.set_rating(s, admin, visit.id, "3.4", "left", 3)
        repo.set_rating(s, admin, visit.id, "hoehn_yahr", None, 2.5)
    with transaction(sessions) as s:
        ratings = [(r.item, r.side, r.score) for r in repo.list_ratings(s, visit.id)]
    assert sorted(ratings, key=str) == sorted([("3.4", "left", 3.0), ("3.4", "right", 1.0), ("hoehn_yahr", None, 2.5)], key=str)
    rejected(sessions, row_counts, lambda s: repo.set_rating(s, admin, visit.id, "3.4", "left", 5), "not a valid score")
    rejected(sessions, row_counts, lambda s: repo.set_rating(s, admin, visit.id, "3.4", "up", 1), "rated per location")


def test_every_write_is_audited(sessions, admin, patient, visit):
    with transaction(sessions) as s:
        recording = add_vowel(s, admin, visit.id)
        repo.save_assessment(s, admin, **assessment_fields(visit.id, recording.id))
        repo.set_rating(s, admin, visit.id, "3.1", None, 1)
    with transaction(sessions) as s:
        actions = [e.action for e in reversed(repo.list_audit(s, admin))]
        patient_events = repo.list_audit(s, admin, patient_id=patient.id)
    assert actions == ["create_clinician", "create_patient", "create_visit", "add_recording", "save_assessment", "set_rating"]
    assert all(e.clinician_id == admin.id for e in patient_events) and len(patient_events) == 5


def test_concurrent_writers_wait_instead_of_failing(sessions, admin):
    """Two clinicians saving at the same moment: SQLite's busy timeout makes the second wait."""
    import threading

    errors: list[BaseException] = []

    def create_many(prefix: str) -> None:
        try:
            for i in range(15):
                with transaction(sessions) as s:
                    new_patient(s, admin, mrn=f"{prefix}-{i:03d}", name=f"Synthetic {prefix} {i}")
        except BaseException as exc:  # reported below; a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=create_many, args=(prefix,)) for prefix in ("TA", "TB", "TC")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with transaction(sessions) as s:
        assert repo.count_patients(s) == 45


def test_writer_waits_for_an_open_write_transaction(sessions, admin, engine):
    """A read-then-write transaction (validation reads first) waits for another open write
    transaction to commit instead of failing with 'database is locked'."""
    import threading
    import time

    holding = threading.Event()

    def hold_write_lock() -> None:
        with transaction(sessions) as s:
            new_patient(s, admin, mrn="HOLD-1", name="Synthetic Holder")
            holding.set()
            time.sleep(0.4)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    holding.wait(5)
    started = time.perf_counter()
    with transaction(sessions) as s:
        new_patient(s, admin, mrn="HOLD-2", name="Synthetic Waiter")
    waited = time.perf_counter() - started
    holder.join()
    if engine.dialect.name == "sqlite":  # one writer at a time; PostgreSQL locks rows, not the file
        assert waited > 0.2
    with transaction(sessions) as s:
        assert repo.count_patients(s, "synthetic") == 2
