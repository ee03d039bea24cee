"""Capture in a real Chromium against the real dashboard server (synthetic clinic, public vowel
recording, clips built from the real hand photo; no patient data).

* Upload through the page: several files at once with `set_input_files`, task and side guessed
  from the names, per-file results (stored / already on this visit / failed with the reason).
* WebRTC recording: Chromium with fake media devices fed from a wav (the real vowel fixture) and
  a y4m (the real hand photo with a warped tapping thumb) records a voice clip and a movement
  clip through the page; both are found stored, analysed and shown on the visit. While each one
  records, the page's live readout is read every 0.25 s: the taps so far grow while the fake
  camera plays the tapping hand, and the vowel's pitch so far is shown (no extra recording time). WebRTC needs a
  non-127.0.0.1 address (DESIGN.md), so the server and the browser run inside a loopback-only
  network namespace: this file re-runs itself there as a script
  (`unshare --net sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && python THIS record OUT'`).

Both run the real dashboard/app.py and open the capture page by its address
(/capture?visit=ID: the sign-in form, then the page).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:  # when run as a script inside the namespace
    sys.path.insert(0, str(PROJECT_ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    sign_in,
    start_dashboard,
    stop_dashboard,
    synthetic_clinic,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOICE = PROJECT_ROOT / "tests" / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))  # public recording (Iyer 2023)
WEBRTC_TIMEOUT_S = 420


# ---------------------------------------------------------------- shared set-up

def start_server(data_dir: Path):
    """The real dashboard on a free port with its own data dir (no ICE servers: a clinic LAN)."""
    return start_dashboard(data_dir, env={"PDLENS_RTC_CONFIGURATION": '{"iceServers": []}'})


def sign_in_and_open_capture(page, url: str, visit_id: int) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/capture?visit={visit_id}")
    sign_in(page)
    # the first page run of a fresh server imports the analysis stack: more than the default 5 s
    expect(page.get_by_role("heading", name="Capture: visit of 2024-06-01")).to_be_visible(timeout=30_000)
    wait_until_idle(page)


def recordings(db_url: str) -> list[dict]:
    from sqlalchemy import select

    from core.store import Assessment, Recording, close_store, open_store, transaction

    with transaction(open_store(db_url)) as s:
        rows = []
        for r in s.scalars(select(Recording).order_by(Recording.id)):
            a = s.scalars(select(Assessment).where(Assessment.recording_id == r.id)).first()
            rows.append({"task": r.task, "side": r.side, "source": r.source, "status": r.status,
                         "format": r.format, "duration_s": r.duration_s, "stored_path": r.stored_path,
                         "measures": len(a.measures) if a else 0, "assessed": a is not None})
    close_store(db_url)
    return rows


def grid_cells(page, showing: str) -> list[str]:
    """The text of every table cell on the page, once a cell shows `showing`. The grids draw on
    a canvas and fill their offscreen cell table (what this reads) a moment later."""
    cells = page.locator('[data-testid="stDataFrame"] td')
    cells.filter(has_text=showing).first.wait_for(state="attached")
    return [t.strip() for t in cells.all_inner_texts()]


# ---------------------------------------------------------------- upload through the page

def test_upload_several_files_through_the_page(chromium, tmp_path):
    from playwright.sync_api import expect

    data_dir = tmp_path / "data"
    clinic = synthetic_clinic(data_dir)
    files = tmp_path / "phone"
    files.mkdir()
    shutil.copy(PD_VOWEL, files / "vowel.wav")
    shutil.copy(PD_VOWEL, files / "vowel again.wav")  # the same content under another name
    (files / "tap_L.mp4").write_bytes(b"this is a text file renamed to mp4\n" * 20)
    server = start_server(data_dir)
    context = chromium.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_and_open_capture(page, server.url, clinic.visit_id)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            [files / "vowel.wav", files / "vowel again.wav", files / "tap_L.mp4"])
        expect(page.get_by_role("button", name="Add 3 files to the visit")).to_be_visible()
        wait_until_idle(page)
        # one labelled task (and side) choice per file, guessed from the names
        tasks = page.get_by_role("combobox", name="Task", exact=True)
        expect(tasks).to_have_count(3)
        assert [tasks.nth(i).input_value() for i in range(3)] == ["Sustained vowel /a/"] * 2 + ["Finger tapping (3.4)"]
        sides = page.get_by_role("combobox", name="Side", exact=True)
        assert [sides.nth(i).input_value() for i in range(3)] == ["No side for this task"] * 2 + ["Left hand"]
        expect(page.get_by_role("combobox", name="Task for every file")).to_be_visible()  # "apply to all"
        page.get_by_role("button", name="Add 3 files to the visit").click()
        expect(page.get_by_text("Added to the visit")).to_be_visible(timeout=120_000)
        wait_until_idle(page, timeout_ms=120_000)
        page.screenshot(path=tmp_path / "upload-results.png", full_page=True)
        cells = grid_cells(page, "Already on this visit")
        assert "Stored" in cells and "Already on this visit" in cells, cells
        assert any("already on this visit" in c for c in cells)
        # the file that failed stays listed with its reason, ready to be corrected or removed
        expect(page.get_by_text("not a supported audio or video file", exact=False)).to_be_visible()
        expect(page.get_by_role("button", name="Add 1 file to the visit")).to_be_visible()
        expect(page.get_by_text("1 of 7 tasks analysed").or_(page.get_by_text("0 of 7 tasks analysed"))).to_be_visible()
    except BaseException:
        page.screenshot(path=tmp_path / "failure.png", full_page=True)
        print(server.log()[-4000:])
        raise
    finally:
        context.close()
        stop_dashboard(server.process)
    rows = recordings(clinic.database_url)
    assert [(r["task"], r["source"], r["format"]) for r in rows] == [("vowel", "upload", "wav")]
    assert rows[0]["assessed"] and rows[0]["measures"] > 5
    stored = [p for p in (data_dir / "recordings").rglob("*") if p.is_file() and "tmp" not in p.relative_to(data_dir).parts]
    assert [p.suffix for p in stored] == [".wav"]  # one file: no copy of the duplicate, nothing of the bad one


# ---------------------------------------------------------------- WebRTC recording (namespace)

def write_fake_media(folder: Path) -> tuple[Path, Path]:
    """The wav (real vowel, 48 kHz 16-bit mono) and the y4m (640x480, 30 fps, 4 s: ten 2.5 Hz
    taps, so Chromium's loop is seamless) that Chromium's fake devices play."""
    import soundfile
    from scipy.signal import resample_poly

    from core.media.audio import load_audio
    from tests.fixtures.movement.clips import tapping_frames

    samples, _ = load_audio(PD_VOWEL)
    wav = folder / "fake_voice.wav"
    soundfile.write(wav, resample_poly(samples, 3, 1).astype(np.float32), 48000, subtype="PCM_16")
    import cv2

    y4m = folder / "fake_hand.y4m"
    with open(y4m, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        for _t, rgb in tapping_frames(seconds=4.0, fps=30.0):
            out.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return wav, y4m


def live_readouts_until(page, done, label: str, timeout_s: float = 180.0) -> tuple[list[str], float | None]:
    """While recording: the distinct texts of the live readout line (the one with `label`), read
    every 0.25 s until `done` (a locator) is visible; and the seconds from the end of the
    recording (the last readout before the page says the clip is being finished or saved) to
    `done` (informational: the Stop-to-result a therapist sees, within about 0.5 s)."""
    import time

    line = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=re.compile(f"Live:.*{label}"))
    seen: list[str] = []
    recording_seen_at = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done.count() and done.first.is_visible():
            break
        try:
            if line.count():
                text = line.first.inner_text(timeout=1000).strip()
                if text and (not seen or seen[-1] != text):
                    seen.append(text)
                if text and "finishing the last" not in text and page.get_by_text("Recording 00:").count():
                    recording_seen_at = time.monotonic()
        except Exception:  # the line is replaced between count and read: read again
            pass
        page.wait_for_timeout(250)
    return seen, (time.monotonic() - recording_seen_at) if recording_seen_at else None


def record_task(page, visit_id: int, slot_key: str, what: str, seconds: int, shots: Path,
                live_label: str = "") -> dict:
    from playwright.sync_api import expect

    page.locator(f'.st-key-choose-{visit_id}-{slot_key} button').first.click()
    wait_until_idle(page)
    component = page.frame_locator('iframe[title*="webrtc"]').first
    component.get_by_role("button", name=f"Start {what}").click()
    record = page.get_by_role("button", name=f"Record {seconds} s")
    expect(record).to_be_visible(timeout=60_000)  # connected: the page offers to record
    page.wait_for_timeout(1500)  # a moment of live preview (level meter / overlay)
    page.screenshot(path=shots / f"{slot_key}-live.png", full_page=True)
    record.click()
    expect(page.get_by_text("Recording 00:0")).to_be_visible(timeout=30_000)  # the timer runs
    message = page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]')
    saved = message.filter(has_text="analys").or_(message.filter(has_text="quality check"))
    live, stop_to_result = live_readouts_until(page, saved, live_label) if live_label else ([], None)
    expect(saved).to_be_visible(timeout=180_000)
    page.screenshot(path=shots / f"{slot_key}-saved.png", full_page=True)
    component.get_by_role("button", name=f"Stop {what}").click()  # the live preview ends, the run too
    wait_until_idle(page, timeout_ms=60_000)
    return {"live": live, "stop_to_result_s": stop_to_result}


def back_to_visit(page, attempts: int = 3) -> None:
    """Follow the capture page's link back to the visit. A click that lands while the page is
    still finishing the run the Stop button started can be lost (seen once in a full run), so
    the click is repeated, each time after the page went idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        wait_until_idle(page, timeout_ms=60_000)
        page.get_by_role("link", name="Back to the visit").click()
        try:
            page.get_by_role("heading", name="Recordings").wait_for(timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def run_webrtc_session(out: Path) -> None:
    """Inside the network namespace: server + Chromium with fake devices, record two clips."""
    from playwright.sync_api import sync_playwright

    result: dict = {"ok": False}
    data_dir = out / "data"
    clinic = synthetic_clinic(data_dir)
    result["db_url"] = clinic.database_url
    wav, y4m = write_fake_media(out)
    server = start_server(data_dir)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + [
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection", f"--use-file-for-fake-audio-capture={wav}",
                f"--use-file-for-fake-video-capture={y4m}"])
            context = browser.new_context(viewport={"width": 1400, "height": 1400})
            context.grant_permissions(["microphone", "camera"])
            context.set_default_timeout(30_000)
            page = context.new_page()
            try:
                sign_in_and_open_capture(page, server.url, clinic.visit_id)
                result["vowel"] = record_task(page, clinic.visit_id, "vowel", "microphone", 5, out, "Pitch")
                result["tapping"] = record_task(page, clinic.visit_id, "finger_tapping_left", "camera", 10, out,
                                                "Taps so far")
                back_to_visit(page)
                wait_until_idle(page)
                page.screenshot(path=out / "visit.png", full_page=True)
                result["visit_cells"] = grid_cells(page, "Finger tapping (3.4)")
                result["ok"] = True
            except BaseException:
                page.screenshot(path=out / "failure.png", full_page=True)
                raise
            finally:
                browser.close()
    except BaseException:
        result["error"] = traceback.format_exc()
    finally:
        stop_dashboard(server.process)
        result["server_log_tail"] = server.log()[-6000:]
        (out / "result.json").write_text(json.dumps(result, indent=2))


def test_voice_and_movement_recorded_in_the_browser_are_stored_analysed_and_shown(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not Path(CHROMIUM).exists():
        pytest.skip("needs root, unshare and /usr/bin/chromium for the loopback-only namespace (DESIGN.md)")
    inner = (f"ip link set lo up && ip addr add 127.0.0.2/8 dev lo && "
             f"exec {sys.executable} {Path(__file__)} record {tmp_path}")
    proc = subprocess.run(["unshare", "--net", "sh", "-c", inner], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=WEBRTC_TIMEOUT_S)
    result_file = tmp_path / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert result["ok"], result.get("error", "") + "\n--- server log ---\n" + result["server_log_tail"]
    rows = recordings(result["db_url"])
    assert [(r["task"], r["side"], r["source"], r["format"]) for r in rows] == [
        ("vowel", None, "browser", "wav"), ("finger_tapping", "left", "browser", "mp4")]
    vowel, tapping = rows
    assert vowel["duration_s"] == pytest.approx(5.0, abs=0.1)  # the timer stopped at the task's target
    assert tapping["duration_s"] == pytest.approx(10.0, abs=0.5)
    assert all(r["assessed"] and r["status"] in ("analysed", "needs_retake") for r in rows)
    assert vowel["measures"] > 5
    assert (tmp_path / "data" / tapping["stored_path"]).is_file()
    # the live readout changed while the fake camera played the tapping hand: taps so far grew
    taps = [int(m.group(1)) for text in result["tapping"]["live"] if (m := re.search(r"Taps so far: (\d+)", text))]
    assert len(set(taps)) >= 2 and taps == sorted(taps) and taps[-1] > taps[0], result["tapping"]["live"]
    assert any(re.search(r"Rate: \d+\.\d+ Hz", text) for text in result["tapping"]["live"]), result["tapping"]["live"]
    # and the vowel's pitch so far while the fake microphone played the vowel
    assert any(re.search(r"Pitch: \d+(\.\d+)? Hz", text) for text in result["vowel"]["live"]), result["vowel"]["live"]
    print("live readouts (last):", result["tapping"]["live"][-4:], result["vowel"]["live"][-2:])
    print("server log, live:", [line for line in result["server_log_tail"].splitlines() if "live" in line.lower()])
    print("Stop -> result on screen (about):", result["tapping"]["stop_to_result_s"], "s (tapping),",
          result["vowel"]["stop_to_result_s"], "s (vowel)")
    assert "live landmarks not used" not in result["server_log_tail"]
    cells = result["visit_cells"]  # the Visit page's recordings table
    assert "Sustained vowel /a/" in cells and "Finger tapping (3.4)" in cells, cells
    assert cells.count("yes") == 2, cells  # both count; their source ("browser") is checked in the rows above


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "record":
    run_webrtc_session(Path(sys.argv[2]))
