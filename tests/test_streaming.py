"""The streaming chunker of the live demo (avse_tf.streaming), without audio hardware.

Look-ahead arithmetic checked against what the chunker really reads and emits; streaming equal to
offline processing for processors of finite receptive field (and for a BLSTM that sees the whole
signal); the inpainting and enhancement processors against the project's offline paths.
"""

import numpy as np
import pytest

from avse_tf import streaming
from avse_tf.audio.stft import get_config
from avse_tf.errors import UserInputError


def _speechlike(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (180, 360, 540, 1250))
    return (0.05 * envelope * tone + rng.normal(0, 0.01, t.size)).astype(np.float32)


class SmoothingProcessor:
    """Finite receptive field: magnitude averaged over ``reach`` frames each side, phase kept.

    Rows outside the chunk count as missing (the average is over the rows present), exactly as at
    the edges of the whole signal, so a chunk with ``reach`` frames of context and look-ahead
    computes its centre exactly as the whole signal does.
    """

    def __init__(self, config, reach=2):
        self.config = get_config(config)
        self.reach = reach
        self.seen = []

    def __call__(self, chunk):
        self.seen.append((chunk.first_frame, chunk.left, chunk.centre, chunk.rows, chunk.samples.size))
        magnitude, phase = np.abs(chunk.spectrogram), np.angle(chunk.spectrogram)
        rows = chunk.rows
        smoothed = np.empty_like(magnitude)
        for row in range(rows):
            lo, hi = max(0, row - self.reach), min(rows, row + self.reach + 1)
            smoothed[row] = magnitude[lo:hi].mean(axis=0)
        centre = chunk.centre_rows
        return (smoothed[centre] * np.exp(1j * phase[centre])).astype(np.complex64)


def test_plan_from_ms_and_latency_arithmetic():
    plan = streaming.ChunkPlan.from_ms("morrone2021", 96, 96, 480)
    assert (plan.chunk_frames, plan.lookahead_frames, plan.context_frames) == (8, 7, 40)
    assert plan.chunk_samples == 1536 and plan.lookahead_samples == 1536  # (R - 1) H + W = 6 * 192 + 384
    assert plan.algorithmic_latency_samples == 3072
    # Blocks of one chunk, one block to compute: the look-ahead (one block) + the compute block.
    assert plan.delay_samples() == 2 * 1536
    assert plan.delay_samples(compute=3 * 1536) == 4 * 1536
    # The look-ahead is rounded down (never more than asked), its minimum is the window overhang W - H.
    assert streaming.ChunkPlan.from_ms("morrone2021", 96, 100, 0).lookahead_samples == 1536
    assert streaming.ChunkPlan.from_ms("morrone2021", 96, 0, 0).lookahead_samples == 192
    # 2019 settings: hop 160, window 400, 256 leading zeros.
    plan2019 = streaming.ChunkPlan.from_ms("morrone2019", 100, 50, 200)
    assert (plan2019.chunk_frames, plan2019.lookahead_frames, plan2019.context_frames) == (10, 3, 20)
    assert plan2019.stitch_frames == 2 and plan2019.lookahead_samples == 720  # 2 * 160 + 400 <= 800
    with pytest.raises(UserInputError, match="--lookahead_ms"):
        streaming.ChunkPlan.from_ms("morrone2021", 96, -1, 0)


@pytest.mark.parametrize("config, chunk_ms, lookahead_ms, context_ms", [
    ("morrone2021", 96, 96, 480), ("morrone2021", 48, 36, 96), ("morrone2019", 100, 50, 200),
    ("morrone2019", 30, 25, 40)])
