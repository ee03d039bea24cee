"""User text is never interpreted: a patient whose name, MRN, notes and clip file name are full
of HTML, script, markdown, Streamlit colour directives and LaTeX is shown on every page of the
real dashboard (AppTest, real SQLite) only through escaped markdown or plain-text elements; the
PDF report and the exports carry the text literally; no code passes user text to
unsafe_allow_html or st.html. All data is synthetic."""
from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import reports
from core.store import open_store, transaction
from dashboard.formatting import escape_markdown
from tests.dashboard.conftest import APP, open_page, sign_in, texts
from tests.security.conftest import HOSTILE_FILE, HOSTILE_MRN, HOSTILE_NAME, HOSTILE_NOTES, SECRET_NAME
from tests.security.markdown_check import plain_strings, unescaped_user_text

ROOT = Path(__file__).resolve().parents[2]

def _page_ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    bad = unescaped_user_text(at)
    assert not bad, f"{where}: user text rendered as markdown: {bad}"


@pytest.mark.slow  # analyses a real clip, then opens every page
def test_every_page_shows_hostile_text_literally(clinic_with_clip):
    clinic = clinic_with_clip
    at = sign_in(AppTest.from_file(str(APP), default_timeout=90))
    escaped_name = escape_markdown(HOSTILE_NAME)

    # patients list: the name and MRN in the table (plain), a search for the hostile text
    open_page(at, "views/patients.py")
    _page_ok(at, "patients")
    assert HOSTILE_NAME in plain_strings(at) and HOSTILE_MRN in plain_strings(at)
    at.text_input(key="patient_search").input("<script>").run()
    _page_ok(at, "patients search")
    assert HOSTILE_NAME in plain_strings(at)

    pages = [
        ("views/patient.py", {"patient": clinic.patient_id}),
        ("views/visit.py", {"visit": clinic.visit_id}),
        ("views/capture.py", {"visit": clinic.visit_id}),
        ("views/results.py", {"visit": clinic.visit_id}),
        ("views/ratings.py", {"visit": clinic.visit_id}),
        ("views/trends.py", {"patient": clinic.patient_id}),
        ("views/reports.py", {"patient": clinic.patient_id}),
        ("views/compare.py", {"patient": clinic.patient_id}),
        ("views/overview.py", {}),
        ("views/admin.py", {}),
    ]
    for page, query in pages:
        open_page(at, page, **query)
        _page_ok(at, page)
        if query:  # a record page says whose record it is, escaped
            assert escaped_name in texts(at) or escaped_name in " ".join(t.value for t in at.title), page
    open_page(at, "views/visit.py", visit=clinic.visit_id)
    assert HOSTILE_NOTES in [t.value for t in at.text], "notes are shown as plain text"
    open_page(at, "views/results.py", visit=clinic.visit_id)
    assert "File: " + escape_markdown(HOSTILE_FILE) in texts(at)
    open_page(at, "views/overview.py")
    assert HOSTILE_NAME in plain_strings(at)  # the overdue follow-up table


def test_error_messages_quote_user_text_literally(clinic):
    """Messages that repeat what the user typed (a duplicate MRN) must not render it."""
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60))
    open_page(at, "views/patients.py")
    form = at.get("form")[0]
    form.text_input[0].input(HOSTILE_MRN)
    form.text_input[1].input("Synthetic Other")
    form.text_input[2].input("1950-01-01")  # the birth date, typed as text
    form.button[0].click()
    at.run()
    assert at.error, "a duplicate MRN gives a message"
    _page_ok(at, "duplicate MRN")
    assert "already exists" in at.error[0].value


def test_uploaded_file_names_are_shown_literally(clinic):
    """The upload results (progress, status lines, table) with hostile and odd file names."""
    at = sign_in(AppTest.from_file(str(APP), default_timeout=90))
    open_page(at, "views/capture.py", visit=clinic.visit_id)
    at.file_uploader[0].set_value([
        ("**bold** :red[x] $x^2$ <img src=x onerror=alert(1)> vowel.wav", b"this is text, not audio " * 8, "audio/wav"),
        ("[l](javascript:alert(1)) vowel.wav", b"", "audio/wav"),
    ])
    at.run()
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("upload-go-"))).click()
    at.run()
    _page_ok(at, "capture upload")
    shown = texts(at) + plain_strings(at)
    assert "not a supported audio or video file" in shown and "is empty" in shown


