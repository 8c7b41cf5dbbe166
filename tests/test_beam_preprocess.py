"""Corpus preparation on Apache Beam (issue 21): ``avse preprocess <system> --runner direct`` writes
what the local loop writes for every system with a clip-by-clip preparation (byte for byte where
no statistics are combined; enhancement: the same examples, statistics within 1e-6); faceless and
truncated clips end in the dead-letter report; a run killed mid-way and started again gives the
same records, with no duplicates."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from avse_tf.cli.main import main
from avse_tf.records import read_examples
from avse_tf.systems import all_systems

pytestmark = pytest.mark.slow
READY = [system.name for system in all_systems() if system.preparation]
CLIP_TREE_SYSTEMS = ("pseudo_visual", "vca_gan")  # read any folder of videos
CORPUS_SYSTEMS = ("landmark_enhancement", "av_inpainting")  # a corpus of speakers (GRID, seed, LRS3 layouts)
RECORDS = {"landmark_enhancement": "tfrecords2", "av_inpainting": "inpainting_records"}
CLEAN_CLIP = {"landmark_enhancement": "target_path", "av_inpainting": "audio_path"}  # the clip with the video
# The equality tests run Beam's DirectRunner in one process: the same pipeline graph, DoFns serialised
# as on any runner, without starting worker processes that each import TensorFlow (measured: 5 s
# against 19 s for vca_gan on 6 clips). The killed-run test keeps the default multi-processing mode
# users get (worker processes, the process group killed), so that mode is tested end to end too.
DIRECT = ["--runner", "direct", "--beam_option", "direct_running_mode=in_memory"]
DIRECT_PROCESSES = ["--runner", "direct", "--beam_option", "direct_num_workers=2"]


@pytest.fixture(scope="module")
def video_tree(small_corpus, tmp_path_factory):
    """An LRS3-style tree (``<speaker>/<clip>.mp4``, sound in the mp4) of the small corpus's 6 clips,
    plus ``bad/faceless.mp4`` (noise frames) and ``bad/truncated.mp4`` (a clip cut to half its bytes):
    a layout both ready systems read."""
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import read_video, write_video

    root, _ = small_corpus
    tree = tmp_path_factory.mktemp("beam") / "videos"
    for speaker, folder in (("s1", "vidA"), ("s2", "vidB")):
        for name in sorted(os.listdir(os.path.join(root, speaker, "video"))):
            frames, _ = read_video(os.path.join(root, speaker, "video", name))
            audio = load_audio(os.path.join(root, speaker, "audio", name[:-4] + ".wav"))
            write_video(tree / folder / (name[:-4] + ".mp4"), frames, 25, audio[:len(frames) * 640])
    noise = np.random.default_rng(0).integers(0, 255, frames.shape, dtype=np.uint8)
    write_video(tree / "bad" / "faceless.mp4", noise, 25, audio[:len(frames) * 640])
    whole = (tree / "vidA" / sorted(os.listdir(tree / "vidA"))[0]).read_bytes()
    (tree / "bad" / "truncated.mp4").write_bytes(whole[:len(whole) // 2])
    return tree


def _files(folder) -> dict:
    """``{relative path: bytes}`` of every output file (the work-folder lock left out)."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            if name != ".avse.lock":
                path = os.path.join(parent, name)
                found[os.path.relpath(path, folder)] = open(path, "rb").read()
    return found


def _preprocess(system, tree, dest, *extra):
    return main(["preprocess", system, "--data_dir", str(tree), "--dest_dir", str(dest), "--val_fraction", "0.2",
                 "--test_fraction", "0.2", "--examples_per_shard", "2", *extra])


def test_every_system_has_a_preparation_tested_here():
    assert sorted(READY) == sorted(CLIP_TREE_SYSTEMS + CORPUS_SYSTEMS + ("speech2vid",))
    assert sorted(READY) == sorted(system.name for system in all_systems())


@pytest.fixture(scope="module")
def local_run(video_tree, tmp_path_factory):
    """``local_run(system)``: the local loop's output folder for the video tree, made once per system
    (the reference both Beam tests compare with)."""
    made = {}

    def run(system):
        if system not in made:
            made[system] = tmp_path_factory.mktemp(f"local_{system}")
            assert _preprocess(system, video_tree, made[system]) == 0
        return made[system]

    return run