def test_lookahead_arithmetic_matches_what_the_chunker_reads_and_emits(config, chunk_ms, lookahead_ms, context_ms):
    plan = streaming.ChunkPlan.from_ms(config, chunk_ms, lookahead_ms, context_ms)
    processor = SmoothingProcessor(config)
    chunker = streaming.Chunker(plan, processor)
    wave = _speechlike(1.5)
    block = plan.chunk_samples
    ready_after = []  # processed samples available after each block is pushed
    produced = 0
    for start in range(0, wave.size - block + 1, block):
        produced += chunker.push(wave[start:start + block]).size
        ready_after.append(produced)
        # Every chunk ran as soon as its input_end had arrived, and not before.
        assert chunker.received < plan.input_end(len(processor.seen))
    hop, pad = plan.hop, get_config(config).pad_start
    for index, (first, left, centre, rows, size) in enumerate(processor.seen):
        assert first + left == index * plan.chunk_frames and centre == plan.chunk_frames
        assert rows == left + centre + plan.lookahead_frames
        # The last input sample it read (unpadded) is input_end - 1.
        assert first * hop + size - pad == plan.input_end(index)
    # The delay: output block k (processed samples [kB - D, (k+1)B - D)) is handed to the device in
    # the callback after input block k arrived; the chunks it needs were computed after block k - 1.
    delay = plan.delay_samples(block, compute=block)

    def in_time(delay):
        return all((k + 1) * block - delay <= (ready_after[k - 1] if k else 0)
                   for k in range(len(ready_after)) if (k + 1) * block - delay > 0)

    assert in_time(delay)
    assert not in_time(delay - hop)  # and it is the smallest such delay (to a hop)


@pytest.mark.parametrize("config", ["morrone2021", "morrone2019"])
def test_streaming_equals_offline_for_a_finite_receptive_field(config):
    wave = _speechlike(2.0, seed=1)
    offline = streaming.process_offline(SmoothingProcessor(config), wave)
    assert offline.shape == wave.shape
    plan = streaming.ChunkPlan(get_config(config), chunk_frames=5, lookahead_frames=2, context_frames=2)
    chunked = streaming.process_chunked(SmoothingProcessor(config), wave, plan)
    assert chunked.shape == wave.shape
    assert np.abs(chunked - offline).max() < 1e-5
    # Pushed in odd pieces: the same samples.
    chunker = streaming.Chunker(plan, SmoothingProcessor(config))
    pieces, position, rng = [], 0, np.random.default_rng(3)
    while position < wave.size:
        size = int(rng.integers(1, 3000))
        pieces.append(chunker.push(wave[position:position + size]))
        position += size
    pieces.append(chunker.flush())
    assert np.array_equal(np.concatenate(pieces), chunked)
    # Less context than the receptive field: no longer equal (the test can tell).
    short = streaming.ChunkPlan(get_config(config), chunk_frames=5, lookahead_frames=1, context_frames=1)
    assert np.abs(streaming.process_chunked(SmoothingProcessor(config), wave, short) - offline).max() > 1e-3


def _identity(config):
    class Identity:
        def __init__(self):
            self.config = get_config(config)

        def __call__(self, chunk):
            return chunk.spectrogram[chunk.centre_rows]

    return Identity()


def test_warmup_runs_the_model_at_every_chunk_length_a_live_stream_uses():
    """The BLSTMs' compiled loops compile once per new chunk length; warmup must have run the model
    at them all, or a live block waits for a compile. The inpainting processor calls its model only
    on chunks with a lost packet, so this is checked with it, on lost packets anywhere in the
    stream (its start, context still growing, included)."""
    from avse_tf.systems.av_inpainting.model import a_blstm

    processor = streaming.processor_for_model(a_blstm(hidden_units=8))
    model, lengths = processor._model, []

    def recording(inputs):
        lengths.append(int(inputs["gapped_spectrogram"].shape[1]))
        return model(inputs)

    processor._model = recording
    for chunk_ms, lookahead_ms, context_ms in ((96, 96, 480), (100, 50, 250), (160, 200, 160)):
        plan = streaming.ChunkPlan.from_ms(processor.config, chunk_ms, lookahead_ms, context_ms)
        lengths.clear()
        streaming.warmup(processor, plan)
        warmed = set(lengths)
        lengths.clear()
        chunker = streaming.Chunker(plan, processor)
        wave = streaming.PacketLoss(0.3, 320, seed=4).apply(_speechlike(4.0, seed=5))
        for start in range(0, wave.size, plan.chunk_samples):
            chunker.push(wave[start:start + plan.chunk_samples])
        live = set(lengths)
        assert len(live) >= 2 and live <= warmed, (chunk_ms, sorted(live), sorted(warmed))


