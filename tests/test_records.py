"""Records: schema JSON, wire format, sharded atomic writing, tf.data reading, corrupt files."""

import json
import logging
import os
import re

import numpy as np
import pytest

from avse_tf.errors import UserInputError
from avse_tf.records import (
    Feature,
    RecordSchema,
    RecordWriter,
    check_records,
    load_manifest,
    make_dataset,
    read_examples,
    record_errors,
    serialize_example,
    write_records,
)
from avse_tf.systems.landmark_enhancement.pipeline import enhancement_schema

SMALL = {"num_audio_samples": 800, "audio_dim": 9, "video_dim": 6, "num_frames": 7}
WAVES = ("target_wav", "interferers_wav", "mixture_wav")
FRAME_FEATURES = ("tbm", "video_features", "mixed_spectrogram")


def make_example(rng, index, samples, frames, audio_dim=9, video_dim=6):
    target = rng.standard_normal(samples).astype(np.float32)
    interferers = rng.standard_normal(samples).astype(np.float32)
    return {
        "target_wav": target, "interferers_wav": interferers, "mixture_wav": target + interferers,
        "tbm": (rng.random((frames, audio_dim)) > 0.5).astype(np.float32),
        "video_features": rng.standard_normal((frames, video_dim)).astype(np.float32),
        "mixed_spectrogram": rng.standard_normal((frames, audio_dim)).astype(np.float32),
        "target_path": f"s1/audio/utt{index}.wav", "mixture_path": f"mix/TEST_SET/s1_utt{index}_with_s2.wav",
        "speaker": "s1", "utterance": f"utt{index}",
    }


def small_examples(mode, count, seed=0):
    rng = np.random.default_rng(seed)
    if mode == "fixed":
        return [make_example(rng, index, 800, 7) for index in range(count)]
    return [make_example(rng, index, 500 + 37 * index, 3 + index % 4) for index in range(count)]


def listing(folder):
    return sorted(os.listdir(folder))


def assert_same_example(read, written, schema):
    for name in schema.frame_features + schema.waveforms:
        stored = read[name].reshape(-1) if name in WAVES else read[name]
        assert np.array_equal(stored, written[name]), name
    for name in ("target_path", "mixture_path", "speaker", "utterance"):
        assert read[name] == written[name].encode()
    assert int(read["sequence_length"]) == len(written["tbm"])
    assert int(read["num_samples"]) == len(written["target_wav"])


# ----------------------------------------------------------------------------------------------
# Schema

def test_schema_json_round_trip_and_layout():
    for mode in ("fixed", "var"):
        schema = enhancement_schema(mode)
        again = RecordSchema.from_json(schema.to_json())
        assert again == schema and again.to_json() == schema.to_json()
        assert RecordSchema.from_json(json.loads(schema.to_json())) == schema
        assert schema.sequence["tbm"] == Feature("float32", 257) and schema.sequence["video_features"].dim == 136
        assert schema.context["sequence_length"] == Feature("int64") == schema.context["num_samples"]
        assert schema.context["target_path"].dtype == "bytes"
        assert sorted(schema.waveforms) == sorted(WAVES)
    fixed, var = enhancement_schema("fixed"), enhancement_schema("var")
    assert fixed.context["mixture_wav"] == Feature("float32", 48000, waveform=True)
    assert (fixed.num_audio_samples, fixed.num_frames) == (48000, 302)
    assert var.sequence["mixture_wav"] == Feature("float32", 1, waveform=True) and "mixture_wav" not in var.context
    generic = RecordSchema("generic", "var", {"ids": Feature("int64", 3)}, {"tokens": Feature("int64", 2)})
    assert "sequence_length" in generic.context and RecordSchema.from_json(generic.to_json()) == generic
    with pytest.raises(ValueError):
        RecordSchema("bad", "streaming", {}, {})
    with pytest.raises(ValueError):
        RecordSchema("bad", "var", {}, {"x": Feature("float32")})  # sequence feature without dim
    with pytest.raises(ValueError):
        Feature("float64", 3)