@pytest.mark.parametrize("system", CLIP_TREE_SYSTEMS)
def test_direct_runner_writes_what_the_local_loop_writes_and_reports_bad_clips(system, video_tree, local_run, tmp_path,
                                                                                capsys):
    assert _preprocess(system, video_tree, tmp_path / "beam", *DIRECT) == 0
    local, beam = _files(local_run(system)), _files(tmp_path / "beam")
    assert sorted(local) == sorted(beam)
    assert [name for name in local if local[name] != beam[name]] == []  # every file, records included
    # The records hold the six good clips, each once, in 2-example shards (several shards per set).
    clips = []
    for split in ("training", "validation", "test"):
        folder = tmp_path / "beam" / "tfrecords" / split
        clips += [example["clip"].decode() for example in read_examples(str(folder))]
    assert len(clips) == len(set(clips)) == 6 and not any(clip.startswith("bad") for clip in clips)
    assert len([name for name in beam if "training/records-" in name]) == 2
    # The dead letters: both bad clips, with the reason, and the run went on.
    report = dict(line.split("\t", 1) for line in (tmp_path / "beam" / "bad_clips.txt").read_text().splitlines())
    reasons = {name.replace("_", "/"): reason for name, reason in report.items()}
    assert sorted(reasons) == ["bad/faceless", "bad/truncated"], report
    assert "no face" in reasons["bad/faceless"], reasons
    assert "truncated.mp4" in reasons["bad/truncated"], reasons


def test_one_extractor_in_several_threads_gives_the_sequential_landmarks():
    """Beam's in-process runner runs bundles in threads on one worker's models: each thread must get
    its own dlib detector (one shared detector gave wrong landmarks, or aborted the process)."""
    from concurrent.futures import ThreadPoolExecutor

    from avse_tf.data.synth.face import FaceIdentity, render_face
    from avse_tf.video.landmarks import LandmarkExtractor

    clips = []
    for seed in range(4):
        identity = FaceIdentity.random(np.random.default_rng(seed))
        clips.append(np.stack([render_face(identity, opening) for opening in np.linspace(0, 1, 30) % 0.7]))
    extractor = LandmarkExtractor(redetect_every=1)  # detection on every frame: the unsafe call, often
    sequential = [extractor.extract(frames).points for frames in clips]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda frames: extractor.extract(frames).points, clips * 2))
    for index, points in enumerate(threaded):
        np.testing.assert_array_equal(points, sequential[index % len(clips)])