@pytest.mark.slow  # analyses a real clip
def test_pdf_and_exports_carry_user_text_literally(clinic_with_clip):
    from pypdf import PdfReader

    with transaction(open_store(clinic_with_clip.url)) as s:
        pdf = reports.patient_pdf(s, clinic_with_clip.patient_id).data
        fhir = reports.fhir_json(s, clinic_with_clip.patient_id, include_identity=True)
        chunks = reports.export_chunks(s, [clinic_with_clip.patient_id], deidentified=False)
        out = io.StringIO()
        reports.write_csv(chunks, out, False)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", " ", text)
    for fragment in (SECRET_NAME, "<script>alert(1)</script>", "**bold**", ":red[x]", "$x^2$"):
        assert fragment in flat, f"PDF lost or changed {fragment!r}"
    bundle = json.loads(fhir)
    assert HOSTILE_NAME in json.dumps(bundle, ensure_ascii=False)
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert HOSTILE_NAME in set(table.astype(str).to_numpy().ravel()), "the CSV round trip keeps the name as typed"


# The one exception: the sign-in form that POSTs the one-time ticket to the cookie route
# (dashboard/state.py `_post`; a page cannot set an HTTP-only cookie any other way). It renders
# dashboard.state.route_form_html, which refuses anything but URL-safe tokens (tested below).
ALLOWED_HTML_CALLS = {("dashboard/state.py", "st.html(route_form_html(action, fields), unsafe_allow_javascript=True)"),
                      ("dashboard/widgets/chrome.py", "st.markdown(PRINT_CSS, unsafe_allow_html=True)")}


def test_no_html_rendering_call_takes_user_text():
    """unsafe_allow_html / st.html / components.html are not used in the product code, but for
    two calls that take no user text: the sign-in route form (tokens only, tested below) and the
    print style sheet, a constant string literal (dashboard/widgets/chrome.py)."""
    import ast

    found = subprocess.run(["grep", "-rnE", r"unsafe_allow_html|st\.html\(|components\.v1|components\.html",
                            "dashboard", "core"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [line for line in found.splitlines() if not line.split(":", 2)[2].lstrip().startswith("#")]
    calls = {(line.split(":", 2)[0], line.split(":", 2)[2].strip()) for line in lines}
    assert calls == ALLOWED_HTML_CALLS, found
    assert len(lines) == len(ALLOWED_HTML_CALLS), found
    tree = ast.parse((ROOT / "dashboard" / "widgets" / "chrome.py").read_text())
    constant = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "PRINT_CSS" for t in node.targets)]
    assert len(constant) == 1 and isinstance(constant[0], ast.Constant) and isinstance(constant[0].value, str)
    assert constant[0].value.startswith("<style>") and constant[0].value.count("<") == 2  # <style> </style> only


def test_the_sign_in_route_form_takes_tokens_only():
    from dashboard import state, web

    html = state.route_form_html(web.SIGN_IN_PATH, {"ticket": "AbC-123_x", "database": "clinic"})
    assert 'name="ticket" value="AbC-123_x"' in html and 'action="/_pdlens/sign-in"' in html
    for hostile in ('"><script>alert(1)</script>', "**bold**", "a b", "x" * 101, SECRET_NAME):
        with pytest.raises(ValueError):
            state.route_form_html(web.SIGN_IN_PATH, {"ticket": hostile})
        with pytest.raises(ValueError):
            state.route_form_html(web.SIGN_IN_PATH, {hostile: "x"})
    with pytest.raises(ValueError):
        state.route_form_html("https://elsewhere.example/", {})


def _upload_panel_script():
    """The upload widget alone; the 'add' step refuses each file quoting its name, as add_clip does."""
    from core.capture import ClipOutcome
    from dashboard.widgets.upload import upload_panel

    upload_panel(1, lambda f, name, task, side, size: ClipOutcome(name, task, side, "failed",
                                                                  f"{name}: not a supported audio or video file."))


def test_upload_progress_and_status_lines_show_file_names_literally(clinic):
    """The page reruns right after an upload, so the progress and status lines (shown while files
    are analysed) are checked on the widget itself."""
    hostile_name = "**bold** :red[x] $x^2$ <img src=x onerror=alert(1)> vowel.wav"
    at = AppTest.from_function(_upload_panel_script, default_timeout=30).run()
    at.file_uploader[0].set_value([(hostile_name, b"RIFF....WAVEfmt ", "audio/wav")])
    at.run()
    at.button[0].click()
    at.run()
    _page_ok(at, "upload panel")
    assert escape_markdown(f"{hostile_name}: not a supported audio or video file.") in texts(at)
