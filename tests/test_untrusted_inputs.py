"""Inputs checked at the door (issue 14): damaged or untrusted model files and exports, SavedModels
with another signature, damaged records mid-shard. Every case is a typed one-line error; the files
are real (tiny Keras models, real exports, real record shards with flipped bytes), no mocks."""

import os
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import avse_tf
from avse_tf.cli.main import main
from avse_tf.errors import (
    CorruptRecordError,
    ModelFileError,
    UntrustedModelError,
    UserInputError,
)
from avse_tf.training.checkpoints import load_model

LAMBDA_WORDS = "contains a Lambda layer (arbitrary Python code); avse_tf loads models in safe mode only"


def _one_line(error):
    text = str(error)
    assert "\n" not in text and "not found" not in text, text
    return text


# ----------------------------------------------------------------------------------------------
# .keras files

@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A sound avse_tf checkpoint and its corruptions, a foreign model with an unregistered class,
    and models holding Lambda layers (a Python lambda, and a named function)."""
    import keras

    folder = tmp_path_factory.mktemp("keras_files")
    sound = folder / "sound.keras"
    avse_tf.from_preset("a_blstm_grid", hidden_units=4, num_layers=1).save(str(sound))
    data = sound.read_bytes()
    files = {"sound": sound}

    def write(name, payload):
        files[name] = folder / f"{name}.keras"
        files[name].write_bytes(payload)

    write("random_bytes", np.random.default_rng(0).bytes(4000))
    write("truncated_zip", data[: len(data) // 2])
    write("empty", b"")
    flipped = bytearray(data)
    with zipfile.ZipFile(sound) as archive:  # flip bytes inside the stored weights: a CRC mismatch
        info = archive.getinfo("model.weights.h5")
        middle = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    flipped[middle: middle + 8] = bytes(255 - b for b in flipped[middle: middle + 8])
    write("flipped_weights", bytes(flipped))
    files["damaged_config"] = folder / "damaged_config.keras"
    with zipfile.ZipFile(sound) as source, zipfile.ZipFile(files["damaged_config"], "w") as target:
        for name in source.namelist():
            payload = source.read(name)
            target.writestr(name, payload[: len(payload) // 2] if name == "config.json" else payload)

    class Doubler(keras.layers.Layer):  # deliberately not registered
        def call(self, inputs):
            return inputs * 2

    inputs = keras.Input((3,))
    keras.Model(inputs, Doubler()(inputs)).save(str(folder / "unknown_class.keras"))
    files["unknown_class"] = folder / "unknown_class.keras"
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(str(folder / "lambda.keras"))
    files["lambda"] = folder / "lambda.keras"
    keras.Model(inputs, keras.layers.Lambda(keras.ops.negative, output_shape=(3,))(inputs)).save(str(folder / "named_lambda.keras"))
    files["named_lambda"] = folder / "named_lambda.keras"
    (folder / "no_checkpoint").mkdir()
    return {name: str(path) for name, path in files.items()}, str(folder)


@pytest.mark.parametrize("case, reason", [
    ("random_bytes", "not a zip archive"), ("truncated_zip", "not a zip archive, or cut short"),
    ("empty", "empty file"), ("flipped_weights", "model.weights.h5 is damaged"),
    ("damaged_config", "config.json is not valid JSON"), ("unknown_class", "unknown class"),
])
def test_damaged_keras_file_is_corrupt_not_missing(keras_files, case, reason):
    files, _ = keras_files
    path = files[case]
    for load in (load_model, avse_tf.load):
        with pytest.raises(ModelFileError) as caught:
            load(path)
        text = _one_line(caught.value)
        assert f"{path} is corrupt or not an avse_tf model (" in text and reason in text, text
        assert isinstance(caught.value, UserInputError)
    assert load_model(files["sound"], compile=False).architecture == "a_blstm"  # the sound file loads


def test_lambda_layers_are_refused(keras_files, capsys):
    files, _ = keras_files
    for case in ("lambda", "named_lambda"):
        for load in (load_model, avse_tf.load):
            with pytest.raises(UntrustedModelError, match=r"contains a Lambda layer \(arbitrary Python code\)"):
                load(files[case])
        assert main(["export", "--checkpoint", files[case], "--output", files[case] + ".out"]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("avse: error:") and LAMBDA_WORDS in error and "\n" not in error, error
        assert not os.path.exists(files[case] + ".out")


def test_folder_without_checkpoint_says_so(keras_files):
    _, folder = keras_files
    empty = os.path.join(folder, "no_checkpoint")
    with pytest.raises(UserInputError, match="is a folder without best.keras"):
        load_model(empty)
    with pytest.raises(UserInputError, match="model not found"):
        avse_tf.load(empty)


# ----------------------------------------------------------------------------------------------
# SavedModel exports

@pytest.fixture(scope="module")
def saved_model_export(tmp_path_factory):
    """A real ``avse export --format savedmodel`` of a tiny inpainting model: ``(version folder, stamp)``."""
    from avse_tf.data.normalization import save_stats

    folder = tmp_path_factory.mktemp("savedmodel")
    exp = folder / "exp"
    exp.mkdir()
    avse_tf.from_preset("a_blstm_grid", hidden_units=4, num_layers=1).save(str(exp / "best.keras"))
    save_stats(str(exp / "normalization.npz"), spectrogram=(np.zeros(257, np.float32), np.ones(257, np.float32)),
               video=(np.zeros(136, np.float32), np.ones(136, np.float32)))
    assert main(["export", "--checkpoint", str(exp), "--format", "savedmodel", "--output", str(folder / "sm")]) == 0
    return str(folder / "sm" / "1"), str(folder / "sm" / "1" / "avse_export.json")


def _foreign_saved_model(path, stamp=None, key="serving_default"):
    """A SavedModel of a tiny tf.Module (one float input ``x``), with ``stamp`` copied beside it."""
    import tensorflow as tf

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def double(self, x):
            return {"y": 2.0 * x}

    module = Doubler()
    tf.saved_model.save(module, str(path), signatures={key: module.double.get_concrete_function()})
    if stamp:
        shutil.copyfile(stamp, os.path.join(str(path), "avse_export.json"))
    return str(path)


def test_savedmodel_stamp_records_the_signature_and_load_checks_it(saved_model_export, tmp_path):
    import json

    version, stamp = saved_model_export
    with open(stamp, encoding="utf-8") as handle:
        recorded = json.load(handle)["signature"]
    assert recorded["gapped_spectrogram"] == {"dtype": "float32", "rank": 3}
    assert recorded["sequence_length"]["dtype"] == "int32"
    assert avse_tf.load(os.path.dirname(version)).system == "av_inpainting"

    other = _foreign_saved_model(tmp_path / "other", stamp)
    with pytest.raises(ModelFileError) as caught:
        avse_tf.load(other)
    text = _one_line(caught.value)
    assert text.startswith(f"{other}: SavedModel signature has inputs x (float32, rank 1), expected gap_mask "
                           "(float32, rank 3)"), text
    assert "it was not written by avse export or comes from another version" in text

    no_serving = _foreign_saved_model(tmp_path / "no_serving", stamp, key="other")
    with pytest.raises(ModelFileError, match="no serving_default signature, only other"):
        avse_tf.load(no_serving)
    # An export from before the stamp existed is an enhancement serving graph: its inputs are checked.
    unstamped = _foreign_saved_model(tmp_path / "unstamped")
    with pytest.raises(ModelFileError, match=r"expected landmarks \(float32, rank 2\), waveform \(float32, rank 1\)"):
        avse_tf.load(unstamped)


def _cut_in_half(path):
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])


@pytest.mark.parametrize("damage, reason", [
    ("half_pb", "saved_model.pb is damaged"), ("no_variables", "TensorSliceReader"),
    ("half_variables", "corrupt or not an avse_tf model"), ("no_pb", "saved_model.pb is missing"),
    ("bad_stamp", "not an avse export stamp"),
])
def test_damaged_savedmodel_is_one_line(saved_model_export, tmp_path, damage, reason):
    version, _ = saved_model_export
    copy = str(tmp_path / "sm")
    shutil.copytree(version, copy)
    pb = os.path.join(copy, "saved_model.pb")
    data_file = os.path.join(copy, "variables", "variables.data-00000-of-00001")
    if damage == "half_pb":
        _cut_in_half(pb)
    elif damage == "no_variables":
        shutil.rmtree(os.path.join(copy, "variables"))
    elif damage == "half_variables":
        _cut_in_half(data_file)
    elif damage == "no_pb":
        os.remove(pb)
    else:
        with open(os.path.join(copy, "avse_export.json"), "w", encoding="utf-8") as handle:
            handle.write('{"system": ')
    with pytest.raises(ModelFileError) as caught:
        avse_tf.load(copy)
    text = _one_line(caught.value)
    assert copy in text and reason in text, text


# ----------------------------------------------------------------------------------------------
# Records damaged mid-shard

SMALL = {"num_audio_samples": 400, "audio_dim": 9, "video_dim": 6, "num_frames": 5}


SENTINEL = 1234.5  # a float written into one record, then turned into NaN in the shard's bytes


def _examples(count, rng, nan_at=None):
    examples = []
    for index in range(count):
        target = rng.standard_normal(400).astype(np.float32)
        interferers = rng.standard_normal(400).astype(np.float32)
        video = rng.standard_normal((5, 6)).astype(np.float32)
        if index == nan_at:
            video[2, 3] = SENTINEL
        examples.append({
            "target_wav": target, "interferers_wav": interferers, "mixture_wav": target + interferers,
            "tbm": (rng.random((5, 9)) > 0.5).astype(np.float32), "video_features": video,
            "mixed_spectrogram": rng.standard_normal((5, 9)).astype(np.float32),
            "target_path": f"s1/audio/u{index}.wav", "mixture_path": f"mix/s1_u{index}.wav",
            "speaker": "s1", "utterance": f"u{index}"})
    return examples


def _write_set(folder, count=8, seed=0, nan_at=None):
    from avse_tf.records import load_manifest, write_records
    from avse_tf.systems.landmark_enhancement.pipeline import enhancement_schema

    path = write_records(str(folder), "records", enhancement_schema("fixed", **SMALL),
                         _examples(count, np.random.default_rng(seed), nan_at), examples_per_shard=4)
    return load_manifest(path)


def _nan_in_record(shard, index):
    """Rewrite ``shard`` with the sentinel float of record ``index`` replaced by NaN (valid CRCs: the
    record writer refuses NaN, a damaged disk or another writer does not)."""
    import tensorflow as tf

    records = [record.numpy() for record in tf.data.TFRecordDataset(shard)]
    assert records[index].count(struct.pack("<f", SENTINEL)) == 1
    records[index] = records[index].replace(struct.pack("<f", SENTINEL), struct.pack("<f", float("nan")))
    with tf.io.TFRecordWriter(shard) as writer:
        for record in records:
            writer.write(record)


def _flip_record(shard, index):
    """Flip 8 bytes in the middle of record ``index``'s data (the file keeps its size)."""
    with open(shard, "rb") as handle:
        data = bytearray(handle.read())
    offset = 0
    for _ in range(index):
        offset += 16 + struct.unpack("<Q", data[offset: offset + 8])[0]
    length = struct.unpack("<Q", data[offset: offset + 8])[0]
    middle = offset + 12 + length // 2
    data[middle: middle + 8] = bytes(255 - b for b in data[middle: middle + 8])
    with open(shard, "wb") as handle:
        handle.write(bytes(data))


