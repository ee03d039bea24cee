"""Administrators only: clinician accounts and the audit trail."""
import pandas as pd
import streamlit as st

from core import sessions
from core.store import repository
from core.store.models import ROLES
from dashboard import state
from dashboard.formatting import ROLE_LABELS, escape_markdown, label

AUDIT_ROWS = 200


def _sign_ins(count: int) -> str:
    return "1 sign-in" if count == 1 else f"{count} sign-ins"


st.title("Administration")
who = state.signed_in()
if who is None or not who.is_admin:
    st.error("Only administrators can open this page.")
    st.stop()

with state.session() as s:
    clinicians = repository.list_clinicians(s, state.actor(s))
    actions = repository.audit_actions(s, state.actor(s))
    usernames = {c.id: c.username for c in clinicians}
    signed_in_now = {c.id: sessions.open_session_count(s, c.id) for c in clinicians}
    lockouts = repository.sign_in_lockouts(s, state.actor(s))

st.subheader("Clinicians")
st.dataframe(
    pd.DataFrame(
        {
            "Username": [c.username for c in clinicians],
            "Display name": [c.display_name for c in clinicians],
            "Role": [label(ROLE_LABELS, c.role) for c in clinicians],
            "Active": [c.active for c in clinicians],
            "Signed in now": [signed_in_now[c.id] for c in clinicians],
        }
    ),
    hide_index=True,
    width="stretch",
)

others = [c for c in clinicians if c.id != who.clinician_id]
if others:
    with st.form("clinician_active"):
        chosen_id = st.selectbox(
            "Account", [c.id for c in others],
            format_func=lambda cid: f"{usernames[cid]} ({'active' if next(c for c in others if c.id == cid).active else 'deactivated'})",
        )
        make_active = st.radio("Set to", ["Deactivated", "Active"], horizontal=True) == "Active"
        if st.form_submit_button("Apply"):
            done = state.write(lambda s, actor: repository.set_clinician_active(s, actor, chosen_id, make_active) or True)
            if done:
                verb = "reactivated" if make_active else "deactivated"
                state.flash(f"Account {escape_markdown(usernames[chosen_id])} {verb}.")
                st.rerun()
    st.caption("Deactivated accounts cannot sign in; their past work stays in the record. You cannot deactivate yourself.")

    st.subheader("Passwords and sign-ins")
    st.caption(
        "Reset the password of a clinician who forgot it (tell them the new one in person), or sign "
        "an account out everywhere (a lost tablet, a shared computer left signed in). Either ends "
        "every sign-in of that account. Your own password: My account."
    )
    with st.form("reset_password", clear_on_submit=True):
        reset_id = st.selectbox("Account", [c.id for c in others], format_func=usernames.get, key="reset_account")
        new_password = st.text_input("New password", type="password", autocomplete="new-password",
                                     help="At least 8 characters, not a common password.", key="reset_new_password")
        new_password_again = st.text_input("New password again", type="password", autocomplete="new-password",
                                           key="reset_new_password_again")
        if st.form_submit_button("Reset password"):
            ended = state.write(
                lambda s, actor: sessions.reset_password(s, actor, reset_id, new_password, new_password_again)
            )
            if ended is not None:
                state.flash(f"Password of {escape_markdown(usernames[reset_id])} reset; {_sign_ins(ended)} ended.")
                st.rerun()
    with st.form("sign_out_everywhere"):
        sign_out_id = st.selectbox("Account", [c.id for c in others], format_func=usernames.get,
                                   key="sign_out_account")
        if st.form_submit_button("Sign out everywhere"):
            ended = state.write(lambda s, actor: sessions.end_all_sessions(s, actor, sign_out_id))
            if ended is not None:
                state.flash(f"{escape_markdown(usernames[sign_out_id])} signed out everywhere: {_sign_ins(ended)} ended.")
                st.rerun()

st.subheader("Sign-in lockouts")
st.caption(
    "After repeated wrong passwords a username is locked out for a while, whoever typed them: anyone "
    "can lock a colleague out by typing her username wrongly. Check with her, then unlock it here; "
    "her failed attempts are forgotten and the audit trail keeps the unlock."
)
with st.form("unlock_sign_in"):
    unlock_ids = sorted(usernames, key=lambda cid: (cid not in lockouts, usernames[cid]))  # locked first
    unlock_id = st.selectbox(
        "Account", unlock_ids, key="unlock_account",
        format_func=lambda cid: (f"{usernames[cid]} (locked out until {lockouts[cid]:%H:%M} UTC)"
                                 if cid in lockouts else f"{usernames[cid]} (not locked out)"),
    )
    if st.form_submit_button("Unlock sign-in"):
        was_locked = state.write(lambda s, actor: repository.unlock_sign_in(s, actor, usernames[unlock_id]))
        if was_locked is not None:
            name = escape_markdown(usernames[unlock_id])
            state.flash(f"{name} can sign in again." if was_locked else f"{name} was not locked out.")
            st.rerun()
st.caption("No account locked out now." if not lockouts else
           f"Locked out now: {', '.join(escape_markdown(usernames[cid]) for cid in sorted(lockouts, key=usernames.get))}.")