@pytest.fixture(scope="module")
def faceless_corpus(tmp_path_factory):
    """6 speakers x 2 utterances (seed layout), one video replaced by noise frames (no face) and
    another cut to half its bytes (truncated)."""
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.video.io import read_video, write_video

    root = tmp_path_factory.mktemp("beam_enhancement") / "corpus"
    generate_grid_corpus(str(root), speakers=6, utterances=2, seed=3)
    video = sorted((root / "s6" / "video").iterdir())[0]
    frames, _ = read_video(str(video))
    noise = np.random.default_rng(1).integers(0, 255, frames.shape, dtype=np.uint8)
    video.unlink()
    write_video(str(video), noise, 25)
    truncated = sorted((root / "s5" / "video").iterdir())[0]
    truncated.write_bytes(truncated.read_bytes()[:truncated.stat().st_size // 2])
    return root, f"s6/{video.stem}", f"s5/{truncated.stem}"


def _relative_example(example, dest):
    return {key: value.decode().replace(str(dest), "DEST") if isinstance(value, bytes) else value
            for key, value in example.items()}


@pytest.mark.parametrize("system", CORPUS_SYSTEMS)
def test_corpus_systems_same_examples_statistics_combined_and_a_dead_letter(system, faceless_corpus, tmp_path):
    from avse_tf.data.normalization import load_stats
    from avse_tf.records import load_manifest

    corpus, faceless, truncated = faceless_corpus
    assert _preprocess(system, corpus, tmp_path / "local") == 0
    assert _preprocess(system, corpus, tmp_path / "beam", *DIRECT) == 0
    records = {run: tmp_path / run / "corpus" / RECORDS[system] for run in ("local", "beam")}
    # The combine step's statistics against the local loop's single pass: relative 1e-6, with the
    # means judged against the feature's spread (a mean near 0 has no meaningful relative error).
    local, beam = (load_stats(str(records[run] / "normalization.npz")) for run in ("local", "beam"))
    for feature in ("spectrogram", "video"):
        (mean, std), (beam_mean, beam_std) = local[feature], beam[feature]
        np.testing.assert_allclose(beam_std, std, rtol=1e-6)
        assert np.all(np.abs(beam_mean - mean) <= 1e-6 * std), feature
    sets = sorted(path.name for path in records["local"].iterdir() if path.is_dir())
    assert sets == sorted(path.name for path in records["beam"].iterdir() if path.is_dir()) and len(sets) >= 3
    for set_name in sets:
        expected = [_relative_example(e, tmp_path / "local") for e in read_examples(str(records["local"] / set_name))]
        got = [_relative_example(e, tmp_path / "beam") for e in read_examples(str(records["beam"] / set_name))]
        assert len(got) == len(expected) > 0, set_name
        for want, have in zip(expected, got):
            for key, value in want.items():
                if isinstance(value, str):
                    assert have[key] == value, key
                else:  # normalised with statistics equal to ~1e-7: equal to float32 rounding
                    np.testing.assert_allclose(have[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
        # No example is made from the faceless or the truncated clip's video.
        for clip in (faceless.split("/")[1], truncated.split("/")[1]):
            assert not any(f"/{clip}." in example[CLEAN_CLIP[system]] for example in got), set_name
        assert load_manifest(str(records["beam"] / set_name)).metadata == \
            load_manifest(str(records["local"] / set_name)).metadata
    report = dict(line.split("\t", 1) for line in (tmp_path / "beam" / "bad_clips.txt").read_text().splitlines())
    assert sorted(report) == sorted([faceless, truncated]), report
    assert "face" in report[faceless] and f"{truncated.split('/')[1]}.mpg" in report[truncated], report
    # The records are what the system's training reads: one epoch of a small model on them.
    exp = tmp_path / "exp"
    if system == "landmark_enhancement":
        from avse_tf.systems.landmark_enhancement.train import train

        summary = train(str(records["beam"] / "TRAINING_SET"), str(records["beam"] / "VALIDATION_SET"), str(exp),
                        "av_concat_mask", batch_size=4, epochs=1, hidden_units=16, layers=1, verbose=0)
    else:
        from avse_tf.systems.av_inpainting.train import train

        summary = train(str(records["beam"] / "TRAINING_SET"), str(records["beam"] / "VALIDATION_SET"), str(exp),
                        "av_blstm", batch_size=4, epochs=1, hidden_units=16, layers=1, verbose=0)
    assert np.isfinite(summary["best_val_loss"]) and (exp / "best.keras").is_file(), summary


def test_killed_direct_run_started_again_gives_the_same_records(video_tree, local_run, tmp_path):
    """The Beam run is killed (its whole process group) once the first clip is done; a second run
    finishes the rest and writes the local loop's files."""
    dest = tmp_path / "beam"
    command = [sys.executable, "-m", "avse_tf", "preprocess", "pseudo_visual", "--data_dir", str(video_tree),
               "--dest_dir", str(dest), "--val_fraction", "0.2", "--test_fraction", "0.2",
               "--examples_per_shard", "2", *DIRECT_PROCESSES]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    done = dest / "data" / "done"
    deadline = time.monotonic() + 600  # a bound only: the kill waits for a marker, not for a time
    while process.poll() is None and time.monotonic() < deadline:
        if done.is_dir() and any(done.rglob("*.json")):
            break
        time.sleep(0.2)
    killed = process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert killed, "the run finished before the kill: nothing was interrupted"
    markers = len(list(done.rglob("*.json")))
    assert 1 <= markers < 6 and not (dest / "tfrecords").exists()
    assert _preprocess("pseudo_visual", video_tree, dest, *DIRECT_PROCESSES) == 0
    local, beam = _files(local_run("pseudo_visual")), _files(dest)
    stray = sorted(name for name in beam if os.path.basename(name).startswith(".tmp"))
    assert sorted(set(local) - set(beam)) == [] and sorted(set(beam) - set(local)) == stray
    assert [name for name in local if local[name] != beam[name]] == []


def test_without_beam_the_runner_is_refused_in_one_line(video_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if the beam extra were not installed
    assert _preprocess("pseudo_visual", video_tree, tmp_path / "x", *DIRECT) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "pip install 'avse_tf[beam]'" in error[0] and "--runner local" in error[0]
    # A system whose preparation is still its own commands (none is, today) is named, not run.
    import dataclasses

    import avse_tf.systems as systems

    real_get = systems.get
    monkeypatch.setattr(systems, "get", lambda name: dataclasses.replace(real_get(name), preparation=None))
    assert _preprocess("speech2vid", video_tree, tmp_path / "z") == 2
    assert "run its own steps: avse speech2vid" in capsys.readouterr().err
    monkeypatch.setattr(systems, "get", real_get)
    # A system's own preparation flag is refused for another system, in one line.
    assert _preprocess("vca_gan", video_tree, tmp_path / "y", "--image_size", "32") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--image_size is a flag of speech2vid's preparation" in error[0], error


def test_speech2vid_direct_runner_writes_the_local_files_one_example_per_frame(video_tree, tmp_path):
    """Speech2Vid: several examples per clip (one per video frame) in shards of whole clips, the MFCC
    statistics by the combine step, and a folder ``avse speech2vid train -p`` reads, even moved."""
    import json

    from avse_tf.systems.speech2vid.pipeline import generator_dataset, read_meta

    flags = ("--image_size", "32", "--num_identity", "3", "--examples_per_shard", "150")
    assert _preprocess("speech2vid", video_tree, tmp_path / "local", *flags) == 0
    assert _preprocess("speech2vid", video_tree, tmp_path / "beam", *flags, *DIRECT) == 0
    local, beam = _files(tmp_path / "local"), _files(tmp_path / "beam")
    assert sorted(local) == sorted(beam)
    different = [name for name in local if local[name] != beam[name]]
    assert set(different) <= {"speech2vid.json", "mfcc_statistics.npz"}, different  # statistics: merge order
    want, got = (json.loads(files["speech2vid.json"]) for files in (local, beam))
    std = np.asarray(want.pop("mfcc_std"))
    np.testing.assert_allclose(got.pop("mfcc_std"), std, rtol=1e-6)
    assert np.all(np.abs(np.subtract(got.pop("mfcc_mean"), want.pop("mfcc_mean"))) <= 1e-6 * std)
    assert got == want and want["features_dir"] == "features" and len(want["splits"]["train"]) == 4
    report = dict(line.split("\t", 1) for line in beam["bad_clips.txt"].decode().splitlines())
    assert sorted(report) == ["bad/faceless", "bad/truncated"], report
    assert "no face" in report["bad/faceless"] and "truncated.mp4" in report["bad/truncated"], report
    # Every frame of every training clip once, in order; shards close at whole clips past 150 frames.
    (tmp_path / "beam").rename(tmp_path / "moved")
    meta = read_meta(str(tmp_path / "moved"))
    done = {name: json.loads(local[f"data/done/{name}.json"]) for name in
            (clip[:-4] for clip in want["splits"]["train"])}
    examples = read_examples(str(tmp_path / "moved" / "train"))
    keys = [(f"{e['speaker'].decode()}/{e['utterance'].decode()}", int(e["frame"])) for e in examples]
    assert keys == [(name, frame) for name in sorted(done) for frame in range(done[name]["examples"])]
    shards, block = [], 0
    for name in sorted(done):
        block += done[name]["examples"]
        if block >= 150:
            shards, block = shards + [block], 0
    shards += [block] if block else []
    manifest = json.loads(local["train/records.json"])
    assert [shard["examples"] for shard in manifest["shards"]] == shards and len(shards) >= 2
    faces = np.frombuffer(examples[0]["identity"], np.uint8).reshape(3, 32, 32, 3)
    assert faces.std() > 5 and len({f.tobytes() for f in faces}) == 3
    inputs, target = next(iter(generator_dataset(str(tmp_path / "moved" / "train"), meta, 8)))
    assert inputs["identity"].shape == (8, 32, 32, 9) and inputs["mfcc"].shape == (8, 12, 35)
    assert target["face"].shape == (8, 32, 32, 3)
    assert os.path.isfile(os.path.join(meta["features_dir"], meta["splits"]["test"][0]))
