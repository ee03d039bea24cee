"""core.media.video: formats, true timestamps, rotation, bad input, bounded memory."""
import tracemalloc

import numpy as np
import pytest

from core.media.video import VideoReader, iter_frames, probe_video
from core.pipeline import UnusableInput
from tests.fixtures.movement.clips import write_audio_only, write_video


def _pattern(n=12, h=96, w=128):
    """Synthetic frames: a white block in the top-left corner on grey, moving right."""
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 90, np.uint8)
        f[4:28, 4 + i:36 + i] = 255
        frames.append(f)
    return frames


@pytest.mark.parametrize("suffix,codec", [(".mp4", None), (".mov", None), (".mkv", None), (".avi", None),
                                          (".webm", "libvpx"), (".webm", "libvpx-vp9"), (".mkv", "libsvtav1")])
def test_formats_decode_with_timestamps(tmp_path, suffix, codec):
    import av

    if codec and codec not in av.codecs_available:
        pytest.skip(f"{codec} encoder not in this PyAV build")
    path = write_video(tmp_path / f"clip{suffix}", _pattern(), fps=10, codec=codec)
    frames = list(iter_frames(path))
    assert len(frames) == 12
    times = np.array([t for t, _ in frames])
    np.testing.assert_allclose(times, np.arange(12) / 10, atol=1e-3)
    assert frames[0][1].shape == (96, 128, 3) and frames[0][1].dtype == np.uint8
    assert frames[0][1][10, 10].mean() > 200  # the white block survived, RGB order kept


def test_variable_frame_rate_keeps_true_pts(tmp_path):
    times = [0.0, 0.05, 0.2, 0.25, 0.4, 0.41, 0.6, 0.7, 0.75, 0.9, 1.0, 1.3]
    path = write_video(tmp_path / "vfr.mp4", _pattern(), times=times)
    got = [t for t, _ in iter_frames(path)]
    np.testing.assert_allclose(got, times, atol=2e-3)


def test_rotation_metadata_turns_the_frame_upright(tmp_path):
    path = write_video(tmp_path / "phone.mp4", _pattern(), fps=10, rotation=90)
    with VideoReader(path) as reader:
        frames = list(reader.frames())
        assert reader.info.rotation == 90
        assert (reader.info.width, reader.info.height) == (96, 128)
    rgb = frames[0][1]
    assert rgb.shape == (128, 96, 3)
    # rotated 90 degrees counterclockwise: the top-left block is now bottom-left
    assert rgb[-10, 10].mean() > 200 and rgb[10, 10].mean() < 150


def test_downscale_to_max_side(tmp_path):
    path = write_video(tmp_path / "big.mp4", _pattern(n=3, h=480, w=640), fps=10)
    _, rgb = next(iter_frames(path, max_side=320))
    assert rgb.shape == (240, 320, 3)


def test_still_image_renamed_mp4_is_refused(tmp_path):
    from PIL import Image

    path = tmp_path / "photo.mp4"
    Image.fromarray(_pattern(n=1)[0]).save(path, format="PNG")
    with pytest.raises(UnusableInput, match="still picture"):
        probe_video(path)
    jpeg = tmp_path / "photo2.mp4"
    Image.fromarray(_pattern(n=1)[0]).save(jpeg, format="JPEG")
    with pytest.raises(UnusableInput, match="still picture"):
        probe_video(jpeg)


def test_text_file_and_corrupt_file_are_refused(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(UnusableInput, match="could not be opened"):
        probe_video(text)
    good = write_video(tmp_path / "good.mp4", _pattern(n=30), fps=10)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UnusableInput) as exc:
        list(iter_frames(truncated))
    assert "\n" not in str(exc.value)


def test_audio_only_file_says_no_picture(tmp_path):
    path = write_audio_only(tmp_path / "voice.m4a")
    with pytest.raises(UnusableInput, match="sound but no picture"):
        probe_video(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(UnusableInput, match="empty"):
        probe_video(path)


def test_clip_over_ten_minutes_is_refused_before_decoding(tmp_path):
    # 11 minutes at 1 frame per second, 32x32: tiny, quick to write
    frame = np.full((32, 32, 3), 128, np.uint8)
    path = write_video(tmp_path / "long.mp4", (frame for _ in range(660)), fps=1)
    with pytest.raises(UnusableInput, match="minutes"):
        VideoReader(path)


@pytest.mark.slow
def test_long_clip_streams_in_bounded_memory(tmp_path):
    """4 minutes at 12.5 fps of 160x120 frames is ~170 MB decoded; streaming must hold a few."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    n = 3000
    path = write_video(tmp_path / "long.mp4", (np.roll(base, i, axis=1) for i in range(n)), fps=12.5)
    tracemalloc.start()
    count = 0
    for _, rgb in iter_frames(path):
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert peak < 20e6, f"peak traced memory {peak / 1e6:.1f} MB"


def test_source_pixels_of_a_downscaled_rotated_frame(tmp_path):
    """Frames come at max_side; source_rgb() gives the same frame at the file's own size,
    upright, so a small hand can be cropped from the original pixels."""
    path = write_video(tmp_path / "phone.mp4", _pattern(n=3, h=192, w=256), fps=10, rotation=90)
    with VideoReader(path, max_side=128) as reader:
        assert reader.source_size == (192, 256)
        for _, rgb in reader.frames():
            source = reader.source_rgb()
            assert rgb.shape == (128, 96, 3) and source.shape == (256, 192, 3)
            # the block (top-left before rotation) is bottom-left in both
            assert source[-20, 20].mean() > 200 and rgb[-10, 10].mean() > 200
            break


def test_max_fps_keeps_every_other_frame_of_a_60_fps_clip(tmp_path):
    path = write_video(tmp_path / "sixty.mp4", _pattern(n=12), fps=60)
    with VideoReader(path, max_fps=30) as reader:
        times = [t for t, _ in reader.frames()]
    np.testing.assert_allclose(times, np.arange(0, 12, 2) / 60, atol=1e-3)


def test_messages_do_not_quote_the_stored_file_name(tmp_path):
    name = "3f9a1c0d2b7e4a66.mp4"  # what the app stores: a content hash
    text = tmp_path / name
    text.write_text("not a video\n" * 20)
    with pytest.raises(UnusableInput) as exc:
        probe_video(text)
    assert "3f9a1c0d" not in str(exc.value) and str(exc.value).startswith("The file")


@pytest.mark.parametrize("fps, expected_fps", [(30.0, 15.0), (29.97, 14.985), (60.0, 15.0), (50.0, 16.667),
                                               (25.0, 25.0), (15.0, 15.0)])
def test_outcome_tests_analyse_frames_at_most_a_fifteenth_of_a_second_apart(fps, expected_fps):
    from core.movement.frames import OUTCOME_FRAME_GAP_S, thinned

    times = np.arange(0, 3.0, 1 / fps)
    kept = np.array([t for t, _ in thinned(((t, None) for t in times), OUTCOME_FRAME_GAP_S)])
    assert kept[0] == times[0] and kept[-1] == times[-1]
    gaps = np.diff(kept)
    assert gaps.max() <= OUTCOME_FRAME_GAP_S + 1e-3 or gaps.max() <= 1 / fps + 1e-9
    assert 1 / np.median(gaps) == pytest.approx(expected_fps, rel=0.01)
