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
    updrs_item: str  # MDS-UPDRS part III item the task informs ("" for the outcome tests)
    min_seconds: float
    target_seconds: float
    max_seconds: float
    instructions: str
    # "mds_updrs": a standard visit records it (the checklist counts it as to do);
    # "outcome": a physical-therapy outcome test, recorded when the therapist runs it
    battery: str = "mds_updrs"
    diagram: str = "body"  # capture placement picture: dashboard/static/capture/<diagram>.svg
    landmarks: str = "pose"  # what MediaPipe tracks: "pose", "hand", or "" (voice)

    @property
    def optional(self) -> bool:
        """Outcome tests are done when the therapist chooses to: not "to do" on every visit."""
        return self.battery == "outcome"

    @property
    def ends_when_stopped(self) -> bool:
        """The timed outcome tests last as long as the patient takes: the browser recording runs
        until the therapist stops it (at most max_seconds), not for a fixed length."""
        return self.battery == "outcome"


TASKS: dict[str, TaskSpec] = {
    t.key: t
    for t in (
        TaskSpec("vowel", "Sustained vowel /a/", "voice", False, "3.1", 1.5, 5.0, 30.0,
                 "Take a breath and say 'aaah' at a comfortable pitch and loudness for as long "
                 "as you can, at least 5 seconds. Microphone about 30 cm from the mouth.",
                 diagram="voice", landmarks=""),
        TaskSpec("reading", "Reading passage", "voice", False, "3.1", 10.0, 30.0, 120.0,
                 "Read the passage aloud at your usual pace and loudness.", diagram="voice", landmarks=""),
        # the item asks for 10 taps, not a duration (the taps check counts them): 2 s holds 10
        # taps only at 5 a second, the fast end of healthy tapping
        TaskSpec("finger_tapping", "Finger tapping (3.4)", "movement", True, "3.4", 2.0, 10.0, 60.0,
                 "Tap the index finger against the thumb at least 10 times, fast and opening wide each time. "
                 "Seated, the whole body in view (the other hand resting on the lap) or the hand close up; "
                 "keep the tested hand fully in view.", diagram="hand", landmarks="hand"),
        TaskSpec("tremor", "Rest tremor (3.17)", "movement", True, "3.17", 5.0, 10.0, 60.0,
                 "Sit with the hands resting on the lap, relaxed, for 10 seconds. "
                 "Keep the tested hand fully in view.", diagram="hand", landmarks="hand"),
        TaskSpec("gait", "Gait (3.10)", "movement", False, "3.10", 5.0, 20.0, 180.0,
                 "Walk at a comfortable pace across the camera's view, side-on, for at least 5 m "
                 "each way (turn outside the picture if you can). Whole body, feet included, in "
                 "view; camera still, at hip height, 3-4 m away."),
        # Physical-therapy outcome tests (one phone or webcam video each, pose landmarks).
        TaskSpec("tug", "Timed Up and Go", "movement", False, "", 4.0, 15.0, 120.0,
                 "Seated in a chair with armrests, back against the backrest. On 'go': stand up, "
                 "walk at a comfortable, safe pace to the line 3 m away, turn, walk back and sit "
                 "down. Camera side-on (or at 45 degrees) to the walkway, 4-5 m away at hip height, "
                 "chair, line and the whole body in view for the whole test. Start recording "
                 "before 'go'.", battery="outcome", diagram="tug"),
        TaskSpec("sit_to_stand", "Five Times Sit to Stand", "movement", False, "", 4.0, 15.0, 90.0,
                 "Seated in an armless chair against a wall, arms crossed over the chest. Stand up "
                 "fully and sit down five times, as quickly as safely possible, without using the "
                 "arms. Camera side-on to the chair, 2-3 m away at hip height, chair and the whole "
                 "body in view. Start recording while the person is seated.",
                 battery="outcome", diagram="sit_to_stand"),
        TaskSpec("gait_speed", "Gait speed (10 m walk)", "movement", False, "", 3.0, 12.0, 90.0,
                 "Walk at a comfortable pace along a 10 m walkway; the middle 6 m (two floor marks "
                 "2 m from each end) are timed. Camera side-on, far enough back (about 5-6 m) that "
                 "both inner marks and the whole body are in view, camera still at hip height. "
                 "Without floor marks, the patient's height (on the patient record) sets the scale.",
                 battery="outcome", diagram="gait_speed"),
    )
}

SIDES = ("left", "right")
OUTCOME_TASKS = tuple(key for key, spec in TASKS.items() if spec.battery == "outcome")


def task_spec(key: str) -> TaskSpec:
    try:
        return TASKS[key]
    except KeyError:
        raise ValueError(f"Unknown task '{key}'. Choose one of: {', '.join(TASKS)}.") from None
