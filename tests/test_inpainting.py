"""Inpainting building blocks on generated data: gaps, phones, models and losses, phase, schema."""

import numpy as np
import pytest

from avse_tf.data import gaps as gap_lib
from avse_tf.errors import UserInputError


def test_training_gaps_follow_the_paper_distribution_and_the_seed():
    totals = []
    for index in range(300):
        draw = gap_lib.training_gaps(250, gap_lib.gap_rng(7, "TRAINING_SET", f"s1/u{index}"))
        assert 1 <= len(draw) <= 8
        assert all(length >= 3 for _, length in draw)
        assert all(a + la < b for (a, la), (b, _) in zip(draw, draw[1:]))  # sorted, never touching
        assert draw[0][0] >= 0 and draw[-1][0] + draw[-1][1] <= 250
        total = sum(length for _, length in draw)
        assert total <= 200  # 80 % of 250 frames
        totals.append(total * 12.0)
    assert 750 < np.mean(totals) < 1000 and 150 < np.std(totals) < 350  # ~N(900, 300) ms, clipped
    again = gap_lib.training_gaps(250, gap_lib.gap_rng(7, "TRAINING_SET", "s1/u3"))
    assert again == gap_lib.training_gaps(250, gap_lib.gap_rng(7, "TRAINING_SET", "s1/u3"))
    assert again != gap_lib.training_gaps(250, gap_lib.gap_rng(8, "TRAINING_SET", "s1/u3"))


@pytest.mark.parametrize("gap_ms, frames", [(100, 8), (200, 17), (400, 33), (800, 67), (1600, 133)])
def test_single_test_gaps(gap_ms, frames):
    starts = set()
    for index in range(20):
        (start, length), = gap_lib.single_gap(250, gap_ms, gap_lib.gap_rng(1, "T", str(index)))
        assert length == frames and 0 <= start <= 250 - frames
        starts.add(start)
    assert len(starts) > 5
    with pytest.raises(UserInputError, match="does not fit"):
        gap_lib.single_gap(100, 1600, gap_lib.gap_rng(1, "T", "x"))


def test_gap_masks_intervals_and_silence():
    mask = gap_lib.gap_mask([(0, 3), (10, 5), (248, 10)], 250)
    assert mask.sum() == 3 + 5 + 2 and gap_lib.mask_to_gaps(mask) == [(0, 3), (10, 5), (248, 2)]
    # Frames 1.2-1.6 s: every window [192 t, 192 t + 384) overlapping [19200, 25600) samples.
    first, last = gap_lib.frames_for_interval(1.2, 1.6, 250)
    assert (first, last) == (99, 134)
    assert 192 * (first - 1) + 384 <= 19200 < 192 * first + 384 and 192 * last >= 25600 > 192 * (last - 1)
    assert gap_lib.parse_gap_spec("1.2:1.6, 2:2.5") == [(1.2, 1.6), (2.0, 2.5)]
    for bad in ("1.6:1.2", "x", "1:2:3", ""):
        with pytest.raises(UserInputError, match="gap"):
            gap_lib.parse_gap_spec(bad)
    wave = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    wave[4000:5600] = 0.0
    wave[100:110] = 0.0  # 10 zeros: too short to be a gap
    assert gap_lib.detect_silent_gaps(wave) == [(0.25, 0.35)]
    edge = gap_lib.intervals_to_frame_mask([(0.0, 0.1), (0.95, 5.0)], 16000, 84)
    assert edge[0] == 1 and edge[-1] == 1 and edge[40] == 0
    with pytest.raises(UserInputError, match="starts after the end"):
        gap_lib.intervals_to_frame_mask([(2.0, 2.5)], 16000, 84)
    with pytest.raises(UserInputError, match="cover the whole"):
        gap_lib.intervals_to_frame_mask([(0.0, 3.0)], 16000, 84)


