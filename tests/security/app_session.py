"""A whole clinic session of the real dashboard (AppTest), run as its own process by
test_no_patient_data_in_logs.py so that everything it prints or logs can be captured:
`python -m tests.security.app_session DATA_DIR UPLOAD_FILE BAD_FILE`.

Every logger is set to DEBUG and writes to stderr. A synthetic patient (tests.security.conftest:
SECRET_NAME in the name, MRN and notes) is created, then the clinician signs in, searches,
opens the patient and the visit, uploads a real clip and a bad file whose names contain the
patient's name, opens results, ratings, trends, reports (PDF and CSV), overview and
administration. Prints SESSION-OK at the end."""
from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path


def main(data_dir: Path, upload: Path, bad: Path) -> None:
    os.environ.update({"PDLENS_DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'clinic.sqlite'}",
                       "PDLENS_DEMO_DATABASE_URL": f"sqlite:///{data_dir / 'demo.sqlite'}",
                       "PDLENS_BCRYPT_ROUNDS": "4"})
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)

    from streamlit.testing.v1 import AppTest

    from core.store import open_store, repository, transaction
    from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in
    from tests.security.conftest import SECRET_NAME, actor

    sessions = open_store(os.environ["DATABASE_URL"])
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, role="admin", **ADMIN)
        patient = repository.create_patient(s, admin, mrn="ZYXW-SECRET", name=SECRET_NAME, birth_date=date(1950, 5, 6),
                                            sex="female", diagnosis="pd", more_affected_side="left")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2025, 1, 2), medication_state="off",
                                        notes=f"Synthetic note about {SECRET_NAME}")
        repository.set_rating(s, admin, visit.id, "3.1", None, 1)
        patient_id, visit_id = patient.id, visit.id

    at = sign_in(AppTest.from_file(str(APP), default_timeout=120))
    at.text_input(key="patient_search").input(SECRET_NAME.split()[0]).run()
    open_page(at, "views/patient.py", patient=patient_id)
    open_page(at, "views/visit.py", visit=visit_id)
    open_page(at, "views/capture.py", visit=visit_id)
    at.file_uploader[0].set_value([(upload.name, upload.read_bytes(), "audio/wav"),
                                   (bad.name, bad.read_bytes(), "audio/wav")])
    at.run()
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("upload-go-"))).click()
    at.run()
    for page, query in (("views/results.py", {"visit": visit_id}), ("views/ratings.py", {"visit": visit_id}),
                        ("views/trends.py", {"patient": patient_id}), ("views/reports.py", {"patient": patient_id})):
        open_page(at, page, **query)
    at.button(key="reports_prepare_pdf").click()
    at.run()
    at.button(key="reports_prepare_csv").click()
    at.run()
    open_page(at, "views/overview.py")
    open_page(at, "views/admin.py")
    assert not at.exception, [e.value for e in at.exception]
    with transaction(sessions) as s:
        recordings = repository.list_recordings(s, visit_id)
        assert len(recordings) == 1, "the real clip is stored, the bad file is not"
        assert repository.list_audit(s, actor(s), 1)
    print("SESSION-OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
