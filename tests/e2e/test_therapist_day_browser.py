"""A therapist's clinic day in a real Chromium against the real server (dashboard/server.py):
sign in, reload (still signed in), refuse a birth date in the future, create a patient and a
visit, upload several clips (a real public vowel, a synthetic near-silent retake that fails its
quality check, a synthetic finger-tapping clip labelled with the wrong hand), see that the
results name the clip that counts, find the one current visit score on results, ratings, the
PDF, the CSV and FHIR, correct the visit, relabel the clip's side, log out; the next user lands on
the patients list. Every step leaves a screenshot in tmp_path/screenshots. Synthetic people only;
the vowel is a public recording (Iyer 2023, tests/fixtures/voice/README.md)."""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.synthetic.hand import write_tapping_clip
from tests.e2e.conftest import choose_option, sign_in, start_dashboard, stop_dashboard, wait_until_idle
from tests.fixtures.voice.synth import write_audio

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))
PATIENT = "Synthetic Therapist-Day Patient"
MRN = "SYN-DAY-0001"
THERAPIST = ("therapist", "Synthetic Therapist", "another-long-password")


def heading(page, name: str):
    return page.get_by_role("heading", name=name, exact=True)


def textbox(page, name: str):
    return page.get_by_role("textbox", name=name, exact=True)


def shot(page, folder: Path, name: str) -> None:
    wait_until_idle(page, timeout_ms=120_000)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def download(page, button: str) -> bytes:
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=re.compile(re.escape(button))).click()
    return Path(info.value.path()).read_bytes()


def prepare_and_download(page, prepare: str, title: str) -> bytes:
    page.get_by_role("button", name=prepare).click()
    wait_until_idle(page, timeout_ms=60_000)
    return download(page, f"Download {title}")


def current_visit_score(database_url: str):
    from core.store import Visit, close_store, open_store, transaction
    from core.visits import current_visit_score as current

    with transaction(open_store(database_url)) as s:
        visit = s.scalar(select(Visit))
        score = current(s, visit.id)
        result = (visit.id, score.id if score else None, score.probability if score else None)
    close_store(database_url)
    return result


def clinic_with_two_accounts(data_dir: Path) -> str:
    from core.store import close_store, open_store, repository, transaction
    from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'clinic.sqlite'}"
    with transaction(open_store(url)) as s:
        admin = repository.create_clinician(s, None, username=ADMIN_USERNAME, display_name="Synthetic Admin",
                                            password=ADMIN_PASSWORD, role="admin")
        repository.create_clinician(s, admin, username=THERAPIST[0], display_name=THERAPIST[1],
                                    password=THERAPIST[2], role="clinician")
    close_store(url)
    return url