def test_phone_labels_from_grid_words():
    from avse_tf.data import phones

    assert phones.words_to_phones(["sil", "bin", "blue", "at", "a", "two", "now", "sil"]) == [
        "B", "IH", "N", "B", "L", "UW", "AE", "T", "EY", "T", "UW", "N", "AW"]
    ids = phones.phones_to_ids(phones.word_phones("please"))
    assert all(1 <= i < phones.NUM_CLASSES for i in ids) and phones.ids_to_phones(ids + [0]) == ["P", "L", "IY", "Z"]
    assert len(phones.PHONES) == 39 and phones.NUM_CLASSES == 40
    assert set(phones.grid_phone_inventory()) <= set(phones.PHONES) and len(phones.grid_phone_inventory()) == 32
    with pytest.raises(UserInputError, match="not in the CMU"):
        phones.word_phones("qzxqzx")


def _inputs(batch=2, frames=30, lengths=(30, 22), seed=0):
    rng = np.random.default_rng(seed)
    gap = np.zeros((batch, frames, 1), np.float32)
    gap[:, 8:14] = 1.0
    clean = rng.normal(size=(batch, frames, 257)).astype(np.float32)
    return {"gapped_spectrogram": clean * (1 - gap), "gap_mask": gap,
            "video_features": rng.normal(size=(batch, frames, 136)).astype(np.float32),
            "sequence_length": np.array(lengths, np.int32)}, clean


@pytest.mark.parametrize("name", ["a_blstm", "av_blstm", "a_blstm_mtl", "av_blstm_mtl"])
def test_models_keep_reliable_frames_and_round_trip(name, tmp_path):
    import keras

    from avse_tf.systems.av_inpainting import model as inpainting

    model = inpainting.build_model(name, hidden_units=8, num_layers=1)
    inputs, _ = _inputs()
    inputs = {key: inputs[key] for key in model.spec["inputs"]}
    outputs = model.predict_on_batch(inputs)
    inpainted = outputs["inpainted_spectrogram"]
    assert inpainted.shape == (2, 30, 257)
    reliable = inputs["gap_mask"][..., 0] == 0
    valid = np.arange(30)[None, :] < inputs["sequence_length"][:, None]
    keep = reliable & valid
    assert np.array_equal(inpainted[keep], inputs["gapped_spectrogram"][keep])  # exactly the input's
    assert np.abs(inpainted[~reliable & valid]).sum() > 0 and np.all(inpainted[~valid] == 0)
    if model.spec["mtl"]:
        logits = outputs["phone_logits"]
        assert logits.shape == (2, 30, 40) and np.all(np.argmax(logits[1, 22:], -1) == 0)  # padding is blank
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe mode
    assert loaded.get_config() == model.get_config()
    again = loaded.predict_on_batch(inputs)
    for key in outputs:
        np.testing.assert_allclose(again[key], outputs[key], atol=1e-6)
    assert inpainting.build_model(name, hidden_units=250).count_params() == (
        2 * (4 * 250 * (257 + (136 if "av" in name else 0) + 250 + 1))
        + 2 * 2 * (4 * 250 * (500 + 250 + 1)) + 500 * 257 + 257 + (500 * 40 + 40 if "mtl" in name else 0))


def test_losses_gap_l1_and_ctc_over_valid_frames():
    import tensorflow as tf

    from avse_tf.systems.av_inpainting.model import BlankPadding, CtcLoss, GapL1

    rng = np.random.default_rng(1)
    target = rng.normal(size=(2, 10, 5)).astype(np.float32)
    estimate = rng.normal(size=(2, 10, 5)).astype(np.float32)
    gap = np.zeros((2, 10), np.float32)
    gap[0, 2:5] = 1
    gap[1, 7:9] = 1
    expected = np.abs(target - estimate)[gap > 0].mean()
    assert float(GapL1()(target, estimate, sample_weight=gap)) == pytest.approx(expected, rel=1e-5)
    # CTC on padded logits = CTC on the valid frames alone.
    logits = rng.normal(size=(2, 12, 6)).astype(np.float32)
    lengths = np.array([12, 7], np.int32)
    labels = np.array([[1, 2, 3], [4, 5, 0]], np.int32)
    padded = BlankPadding()([tf.constant(logits), tf.constant(lengths)])
    ours = CtcLoss(reduction=None)(labels, padded).numpy()
    reference = [tf.nn.ctc_loss(labels[i:i + 1, :n], logits[i:i + 1, :lengths[i]], [n], [int(lengths[i])],
                                logits_time_major=False, blank_index=0).numpy()[0]
                 for i, n in enumerate((3, 2))]
    np.testing.assert_allclose(ours, reference, rtol=1e-4)