def test_serialization_matches_tf_train_messages():
    import tensorflow as tf

    schema = RecordSchema("generic", "var", {"name": Feature("bytes"), "ids": Feature("int64", 3),
                                             "gain": Feature("float32")},
                          {"tokens": Feature("int64", 2), "frames": Feature("float32", 4)})
    rng = np.random.default_rng(5)
    frames = rng.standard_normal((5, 4)).astype(np.float32)
    tokens = np.array([[1, -2], [300, 2**40], [0, -(2**63)], [7, 8], [9, 10]], np.int64)
    example = {"name": "n\u00e9", "ids": [1, 128, -1], "gain": 0.5, "tokens": tokens, "frames": frames}

    def feature(kind, values):
        lists = {"bytes": ("bytes_list", tf.train.BytesList), "int64": ("int64_list", tf.train.Int64List),
                 "float32": ("float_list", tf.train.FloatList)}
        field, cls = lists[kind]
        return tf.train.Feature(**{field: cls(value=values)})

    expected = tf.train.SequenceExample(
        context=tf.train.Features(feature={
            "name": feature("bytes", ["n\u00e9".encode()]), "ids": feature("int64", [1, 128, -1]),
            "gain": feature("float32", [0.5]), "sequence_length": feature("int64", [5]),
            "num_samples": feature("int64", [0])}),
        feature_lists=tf.train.FeatureLists(feature_list={
            "tokens": tf.train.FeatureList(feature=[feature("int64", row) for row in tokens.tolist()]),
            "frames": tf.train.FeatureList(feature=[feature("float32", row) for row in frames])}))
    assert tf.train.SequenceExample.FromString(serialize_example(example, schema)) == expected

    # The enhancement layout in var mode: waveforms as one float per step.
    var = enhancement_schema("var", **SMALL)
    written = small_examples("var", 1)[0]
    message = tf.train.SequenceExample.FromString(serialize_example(written, var))
    steps = message.feature_lists.feature_list["mixture_wav"].feature
    assert len(steps) == written["mixture_wav"].size and list(steps[3].float_list.value) == [written["mixture_wav"][3]]
    assert list(message.context.feature["sequence_length"].int64_list.value) == [len(written["tbm"])]


# ----------------------------------------------------------------------------------------------
# Write -> read

@pytest.mark.parametrize("mode", ["fixed", "var"])
@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_write_read_round_trip(tmp_path, mode, compression):
    schema = enhancement_schema(mode, **SMALL)
    examples = small_examples(mode, 7)
    manifest_path = write_records(tmp_path, "records", schema, examples, examples_per_shard=3, compression=compression)
    suffix = ".tfrecord.gz" if compression else ".tfrecord"
    assert listing(tmp_path) == ["records" + f"-0000{index}" + suffix for index in range(3)] + ["records.json"]

    manifest = load_manifest(manifest_path)
    assert manifest.schema == schema and manifest.counts == (3, 3, 1) and manifest.num_examples == 7
    assert manifest.compression == compression
    read = read_examples(manifest_path)
    assert len(read) == 7
    for got, written in zip(read, examples):
        assert_same_example(got, written, schema)
    assert check_records(tmp_path) == 7
    assert check_records(manifest.files, schema) == 7

    # Batched: every example once (round-robin over shards), the last batch short.
    batches = list(make_dataset(manifest_path, batch_size=4))
    assert [int(batch["sequence_length"].shape[0]) for batch in batches] == [4, 3]
    by_name = {}
    for batch in batches:
        for index, name in enumerate(batch["mixture_path"].numpy()):
            by_name[name.decode()] = {key: value[index].numpy() for key, value in batch.items()}
    assert len(by_name) == 7
    for written in examples:
        got = by_name[written["mixture_path"]]
        frames, samples = len(written["tbm"]), len(written["target_wav"])
        assert np.array_equal(got["tbm"][:frames], written["tbm"]) and not got["tbm"][frames:].any()
        assert np.array_equal(got["target_wav"].reshape(-1)[:samples], written["target_wav"])
    if mode == "fixed":
        spec = make_dataset(manifest_path, batch_size=4, drop_remainder=True).element_spec
        assert spec["tbm"].shape.as_list() == [4, 7, 9] and spec["mixture_wav"].shape.as_list() == [4, 800]