def test_identity_stream_gives_the_input_back():
    wave = _speechlike(1.0, seed=2)
    for config in ("morrone2021", "morrone2019"):
        plan = streaming.ChunkPlan.from_ms(config, 96, 48, 96)
        out = streaming.process_chunked(_identity(config), wave, plan)
        reliable = get_config(config).reliable_samples()
        assert np.abs(out[reliable:] - wave[reliable:]).max() < 1e-5


def test_packet_loss_is_seeded_and_blockwise_consistent():
    wave = np.ones(16000 * 4, np.float32)
    whole = streaming.PacketLoss(0.2, 320, seed=5)
    dropped = whole.apply(wave)
    pieces = streaming.PacketLoss(0.2, 320, seed=5)
    split = np.concatenate([pieces.apply(wave[i:i + 1000]) for i in range(0, wave.size, 1000)])
    assert np.array_equal(dropped, split) and whole.dropped == pieces.dropped
    assert 0.12 < (dropped == 0).mean() < 0.28 and whole.dropped == (dropped == 0).sum() // 320
    with pytest.raises(UserInputError, match="drop_rate"):
        streaming.PacketLoss(1.5, 320)


def test_video_features_match_offline_deltas():
    from avse_tf.video.align import deltas

    landmarks = np.cumsum(np.random.default_rng(0).normal(size=(30, 136)), axis=0).astype(np.float32)
    source = streaming.LandmarkTimeline(landmarks)
    config = get_config("morrone2021")
    whole = streaming.video_features(source, 0, 80, config, delta=1)
    positions = np.arange(80) * 192 * 25 / 16000
    assert np.allclose(whole, deltas(source.at(positions), 1), atol=1e-5)
    assert np.all(whole[0] == 0)
    assert np.allclose(streaming.video_features(source, 30, 20, config, delta=1), whole[30:50], atol=1e-5)
    assert np.allclose(source.at([0, 1.5, 99]), [landmarks[0], (landmarks[1] + landmarks[2]) / 2, landmarks[-1]])


@pytest.fixture(scope="module")
def inpainting_checkpoint(tmp_path_factory):
    """A small randomly initialised a_blstm saved like an experiment folder (model + statistics)."""
    from avse_tf.data.normalization import save_stats
    from avse_tf.systems.av_inpainting.model import a_blstm
    from avse_tf.systems.av_inpainting.pipeline import log_spectrogram

    folder = tmp_path_factory.mktemp("inpainting_exp")
    log_magnitude = log_spectrogram(_speechlike(3.0, seed=4))[0]
    save_stats(str(folder / "normalization.npz"), spectrogram=(log_magnitude.mean(0), log_magnitude.std(0) + 1e-3))
    a_blstm(hidden_units=16, num_layers=2).save(str(folder / "best.keras"))
    return folder


def _with_drops(seconds=3.0, seed=6):
    wave = _speechlike(seconds, seed=seed)
    loss = streaming.PacketLoss(0.08, 320, seed=seed)
    return loss.apply(wave)


def test_inpainting_offline_is_the_inpaint_command_and_stream_keeps_the_reliable_audio(inpainting_checkpoint,
                                                                                       tmp_path):
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.data.gaps import detect_silent_gaps
    from avse_tf.systems.av_inpainting.inpaint import inpaint_file

    wave = _with_drops()
    write_audio(tmp_path / "gapped.wav", wave)
    wave = load_audio(tmp_path / "gapped.wav")  # 16-bit, as inpaint_file reads it
    inpaint_file(str(tmp_path / "gapped.wav"), str(tmp_path / "inpainted.wav"), str(inpainting_checkpoint),
                 phase="griffin_lim", griffin_lim_iterations=16)
    reference = load_audio(tmp_path / "inpainted.wav")
    processor = streaming.load_processor(inpainting_checkpoint, griffin_lim_iterations=16, max_gap_ms=None)
    offline = streaming.process_offline(processor, wave)
    assert streaming.snr_db(reference, offline) > 50  # the same computation (16-bit file, GL graph vs eager)
    plan = streaming.ChunkPlan.from_ms(processor.config, 96, 96, 480)
    streamed = streaming.process_chunked(processor, wave, plan)
    near = np.zeros(wave.size, bool)
    for start, end in detect_silent_gaps(wave):
        near[max(0, int(start * 16000) - 384): int(end * 16000) + 384] = True
    assert near.any() and not near.all()
    # Away from the gaps the output is the input, streamed or not; in them, they agree within the
    # chunking tolerance (context, look-ahead, per-chunk Griffin-Lim).
    assert np.abs(streamed[~near] - offline[~near]).max() < 1e-5
    assert np.abs(streamed[~near][get_config("morrone2021").reliable_samples():]
                  - wave[~near][get_config("morrone2021").reliable_samples():]).max() < 1e-4
    assert streaming.snr_db(offline, streamed) > 20
    assert processor.model_calls > 0


