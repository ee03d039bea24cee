"""The standard clinical tasks a visit records, and what each one needs.

Task keys are the vocabulary shared by the store, the pipelines, the models and the pages.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    key: str
    label: str
    modality: str  # "voice" or "movement"
    sided: bool  # recorded once per side (left / right)
    updrs_item: str  # MDS-UPDRS part III item the task informs
    min_seconds: float
    target_seconds: float
    max_seconds: float
    instructions: str


TASKS: dict[str, TaskSpec] = {
    t.key: t
    for t in (
        TaskSpec("vowel", "Sustained vowel /a/", "voice", False, "3.1", 1.5, 5.0, 30.0,
                 "Take a breath and say 'aaah' at a comfortable pitch and loudness for as long "
                 "as you can, at least 5 seconds. Microphone about 30 cm from the mouth."),
        TaskSpec("reading", "Reading passage", "voice", False, "3.1", 10.0, 30.0, 120.0,
                 "Read the passage aloud at your usual pace and loudness."),
        # the item asks for 10 taps, not a duration (the taps check counts them): 2 s holds 10
        # taps only at 5 a second, the fast end of healthy tapping
        TaskSpec("finger_tapping", "Finger tapping (3.4)", "movement", True, "3.4", 2.0, 10.0, 60.0,
                 "Tap the index finger against the thumb at least 10 times, fast and opening wide each time. "
                 "Seated, the whole body in view (the other hand resting on the lap) or the hand close up; "
                 "keep the tested hand fully in view."),
        TaskSpec("tremor", "Rest tremor (3.17)", "movement", True, "3.17", 5.0, 10.0, 60.0,
                 "Sit with the hands resting on the lap, relaxed, for 10 seconds. "
                 "Keep the tested hand fully in view."),
        TaskSpec("gait", "Gait (3.10)", "movement", False, "3.10", 5.0, 20.0, 180.0,
                 "Walk at a comfortable pace across the camera's view, side-on, for at least 5 m "
                 "each way (turn outside the picture if you can). Whole body, feet included, in "
                 "view; camera still, at hip height, 3-4 m away."),
    )
}

SIDES = ("left", "right")


def task_spec(key: str) -> TaskSpec:
    try:
        return TASKS[key]
    except KeyError:
        raise ValueError(f"Unknown task '{key}'. Choose one of: {', '.join(TASKS)}.") from None