@pytest.mark.parametrize("samples, frames, note", [(47000, 296, "zero-padded"), (49000, 308, "trimmed")])
def test_wrong_length_clip_fixed_mode_pads_or_trims_with_warning(tmp_path, caplog, samples, frames, note):
    schema = enhancement_schema("fixed", audio_dim=9, video_dim=6)  # 48000 samples, 302 frames
    rng = np.random.default_rng(1)
    odd, right = make_example(rng, 0, samples, frames), make_example(rng, 1, 48000, 302)
    with caplog.at_level(logging.WARNING, logger="avse_tf.records"):
        manifest = write_records(tmp_path, "records", schema, [odd, right])
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(messages) == 1 and odd["mixture_path"] in messages[0] and note in messages[0]
    assert str(samples) in messages[0] and "48000" in messages[0]
    got, other = read_examples(manifest)
    keep = min(samples, 48000)
    assert got["target_wav"].shape == (48000,) and np.array_equal(got["target_wav"][:keep], odd["target_wav"][:keep])
    assert not got["target_wav"][keep:].any()
    assert got["tbm"].shape == (302, 9) and np.array_equal(got["tbm"][:min(frames, 302)], odd["tbm"][:302])
    assert int(got["num_samples"]) == keep and int(got["sequence_length"]) == min(frames, 302)
    assert_same_example(other, right, schema)
    batch = next(iter(make_dataset(manifest, batch_size=8)))
    assert batch["mixture_wav"].shape == (2, 48000) and batch["tbm"].shape == (2, 302, 9)


def test_wrong_length_clips_var_mode_kept_and_padded_in_batch(tmp_path, caplog):
    schema = enhancement_schema("var", audio_dim=9, video_dim=6)
    rng = np.random.default_rng(2)
    lengths = [(47000, 296), (49000, 308), (48000, 302)]
    examples = [make_example(rng, index, samples, frames) for index, (samples, frames) in enumerate(lengths)]
    with caplog.at_level(logging.WARNING, logger="avse_tf.records"):
        manifest = write_records(tmp_path, "records", schema, examples)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    for got, written in zip(read_examples(manifest), examples):
        assert_same_example(got, written, schema)
        assert got["target_wav"].shape == (len(written["target_wav"]), 1)
    batch = next(iter(make_dataset(manifest, batch_size=8)))
    assert batch["target_wav"].shape == (3, 49000, 1) and batch["tbm"].shape == (3, 308, 9)
    assert batch["video_features"].shape == (3, 308, 6)
    assert batch["sequence_length"].numpy().tolist() == [296, 308, 302]
    assert batch["num_samples"].numpy().tolist() == [47000, 49000, 48000]
    for index, (samples, frames) in enumerate(lengths):
        wave, tbm = batch["mixture_wav"][index].numpy()[:, 0], batch["tbm"][index].numpy()
        assert np.array_equal(wave[:samples], examples[index]["mixture_wav"]) and not wave[samples:].any()
        assert np.array_equal(tbm[:frames], examples[index]["tbm"]) and not tbm[frames:].any()


def test_length_buckets_batch_clips_of_one_bucket_with_their_own_content(tmp_path):
    schema = enhancement_schema("var", audio_dim=9, video_dim=6)
    rng = np.random.default_rng(3)
    frames = [int(f) for f in rng.integers(5, 60, 40)]
    examples = [make_example(rng, index, 100 * count, count) for index, count in enumerate(frames)]
    manifest = write_records(tmp_path, "records", schema, examples, examples_per_shard=10)
    boundaries = [20, 40]
    seen, padded_frames = {}, 0
    for batch in make_dataset(manifest, batch_size=4, shuffle=True, seed=1, length_buckets=boundaries):
        lengths = batch["sequence_length"].numpy()
        buckets = np.searchsorted(boundaries, lengths, side="right")
        assert len(set(buckets.tolist())) == 1, lengths  # one bucket per batch
        assert batch["tbm"].shape[1] == lengths.max() and batch["mixture_wav"].shape[1] == 100 * lengths.max()
        padded_frames += batch["tbm"].shape[1] * len(lengths)
        for index, utterance in enumerate(batch["utterance"].numpy()):
            written = examples[int(utterance.decode()[3:])]
            count = int(lengths[index])
            assert np.array_equal(batch["tbm"][index].numpy()[:count], written["tbm"])
            assert not batch["tbm"][index].numpy()[count:].any()
            assert np.array_equal(batch["mixture_wav"][index].numpy()[:100 * count, 0], written["mixture_wav"])
            seen[utterance] = seen.get(utterance, 0) + 1
    assert len(seen) == 40 and set(seen.values()) == {1}  # every clip exactly once
    plain = sum(batch["tbm"].shape[1] * batch["tbm"].shape[0]
                for batch in make_dataset(manifest, batch_size=4, shuffle=True, seed=1))
    assert padded_frames < 0.85 * plain, (padded_frames, plain)  # what the buckets are for
    with pytest.raises(UserInputError, match="increasing"):
        make_dataset(manifest, batch_size=4, length_buckets=[40, 20])
    fixed = write_records(tmp_path, "fixed", enhancement_schema("fixed", **SMALL), small_examples("fixed", 2))
    with pytest.raises(UserInputError, match="var-mode"):
        make_dataset(fixed, batch_size=4, length_buckets=[20])


