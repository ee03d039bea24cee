"""Sign in with username and password."""
import streamlit as st

from core.store import repository
from dashboard import state

st.title("Sign in to pdlens")
if state.is_demo():
    st.caption("Demo login: username `demo`, password `demo-password`.")

with st.form("login"):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    with state.session() as s:
        attempt = repository.attempt_sign_in(s, username.strip(), password)
    if attempt.clinician is None:
        # Deliberately not saying whether the username or the password was wrong, nor (when
        # locked out) whether the account exists: core.store.repository.attempt_sign_in.
        st.error(attempt.message)
    else:
        state.sign_in(attempt.clinician)
        st.rerun()
