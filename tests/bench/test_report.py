"""bench/report.py: the README's benchmark table is generated from the results files, and
bench/run.py finds the scripts and their variants itself. Small result files in tmp_path, written
by bench/common.py's own write_result."""
from __future__ import annotations

import json

import pytest

from bench import common, report, run

README = """# pdlens

## Benchmarks

How to run them.

<!-- bench-table:start -->
old table, typed by hand
<!-- bench-table:end -->

## Next section
"""


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A results folder with one current-format file (two figures), one written before
    bench/common.py (no figures) and one that is not JSON."""
    folder = tmp_path / "results"
    monkeypatch.setattr(common, "RESULTS_DIR", folder)
    common.write_result("landmarks", {"taps": 24}, [
        common.Figure("tapping analysis / MediaPipe | same frames", 7.479, "s", baseline="MediaPipe only",
                      baseline_value=7.044, target="ratio <= 1.2", met=True),
        common.Figure("tapping analysis / clip duration", 13.0, "s", baseline="clip duration",
                      baseline_value=10.0, target="ratio < 1", met=False),
    ])
    (folder / "explain.json").write_text(json.dumps({"benchmark": "explain", "visit": {"ratio": 0.1}}))
    (folder / "broken.json").write_text("{not json")
    return folder


def rows(table: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| script"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            out.setdefault(cells[0], []).append(cells)
    return out


def test_table_has_every_figure_with_its_same_run_baseline(results):
    table = report.render(results)
    by_script = rows(table)
    fast, slow = by_script["landmarks"]
    assert fast[1] == "tapping analysis / MediaPipe \\| same frames"  # a pipe in a name does not split the row
    assert fast[2:] == ["7.48 s", "MediaPipe only: 7.04 s", "1.06", "ratio <= 1.2", "yes"]
    assert slow[2:] == ["13 s", "clip duration: 10 s", "1.3", "ratio < 1", "**no**"]
    assert all(len(r) == 7 for rs in by_script.values() for r in rs)


def test_a_result_older_than_the_rest_says_when_it_ran(results):
    common.write_result("trends", {}, [common.Figure("export", 1.0, "s")])
    stale = json.loads((results / "trends.json").read_text())
    stale["when"] = "2020-01-02T03:04:05+00:00"
    (results / "trends.json").write_text(json.dumps(stale))
    by_script = rows(report.render(results))
    assert "trends (run 2020-01-02)" in by_script and "landmarks" in by_script


def test_old_and_unreadable_results_are_listed_not_fatal(results):
    by_script = rows(report.render(results))
    assert by_script["explain"][0][1] == f"*{report.OLD_FORMAT}*"
    assert "unreadable" in by_script["broken"][0][1]


def test_machine_line_comes_from_the_results(results):
    table = report.render(results)
    machine = common.machine()
    line = next(line for line in table.splitlines() if line.startswith("Machine:"))
    assert f"{machine['cpus']} CPUs" in line and f"Python {machine['python']}" in line
    assert "load average" in line and "(UTC)" in line


def test_main_writes_table_and_replaces_only_the_readme_block(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert report.main(["--results", str(results), "--readme", str(readme)]) == 0
    table = (results / "TABLE.md").read_text()
    text = readme.read_text()
    assert "old table" not in text and table.strip() in text
    assert text.startswith("# pdlens\n\n## Benchmarks\n\nHow to run them.\n\n<!-- bench-table:start -->\n")
    assert text.endswith("<!-- bench-table:end -->\n\n## Next section\n")
    assert report.main(["--results", str(results), "--readme", str(readme)]) == 0
    assert readme.read_text() == text  # generating again changes nothing


def test_short_form_leaves_the_readme_alone(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert report.main(["--short", "--results", str(results), "--readme", str(readme)]) == 0
    assert "short form" in (results / "TABLE.md").read_text()
    assert readme.read_text() == README


def test_readme_without_markers_is_an_error(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# pdlens\n\n## Benchmarks\n")
    assert report.main(["--results", str(results), "--readme", str(readme)]) == 1
    assert readme.read_text() == "# pdlens\n\n## Benchmarks\n"


def test_run_finds_the_scripts_and_the_postgresql_variant():
    names = {p.stem for p in run.discover()}
    assert {"landmarks", "patient_list", "outcome_tests"} <= names
    assert not names & {"common", "report", "run"}
    patient_list = run.BENCH_DIR / "patient_list.py"
    todo, skipped = run.jobs([patient_list], {})
    assert [j.label for j in todo] == ["patient_list"] and skipped == ["patient_list [postgresql]: DATABASE_URL_PG is not set"]
    todo, skipped = run.jobs([patient_list], {"DATABASE_URL_PG": "postgresql+psycopg://u@127.0.0.1/x"})
    assert todo[1].label == "patient_list [postgresql]" and todo[1].extra == ["--url", "postgresql+psycopg://u@127.0.0.1/x"]
    assert not skipped


def test_a_failing_script_is_reported_with_its_log(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nprint('half done')\nsys.exit(3)\n")
    ok, seconds, why = run.run_job(run.Job(bad), short=True, log_dir=tmp_path, timeout=60, env={})
    assert not ok and why == "exit status 3" and seconds >= 0
    assert "half done" in run.tail(tmp_path / "bad.log")
    good = tmp_path / "good.py"
    good.write_text("import sys\nassert sys.argv[1:] == ['--short']\n")
    assert run.run_job(run.Job(good), short=True, log_dir=tmp_path, timeout=60, env={})[0]
    assert not run.run_job(run.Job(good), short=False, log_dir=tmp_path, timeout=60, env={})[0]


GOOD = """import json, sys
from pathlib import Path
folder = Path(__file__).parent / "results" / ("short" if "--short" in sys.argv else "")
folder.mkdir(parents=True, exist_ok=True)
figure = {"name": "good figure", "value": 2.0, "unit": "s", "baseline": "base", "baseline_value": 4.0,
          "ratio": 0.5, "target": "ratio <= 1", "met": True}
(folder / "good.json").write_text(json.dumps({"figures": [figure], "when": "2026-01-01T00:00:00+00:00"}))
"""


def test_run_goes_on_past_a_failing_script_names_it_and_generates_the_table(tmp_path, capsys):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "a_bad.py").write_text("raise SystemExit('a_bad broke')\n")
    (bench / "good.py").write_text(GOOD)
    (bench / "common.py").write_text("raise SystemExit('common.py is not a script')\n")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert run.main([], bench_dir=bench, readme=readme) == 1  # a_bad ran first, good still ran
    out = capsys.readouterr()
    assert "FAILED: a_bad" in out.err and "common" not in out.err
    assert "a_bad broke" in out.out  # the tail of its log is shown
    assert "| good | good figure | 2 s | base: 4 s | 0.5 | ratio <= 1 | yes |" in readme.read_text()
    assert (bench / "results" / "TABLE.md").is_file() and (bench / "results" / "logs" / "a_bad.log").is_file()
