"""Sign-in sessions, logout, My account and the administrator's password reset / sign out
everywhere through the real dashboard script (AppTest: no cookies, so the token lives in the
tab's session state; the server-side checks are the same). Real SQLite file, synthetic accounts."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core import sessions
from core.config import settings
from core.store import Clinician, SignInSession, open_store, repository, transaction
from tests.dashboard.conftest import ADMIN, open_page, sign_in, texts
from tests.dashboard.test_dashboard_shell import SYNTHETIC_PATIENT, add_clinician, add_patients, submit

TOKEN_KEY = "sign_in_token"


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def session_rows(url: str, username: str) -> list[SignInSession]:
    with transaction(open_store(url)) as s:
        clinician = s.scalar(select(Clinician).where(Clinician.username == username))
        return list(s.scalars(select(SignInSession).where(SignInSession.clinician_id == clinician.id)
                              .order_by(SignInSession.id)))


def other_browser(url: str, username: str) -> str:
    """A sign-in of `username` in some other browser: its token."""
    with transaction(open_store(url)) as s:
        return sessions.start_session(s, s.scalar(select(Clinician).where(Clinician.username == username)))


def still_signed_in(url: str, token: str) -> bool:
    with transaction(open_store(url)) as s:
        return sessions.session_clinician(s, token) is not None


def test_sign_in_starts_a_server_session_and_logout_ends_it_and_forgets_the_record(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = sign_in(app)
    [row] = session_rows(admin_db, "admin")
    assert row.ended_at is None
    assert sessions.token_sha256(at.session_state[TOKEN_KEY]) == row.token_sha256
    open_page(at, "views/patient.py", patient=patient_id)
    assert titles(at) == [SYNTHETIC_PATIENT["name"]]

    at.sidebar.button(key="logout").click()
    at.run()
    assert titles(at) == ["Sign in to pdlens"]
    assert dict(at.query_params) == {}  # the previous user's patient is not in the address any more
    [row] = session_rows(admin_db, "admin")
    assert row.end_reason == "logout"
    assert TOKEN_KEY not in at.session_state and "patient_search" not in at.session_state

    at = sign_in(at)  # the next user
    assert titles(at) == ["Patients"]
    assert dict(at.query_params) == {}


def test_a_session_ended_elsewhere_signs_the_tab_out_on_its_next_run(app, admin_db):
    add_clinician(admin_db)
    at = sign_in(app, "clin", "clinician-pass")
    assert titles(at) == ["Patients"]
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        clin = s.scalar(select(Clinician).where(Clinician.username == "clin"))
        sessions.end_all_sessions(s, admin, clin.id)
    at.run()
    assert titles(at) == ["Sign in to pdlens"]


def test_an_idle_tab_is_signed_out(app, admin_db, monkeypatch):
    monkeypatch.setenv("PDLENS_SESSION_IDLE_MINUTES", "10")
    settings.cache_clear()
    at = sign_in(app)
    at.run()
    assert titles(at) == ["Patients"]
    with transaction(open_store(admin_db)) as s:  # nobody clicked for 11 minutes
        for row in s.scalars(select(SignInSession)):
            row.last_seen_at = sessions.utcnow() - timedelta(minutes=11)
    at.run()
    assert titles(at) == ["Sign in to pdlens"]
    assert session_rows(admin_db, "admin")[0].end_reason == "idle"


def test_my_account_changes_the_password_and_ends_the_other_sign_ins(app, admin_db):
    laptop = other_browser(admin_db, "admin")
    at = open_page(sign_in(app), "views/account.py")
    assert titles(at) == ["My account"] and not at.exception

    at.text_input(key="account_current_password").input("not-my-password")
    at.text_input(key="account_new_password").input("a-brand-new-pass")
    at.text_input(key="account_new_password_again").input("a-brand-new-pass")
    submit(at, "Change password")
    assert "current password is wrong" in at.error[0].value
    assert still_signed_in(admin_db, laptop)
    with transaction(open_store(admin_db)) as s:
        assert repository.authenticate(s, ADMIN["username"], ADMIN["password"]) is not None

    at.text_input(key="account_current_password").input(ADMIN["password"])
    at.text_input(key="account_new_password").input("a-brand-new-pass")
    at.text_input(key="account_new_password_again").input("a-brand-new-typo")
    submit(at, "Change password")
    assert "two new passwords differ" in at.error[0].value

    at.text_input(key="account_current_password").input(ADMIN["password"])
    at.text_input(key="account_new_password").input("a-brand-new-pass")
    at.text_input(key="account_new_password_again").input("a-brand-new-pass")
    submit(at, "Change password")
    assert not at.exception
    assert "Password changed. Your 1 other sign-in was ended." in at.success[0].value
    assert titles(at) == ["My account"]  # this tab stays signed in
    assert not still_signed_in(admin_db, laptop)
    with transaction(open_store(admin_db)) as s:
        assert repository.authenticate(s, ADMIN["username"], ADMIN["password"]) is None
        assert repository.authenticate(s, ADMIN["username"], "a-brand-new-pass") is not None


def test_administrator_resets_a_password_and_signs_an_account_out_everywhere(app, admin_db):
    add_clinician(admin_db)
    tablet = other_browser(admin_db, "clin")
    at = open_page(sign_in(app), "views/admin.py")
    assert not at.exception
    at.selectbox(key="reset_account").set_value(2)
    at.text_input(key="reset_new_password").input("short")
    at.text_input(key="reset_new_password_again").input("short")
    submit(at, "Reset password")
    assert "at least 8 characters" in at.error[0].value
    assert still_signed_in(admin_db, tablet)

    at.selectbox(key="reset_account").set_value(2)
    at.text_input(key="reset_new_password").input("reset-by-admin-1")
    at.text_input(key="reset_new_password_again").input("reset-by-admin-1")
    submit(at, "Reset password")
    assert "Password of clin reset; 1 sign-in ended." in at.success[0].value
    assert not still_signed_in(admin_db, tablet)
    with transaction(open_store(admin_db)) as s:
        assert repository.authenticate(s, "clin", "reset-by-admin-1") is not None  # (audited login, no session)

    phone, desk = other_browser(admin_db, "clin"), other_browser(admin_db, "clin")
    at.run()
    signed_in_column = at.dataframe[0].value["Signed in now"].tolist()
    assert signed_in_column == [1, 2]  # admin (this tab), clin (phone and desk)
    at.selectbox(key="sign_out_account").set_value(2)
    submit(at, "Sign out everywhere")
    assert "clin signed out everywhere: 2 sign-ins ended." in at.success[0].value
    assert not still_signed_in(admin_db, phone) and not still_signed_in(admin_db, desk)
    assert titles(at) == ["Administration"]
    actions = at.dataframe[1].value["Action"].tolist()
    assert "change_password" in actions and "sessions_ended" in actions and "session_start" in actions


def test_administrator_unlocks_a_colleague_someone_locked_out(app, admin_db):
    add_clinician(admin_db)
    for _ in range(settings().lockout_attempts):  # someone types her username with wrong passwords
        with transaction(open_store(admin_db)) as s:
            repository.attempt_sign_in(s, "clin", "not-her-password")
    with transaction(open_store(admin_db)) as s:
        assert repository.attempt_sign_in(s, "clin", "clinician-pass").locked
    at = open_page(sign_in(app), "views/admin.py")
    assert not at.exception
    unlock = at.selectbox(key="unlock_account")
    assert unlock.options[0].startswith("clin (locked out until ") and unlock.options[1] == "admin (not locked out)"
    assert "Locked out now: clin." in [c.value for c in at.caption]
    submit(at, "Unlock sign-in")
    assert not at.exception
    assert "clin can sign in again." in at.success[0].value
    assert "No account locked out now." in [c.value for c in at.caption]
    assert at.selectbox(key="unlock_account").options[0] == "admin (not locked out)"
    with transaction(open_store(admin_db)) as s:
        assert repository.attempt_sign_in(s, "clin", "clinician-pass").clinician is not None
    at.run()
    audit = at.dataframe[1].value
    unlocks = audit[audit["Action"] == "unlock_sign_in"]["Detail"].tolist()
    with transaction(open_store(admin_db)) as s:
        clin_id = s.scalar(select(Clinician.id).where(Clinician.username == "clin"))
    assert unlocks == [f"clinician={clin_id} was_locked=True"]  # the id, never the username

    at.selectbox(key="unlock_account").set_value(unlock.value)  # nothing to unlock now: said so
    submit(at, "Unlock sign-in")
    assert at.success[0].value.endswith("was not locked out.")


def test_switching_database_forgets_a_record_id_of_the_other_database(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = open_page(sign_in(app), "views/patient.py", patient=patient_id)
    assert titles(at) == [SYNTHETIC_PATIENT["name"]]
    with transaction(open_store(admin_db)) as s:  # the sign-in ends (idle, or signed out elsewhere)
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN["username"]))
        sessions.end_all_sessions(s, admin, admin.id)
    at.run()
    assert titles(at) == ["Sign in to pdlens"]
    assert dict(at.query_params) == {"patient": str(patient_id)}  # kept to sign in again here
    at.sidebar.radio[0].set_value("demo").run()
    assert dict(at.query_params) == {}  # a clinic patient id means nothing in the demo database
    at.sidebar.radio[0].set_value("clinic").run()
    at = sign_in(at)
    assert titles(at) == ["Patients"]
    assert "No patient chosen" not in texts(at)


def test_a_bookmarked_address_survives_choosing_the_database_before_sign_in(app, admin_db, tmp_path):
    demo_url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    with transaction(open_store(demo_url)) as s:
        demo = repository.create_clinician(s, None, username="demo", display_name="Demo clinician",
                                           password="demo-password", role="admin")
        demo_patient = repository.create_patient(s, demo, **dict(SYNTHETIC_PATIENT, name="Synthetic Demo Patient"))
    at = app.run()
    at.query_params["patient"] = str(demo_patient.id)
    at.run()
    at.sidebar.radio[0].set_value("demo").run()
    assert dict(at.query_params) == {"patient": str(demo_patient.id)}  # (the browser test of demo
    # trends then signs in at that address)
