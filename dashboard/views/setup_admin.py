"""First run: the database has no clinician yet, so the first visitor creates the administrator."""
import streamlit as st

from core.store import ValidationError, repository
from dashboard import state
from dashboard.formatting import escape_markdown

st.title("Create administrator account")
st.write(
    "This database has no accounts yet. Create the administrator account; the administrator "
    "then adds the clinicians who use pdlens."
)

with st.form("create_admin"):
    username = st.text_input("Username", max_chars=64, autocomplete="username")
    display_name = st.text_input("Display name", max_chars=200, placeholder="e.g. Dr. A. Example")
    password = st.text_input(
        "Password", type="password", autocomplete="new-password", help="At least 8 characters, not a common password."
    )
    password_again = st.text_input("Password again", type="password", autocomplete="new-password")
    submitted = st.form_submit_button("Create administrator account", type="primary")

if submitted:
    if password != password_again:
        st.error("The two passwords differ: type the same password twice.")
    else:
        try:
            with state.session() as s:
                repository.create_clinician(
                    s, None, username=username, display_name=display_name, password=password, role="admin"
                )
        except ValidationError as problem:
            st.error(escape_markdown(str(problem)))
        else:
            state.flash("Administrator account created. Sign in with it.")
            st.rerun()