def test_damaged_and_nan_records_name_shard_and_index(tmp_path):
    from avse_tf.records import check_records, make_dataset, record_errors

    manifest = _write_set(tmp_path / "damaged")
    shard = manifest.files[1]
    _flip_record(shard, 2)
    with pytest.raises(CorruptRecordError) as caught:
        check_records(str(tmp_path / "damaged"))
    assert str(caught.value).startswith(f"corrupt record file {shard}: record 2 (0-based) is damaged: "), caught.value
    assert str(caught.value).endswith("; re-run tfrecords_generator")
    with pytest.raises(CorruptRecordError, match=r"record 2 \(0-based\)"), record_errors(manifest):
        for _ in make_dataset(manifest, batch_size=3):
            pass

    nan_set = _write_set(tmp_path / "nan", nan_at=5)  # shard 1, record 1
    _nan_in_record(nan_set.files[1], 1)
    with pytest.raises(CorruptRecordError) as caught:
        check_records(nan_set)
    assert str(caught.value) == (f"corrupt record file {nan_set.files[1]}: record 1 (0-based) has NaN in feature "
                                 "video_features; re-run tfrecords_generator")


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "avse_tf", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def _assert_names_record(result, shard, index):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"avse: error: corrupt record file {shard}: record {index} (0-based) is damaged"), lines