def test_training_lowers_the_gap_l1():
    import keras

    from avse_tf.systems.av_inpainting import model as inpainting

    keras.utils.set_random_seed(0)
    model = inpainting.compile_model(inpainting.build_model("a_blstm_mtl", hidden_units=16, num_layers=1),
                                     keras.optimizers.Adam(1e-2))
    inputs, clean = _inputs(batch=4, frames=20, lengths=(20, 20, 20, 20))
    # A learnable signal: each clip is a sinusoidal pattern over time, the gap in the middle.
    t = np.arange(20)[None, :, None]
    clean = np.sin(0.3 * t + np.arange(257)[None, None, :] * 0.01 + np.arange(4)[:, None, None]).astype(np.float32)
    inputs["gapped_spectrogram"] = clean * (1 - inputs["gap_mask"])
    inputs = {key: inputs[key] for key in model.spec["inputs"]}
    targets = {"inpainted_spectrogram": clean, "phone_logits": np.array([[1, 2]] * 4, np.int32)}
    weights = {"inpainted_spectrogram": inputs["gap_mask"][..., 0], "phone_logits": np.ones(4, np.float32)}
    history = model.fit(inputs, targets, sample_weight=weights, epochs=30, verbose=0, batch_size=4)
    l1 = history.history["inpainted_spectrogram_loss"]
    assert l1[-1] < 0.5 * l1[0]


def test_phase_reconstruction_keeps_reliable_frames():
    from avse_tf.audio import stft
    from avse_tf.audio.phase import (
        gap_griffin_lim,
        reconstruct_waveform,
        resolve_method,
    )

    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    magnitude, phase = (v.numpy() for v in stft.magnitude_phase(stft.stft(wave, "morrone2021")))
    gap = np.zeros(magnitude.shape[0], np.float32)
    gap[30:45] = 1
    estimated = gap_griffin_lim(magnitude, phase, gap, num_samples=wave.size, iterations=40)
    assert np.array_equal(estimated[gap == 0], phase[gap == 0])

    def inconsistency(candidate_phase):
        rebuilt = stft.stft(stft.istft(stft.from_magnitude_phase(magnitude, candidate_phase), "morrone2021",
                                       wave.size), "morrone2021").numpy()
        return np.abs(np.abs(rebuilt) - magnitude)[25:50].sum()

    assert inconsistency(estimated) < 0.5 * inconsistency(np.where(gap[:, None] > 0, 0.0, phase))
    oracle = reconstruct_waveform(magnitude, phase, gap, "oracle", num_samples=wave.size, oracle_phase=phase)
    np.testing.assert_allclose(oracle[100:], wave[100:], atol=1e-4)
    restored = reconstruct_waveform(magnitude, phase, gap, "griffin_lim", num_samples=wave.size, iterations=20)
    # Far from the gap (frames 30-44 = samples 5760-8832 + window) the signal is the input's.
    np.testing.assert_allclose(restored[100:5000], wave[100:5000], atol=1e-4)
    np.testing.assert_allclose(restored[9500:], wave[9500:], atol=1e-4)
    assert resolve_method("auto") in ("lws", "griffin_lim")
    with pytest.raises(UserInputError, match="unknown phase"):
        resolve_method("magic")


def test_inpainting_schema_round_trip(tmp_path):
    from avse_tf.records import read_examples, write_records
    from avse_tf.records.schema import RecordSchema
    from avse_tf.systems.av_inpainting.pipeline import inpainting_schema

    for mode in ("fixed", "var"):
        schema = inpainting_schema(mode, num_audio_samples=960, num_frames=5)
        assert RecordSchema.from_json(schema.to_json()) == schema
    schema = inpainting_schema("fixed", num_audio_samples=960, num_frames=5, max_phones=6)
    example = {"speaker": "s1", "utterance": "bbaf2n", "audio_path": "a.wav", "clean_wav": np.ones(960, np.float32),
               "phones": np.array([3, 4, 5, 0, 0, 0]), "num_phones": 3, "clean_spectrogram": np.ones((5, 257)),
               "video_features": np.zeros((5, 136)), "gap_mask": np.array([0, 1, 1, 0, 0], np.float32)[:, None]}
    manifest = write_records(tmp_path, "records", schema, [example])
    (back,) = read_examples(manifest)
    assert list(back["phones"]) == [3, 4, 5, 0, 0, 0] and int(back["num_phones"]) == 3
    assert back["gap_mask"].reshape(-1).tolist() == [0, 1, 1, 0, 0] and int(back["sequence_length"]) == 5


