"""Load: page response of the real dashboard server with many signed-in sessions at once while a
batch import runs (issue 14, Load).

Starts `streamlit run dashboard/server.py` on a free loopback port with a temporary data dir and
a SYNTHETIC clinic (an administrator, a few synthetic patients with a visit each), signs every
session in over HTTP through the server's cookie route (a one-time ticket from core.sessions, the
same call the sign-in page makes after the password check, exchanged at POST /_pdlens/sign-in for
the HTTP-only cookie), then drives the Streamlit websocket protocol directly (/_stcore/stream,
BackMsg rerun_script with a page name and query string, as the browser client sends on
navigation) with the `websockets` client. Each session opens, again and again, a patient's page,
that patient's visit results and their trends. A page open is timed from sending the rerun to the
ForwardMsg `script_finished`; it counts as an error unless the run finished normally, raised no
exception element and drew the page's expected heading (the patient's name, "Results of the visit
of <date>", "Trends · <name>").

Phases, in one run on one server: 1 session alone (the baseline), the same SESSIONS sessions at
once without an import (recorded in the data, to tell what the import itself adds), then SESSIONS
sessions at once while `python -m core.cli batch --manifest ...` imports short real voice
recordings (tests/fixtures/voice, each for every synthetic patient) in a subprocess: the headline.
The import adds voice results to the visits, so the results and trends pages draw more in that
phase than in the others. Bounded in time (each phase stops after DURATION s) and
count (at most OPENS page opens per session). Writes bench/results/load.json (--short: 5 sessions,
a few seconds, no batch; bench/results/short/).

    NUMBA_CACHE_DIR=/tmp/numba_cache .venv/bin/python bench/load.py [--sessions 20] [--duration 30] [--short]
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
# the browser tests' server start (flags from DESIGN.md, waits for /_stcore/health); stop_dashboard
# also ends the batch subprocess (terminate, then kill)
from tests.e2e.conftest import Dashboard as Server  # noqa: E402
from tests.e2e.conftest import start_dashboard, stop_dashboard  # noqa: E402

MEDIAN_TARGET_S = 1.0  # issue 14: median page response under 1 s on this machine
ADMIN, PASSWORD = "admin", "bench-load-password"
PATIENTS = 6  # x 4 fixture vowels: a batch import that lasts about as long as the loaded phase
VOICE_DIR = ROOT / "tests" / "fixtures" / "voice"
RUN_TIMEOUT_S = 60  # one page open that takes longer is an error


@dataclass
class Clinic:
    data_dir: Path
    database_url: str
    patients: list[tuple[int, str, str, int, str]]  # (patient id, mrn, name, visit id, visit date)


@dataclass
class Opens:
    times_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    by_page: dict[str, list[float]] = field(default_factory=dict)
    load_average_1min: float | None = None  # when the phase ended (other work on the machine slows it)


# ------------------------------------------------------------------------------ clinic and server


def make_clinic(data_dir: Path) -> Clinic:
    """The clinic database the server will serve: an administrator and PATIENTS synthetic
    patients with one visit each."""
    from core.config import settings
    from core.store import close_store, open_store, repository, transaction

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'clinic.sqlite'}"
    os.environ.update(PDLENS_DATA_DIR=str(data_dir), DATABASE_URL=url, PDLENS_BCRYPT_ROUNDS="4",
                      PDLENS_DEMO_DATABASE_URL=f"sqlite:///{data_dir / 'demo.sqlite'}")
    settings.cache_clear()
    patients = []
    with transaction(open_store(url)) as s:
        admin = repository.create_clinician(s, None, username=ADMIN, display_name="Bench Admin",
                                            password=PASSWORD, role="admin")
        for k in range(PATIENTS):
            mrn, name = f"SYN-LOAD-{k + 1}", f"Synthetic Load Patient {k + 1}"
            patient = repository.create_patient(s, admin, mrn=mrn, name=name, birth_date=date(1950 + k, 3, 3),
                                                sex="unknown", diagnosis="unknown", more_affected_side="unknown")
            visit_date = date(2024, 6, 1 + k)
            visit = repository.create_visit(s, admin, patient.id, visit_date=visit_date, medication_state="on")
            patients.append((patient.id, mrn, name, visit.id, visit_date.isoformat()))
    close_store(url)
    return Clinic(data_dir, url, patients)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def signed_in_cookie(server: Server) -> str:
    """A sign-in cookie the way the browser gets one: the password is checked (authenticate),
    a one-time ticket issued (what dashboard/state.sign_in does), and the ticket posted to the
    server's sign-in route, whose 303 answer sets the cookie."""
    from core import sessions
    from core.config import settings
    from core.store import open_store, repository, transaction

    with transaction(open_store(settings().database_url)) as s:
        clinician = repository.authenticate(s, ADMIN, PASSWORD)
        if clinician is None:
            raise RuntimeError("the bench administrator could not sign in")
        ticket = sessions.issue_ticket(s, clinician)
    body = urllib.parse.urlencode({"ticket": ticket, "database": "clinic", "next": "/"}).encode()
    request = urllib.request.Request(f"{server.url}/_pdlens/sign-in", data=body, method="POST",
                                     headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=30)
        raise RuntimeError("the sign-in route answered without a redirect")
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise RuntimeError(f"the sign-in route answered {answer.code}") from None
        cookies = [value.split(";", 1)[0] for value in answer.headers.get_all("Set-Cookie") or []]
    cookie = [c for c in cookies if c.startswith("pdlens_session=")]
    if not cookie:
        raise RuntimeError("the sign-in route set no cookie (ticket refused)")
    return cookie[0]


