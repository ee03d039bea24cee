"""Storable JSON of what pipelines and models compute: numpy scalars and arrays become Python
numbers and lists, NaN and infinities None, tuples lists, keys strings."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_safe(obj: Any, digits: int | None = None) -> Any:
    """`obj` as plain JSON; with `digits`, floats rounded to that many decimals."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist(), digits)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        if not math.isfinite(v):
            return None
        return v if digits is None else round(v, digits)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj
