"""Compare two visits of a patient side by side (?patient=ID, optionally &first=&second= visit
ids): the visit scores, ratings and measures at both visits and the change between them, judged
with the same rules as the trends (core.compare). The page only draws what core computes."""
import streamlit as st

from core.compare import compare_visits, comparison_frame, visit_heading
from core.store import ValidationError, repository
from core.summary import NOT_A_DIAGNOSIS
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, escape_markdown, hours_text, label
from dashboard.widgets import chrome

patient = state.require_patient("Compare two visits")

chrome.back_to_patient(patient)
st.title("Compare two visits")
chrome.patient_caption(patient)
chrome.demo_patient_note(patient)

with state.session() as s:
    visits = [(v.id, v.visit_date, v.medication_state, v.hours_since_dose) for v in repository.list_visits(s, patient.id)]
visits.sort(key=lambda v: (v[1], v[0]))  # oldest first
if len(visits) < 2:
    n = len(visits)
    st.info(f"This patient has {n} {'visit' if n == 1 else 'visits'}: a comparison needs two.")
    st.stop()

labels = {vid: f"{day.isoformat()} (medication {label(MEDICATION_LABELS, med)})" for vid, day, med, _ in visits}
ids = [v[0] for v in visits]


def _default(name: str, fallback: int) -> int:
    wanted = state.id_from_query(name)
    return ids.index(wanted) if wanted in ids else fallback


left, right = st.columns(2)
first_id = left.selectbox("Earlier visit", ids, index=_default("first", len(ids) - 2), format_func=labels.get,
                          key="compare_first")
second_id = right.selectbox("Later visit", ids, index=_default("second", len(ids) - 1), format_func=labels.get,
                            key="compare_second")
if first_id == second_id:
    st.info("Choose two different visits.")
    st.stop()

try:
    with state.session() as s:
        comparison = compare_visits(s, first_id, second_id)
except ValidationError as problem:
    st.error(escape_markdown(str(problem)))
    st.stop()

first, second = comparison.first, comparison.second
days = comparison.days_between
flagged = comparison.flagged
st.markdown(f"**{days} {'day' if days == 1 else 'days'} apart.** "
            + (f"{len(flagged)} {'change counts' if len(flagged) == 1 else 'changes count'} "
               "(beyond the published threshold or the patient's normal variation)."
               if flagged else "No change beyond the published thresholds or the patient's normal variation."))

columns = st.columns(2)
for column, snap in zip(columns, (first, second)):
    with column.container(border=True):
        st.markdown(f"**{escape_markdown(visit_heading(snap))}**")
        hours = hours_text(snap.hours_since_dose)
        st.caption(f"Medication {label(MEDICATION_LABELS, snap.medication_state)}"
                   + (f", {hours} since the last dose" if hours else ""))
        score = snap.fused["probability"] if snap.fused else None
        st.metric("Visit score", "not scored" if score is None else f"{score:.2f}")
        st.caption(snap.part3.text if snap.part3 else "")
st.caption(NOT_A_DIAGNOSIS)

if flagged:
    st.subheader("Changes that count")
    for row in flagged:
        st.markdown(escape_markdown(f"{row.label}: {row.verdict}, {row.value_text(row.first)} to "
                                    f"{row.value_text(row.second)} ({row.change_text}; counts from "
                                    f"{row.threshold:.3g}, {row.method})"))

st.subheader("Side by side")
frame = comparison_frame(comparison)
for kind, title in (("Score", "Scores"), ("Rating", "Clinician ratings"), ("Measure", "Measures")):
    part = frame[frame["What"] == kind].drop(columns="What")
    if part.empty:
        continue
    st.markdown(f"**{title}**")
    st.dataframe(part, hide_index=True, width="stretch")
st.caption("A change counts when it is larger than the published threshold of the measure or rating (MCID, RCI, "
           "MDC95) or, without one, than the normal variation of the patient's own first 3 visits; 'not judged': "
           "neither exists yet. Scores are decision support, not a diagnosis.")