# ------------------------------------------------------------------------------ websocket sessions


def _pages(clinic: Clinic, k: int) -> list[tuple[str, str, str]]:
    """(page name, query string, expected heading) of the pages session k cycles through."""
    patient_id, _mrn, name, visit_id, visit_date = clinic.patients[k % len(clinic.patients)]
    return [("patient", f"patient={patient_id}", name),
            ("results", f"visit={visit_id}", f"Results of the visit of {visit_date}"),
            ("trends", f"patient={patient_id}", f"Trends · {name}")]


def _rerun(page_name: str, query: str, url: str) -> bytes:
    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = query
    state.page_name = page_name
    state.widget_states.SetInParent()
    state.context_info.timezone = "UTC"
    state.context_info.timezone_offset = 0
    state.context_info.locale = "en-US"
    state.context_info.url = f"{url}/{page_name}?{query}"
    return msg.SerializeToString()


def _headings(msg: ForwardMsg) -> list[str]:
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return []
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    if kind == "heading":
        return [element.heading.body]
    if kind == "exception":
        return [f"\x00exception {element.exception.type}"]
    return []


async def open_page(ws, page_name: str, query: str, expected: str, url: str) -> tuple[float, str | None]:
    """(seconds from the rerun request to script_finished, error or None)."""
    started = time.perf_counter()
    await ws.send(_rerun(page_name, query, url))
    headings: list[str] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=RUN_TIMEOUT_S)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        headings += _headings(msg)
        if msg.WhichOneof("type") == "script_finished":
            elapsed = time.perf_counter() - started
            status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if status == "FINISHED_EARLY_FOR_RERUN":
                continue  # st.switch_page/st.rerun inside the run: the real end comes later
            if status != "FINISHED_SUCCESSFULLY":
                return elapsed, f"{page_name}: {status}"
            if any(h.startswith("\x00exception") for h in headings):
                return elapsed, f"{page_name}: exception shown"
            if expected not in headings:
                return elapsed, f"{page_name}: expected heading missing"
            return elapsed, None


async def session(server: Server, clinic: Clinic, k: int, cookie: str, until: float, max_opens: int,
                  opens: Opens) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30,
                                      additional_headers={"Cookie": cookie, "Origin": server.url}) as ws:
            pages = _pages(clinic, k)
            # the first run of a new tab (the browser sends one on connect): not timed
            await open_page(ws, "", "", "Patients", server.url)
            n = 0
            while time.monotonic() < until and n < max_opens:
                page_name, query, expected = pages[n % len(pages)]
                elapsed, error = await open_page(ws, page_name, query, expected, server.url)
                opens.times_s.append(elapsed)
                opens.by_page.setdefault(page_name, []).append(elapsed)
                if error:
                    opens.errors.append(error)
                n += 1
    except Exception as exc:  # a dropped or refused connection is an error, not a crash of the bench
        opens.errors.append(f"session {k}: {type(exc).__name__}")


async def phase(server: Server, clinic: Clinic, cookies: list[str], duration_s: float, max_opens: int) -> Opens:
    opens = Opens()
    until = time.monotonic() + duration_s
    await asyncio.gather(*(session(server, clinic, k, cookie, until, max_opens, opens)
                           for k, cookie in enumerate(cookies)))
    opens.load_average_1min = round(os.getloadavg()[0], 2)
    return opens


# ------------------------------------------------------------------------------ batch import


