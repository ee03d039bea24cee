"""Cost of the shipped models per recording: load, `score()` (abstention checks, probability,
ensemble interval, severity) and a 32-step IntegratedGradients attribution through `torch_logit`,
each as a ratio to the baseline measured in the same run: one bare `predict_proba` call on one row.
Uses a real row of each model's training data. Writes bench/results/model_scoring.json
(--short: 20 repeats; bench/results/short/).

    .venv/bin/python bench/model_scoring.py [--repeat 200] [--short]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from models import data as D  # noqa: E402
from models.registry import MODEL_NAMES, load_model, load_model_from, model_dir  # noqa: E402


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
    add_short_flag(parser)
    args = parser.parse_args()
    repeat = 20 if args.short else args.repeat
    from captum.attr import IntegratedGradients

    torch.set_num_threads(1)
    out = {"repeat": repeat, "baseline": "predict_proba on one row", "models": {}}
    figures = []
    for name in MODEL_NAMES:
        t0 = time.perf_counter()
        load_model_from(model_dir(name))  # uncached load
        load_ms = 1000 * (time.perf_counter() - t0)
        model = load_model(name, allow_withheld=True)
        x = real_row(name, model.feature_names)
        row = dict(zip(model.feature_names, x))
        base = median_ms(lambda: model.predict_proba(x[None, :]), repeat)
        score = median_ms(lambda: model.score(row), repeat)
        ig = IntegratedGradients(model.torch_logit)
        xt, ref = torch.as_tensor(x[None, :]), torch.as_tensor(model.reference[None, :])
        attr = median_ms(lambda: ig.attribute(xt, ref, n_steps=32), max(10, repeat // 10))
        out["models"][name] = {"predict_proba_ms": round(base, 3), "score_ms": round(score, 3),
                               "score_ratio": round(score / base, 2), "ig32_ms": round(attr, 3),
                               "ig32_ratio": round(attr / base, 2), "load_ms": round(load_ms, 1)}
        figures.append(Figure(f"{name} model: score() of one recording / bare predict_proba", round(score, 3), "ms",
                              baseline="predict_proba on the same row", baseline_value=round(base, 3)))
        figures.append(Figure(f"{name} model: 32-step integrated gradients / bare predict_proba", round(attr, 3), "ms",
                              baseline="predict_proba on the same row", baseline_value=round(base, 3)))
        print(f"{name}: predict_proba {base:.3f} ms, score {score:.3f} ms (x{score / base:.1f}), "
              f"IG-32 {attr:.2f} ms (x{attr / base:.1f}), load {load_ms:.0f} ms")
    path = write_result("model_scoring", out, figures, short=args.short)
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