def test_a_therapists_day(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    url = clinic_with_two_accounts(data_dir)
    clips = tmp_path / "phone"
    clips.mkdir()
    shutil.copy(VOWEL, clips / "vowel.wav")
    write_audio(clips / "vowel retake.wav", 1e-5 * np.random.default_rng(3).standard_normal(4 * 16000), 16000,
                channels=1)  # synthetic near-silence: fails its quality check
    write_tapping_clip(clips / "tapping right.mp4", seconds=10.0)  # synthetic; really the left hand
    server = start_dashboard(data_dir)
    page.set_default_timeout(30_000)
    try:
        # --- sign in, reload: still signed in
        page.goto(server.url)
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        sign_in(page)
        expect(heading(page, "Patients")).to_be_visible()
        page.reload()
        expect(heading(page, "Patients")).to_be_visible()
        expect(page.get_by_text("Signed in as Synthetic Admin")).to_be_visible()
        shot(page, screenshot_dir, "01-patients-after-reload")

        # --- new patient: a birth date in the future is refused and nothing is saved
        wait_until_idle(page)
        textbox(page, "MRN").fill(MRN)
        textbox(page, "Name").fill(PATIENT)
        textbox(page, "Birth date").fill("2090-01-01")
        page.get_by_role("button", name="Create patient").click()
        expect(page.get_by_text("Birth date cannot be in the future (2090-01-01).")).to_be_visible()
        expect(page.get_by_text("No patients yet", exact=False)).to_be_visible()
        shot(page, screenshot_dir, "02-birth-date-refused")
        textbox(page, "Birth date").fill("1950-04-02")
        page.get_by_role("button", name="Create patient").click()
        expect(heading(page, PATIENT)).to_be_visible()
        expect(page.get_by_text(f"Patient {MRN} created.")).to_be_visible()

        # --- a visit
        wait_until_idle(page)
        textbox(page, "Visit date").fill("2024-06-01")
        page.get_by_role("button", name="Create visit").click()
        expect(heading(page, "Visit of 2024-06-01")).to_be_visible()

        # --- upload three clips at once
        page.get_by_role("link", name="Record or upload clips for this visit").click()
        expect(heading(page, "Capture: visit of 2024-06-01")).to_be_visible()
        wait_until_idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            [clips / "vowel.wav", clips / "vowel retake.wav", clips / "tapping right.mp4"])
        add = page.get_by_role("button", name="Add 3 files to the visit")
        expect(add).to_be_visible()
        wait_until_idle(page)
        tasks = page.get_by_role("combobox", name="Task", exact=True)
        assert [tasks.nth(i).input_value() for i in range(3)] == ["Sustained vowel /a/"] * 2 + ["Finger tapping (3.4)"]
        shot(page, screenshot_dir, "03-upload-choices")
        add.click()
        expect(page.get_by_text("Last upload")).to_be_visible(timeout=180_000)
        # pdlens notices the wrong side itself (said in the checklist and the upload's outcome lines)
        expect(page.get_by_text("The camera sees the left hand, but the right hand was chosen", exact=False)
               .filter(visible=True).first).to_be_visible()
        shot(page, screenshot_dir, "04-upload-outcomes")
        visit_id, first_score_id, _ = current_visit_score(url)
        assert first_score_id is not None

        # --- results: the clip that counts is named; the wrongly sided clip needs a retake
        page.goto(f"{server.url}/results?visit={visit_id}")
        expect(heading(page, "Results of the visit of 2024-06-01")).to_be_visible()
        expect(page.get_by_text(re.compile(r"Counts: Sustained vowel /a/ - clip 1 .*passed its quality check"))
               ).to_be_visible()
        expect(page.get_by_text("1 other clip of this task, not counted")).to_have_count(2)  # vowel, tapping
        expect(page.get_by_text("No usable clip for this task: it needs a retake", exact=False)).to_be_visible()
        shot(page, screenshot_dir, "05-results-before-relabel")

        # --- relabel the tapping clip to the left hand (analysed again) and correct the visit
        page.goto(f"{server.url}/visit?visit={visit_id}")
        expect(heading(page, "Visit of 2024-06-01")).to_be_visible()
        wait_until_idle(page)
        page.get_by_text("Correct a clip", exact=False).click()
        choose_option(page, page.get_by_role("combobox", name="Clip"),
                      re.compile(r"Finger tapping \(3\.4\), right - clip 3"))
        wait_until_idle(page)
        side = page.get_by_role("combobox", name="Side (finger tapping and tremor)")
        # the relabel form shows the chosen clip's labels once the page has run again for it
        expect(page.get_by_role("combobox", name="Task", exact=True)).to_have_value("Finger tapping (3.4)")
        expect(side).to_have_value("Right hand")
        wait_until_idle(page)
        side.click()
        page.keyboard.type("Left hand")
        page.keyboard.press("Enter")
        expect(side).to_have_value("Left hand")
        page.get_by_role("button", name="Relabel and analyse again").click()
        expect(page.get_by_text("The clip was relabelled and analysed again.")).to_be_visible(timeout=120_000)
        wait_until_idle(page)
        page.get_by_text("Correct visit details").click()
        page.get_by_role("textbox", name="Notes").fill("Synthetic note: patient tired <b>today</b>")
        page.get_by_role("button", name="Save visit details").click()
        expect(page.get_by_text("Visit details saved")).to_be_visible()
        # shown as plain text (st.text), the markup literal; the form's text area may hold it too
        expect(page.get_by_test_id("stText").get_by_text("Synthetic note: patient tired <b>today</b>")).to_be_visible()
        shot(page, screenshot_dir, "06-visit-corrected")
        _, score_id, probability = current_visit_score(url)
        assert score_id != first_score_id  # scored again; the earlier score is kept as history

        page.goto(f"{server.url}/results?visit={visit_id}")
        expect(page.get_by_text(re.compile(r"Counts: Finger tapping \(3\.4\), left - clip 3"))).to_be_visible()
        shown = f"{probability:.2f}" if probability is not None else "not scored"
        expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text(shown)
        shot(page, screenshot_dir, "07-results")

        # --- ratings and trends show the same current score
        page.goto(f"{server.url}/ratings?visit={visit_id}")
        expect(page.get_by_role("heading", name=re.compile("Clinician ratings"))).to_be_visible()
        shot(page, screenshot_dir, "08-ratings")
        page.goto(f"{server.url}/trends?patient=1")
        expect(page.get_by_role("heading", name=re.compile("Trends"))).to_be_visible()
        shot(page, screenshot_dir, "09-trends")

        # --- reports: PDF, CSV and FHIR hold the one current score
        page.goto(f"{server.url}/reports?patient=1")
        expect(heading(page, "Reports and exports")).to_be_visible()
        wait_until_idle(page)
        pdf = prepare_and_download(page, "Prepare PDF report", "PDF report")
        csv = prepare_and_download(page, "Prepare CSV", "CSV").decode()
        fhir = json.loads(prepare_and_download(page, "Prepare FHIR JSON", "FHIR R4 Bundle"))
        shot(page, screenshot_dir, "10-reports")
        from core.reports import read_export_csv

        table = read_export_csv(io.StringIO(csv))
        fused = table[(table["kind"] == "score") & (table["model_name"] == "fused")]
        observations = [e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "Observation"]
        visit_scores = [o for o in observations if "fused" in json.dumps(o["code"])]
        if probability is None:
            assert fused.empty
        else:
            assert fused["value"].tolist() == [pytest.approx(probability)]
            from pypdf import PdfReader

            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            assert f"{probability:.2f}" in text
            assert len(visit_scores) == 1

        # --- log out on a patient page; the next user lands on the patients list
        page.goto(f"{server.url}/patient?patient=1")
        expect(heading(page, PATIENT)).to_be_visible()
        wait_until_idle(page)
        page.get_by_role("button", name="Log out").click()
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        sign_in(page, THERAPIST[0], THERAPIST[2])
        expect(heading(page, "Patients")).to_be_visible()
        expect(page).not_to_have_url(re.compile(r"patient=1"))
        expect(page.get_by_text(f"Signed in as {THERAPIST[1]}")).to_be_visible()
        shot(page, screenshot_dir, "09-next-user")
    except BaseException:
        page.screenshot(path=screenshot_dir / "failure.png", full_page=True)
        print(server.log()[-6000:])
        raise
    finally:
        stop_dashboard(server.process)
