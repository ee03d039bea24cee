"""Run every bench script, one after another, then generate the table (bench/report.py).

Scripts are found, not listed: every bench/*.py but common.py, report.py and run.py. Each runs as
its own subprocess (`--short` passed through), its output kept in bench/results[/short]/logs/<name>.log;
a failing script does not stop the others, and the run exits non-zero at the end naming it.

A script that needs an outside service says so with a module-level literal, e.g. patient_list.py's
    BENCH_VARIANTS = {"postgresql": {"env": "DATABASE_URL_PG", "flag": "--url"}}
which runs it a second time with `--url $DATABASE_URL_PG` when that variable is set (an EMPTY
scratch database: `scripts/pg-test-server.sh scratch` makes one), and skips that variant otherwise.

    .venv/bin/python bench/run.py [--short] [NAME ...]     (make bench / make bench-short)
"""
from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NOT_SCRIPTS = {"common", "report", "run", "__init__", "__main__"}


@dataclass
class Job:
    script: Path
    variant: str | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.script.stem + (f" [{self.variant}]" if self.variant else "")


def discover(folder: Path = BENCH_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if p.stem not in NOT_SCRIPTS and not p.stem.startswith("_"))


def variants(script: Path) -> dict[str, dict[str, str]]:
    """The script's BENCH_VARIANTS literal (read without importing it), or {}."""
    tree = ast.parse(script.read_text(), filename=str(script))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "BENCH_VARIANTS" for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


def jobs(scripts: list[Path], environ: dict[str, str]) -> tuple[list[Job], list[str]]:
    """What to run, and the variants skipped (with why)."""
    out, skipped = [], []
    for script in scripts:
        out.append(Job(script))
        for name, spec in variants(script).items():
            value = environ.get(spec["env"])
            if value:
                out.append(Job(script, name, [spec["flag"], value]))
            else:
                skipped.append(f"{script.stem} [{name}]: {spec['env']} is not set")
    return out, skipped


def log_path(job: Job, log_dir: Path) -> Path:
    return log_dir / (job.script.stem + (f"_{job.variant}" if job.variant else "") + ".log")


def run_job(job: Job, short: bool, log_dir: Path, timeout: float | None, env: dict[str, str]) -> tuple[bool, float, str]:
    log = log_path(job, log_dir)
    cmd = [sys.executable, str(job.script), *job.extra, *(["--short"] if short else [])]
    started = time.perf_counter()
    with open(log, "w") as out:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
            why = f"exit status {rc}" if rc else ""
        except subprocess.TimeoutExpired:
            rc, why = -1, f"stopped after {timeout:g} s"
    return rc == 0, time.perf_counter() - started, why or ""


def tail(path: Path, lines: int = 25) -> str:
    # MediaPipe/TFLite chatter is dropped, so what is left is the script's own output and traceback
    noise = ("INFO:", "WARNING: [", "W0000", "I0000", "WARNING: Logging before", "WARNING: Read-only tensor")
    kept = [line for line in path.read_text(errors="replace").splitlines() if not line.startswith(noise)]
    return "\n".join(kept[-lines:])


def main(argv: list[str] | None = None, bench_dir: Path = BENCH_DIR, readme: Path | None = None) -> int:
    """bench_dir / readme: another folder of scripts (results in its results/) and README (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="every script's reduced form (CI); results in bench/results/short/")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before a script is stopped and counted as failed (default: 600 short, none full)")
    parser.add_argument("names", nargs="*", help="only these scripts (default: all found in bench/)")
    args = parser.parse_args(argv)
    timeout = args.timeout if args.timeout is not None else (600.0 if args.short else None)

    scripts = discover(bench_dir)
    if args.names:
        unknown = sorted(set(args.names) - {s.stem for s in scripts})
        if unknown:
            print(f"error: no bench script named {', '.join(unknown)}", file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.stem in args.names]
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba_cache"))
    todo, skipped = jobs(scripts, env)
    results = bench_dir / "results" / ("short" if args.short else "")
    log_dir = results / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    form = "short form" if args.short else "full form"
    print(f"bench: {len(todo)} runs ({form}), logs in {log_dir}/", flush=True)
    for line in skipped:
        print(f"  skipped {line}", flush=True)
    failed, started = [], time.perf_counter()
    for job in todo:
        ok, seconds, why = run_job(job, args.short, log_dir, timeout, env)
        print(f"  {'ok  ' if ok else 'FAIL'} {job.label:32s} {seconds:7.1f} s{'' if ok else '  ' + why}", flush=True)
        if not ok:
            failed.append(job.label)
            print("\n".join("       | " + line for line in tail(log_path(job, log_dir)).splitlines()), flush=True)
    print(f"bench: {len(todo) - len(failed)} of {len(todo)} runs passed in {time.perf_counter() - started:.0f} s", flush=True)

    report_cmd = [sys.executable, str(BENCH_DIR / "report.py"), "--results", str(results)]
    report_cmd += ["--short"] if args.short else []
    report_cmd += ["--readme", str(readme)] if readme else []
    report = subprocess.run(report_cmd, cwd=ROOT)
    if report.returncode:
        failed.append("report.py")
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
