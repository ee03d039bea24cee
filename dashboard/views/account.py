"""My account: who is signed in, and changing one's own password."""
import streamlit as st

from core import sessions
from dashboard import state
from dashboard.formatting import ROLE_LABELS, escape_markdown, label

st.title("My account")
who = state.signed_in()
st.markdown(
    f"**{escape_markdown(who.display_name)}** · {label(ROLE_LABELS, who.role)} · "
    f"username {escape_markdown(who.username)}"
)

st.subheader("Change password")
st.caption(
    "Type your current password, then the new one twice (at least 8 characters, not a common password). Your other "
    "sign-ins (another computer, a tablet) end; this one stays."
)
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", autocomplete="current-password",
                            key="account_current_password")
    new = st.text_input("New password", type="password", autocomplete="new-password",
                        key="account_new_password")
    again = st.text_input("New password again", type="password", autocomplete="new-password",
                          key="account_new_password_again")
    submitted = st.form_submit_button("Change password", type="primary")

if submitted:
    ended = state.write(
        lambda s, actor: sessions.change_own_password(s, actor, current, new, again, keep_token=state.session_token())
    )
    if ended is not None:
        others = {0: "", 1: " Your 1 other sign-in was ended."}.get(ended, f" Your {ended} other sign-ins were ended.")
        state.flash("Password changed." + others)
        st.rerun()