with st.expander("Delete a patient's record", icon=":material/delete_forever:"):
    st.caption("Removes the patient, their visits, clips, scores, measures and ratings and the recording files, "
               "for good. The audit trail keeps one row with the patient's id only. Archive a patient instead "
               "to hide them from lists.")
    with st.form("delete_patient", clear_on_submit=True):
        delete_mrn = st.text_input("MRN of the patient", max_chars=32, key="delete_patient_mrn")
        delete_mrn_again = st.text_input("MRN again, to confirm", max_chars=32, key="delete_patient_mrn_again")
        sure = st.checkbox("I understand that this cannot be undone", key="delete_patient_sure")
        if st.form_submit_button("Delete patient", type="primary"):
            from core.retention import delete_patient, patient_id_for_mrn
            from core.store import ValidationError
            from core.store.errors import PermissionDenied

            if not sure or not delete_mrn.strip() or delete_mrn.strip() != delete_mrn_again.strip():
                st.error("Type the same MRN twice and tick the box to delete a patient.")
            else:
                try:
                    deleted = delete_patient(state.store(), who.clinician_id, patient_id_for_mrn(state.store(), delete_mrn),
                                             state.data_dir(), confirm_mrn=delete_mrn_again)
                except (ValidationError, PermissionDenied) as problem:
                    st.error(escape_markdown(str(problem)))
                else:
                    state.flash(f"Patient deleted: {deleted['visits']} visits, {deleted['recordings']} clips and "
                                f"{deleted['files']} files removed.")
                    st.rerun()

with st.expander("Add clinician", icon=":material/person_add:"):
    with st.form("add_clinician"):
        username = st.text_input("Username", max_chars=64, key="new_clinician_username")
        display_name = st.text_input("Display name", max_chars=200, key="new_clinician_display_name")
        role = st.selectbox("Role", ROLES, index=ROLES.index("clinician"), format_func=ROLE_LABELS.get, key="new_clinician_role")
        password = st.text_input("Initial password", type="password", help="At least 8 characters, not a common password; tell it to the clinician in person.", key="new_clinician_password")
        password_again = st.text_input("Initial password again", type="password", key="new_clinician_password_again")
        submitted = st.form_submit_button("Add clinician", type="primary")
    if submitted:
        if password != password_again:
            st.error("The two passwords differ: type the same password twice.")
        else:
            created = state.write(
                lambda s, actor: repository.create_clinician(
                    s, actor, username=username, display_name=display_name, password=password, role=role
                )
            )
            if created is not None:
                state.flash(f"Account {escape_markdown(created.username)} added.")
                st.rerun()

st.subheader("Audit trail")
st.caption("Who did what to which record, and when: every sign-in (and failed attempt), view, change and "
           "export. Ids and codes only, never names or notes; rows are never changed or deleted.")
ANY = "any"
filters = st.columns(5)
who_filter = filters[0].selectbox("Who", [ANY, *usernames], format_func=lambda cid: "anyone" if cid == ANY else usernames[cid],
                                  key="audit_who")
action_filter = filters[1].selectbox("Action", [ANY, *actions], key="audit_action",
                                     format_func=lambda a: "any action" if a == ANY else a)
patient_filter = filters[2].number_input("Patient id", min_value=0, value=None, step=1, key="audit_patient",
                                         placeholder="any patient")
since = filters[3].date_input("From (UTC day)", value=None, key="audit_since", format="YYYY-MM-DD")
until = filters[4].date_input("To (UTC day)", value=None, key="audit_until", format="YYYY-MM-DD")
query = dict(clinician_id=None if who_filter == ANY else who_filter,
             action=None if action_filter == ANY else action_filter,
             patient_id=None if patient_filter is None else int(patient_filter), since=since, until=until)
if since is not None and until is not None and until < since:
    st.error("The period ends before it starts: swap the two dates.")
    st.stop()
audit = state.read(lambda s, actor: repository.list_audit(s, actor, AUDIT_ROWS, **query)) or []
st.caption(f"The latest {AUDIT_ROWS} matching events; the CSV holds every matching event.")
if not audit:
    st.info("No events match.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "When (UTC)": [event.at for event in audit],
                "Who": [usernames.get(event.clinician_id, "") for event in audit],
                "Action": [event.action for event in audit],
                "Patient id": [event.patient_id for event in audit],
                "Detail": [event.detail for event in audit],
            }
        ),
        hide_index=True,
        width="stretch",
    )
if st.button("Prepare CSV of the matching events", icon=":material/table:", key="audit_prepare_csv"):
    csv_text = state.write(lambda s, actor: repository.audit_csv(s, actor, **query))
    if csv_text is not None:
        st.session_state["audit_csv"] = csv_text.encode()
        st.session_state["audit_csv_query"] = repr(query)
if st.session_state.get("audit_csv_query") != repr(query):  # the filters changed since: prepare again
    st.session_state.pop("audit_csv", None)
if (prepared := st.session_state.get("audit_csv")) is not None:
    st.download_button(f"Download audit CSV ({len(prepared) / 1024:.0f} kB)", prepared,
                       file_name="pdlens-audit.csv", mime="text/csv", key="audit_download_csv",
                       icon=":material/download:")