def start_batch(clinic: Clinic, folder: Path, log_path: Path) -> subprocess.Popen:
    """`python -m core.cli batch --manifest` over the fixture vowels, each for every patient
    (one patient's file already on their record would be skipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    wavs = sorted(VOICE_DIR.glob("*.wav"))
    for i, wav in enumerate(wavs):
        shutil.copyfile(wav, folder / f"vowel_{i + 1}.wav")
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_mrn", "visit_date", "task", "side", "file"])
        for _pid, mrn, _name, _vid, _vdate in clinic.patients:
            for i in range(len(wavs)):
                writer.writerow([mrn, "2024-07-01", "vowel", "", f"vowel_{i + 1}.wav"])
    env = dict(os.environ, DATABASE_URL=clinic.database_url, PDLENS_DATA_DIR=str(clinic.data_dir),
               NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", "/tmp/numba_cache"))
    return subprocess.Popen([sys.executable, "-m", "core.cli", "batch", "--manifest", str(manifest),
                             "--clinician", ADMIN, "--database-url", clinic.database_url],
                            cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


# ------------------------------------------------------------------------------ the run


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _summary(opens: Opens) -> dict:
    return {"opens": len(opens.times_s), "errors": len(opens.errors), "error_kinds": sorted(set(opens.errors)),
            "median_s": statistics.median(opens.times_s) if opens.times_s else None,
            "p95_s": _p95(opens.times_s) if opens.times_s else None,
            "max_s": max(opens.times_s) if opens.times_s else None,
            "median_s_by_page": {page: statistics.median(times) for page, times in sorted(opens.by_page.items())},
            "load_average_1min_at_end": opens.load_average_1min}


def run(sessions: int, duration_s: float, max_opens: int, batch: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="pdlens-load-") as tmp:
        clinic = make_clinic(Path(tmp) / "data")
        server = start_dashboard(clinic.data_dir)
        batch_process = None
        try:
            cookies = [signed_in_cookie(server) for _ in range(sessions)]
            baseline = asyncio.run(phase(server, clinic, cookies[:1], duration_s, max_opens))
            batch_info: dict = {"ran": False}
            without_batch = None
            if batch:  # the same sessions without the import first: what the import itself adds
                without_batch = asyncio.run(phase(server, clinic, cookies, duration_s, max_opens))
                batch_process = start_batch(clinic, Path(tmp) / "import", Path(tmp) / "batch.log")
                batch_started = time.monotonic()
            loaded = asyncio.run(phase(server, clinic, cookies, duration_s, max_opens))
            if batch_process is not None:
                still_running = batch_process.poll() is None
                try:
                    code = batch_process.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    stop_dashboard(batch_process)
                    code = None
                batch_info = {"ran": True, "exit_code": code, "still_running_when_load_ended": still_running,
                              "seconds": round(time.monotonic() - batch_started, 1),
                              "summary_tail": (Path(tmp) / "batch.log").read_text(errors="replace")[-600:]}
        finally:
            if batch_process is not None:
                stop_dashboard(batch_process)
            stop_dashboard(server.process)
    return {"sessions": sessions, "duration_s": duration_s, "max_opens_per_session": max_opens,
            "baseline_1_session": _summary(baseline), "loaded": _summary(loaded),
            "same_sessions_without_batch": _summary(without_batch) if without_batch else None, "batch": batch_info}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--max-opens", type=int, default=60, help="page opens per session at most")
    add_short_flag(parser)
    args = parser.parse_args(argv)
    if args.short:
        args.sessions, args.duration, args.max_opens = 5, 4.0, 12
    data = run(args.sessions, args.duration, args.max_opens, batch=not args.short)
    base, loaded = data["baseline_1_session"], data["loaded"]
    under = f"{args.sessions} signed-in sessions" + (" during a batch import" if not args.short else "")
    figures = []
    if loaded["median_s"] is not None and base["median_s"] is not None:
        figures = [
            Figure(f"median page response, {under}", round(loaded["median_s"], 3), "s",
                   baseline="1 session alone, same server", baseline_value=round(base["median_s"], 3),
                   target=f"median < {MEDIAN_TARGET_S:g} s",
                   met=loaded["median_s"] < MEDIAN_TARGET_S and loaded["errors"] == 0),
            Figure(f"95th-percentile page response, {under}", round(loaded["p95_s"], 3), "s",
                   baseline="1 session alone, same server", baseline_value=round(base["p95_s"], 3)),
        ]
    path = write_result("load", data, figures, short=args.short)
    print(f"1 session: {base}\n{args.sessions} sessions: {loaded}\n"
          f"without batch: {data['same_sessions_without_batch']}\nbatch: {data['batch']}\n-> {path}")
    return 0 if loaded["errors"] == 0 and base["errors"] == 0 and loaded["opens"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