def test_order_is_deterministic_and_seeded_shuffle_reproducible(tmp_path):
    schema = enhancement_schema("fixed", **SMALL)
    manifest = write_records(tmp_path, "records", schema, small_examples("fixed", 12), examples_per_shard=3)

    def order(**kwargs):
        return [name.decode() for batch in make_dataset(manifest, batch_size=5, features=["utterance"], **kwargs)
                for name in batch["utterance"].numpy()]

    plain = order()
    assert sorted(plain) == sorted(f"utt{index}" for index in range(12)) and order() == plain
    assert order(cycle_length=1) == [f"utt{index}" for index in range(12)]  # written order
    shuffled = order(shuffle=True, seed=3)
    assert order(shuffle=True, seed=3) == shuffled and sorted(shuffled) == sorted(plain) and shuffled != plain
    assert order(shuffle=True, seed=4) != shuffled
    batch = next(iter(make_dataset(manifest, features=["tbm"])))
    assert set(batch) == {"tbm", "sequence_length", "num_samples"}
    endless = make_dataset(manifest, batch_size=5, repeat=True, shuffle=True, seed=3, drop_remainder=True)
    assert sum(int(batch["tbm"].shape[0]) for batch in endless.take(6)) == 30
    with pytest.raises(UserInputError, match="unknown feature"):
        make_dataset(manifest, features=["lips"])


# ----------------------------------------------------------------------------------------------
# Validation and damage

def test_invalid_examples_name_example_and_feature(tmp_path):
    schema = enhancement_schema("var", **SMALL)
    good = small_examples("var", 1)[0]
    with RecordWriter(tmp_path, "records", schema) as writer:
        wrong_dim = dict(good, video_features=np.zeros((len(good["tbm"]), 5), np.float32))
        with pytest.raises(UserInputError, match=r"utt0.*video_features.*\[frames, 6\].*got 5"):
            writer.write(wrong_dim)
        frames = dict(good, tbm=np.zeros((len(good["tbm"]) + 1, 9), np.float32))
        with pytest.raises(UserInputError, match=r"utt0.*tbm \d+"):
            writer.write(frames)
        with pytest.raises(UserInputError, match=r"utt0.*waveforms differ"):
            writer.write(dict(good, target_wav=good["target_wav"][:-1]))
        with pytest.raises(UserInputError, match=r"missing feature\(s\) speaker"):
            writer.write({key: value for key, value in good.items() if key != "speaker"})
        with pytest.raises(UserInputError, match="unknown feature"):
            writer.write(dict(good, lips=1))
        writer.write(good)
    assert load_manifest(tmp_path).counts == (1,)


