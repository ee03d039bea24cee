"""Command line: `python -m core.cli analyze ...`.

Exit status: 0 analysed and scored (or measured, for tasks without a model); 2 unusable input
(the file cannot be analysed: one-line reason on stderr); 3 the clip decoded but failed a quality
check (JSON still printed, no score; the reasons on stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile

# MediaPipe's C++ runtime (glog/absl, TFLite/LiteRT) logs INFO and WARNING lines on stderr at
# every start; these settings must precede its import. LiteRT's own logger ignores them, so
# _quiet_native_stderr also filters what native code writes to the stderr file descriptor.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core.pipeline import UnusableInput  # noqa: E402
from core.tasks import TASKS  # noqa: E402

MOVEMENT_TASKS = [key for key, spec in TASKS.items() if spec.modality == "movement"]

_NATIVE_LOG_LINE = re.compile(r"^(INFO|WARNING|VERBOSE): |^[IW]\d{4} |^WARNING: All log messages before absl|"
                              r"^WARNING: Logging before InitGoogle")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Send file descriptor 2 to a temporary file while MediaPipe runs, then pass on only the
    lines that are not its runtime's INFO/WARNING chatter (Python errors still come through)."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor: nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not _NATIVE_LOG_LINE.match(line):
                    print(line, file=sys.stderr)

EXIT_UNUSABLE = 2
EXIT_QUALITY = 3


def _clip_setup(args: argparse.Namespace):
    """--height-cm and --marks X1,Y1,X2,Y2 --marks-distance-m D -> ClipSetup (gait speed)."""
    from core.analysis import ClipSetup

    height_m = None
    if args.height_cm is not None:
        if not 50 <= args.height_cm <= 250:
            raise ValueError("--height-cm must be the patient's height in centimetres (50-250)")
        height_m = args.height_cm / 100.0
    marks = None
    if args.marks:
        try:
            values = [float(v) for v in args.marks.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError("--marks takes X1,Y1,X2,Y2: the two floor marks as fractions (0-1) of the "
                             "picture's width and height")
        if not args.marks_distance_m or args.marks_distance_m <= 0:
            raise ValueError("--marks needs --marks-distance-m, the distance between the two marks in metres")
        marks = ((values[0], values[1]), (values[2], values[3]))
    return ClipSetup(height_m=height_m, marks=marks, marks_distance_m=args.marks_distance_m if marks else None)


def _analyze(args: argparse.Namespace) -> int:
    jobs = []
    if args.voice:
        jobs.append((args.voice, args.voice_task or "vowel", None))
    if args.movement:
        if not args.task:
            print(f"error: --movement needs --task {'|'.join(MOVEMENT_TASKS)}", file=sys.stderr)
            return EXIT_UNUSABLE
        jobs.append((args.movement, args.task, args.side))
    if not jobs:
        print("error: give --voice FILE and/or --movement FILE", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        setup = _clip_setup(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    from core.visits import analyze_files

    try:
        with _quiet_native_stderr():
            payload = analyze_files(jobs, setup=setup)
    except UnusableInput as exc:
        print(f"unusable input: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    status = 0
    for r in payload["recordings"]:
        if not r["quality"]["ok"]:
            problems = [c["message"] for c in r["quality"]["checks"] if not c["passed"]]
            print(f"quality check failed ({r['task']}): " + " ".join(problems), file=sys.stderr)
            status = EXIT_QUALITY
    if len(payload["recordings"]) == 1:  # one recording: its fields at the top level
        payload = {**payload["recordings"][0], "fused": payload["fused"]}
    if args.json:
        print(json.dumps(payload, indent=2, default=float))
        return status
    for r in payload.get("recordings", [payload]):
        score = r["score"]
        print(f"{r['task']}{' (' + r['side'] + ')' if r['side'] else ''}: "
              f"quality {'ok' if r['quality']['ok'] else 'FAILED'}")
        for m in r["measures"]:
            print(f"  {m['label']:<34} {m['value']!s:>12} {m['unit']}")
        if score:
            p = score.get("probability")
            print(f"  score ({score['model']} {score['model_version']}): "
                  + (f"{p:.2f}" if p is not None else f"abstained: {score.get('abstained')}"))
    for line in payload["fused"].get("summary", []):
        print(line)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "batch":  # batch import has its own parser (core/batch.py)
        from core.batch import main as batch_main

        return batch_main(argv[1:])
    if argv and argv[0] == "export":  # so has the export (core/export.py)
        from core.export import main as export_main

        return export_main(argv[1:])
    if argv and argv[0] in ("backup", "restore"):  # core/backup.py
        from core.backup import main as backup_main

        return backup_main(argv[1:], command=argv[0])
    if argv and argv[0] == "clinic-model":  # core/clinic_models.py
        from core.clinic_models import main as clinic_model_main

        return clinic_model_main(argv[1:])
    if argv and argv[0] == "retention":  # core/retention.py
        from core.retention import main as retention_main

        return retention_main(argv[1:])
    if argv and argv[0] == "encrypt-existing":  # core/encrypt_existing.py
        from core.encrypt_existing import main as encrypt_main

        return encrypt_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m core.cli", description="pdlens command line")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="analyse one voice and/or one movement recording")
    analyze.add_argument("--voice", metavar="FILE", help="voice recording (any common audio/video format)")
    analyze.add_argument("--movement", metavar="FILE", help="movement video")
    analyze.add_argument("--task", choices=list(TASKS),
                         help=f"task of the recording (voice: vowel|reading; movement: {'|'.join(MOVEMENT_TASKS)})")
    analyze.add_argument("--voice-task", choices=["vowel", "reading"], help="voice task when --task names the movement task")
    analyze.add_argument("--side", choices=["left", "right"], help="tested side for finger tapping and tremor")
    analyze.add_argument("--height-cm", type=float, help="gait speed without floor marks: the patient's height")
    analyze.add_argument("--marks", metavar="X1,Y1,X2,Y2",
                         help="gait speed: two floor marks on the picture, as fractions of its width and height")
    analyze.add_argument("--marks-distance-m", type=float, help="gait speed: distance between the marks (m)")
    analyze.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("batch", help="import a folder or manifest of clinic recordings (see: batch --help)")
    sub.add_parser("export", help="export measures, scores and ratings as csv, parquet or fhir (see: export --help)")
    sub.add_parser("backup", help="copy the database and recordings into a backup folder (see: backup --help)")
    sub.add_parser("restore", help="restore a backup folder (see: restore --help)")
    sub.add_parser("clinic-model", help="train, list, activate, roll back the clinic's own models "
                                        "(see: clinic-model --help)")
    sub.add_parser("retention", help="delete raw clips older than PDLENS_RETENTION_DAYS (see: retention --help)")
    sub.add_parser("encrypt-existing", help="encrypt recording files stored before the key was set (see: encrypt-existing --help)")
    args = parser.parse_args(argv)
    if args.command == "analyze":
        # --task applies to the single recording given; with both, --task is the movement task.
        if args.voice and not args.movement and args.task and not args.voice_task:
            args.voice_task = args.task
        return _analyze(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