def test_frame_phone_targets_follow_word_timings():
    from avse_tf.data import phones

    words = [("sil", 0.0, 0.5), ("bin", 0.5, 0.9), ("sp", 0.9, 1.0), ("two", 1.0, 1.3), ("sil", 1.3, 3.0)]
    spans = phones.word_phone_spans(words)
    assert [phones.PHONES[p - 1] for p, _, _ in spans] == ["B", "IH", "N", "T", "UW"]
    # "bin" = B IH N over 0.4 s with weights 1, 2, 1: 0.1 / 0.2 / 0.1 s; spans tile each word.
    np.testing.assert_allclose([(a, b) for _, a, b in spans[:3]], [(0.5, 0.6), (0.6, 0.8), (0.8, 0.9)], atol=1e-9)
    labels = phones.frame_phone_labels(spans, 250)
    centres = (np.arange(250) * 192 + 192) / 16000
    assert labels.dtype == np.int32 and labels.shape == (250,)
    assert np.all(labels[centres < 0.5] == 0) and np.all(labels[(centres > 0.9) & (centres < 1.0)] == 0)
    assert np.all(labels[(centres >= 0.61) & (centres < 0.79)] == phones.PHONE_IDS["IH"])
    assert phones.collapse_frame_labels(labels) == phones.phones_to_ids(["B", "IH", "N", "T", "UW"])
    assert phones.collapse_frame_labels([0, 3, 3, 0, 3, 5, 5, 0]) == [3, 3, 5]
    # A speed change (x 1/0.8 longer) and a delay move the labels with the audio.
    moved = phones.frame_phone_labels(spans, 250, time_scale=1.25, time_shift=0.1)
    assert np.all(moved[(centres >= 0.6 * 1.25 + 0.11) & (centres < 0.8 * 1.25 + 0.09)] == phones.PHONE_IDS["IH"])


def test_recognizer_perturbation_keeps_audio_and_labels_together():
    from avse_tf.data import phones
    from avse_tf.systems.av_inpainting.phone_recognizer import recognizer_example

    # A tone during the word only: after any perturbation, the labelled frames hold the energy.
    t = np.arange(48000) / 16000
    waveform = np.where((t >= 1.0) & (t < 1.6), np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    spans = phones.word_phone_spans([("sil", 0.0, 1.0), ("two", 1.0, 1.6), ("sil", 1.6, 3.0)])
    same, labels = recognizer_example(waveform, spans)
    assert np.array_equal(same, waveform) and labels.shape == (250,)
    rng = np.random.default_rng(0)
    for _ in range(5):
        moved, labels = recognizer_example(waveform, spans, rng)
        assert moved.shape == (48000,) and labels.shape == (250,)
        energy = np.array([np.sum(moved[192 * k + 96:192 * k + 288] ** 2) for k in range(250)])
        inside = labels > 0
        near = np.convolve(inside, np.ones(3), "same") > 0  # the labelled frames and their neighbours
        assert inside.sum() > 20 and energy[inside].min() > 1.0 and energy[~near].max() < 1e-6


def test_frame_decoding_smooths_and_collapses():
    from avse_tf.systems.av_inpainting.phone_recognizer import decode_frame_phones

    labels = np.array([0, 0, 4, 4, 4, 4, 9, 4, 4, 4, 0, 0, 0, 6, 6, 6, 6, 0, 2, 2, 2])
    logits = np.full((1, len(labels), 10), -5.0)
    logits[0, np.arange(len(labels)), labels] = 5.0
    assert decode_frame_phones(logits, smoothing=1, min_frames=1) == [[4, 9, 4, 6, 2]]
    assert decode_frame_phones(logits, smoothing=1, min_frames=2) == [[4, 6, 2]]  # the 1-frame 9 goes
    assert decode_frame_phones(logits) == [[4, 6, 2]]
    assert decode_frame_phones(logits, lengths=[12]) == [[4]]
