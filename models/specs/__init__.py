"""One module per shipped model with what its training declares (data, candidates, split);
models.train runs the same procedure on each."""
from __future__ import annotations

from typing import Callable

from models.specs.base import Candidate, ModelSpec
from models.specs.finger_tapping import finger_tapping_spec
from models.specs.gait import gait_spec
from models.specs.voice import voice_spec

SPECS: dict[str, Callable[[], ModelSpec]] = {"voice": voice_spec, "finger_tapping": finger_tapping_spec,
                                             "gait": gait_spec}

__all__ = ["Candidate", "ModelSpec", "SPECS", "finger_tapping_spec", "gait_spec", "voice_spec"]