def test_interrupted_write_leaves_complete_shards_only(tmp_path):
    schema = enhancement_schema("fixed", **SMALL)
    examples = small_examples("fixed", 9)
    with pytest.raises(KeyboardInterrupt):
        with RecordWriter(tmp_path, "records", schema, examples_per_shard=2) as writer:
            for example in examples[:5]:
                writer.write(example)
            raise KeyboardInterrupt
    assert listing(tmp_path) == ["records-00000.tfrecord", "records-00001.tfrecord"]  # no temp, no manifest
    with pytest.raises(UserInputError, match="run tfrecords_generator"):
        load_manifest(tmp_path / "records.json")
    assert check_records([str(tmp_path / name) for name in listing(tmp_path)], schema) == 4

    write_records(tmp_path, "records", schema, examples, examples_per_shard=2)
    assert len(read_examples(tmp_path)) == 9 and len(listing(tmp_path)) == 6
    write_records(tmp_path, "records", schema, examples[:3], examples_per_shard=2)  # rewrite: stale shards go
    assert listing(tmp_path) == ["records-00000.tfrecord", "records-00001.tfrecord", "records.json"]
    assert [got["utterance"] for got in read_examples(tmp_path)] == [b"utt0", b"utt1", b"utt2"]


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_truncated_and_garbage_files_raise_user_errors(tmp_path, compression):
    import tensorflow as tf

    schema = enhancement_schema("fixed", **SMALL)
    folder = tmp_path / "set"
    manifest = load_manifest(write_records(folder, "records", schema, small_examples("fixed", 6),
                                           examples_per_shard=3, compression=compression))
    shard = manifest.files[1]
    with open(shard, "rb") as handle:
        data = handle.read()
    with open(shard, "wb") as handle:
        handle.write(data[:-100])
    for call in (lambda: load_manifest(folder), lambda: check_records(folder), lambda: read_examples(folder),
                 lambda: check_records([shard], schema), lambda: read_examples([shard], schema)):
        with pytest.raises(UserInputError, match=rf"corrupt record file {re.escape(shard)}: .*re-run tfrecords_gen"):
            call()
    # Iterating a pipeline over the shard itself: record_errors turns the error into one line.
    with pytest.raises(UserInputError, match=f"corrupt record file {re.escape(shard)}"):
        with record_errors(manifest.files, schema):
            for _ in make_dataset(manifest.files, schema, batch_size=2):
                pass
            if not compression:  # an uncompressed file cut short ends quietly inside tf.data
                check_records(manifest.files, schema)

    garbage = tmp_path / ("garbage.tfrecord" + (".gz" if compression else ""))
    garbage.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(UserInputError, match=rf"corrupt record file {re.escape(str(garbage))}: .*re-run tfrecords_"):
        check_records([str(garbage)])
    with pytest.raises(UserInputError, match=f"corrupt record file {re.escape(str(garbage))}"):
        with record_errors([str(garbage)], schema):
            for _ in make_dataset([str(garbage)], schema):
                pass
    with pytest.raises(tf.errors.InvalidArgumentError):  # errors not caused by the records pass through
        with record_errors(manifest.files[:1], schema):
            raise tf.errors.InvalidArgumentError(None, None, "shape mismatch in the model")


def test_manifest_round_trip_and_lookup(tmp_path):
    schema = enhancement_schema("var", **SMALL)
    path = write_records(tmp_path, "train", schema, small_examples("var", 5), examples_per_shard=2, compression="gzip")
    data = json.loads(open(path, encoding="utf-8").read())
    assert data["compression"] == "GZIP" and data["num_examples"] == 5
    assert [shard["file"] for shard in data["shards"]] == [f"train-0000{i}.tfrecord.gz" for i in range(3)]
    assert [shard["examples"] for shard in data["shards"]] == [2, 2, 1]
    assert RecordSchema.from_dict(data["schema"]) == schema
    manifest = load_manifest(path)
    assert load_manifest(tmp_path) == manifest == load_manifest(tmp_path, "train")
    assert manifest.files == tuple(str(tmp_path / shard["file"]) for shard in data["shards"])
    assert len(read_examples(manifest)) == 5
    with pytest.raises(UserInputError, match="schema"):
        make_dataset(path, schema=enhancement_schema("fixed", **SMALL))

    write_records(tmp_path, "valid", schema, small_examples("var", 2))
    with pytest.raises(UserInputError, match="2 record manifests"):
        load_manifest(tmp_path)
    with pytest.raises(UserInputError, match="not found"):
        load_manifest(tmp_path, "test")
    (tmp_path / "broken.json").write_text('{"format": "avse_tf.records", "schema": {}}')
    with pytest.raises(UserInputError, match="damaged"):
        load_manifest(tmp_path / "broken.json")
    with pytest.raises(UserInputError, match="needs the schema"):
        make_dataset(list(manifest.files))
