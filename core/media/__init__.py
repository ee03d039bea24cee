"""Decoding of uploads and browser captures with PyAV: audio.py (any audio or video file's sound
-> 16 kHz mono float) and video.py (timed frames). Both raise core.pipeline.UnusableInput with a
clinician-readable message for anything they cannot decode."""