def test_cli_training_and_testing_name_the_damaged_record(tmp_path):
    from avse_tf.systems.landmark_enhancement.model import build_model

    for name, seed in (("TRAINING_SET", 1), ("VALIDATION_SET", 2), ("TEST_SET", 3)):
        _write_set(tmp_path / "records" / name, count=6, seed=seed)
    train_shard = os.path.join(tmp_path, "records", "TRAINING_SET", "records-00001.tfrecord")
    test_shard = os.path.join(tmp_path, "records", "TEST_SET", "records-00000.tfrecord")
    _flip_record(train_shard, 1)
    _flip_record(test_shard, 3)
    checkpoint = str(tmp_path / "vl2m.keras")
    build_model("vl2m", hidden_units=4, num_layers=1, audio_dim=9, video_dim=6).save(checkpoint)

    result = _cli("enhancement", "training", "--data_dir", str(tmp_path), "--train_set", "records/TRAINING_SET",
                  "--val_set", "records/VALIDATION_SET", "--exp", "e", "--model", "vl2m", "--audio_dim", "9",
                  "--video_dim", "6", "--hidden_units", "4", "--layers", "1", "--batch_size", "2", "--epochs", "1")
    _assert_names_record(result, train_shard, 1)
    result = _cli("enhancement", "testing", "--data_dir", str(tmp_path), "--test_set", "records/TEST_SET",
                  "--exp", "e", "--ckp", checkpoint, "--batch_size", "2", "--metrics", "sdr")
    _assert_names_record(result, test_shard, 3)