def test_a_blstm_that_sees_everything_streams_exactly(inpainting_checkpoint):
    """Context and look-ahead longer than the signal: every chunk sees the whole signal, so a BLSTM
    computes what it computes offline (the gap phase is left at 0 here: Griffin-Lim is per chunk)."""
    wave = _with_drops(2.0, seed=7)
    processor = streaming.load_processor(inpainting_checkpoint, griffin_lim_iterations=0, max_gap_ms=None)
    offline = streaming.process_offline(processor, wave)
    plan = streaming.ChunkPlan.from_ms(processor.config, 96, 2500, 2500)
    assert np.abs(streaming.process_chunked(processor, wave, plan) - offline).max() < 1e-5


def test_gap_frames_do_not_depend_on_the_chunk_offset(inpainting_checkpoint):
    processor = streaming.load_processor(inpainting_checkpoint, max_gap_ms=60)
    wave = _speechlike(1.0)
    wave[192 * 20: 192 * 20 + 320] = 0  # a packet starting exactly on a frame boundary
    wave[192 * 50: 192 * 50 + 3000] = 0  # a long silence: only its first 60 ms are a gap
    config = processor.config
    spectrogram = np.zeros((config.num_frames(wave.size), 257), np.complex64)
    whole = processor.gap_mask(streaming.Chunk(spectrogram, 0, 0, len(spectrogram), spectrogram[:0], wave,
                                               (0, wave.size)))
    assert np.flatnonzero(whole[:40]).tolist() == [19, 20, 21]
    assert np.flatnonzero(whole[40:]).min() + 40 == 49 and whole[50 + 7:].sum() == 0
    for first in (3, 7, 11):
        rows = len(spectrogram) - first
        part = processor.gap_mask(streaming.Chunk(spectrogram[first:], first, 0, rows, spectrogram[:0],
                                                  wave[192 * first:], (0, wave.size - 192 * first)))
        assert np.array_equal(part[:30 - first], whole[first:30])


def test_enhancement_model_streams_and_equals_offline_with_full_context(tmp_path):
    import json

    from avse_tf.data.normalization import save_stats
    from avse_tf.systems.landmark_enhancement.model import av_concat_mask

    model = av_concat_mask(hidden_units=8, num_layers=1)
    model.save(str(tmp_path / "best.keras"))
    save_stats(str(tmp_path / "normalization.npz"), spectrogram=(np.zeros(257, np.float32), np.ones(257, np.float32)),
               video=(np.zeros(136, np.float32), np.ones(136, np.float32)))
    (tmp_path / "preprocessing.json").write_text(json.dumps({"stft": "morrone2019", "delta": 1}))
    landmarks = np.cumsum(np.random.default_rng(1).normal(size=(60, 136)), axis=0).astype(np.float32)
    processor = streaming.load_processor(tmp_path, streaming.LandmarkTimeline(landmarks))
    assert processor.config.name == "morrone2019"
    wave = _speechlike(2.0, seed=8)
    offline = streaming.process_offline(processor, wave)
    assert offline.shape == wave.shape and np.isfinite(offline).all()
    everything = streaming.ChunkPlan.from_ms(processor.config, 100, 2500, 2500)
    assert np.abs(streaming.process_chunked(processor, wave, everything) - offline).max() < 1e-5
    plan = streaming.ChunkPlan.from_ms(processor.config, 100, 100, 500)
    # A random model and random-walk landmarks: a sanity bound only.
    assert streaming.snr_db(offline, streaming.process_chunked(processor, wave, plan)) > 10
    with pytest.raises(UserInputError, match="landmarks"):
        streaming.load_processor(tmp_path)


