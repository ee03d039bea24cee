"""`python -m core.cli export` in its three formats on a real SQLite store holding the synthetic
clinic of tests/core/trends_synthetic.py (no patient data): the same content as the Reports
page, one current visit score per visit, de-identification, audit, clear failures."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from core import cli
from core.reports import export_chunks, read_export_csv, write_csv
from core.store import AuditEvent, open_store, transaction
from tests.core.trends_synthetic import PATIENT, VISITS

ROOT = Path(__file__).resolve().parents[2]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(argv)
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_csv_is_the_reports_page_table_with_one_visit_score_per_visit(clinic, tmp_path):
    url, ids = clinic
    out = tmp_path / "clinic.csv"
    code, said, _ = run(["export", "--format", "csv", "--database-url", url, "--clinician", "admin", str(out)])
    assert code == 0 and said.startswith("Wrote ")
    with transaction(open_store(url)) as s:
        page = io.StringIO()
        write_csv(export_chunks(s), page)
    assert out.read_text() == page.getvalue()
    table = read_export_csv(out)
    fused = table[(table["kind"] == "score") & (table["model_name"] == "fused")]
    assert len(fused) == VISITS and fused["visit_id"].is_unique
    assert PATIENT["mrn"] in set(table["mrn"])
    with transaction(open_store(url)) as s:
        audit = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "export")).all()
    assert audit == ["kind=csv scope=clinic deidentified=no via=cli"]


def test_parquet_for_one_patient_deidentified(clinic, tmp_path):
    url, ids = clinic
    out = tmp_path / "one.parquet"
    code, _, _ = run(["export", "--format", "parquet", "--patient", PATIENT["mrn"].lower(), "--deidentified",
                      "--database-url", url, str(out)])
    assert code == 0
    frame = pd.read_parquet(out)
    assert len(frame) > 0 and frame["pseudonym"].nunique() == 1
    assert not {"mrn", "name", "birth_date"} & set(frame.columns)
    assert PATIENT["name"] not in out.read_bytes().decode("latin-1")


def test_fhir_one_bundle_or_one_per_line_for_the_clinic(clinic, tmp_path):
    url, ids = clinic
    one = tmp_path / "one.fhir.json"
    assert run(["export", "--format", "fhir", "--patient", PATIENT["mrn"], "--database-url", url, str(one)])[0] == 0
    bundle = json.loads(one.read_text())
    assert bundle["resourceType"] == "Bundle"
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    fused = [o for o in observations if "fused" in json.dumps(o["code"]).lower()
             or "combined" in json.dumps(o["code"]).lower()]
    assert len({o["effectiveDateTime"] for o in fused}) == len(fused) == VISITS  # one score per visit
    everyone = tmp_path / "clinic.ndjson"
    code, said, _ = run(["export", "--format", "fhir", "--deidentified", "--database-url", url, str(everyone)])
    assert code == 0 and said.startswith("Wrote 2 bundles")
    lines = everyone.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["resourceType"] == "Bundle" for line in lines)
    assert PATIENT["mrn"] not in everyone.read_text() and PATIENT["name"] not in everyone.read_text()


def test_unknown_patient_fails_clearly_and_writes_nothing(clinic, tmp_path):
    url, _ = clinic
    out = tmp_path / "none.csv"
    code, _, err = run(["export", "--format", "csv", "--patient", "NO-SUCH", "--database-url", url, str(out)])
    assert code == 2 and err.strip() == "export failed: No patient with this MRN."
    assert list(tmp_path.glob("*.csv")) == [] and list(tmp_path.glob(".export-*")) == []


def test_the_module_runs_as_a_command(clinic, tmp_path):
    url, _ = clinic
    out = tmp_path / "c.csv"
    done = subprocess.run([sys.executable, "-m", "core.cli", "export", "--format", "csv", "--database-url", url,
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert PATIENT["name"] not in done.stdout + done.stderr  # names go to the file only
