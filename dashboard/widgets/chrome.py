"""What surrounds every page: the sidebar (who, which database, navigation, log out), the
DEMO banner, and the back links and patient line at the top of a record's pages."""
from __future__ import annotations

import streamlit as st

from core.demo import TELEMONITORING_RATINGS_NOTE, patient_note
from dashboard import state
from dashboard.formatting import ROLE_LABELS, escape_markdown, label

DEMO_BANNER = (
    "DEMO database, not clinic patients. 34 patients of the public UCI telemonitoring study (real, "
    f"de-identified at source). {TELEMONITORING_RATINGS_NOTE} "
    "Demo patients A-C (synthetic movement clips) are fictional: their movement clips are synthetic (an "
    "animated photograph of a hand) and their vowels parts of real public recordings (Iyer et al. 2023). "
    "Nothing you do here touches the clinic database."
)


def demo_banner() -> None:
    if state.is_demo():
        st.warning(DEMO_BANNER, icon=":material/science:")


def demo_note(patient) -> str | None:
    """The demo database's provenance sentence for this patient (None outside the demo)."""
    return patient_note(patient.mrn) if state.is_demo() else None


def demo_patient_note(patient) -> None:
    """On a demo patient's pages (demo database only): synthetic clips, or the telemonitoring
    study and its interpolated ratings, in one visible sentence."""
    note = demo_note(patient)
    if note:
        st.info(note, icon=":material/science:")  # a constant of core.demo: plain text


def sidebar(who: state.SignedIn | None) -> None:
    with st.sidebar:
        st.markdown("### pdlens")
        if who is None:
            choices = list(state.DATABASE_LABELS)
            choice = st.radio(
                "Database",
                choices,
                index=choices.index(state.database()),
                format_func=state.DATABASE_LABELS.get,
                help="The demo database is a separate file built from public research data.",
            )
            if choice != state.database():
                state.set_database(choice)
                st.rerun()
            return
        st.markdown(
            f"Signed in as **{escape_markdown(who.display_name)}**  \n"
            f"{label(ROLE_LABELS, who.role)} · {escape_markdown(who.username)}"
        )
        st.caption(state.DATABASE_LABELS[who.database])
        st.page_link(state.PATIENTS_PAGE, label="Patients", icon=":material/groups:")
        st.page_link(state.OVERVIEW_PAGE, label="Clinic overview", icon=":material/dashboard:")
        st.page_link(state.MODELS_PAGE, label="Models", icon=":material/model_training:")
        st.page_link(state.ACCOUNT_PAGE, label="My account", icon=":material/account_circle:")
        if who.is_admin:
            st.page_link(state.ADMIN_PAGE, label="Administration", icon=":material/admin_panel_settings:")
        st.divider()
        if st.button("Log out", icon=":material/logout:", key="logout"):
            state.log_out()


def back_to_patient(patient) -> None:
    st.page_link(state.PATIENT_PAGE, label=f"Back to {escape_markdown(patient.name)}", icon=":material/arrow_back:",
                 query_params={"patient": str(patient.id)})


def back_to_visit(visit) -> None:
    st.page_link(state.VISIT_PAGE, label=f"Back to the visit of {visit.visit_date.isoformat()}",
                 icon=":material/arrow_back:", query_params={"visit": str(visit.id)})


def patient_caption(patient, *more: str) -> None:
    """Whose record this page shows: name and MRN (escaped), then any further plain phrases."""
    st.caption(" · ".join([escape_markdown(patient.name), f"MRN {escape_markdown(patient.mrn)}", *more]))


# Printing a page from the browser (results, visit, ratings): no sidebar, header, toolbars or
# buttons on paper, the page at full width, charts and tables not split across sheets.
# Constant CSS only: the one place unsafe_allow_html is used, never with user text.
PRINT_CSS = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapseButton"],
  [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
  [data-testid="stStatusWidget"], [data-testid="stMainMenu"], [data-testid="stAppDeployButton"],
  [data-testid="stElementToolbar"], [data-testid="stButton"], [data-testid="stDownloadButton"],
  [data-testid="stFormSubmitButton"], [data-testid="stPageLink"], [data-testid="stBottom"], .modebar-container {
    display: none !important;
  }
  html, body, .stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
    height: auto !important; overflow: visible !important; position: static !important;
  }
  [data-testid="stMain"] { margin-left: 0 !important; width: 100% !important; }
  [data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 0.5rem 1rem !important; }
  .js-plotly-plot, [data-testid="stImage"], [data-testid="stDataFrame"], [data-testid="stTable"],
  [data-testid="stAlert"], [data-testid="stMetric"] { break-inside: avoid; page-break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
}
</style>"""


def print_styles() -> None:
    """Inject PRINT_CSS (once per page run: app.py calls it for every page)."""
    st.markdown(PRINT_CSS, unsafe_allow_html=True)