def test_load_processor_errors(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        streaming.load_processor(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(UserInputError, match="cannot load"):
        streaming.load_processor(tmp_path / "junk.keras")


def test_camera_landmarks_track_a_face_from_a_capture(small_corpus):
    """The camera source on a stand-in capture device that returns the frames of a corpus video."""
    import os
    import time

    from avse_tf.video.io import read_video

    root, description = small_corpus
    folder = os.path.join(root, description["speakers"][0]["name"], "video")
    frames, _ = read_video(os.path.join(folder, sorted(os.listdir(folder))[0]))

    class Capture:
        index = 0

        def read(self):
            if self.index >= 20:
                return False, None
            self.index += 1
            time.sleep(0.005)
            return True, frames[self.index - 1][:, :, ::-1].copy()  # cv2 gives BGR

        def release(self):
            pass

    camera = streaming.CameraLandmarks(0, capture=Capture())
    assert np.all(camera.at([0.0]) == 0)  # no face yet: no motion
    camera.start()
    camera._thread.join(timeout=60)
    camera.stop()
    assert camera.frames == 20
    points = camera.at(np.array([0.0, 3.0, 100.0]))
    assert points.shape == (3, 136) and np.all(points > 0)
    height, width = frames.shape[1:3]
    assert np.all(points[:, 0::2] < width) and np.all(points[:, 1::2] < height)


def test_the_processor_comes_from_the_models_system(tmp_path):
    """Through the registry: a model of a system without a ``streaming`` hook is one line naming the
    systems that stream (nothing in avse_tf.streaming lists them)."""
    from avse_tf import systems
    from avse_tf.systems.speech2vid.model import speech2vid

    speech2vid(width=0.125).save(str(tmp_path / "speech2vid.keras"))
    with pytest.raises(UserInputError, match="does not stream") as error:
        streaming.load_processor(tmp_path / "speech2vid.keras")
    message = str(error.value)
    assert "\n" not in message
    assert all(system.name in message for system in systems.all_systems() if system.streaming)


def test_processor_for_a_model_in_memory_is_the_demos_with_unit_statistics(tmp_path):
    """What a benchmark times: the processor the demo builds, without files (unit statistics)."""
    from avse_tf.data.normalization import save_stats
    from avse_tf.systems.av_inpainting.model import a_blstm
    from avse_tf.systems.av_inpainting.streaming import InpaintingProcessor
    from avse_tf.systems.landmark_enhancement.model import vl2m
    from avse_tf.systems.landmark_enhancement.streaming import EnhancementProcessor

    model = a_blstm(hidden_units=8)
    model.save(str(tmp_path / "best.keras"))
    save_stats(str(tmp_path / "normalization.npz"), spectrogram=(np.zeros(257, np.float32), np.ones(257, np.float32)))
    in_memory, loaded = streaming.processor_for_model(model), streaming.load_processor(tmp_path)
    assert isinstance(in_memory, InpaintingProcessor) and in_memory.uses_packet_loss
    wave = streaming.PacketLoss(0.1, 320, seed=2).apply(_speechlike(1.0, seed=3))
    plan = streaming.ChunkPlan.from_ms(in_memory.config, 96, 96, 480)
    assert np.abs(streaming.process_chunked(in_memory, wave, plan)
                  - streaming.process_chunked(loaded, wave, plan)).max() < 1e-6
    enhancer = streaming.processor_for_model(vl2m(hidden_units=8, num_layers=1),
                                             streaming.LandmarkTimeline(np.ones((40, 136), np.float32)))
    assert isinstance(enhancer, EnhancementProcessor) and not enhancer.uses_packet_loss
    with pytest.warns(DeprecationWarning, match="moved"):  # the old path, kept for one release
        assert streaming.InpaintingProcessor is InpaintingProcessor
