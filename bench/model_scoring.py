"""Cost of the shipped models per recording: load, `score()` (abstention checks, probability,
ensemble interval, severity) and a 32-step IntegratedGradients attribution through `torch_logit`,
each as a ratio to the baseline measured in the same run: one bare `predict_proba` call on one row.
Uses a real row of each model's training data. Writes bench/results/model_scoring.json.

    .venv/bin/python bench/model_scoring.py [--repeat 200]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from models import data as D  # noqa: E402
from models.registry import MODEL_NAMES, load_model, load_model_from, model_dir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "model_scoring.json"


def real_row(name: str, feature_names: list[str]) -> np.ndarray:
    if name == "voice":
        t = D.load_uci_voice()
    elif name == "finger_tapping":
        t = D.load_finger_tapping()
    else:
        f = D.gait_walk_features(D.GAITPDB_DIR / "GaPt03_01.txt")
        return np.array([f[n] for n in feature_names])
    return t.complete(feature_names).features(feature_names)[0]


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    from captum.attr import IntegratedGradients

    torch.set_num_threads(1)
    out = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
           "repeat": args.repeat, "baseline": "predict_proba on one row", "models": {}}
    for name in MODEL_NAMES:
        t0 = time.perf_counter()
        load_model_from(model_dir(name))  # uncached load
        load_ms = 1000 * (time.perf_counter() - t0)
        model = load_model(name, allow_withheld=True)
        x = real_row(name, model.feature_names)
        row = dict(zip(model.feature_names, x))
        base = median_ms(lambda: model.predict_proba(x[None, :]), args.repeat)
        score = median_ms(lambda: model.score(row), args.repeat)
        ig = IntegratedGradients(model.torch_logit)
        xt, ref = torch.as_tensor(x[None, :]), torch.as_tensor(model.reference[None, :])
        attr = median_ms(lambda: ig.attribute(xt, ref, n_steps=32), max(10, args.repeat // 10))
        out["models"][name] = {"predict_proba_ms": round(base, 3), "score_ms": round(score, 3),
                               "score_ratio": round(score / base, 2), "ig32_ms": round(attr, 3),
                               "ig32_ratio": round(attr / base, 2), "load_ms": round(load_ms, 1)}
        print(f"{name}: predict_proba {base:.3f} ms, score {score:.3f} ms (x{score / base:.1f}), "
              f"IG-32 {attr:.2f} ms (x{attr / base:.1f}), load {load_ms:.0f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
