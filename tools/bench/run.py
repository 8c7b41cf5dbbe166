#!/usr/bin/env python
"""Benchmark suite of avse_tf: one command, a plain-text table, a JSON file.

    python tools/bench/run.py [--quick] [--json OUT.json] [--families enhancement,inpainting,speech2vid]
    python -m tools.bench ...            (the same, from the repository root)

Measured in one process, one run (ratios are taken within the run: the machine is shared):

* ``peak``: float32 square matrix multiply (``tf.linalg.matmul``), best of N, on ``--threads``
  threads; sampled again before and after every timed training step;
* ``training`` (every model of the chosen families, paper presets): examples/s of a training step
  (Keras ``train_on_batch``, the library's losses, Adam) and its achieved FLOP/s (analytical
  count, :mod:`tools.bench.flops`, training = 3 x forward) as a fraction of the matrix-multiply
  peak sampled next to it;
* ``inference``: real-time factor (seconds of compute per second of audio) of one 3 s clip at
  batch 1, eager (Keras call), graph (``tf.function`` with a fixed input signature) and XLA
  (the same with ``jit_compile=True``);
* ``pipeline``: enhancement TFRecords (``fixed`` and ``var`` modes) read into batches, and into the
  model inputs (parse + the loss's STFTs), examples/s, against 5 x what the fastest enhancement
  training step consumes;
* ``preprocessing``: dlib landmark frames/s, detector on every frame vs the tracker policy;
  feature extraction clips/s (enhancement, inpainting, Speech2Vid);
* ``profile``: why the BLSTM figures are what they are (one paper-size LSTM layer at several
  batch sizes against a plain matrix product of the same FLOPs).

See tools/bench/README.md for the measured table and what limits each target.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

FAMILIES = {
    "enhancement": [("vl2m", "vl2m_grid"), ("vl2m_ref", "vl2m_ref_grid"), ("av_concat_mask", "av_concat_mask_grid"),
                    ("av_concat_mask_ref", "av_concat_mask_ref_grid"), ("av_concat_spec", "av_concat_spec_grid")],
    "inpainting": [("a_blstm", "a_blstm_grid"), ("av_blstm", "av_blstm_grid"), ("a_blstm_mtl", "a_blstm_mtl_grid"),
                   ("av_blstm_mtl", "av_blstm_mtl_grid")],
    "speech2vid": [("speech2vid", "speech2vid_voxceleb")],
}
CLIP_SECONDS = 3.0
CLIP_FRAMES = {"enhancement": 302, "inpainting": 250}  # 48000 samples: morrone2019 / morrone2021 STFT
VIDEO_FPS = 25
TARGETS = {"pipeline_factor": 5.0, "blstm_peak_fraction": 0.5, "rtf": 0.05}
SECTIONS = ("training", "inference", "demo", "pipeline", "preprocessing", "profile")


def log(message):
    print(f"[bench {time.perf_counter() - _START:6.1f} s] {message}", file=sys.stderr, flush=True)


_START = time.perf_counter()


# ----------------------------------------------------------------------------------------------
# Arguments and settings

def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/bench/run.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (~2 min): reduced model sizes, fewer repetitions, tiny corpus")
    parser.add_argument("--json", default="bench.json", help="JSON output (written atomically); default bench.json")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated model families (default: {','.join(FAMILIES)})")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: all: {','.join(SECTIONS)}); the peak always runs")
    parser.add_argument("--cache_dir", default=os.path.join(tempfile.gettempdir(), "avse_tf_bench"),
                        help="where the synthetic corpus and records are made once and kept")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads (default 2)")
    parser.add_argument("--train_batch", type=int, default=None, help="BLSTM training batch (default 64; quick 16)")
    parser.add_argument("--train_seconds", type=float, default=None,
                        help="length of the BLSTM training crops in seconds (default 1.0; quick 0.5; 3 = whole clips)")
    parser.add_argument("--s2v_batch", type=int, default=None, help="Speech2Vid training batch (default 16; quick 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per model (default 2; quick 1)")
    parser.add_argument("--mixed_precision", action="store_true", help="mixed_float16 (for GPUs)")
    parser.add_argument("--profile_flops", action="store_true",
                        help="also count Speech2Vid's forward FLOPs with TF's profiler (~15 s) as a check")
    args = parser.parse_args(argv)
    args.families = [name.strip() for name in args.families.split(",") if name.strip()]
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown or not args.families:
        parser.error(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    args.sections = [name.strip() for name in args.sections.split(",") if name.strip() and name.strip() != "peak"]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    quick = args.quick
    args.train_batch = args.train_batch or (16 if quick else 64)
    args.train_seconds = args.train_seconds or (0.5 if quick else 1.0)
    args.s2v_batch = args.s2v_batch or (4 if quick else 16)
    args.steps = args.steps or (1 if quick else 2)
    # Model sizes: the papers' presets; --quick shrinks them (a smoke test of the harness, not a measurement).
    args.overrides = {"blstm": {"hidden_units": 64} if quick else {},
                      "speech2vid": {"image_size": 64, "width": 0.25} if quick else {}}
    return args


def configure(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.mixed_precision:
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    gpus = tf.config.list_physical_devices("GPU")
    return gpus


def machine_info(args, gpus):
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    device = "CPU"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": args.threads, "device": device,
            "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "precision": "mixed_float16" if args.mixed_precision else "float32",
            "load_average_start": _load_average()}


def _load_average():
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------------------------
# Matrix-multiply peak

class Peak:
    """float32 ``n x n`` matmul GFLOP/s (best of ``reps``); :meth:`sample` re-measures it quickly.

    Also kept: the best GFLOP per CPU-second of the process (``time.process_time``, all threads),
    the contention-robust view: time slices taken by other jobs do not count as our CPU time.
    """

    def __init__(self, sizes=(512, 1024, 2048), reps=5):
        import tensorflow as tf

        self.results = {}
        self.samples = []
        self.cpu_best = 0.0
        self._function = tf.function(lambda a, b: tf.linalg.matmul(a, b))
        self._operands = {}
        for size in sizes:
            self._operands[size] = (tf.random.normal([size, size], seed=1), tf.random.normal([size, size], seed=2))
            self._function(*self._operands[size]).numpy()
            self.results[size] = self._measure(size, reps)
        # Later samples use 1024 (near the best size on this CPU when quiet: 512 loses ~20 %, 2048
        # ~15 %); the size that wins at start-up is chance under contention.
        self.size = 1024 if 1024 in self.results else max(self.results, key=self.results.get)

    def _measure(self, size, reps):
        best = math.inf
        for _ in range(reps):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            self._function(*self._operands[size]).numpy()
            seconds, cpu = time.perf_counter() - begin, time.process_time() - begin_cpu
            best = min(best, seconds)
            if cpu > 0:
                self.cpu_best = max(self.cpu_best, 2.0 * size ** 3 / cpu / 1e9)
        return 2.0 * size ** 3 / best / 1e9

    def sample(self, reps=5):
        value = self._measure(self.size, reps)
        self.samples.append(round(value, 2))
        return value

    @property
    def best(self):
        return max([*self.results.values(), *self.samples])


# ----------------------------------------------------------------------------------------------
# Models and synthetic batches

def build(family, preset, args):
    from avse_tf.systems import presets

    overrides = args.overrides["speech2vid" if family == "speech2vid" else "blstm"]
    model = presets.from_preset(preset, **overrides)
    architecture = {**presets.get_preset(preset)["architecture"], **overrides}
    size = ", ".join(f"{key}={architecture[key]}" for key in
                     (("image_size", "num_identity", "width") if family == "speech2vid" else ("hidden_units", "num_layers"))
                     if key in architecture)
    return model, ("paper preset " if not overrides else "REDUCED (--quick) ") + f"{preset}: {size}"


def synthetic_batch(family, model, batch, frames, rng):
    """``(inputs, targets, sample_weights)`` of the shapes the model trains on (random values)."""
    import numpy as np

    if family == "speech2vid":
        size, count = model.image_size, model.num_identity
        inputs = {"mfcc": rng.standard_normal((batch, 12, 35)).astype("float32"),
                  "identity": rng.random((batch, size, size, 3 * count), dtype="float32")}
        if model.masked_target:
            inputs["masked_target"] = rng.random((batch, size, size, 3), dtype="float32")
        return inputs, {"face": rng.random((batch, size, size, 3), dtype="float32")}, None
    dims = {"video_features": model.video_dim, "mixed_spectrogram": model.audio_dim,
            "mixed_magnitude": model.audio_dim, "tbm": model.audio_dim, "gapped_spectrogram": model.audio_dim,
            "gap_mask": 1}
    gap = np.zeros((batch, frames, 1), "float32")
    gap[:, frames // 3: frames // 3 + max(1, frames // 5)] = 1.0
    inputs = {}
    for tensor in model.inputs:
        name = tensor.name
        if name == "sequence_length":
            inputs[name] = np.full([batch], frames, "int32")
        elif name == "gap_mask":
            inputs[name] = gap
        elif name == "tbm":
            inputs[name] = (rng.random((batch, frames, dims[name])) > 0.5).astype("float32")
        elif name == "mixed_magnitude":
            inputs[name] = rng.random((batch, frames, dims[name]), dtype="float32")
        else:
            inputs[name] = rng.standard_normal((batch, frames, dims[name])).astype("float32")
    frame_weights = np.ones((batch, frames), "float32")
    if family == "enhancement":
        spec = model.spec
        if spec["target"] == "tbm":
            target = (rng.random((batch, frames, model.audio_dim)) > 0.5).astype("float32")
        else:
            target = rng.random((batch, frames, model.audio_dim), dtype="float32")
        return inputs, {spec["output"]: target}, {spec["output"]: frame_weights}
    targets = {"inpainted_spectrogram": rng.standard_normal((batch, frames, model.audio_dim)).astype("float32")}
    weights = {"inpainted_spectrogram": gap[..., 0]}
    if model.spec["mtl"]:
        phones = np.zeros((batch, 64), "int32")
        count = max(1, min(20, frames // 4))
        phones[:, :count] = rng.integers(1, model.num_classes, (batch, count))
        targets["phone_logits"] = phones
        weights["phone_logits"] = np.ones([batch], "float32")
    return inputs, targets, weights


def compile_for_training(family, model, args):
    import keras

    if family == "enhancement":
        from avse_tf.systems.landmark_enhancement.model import compile_model

        compile_model(model, keras.optimizers.Adam(1e-3))
        return "library loss (" + model.spec["loss"] + "), Adam"
    if family == "inpainting":
        from avse_tf.systems.av_inpainting.model import compile_model

        compile_model(model, keras.optimizers.Adam(1e-3))
        return "gap L1" + (" + 0.001 CTC" if model.spec["mtl"] else "") + ", Adam"
    from avse_tf.systems.speech2vid.model import Speech2VidLoss, content_features, face_encoder

    encoder = face_encoder(model.image_size, width=0.5 if not args.quick else 0.25)
    model.compile(keras.optimizers.Adam(1e-3), loss={"face": Speech2VidLoss(content_features(encoder), 1.0)})
    model._bench_content = content_features(encoder)
    return "L1 + content loss (frozen face encoder, width 0.5), Adam"


# ----------------------------------------------------------------------------------------------
# Sections

def measure_training(family, name, preset, args, peak, gpus):
    import numpy as np
    import tensorflow as tf

    from tools.bench import flops

    model, size = build(family, preset, args)
    if family == "speech2vid":
        batch, frames, clip_frames = args.s2v_batch, None, None
    else:
        clip_frames = CLIP_FRAMES[family]
        batch = args.train_batch
        frames = max(8, int(round(args.train_seconds / CLIP_SECONDS * clip_frames)))
    loss = compile_for_training(family, model, args)
    rng = np.random.default_rng(0)
    inputs, targets, weights = synthetic_batch(family, model, batch, frames, rng)
    inputs = {key: tf.constant(value) for key, value in inputs.items()}
    targets = {key: tf.constant(value) for key, value in targets.items()}
    weights = None if weights is None else {key: tf.constant(value) for key, value in weights.items()}

    forward = flops.forward_flops(model, frames)
    per_example = 3 * forward["total"]
    if family == "speech2vid":  # content loss: encoder forward on real and fake, backward to the fake image
        per_example += 3 * flops.forward_flops(model._bench_content)["total"]
    begin = time.perf_counter()
    model.train_on_batch(inputs, targets, sample_weight=weights)
    first = time.perf_counter() - begin
    steps = []
    for _ in range(args.steps):
        before = peak.sample()
        begin, begin_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(inputs, targets, sample_weight=weights)
        seconds, cpu = time.perf_counter() - begin, time.process_time() - begin_cpu
        after = peak.sample()
        achieved = batch * per_example / seconds / 1e9
        adjacent = max(before, after)  # the higher of the two: the conservative fraction
        steps.append({"seconds": seconds, "gflops": achieved, "peak_gflops_before": before,
                      "peak_gflops_after": after, "peak_gflops_adjacent": adjacent, "fraction": achieved / adjacent,
                      "cpu_seconds": cpu, "gflops_per_cpu_second": batch * per_example / cpu / 1e9})
    best = max(steps, key=lambda step: step["fraction"])
    examples = batch / best["seconds"]
    result = {
        "family": family, "model": name, "preset": preset, "size": size, "loss": loss,
        "batch": batch, "frames": frames, "crop_seconds": None if frames is None else frames * CLIP_SECONDS / clip_frames,
        "first_step_seconds": first, "steps": steps, "step_seconds": best["seconds"],
        "examples_per_second": examples,
        "clips_per_second": examples if frames is None else examples * frames / clip_frames,
        "forward_flops_per_example": forward, "train_flops_per_example": per_example,
        "flops_method": "analytical (tools/bench/flops.py); training = 3 x forward",
        "gflops": best["gflops"], "peak_gflops_adjacent": best["peak_gflops_adjacent"],
        "peak_fraction": best["fraction"],
        "gflops_per_cpu_second": best["gflops_per_cpu_second"],
        "device": "GPU (cuDNN LSTM)" if gpus else "CPU",
    }
    del model
    return result


def measure_inference(family, name, preset, args, gpus):
    import numpy as np
    import tensorflow as tf

    model, size = build(family, preset, args)
    rng = np.random.default_rng(1)
    if family == "speech2vid":
        frames = int(CLIP_SECONDS * VIDEO_FPS)
        inputs, _, _ = synthetic_batch(family, model, frames, None, rng)
        batch_note = f"one 3 s clip = {frames} video frames in one call"
    else:
        frames = CLIP_FRAMES[family]
        inputs, _, _ = synthetic_batch(family, model, 1, frames, rng)
        batch_note = f"batch 1, {frames} frames"
    inputs = {key: tf.constant(value) for key, value in inputs.items()}
    signature = [{key: tf.TensorSpec(value.shape, value.dtype) for key, value in inputs.items()}]

    def forward(batch):
        return model(batch, training=False)

    def run(function):
        outputs = function(inputs)
        for value in tf.nest.flatten(outputs):
            value.numpy()

    import keras

    from tools.bench import flops

    directions = sum(isinstance(layer, keras.layers.LSTM) for layer in model._flatten_layers(include_self=False))
    counted = flops.forward_flops(model, None if family == "speech2vid" else frames)
    result = {"family": family, "model": name, "preset": preset, "size": size, "input": batch_note,
              "clip_seconds": CLIP_SECONDS, "forward_flops_per_clip": counted["total"] * (
                  frames if family == "speech2vid" else 1),
              "lstm_directions": directions, "sequential_lstm_frames": directions * (0 if family == "speech2vid"
                                                                                     else frames),
              "modes": {}}
    reps = {"eager": 1, "graph": 1 if family == "speech2vid" or args.quick else 3,
            "xla": 1 if family == "speech2vid" else (2 if args.quick else 5)}
    for mode in ("eager", "graph", "xla"):
        entry = {}
        try:
            if mode == "eager" and args.quick and family != "speech2vid":
                raise RuntimeError("skipped (--quick): eager BLSTMs run the recurrence frame by frame from Python")
            if mode == "xla" and gpus and family != "speech2vid":
                raise RuntimeError("skipped: Keras runs the LSTMs with cuDNN on GPU, which XLA cannot compile")
            function = forward if mode == "eager" else tf.function(forward, input_signature=signature,
                                                                       jit_compile=(mode == "xla"), reduce_retracing=True)
            if mode == "eager" and family == "speech2vid":
                run(function)  # one warm-up call: the first eager call sets up the convolution kernels
            begin = time.perf_counter()
            if mode != "eager":
                run(function)
                entry["compile_seconds"] = time.perf_counter() - begin
            best = math.inf
            for _ in range(reps[mode]):
                begin = time.perf_counter()
                run(function)
                best = min(best, time.perf_counter() - begin)
            entry.update(seconds=best, rtf=best / CLIP_SECONDS, repetitions=reps[mode],
                         gflops=result["forward_flops_per_clip"] / best / 1e9)
        except Exception as error:  # one failing mode must not stop the benchmark
            entry["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        result["modes"][mode] = entry
    compiled = [entry["rtf"] for mode, entry in result["modes"].items() if mode != "eager" and "rtf" in entry]
    result["best_compiled_rtf"] = min(compiled) if compiled else None
    del model
    return result


def measure_pipeline(data, args, batch):
    import tensorflow as tf

    from avse_tf.records import load_manifest, make_dataset
    from avse_tf.systems.landmark_enhancement.pipeline import model_batch

    results = {}
    seconds = 1.0 if args.quick else 2.0
    for mode, manifest_path in data["records"].items():
        manifest = load_manifest(manifest_path)
        for stage in ("parsed", "model_inputs"):
            dataset = make_dataset(manifest, batch_size=batch, shuffle=True, seed=0, repeat=True)
            if stage == "model_inputs":
                # What training reads: tasks.enhancement.model_batch adds |M|^0.3 and |T|^0.3 (two STFTs).
                dataset = dataset.map(lambda b: model_batch(b, "av_concat_mask"),
                                      num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
            iterator = iter(dataset)
            next(iterator)
            count, begin = 0, time.perf_counter()
            while time.perf_counter() - begin < seconds:
                next(iterator)
                count += batch
            elapsed = time.perf_counter() - begin
            results[f"{mode}/{stage}"] = {"mode": mode, "stage": stage, "examples_per_second": count / elapsed,
                                          "examples": count, "seconds": elapsed, "batch": batch,
                                          "shards": len(manifest.files), "records": manifest.num_examples}
    return results


def measure_preprocessing(data, args):
    import numpy as np

    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import LandmarkExtractor, load_landmarks_txt

    results = {}
    video = _first_video(data["corpus"])
    gray, _ = read_video(video, grayscale=True)
    for key, label, every in (("landmarks_detector_every_frame", "detector every frame (redetect_every=1)", 1),
                              ("landmarks_tracker_policy", "tracker policy (redetect every 8 or quality < 8.75)", 8)):
        extractor = LandmarkExtractor(redetect_every=every)
        extractor.extract(gray[:2])
        begin = time.perf_counter()
        track = extractor.extract(gray, source=video)
        elapsed = time.perf_counter() - begin
        results[key] = {"label": label, "frames_per_second": len(gray) / elapsed, "frames": len(gray),
                        "detector_frames": int(np.sum(track.detected)), "seconds": elapsed, "video": video}

    # Feature extraction, per clip.
    from avse_tf.data.mixing import load_manifest
    from avse_tf.systems.landmark_enhancement.pipeline import example_features

    entries = load_manifest(data["mixtures"])
    example_features(entries[0], data["corpus"], num_audio_samples=48000)
    begin = time.perf_counter()
    for entry in entries:
        example_features(entry, data["corpus"], num_audio_samples=48000)
    elapsed = time.perf_counter() - begin
    results["features_enhancement"] = {
        "label": "enhancement record features (mixture, |STFT|^0.3, landmark motion, TBM)",
        "clips_per_second": len(entries) / elapsed, "clips": len(entries), "seconds": elapsed}

    clips = []
    for speaker in sorted(name for name in os.listdir(data["corpus"]) if name.startswith("s") and name[1:].isdigit()):
        folder = os.path.join(data["corpus"], speaker, "landmarks")
        clips += [(speaker, name[:-4]) for name in sorted(os.listdir(folder)) if name.endswith(".txt")]
    try:
        from avse_tf.systems.av_inpainting.pipeline import clip_features

        clip_features(data["corpus"], clips[0][0], clips[0][1])
        begin = time.perf_counter()
        for speaker, utterance in clips:
            clip_features(data["corpus"], speaker, utterance)
        elapsed = time.perf_counter() - begin
        results["features_inpainting"] = {
            "label": "inpainting clip features (log |STFT|, landmark motion, phones)",
            "clips_per_second": len(clips) / elapsed, "clips": len(clips), "seconds": elapsed}
    except Exception as error:
        results["features_inpainting"] = {"label": "inpainting clip features", "error": f"{type(error).__name__}: {error}"}

    from avse_tf.audio.io import load_audio
    from avse_tf.tasks import speech2vid as s2v

    size = 64 if args.quick else 112
    chosen = clips[: 2 if args.quick else 4]
    begin = time.perf_counter()
    for speaker, utterance in chosen:
        path = os.path.join(data["corpus"], speaker, "video", utterance + ".mpg")
        frames, _ = read_video(path)
        points = load_landmarks_txt(os.path.join(data["corpus"], speaker, "landmarks", utterance + ".txt"))
        s2v.align_faces(frames, points.reshape(-1, 68, 2), size)
        waveform = load_audio(os.path.join(data["corpus"], speaker, "audio", utterance + ".wav"), 16000)
        s2v.mfcc_windows(s2v.compute_mfcc(waveform), s2v.num_video_frames(waveform.size))
    elapsed = time.perf_counter() - begin
    results["features_speech2vid"] = {
        "label": f"Speech2Vid features without landmarks (decode video, align {size}x{size} faces, MFCC windows)",
        "clips_per_second": len(chosen) / elapsed, "clips": len(chosen), "seconds": elapsed}
    return results


def _first_video(corpus):
    from tools.bench.data import first_video

    return first_video(corpus)


def measure_profile(args, peak):
    """One paper-size LSTM layer (D=500 -> H=250, as layers 2+ of every BLSTM stack), forward +
    backward, at several batch sizes, against one plain matrix product with the same FLOPs;
    and the per-frame cost of the batch-1 recurrence (inference), graph vs XLA."""
    import tensorflow as tf

    from avse_tf.layers.recurrent import ProjectedLSTM

    units, inputs_dim = (64, 128) if args.quick else (250, 500)
    frames = 50 if args.quick else 101
    layer = ProjectedLSTM(units, return_sequences=True)
    layer.build((None, frames, inputs_dim))
    flops_per_example = 3 * frames * 2 * 4 * units * (inputs_dim + units)
    results = {"layer": f"LSTM {inputs_dim} -> {units}, {frames} frames, forward + backward", "batches": {}}

    @tf.function(reduce_retracing=True)
    def train_like(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    @tf.function(reduce_retracing=True)
    def gemm(a, b):  # the layer's FLOPs as one product [B*T, 3(D+H)] x [3(D+H), 4H]
        return [tf.linalg.matmul(a, b)]

    for batch in ((1, 8, 64) if args.quick else (1, 8, 64, 128)):
        x = tf.random.normal([batch, frames, inputs_dim])
        a = tf.random.normal([batch * frames, 3 * (inputs_dim + units)])
        b = tf.random.normal([3 * (inputs_dim + units), 4 * units])
        timings = {}
        for label, function, operands in (("lstm", train_like, (x,)), ("gemm", gemm, (a, b))):
            function(*operands)
            best = math.inf
            for _ in range(2 if args.quick else 3):
                begin = time.perf_counter()
                for value in function(*operands):
                    value.numpy()
                best = min(best, time.perf_counter() - begin)
            timings[label] = best
        peak_now = max(peak.sample(), peak.sample())
        gflops = batch * flops_per_example / timings["lstm"] / 1e9
        results["batches"][batch] = {
            "lstm_seconds": timings["lstm"], "lstm_gflops": gflops, "lstm_peak_fraction": gflops / peak_now,
            "gemm_same_flops_seconds": timings["gemm"],
            "gemm_peak_fraction": batch * flops_per_example / timings["gemm"] / 1e9 / peak_now,
            "beyond_gemm_us_per_frame": (timings["lstm"] - timings["gemm"]) / frames * 1e6,
            "peak_gflops_adjacent": peak_now}

    # Batch-1 inference: microseconds per frame and direction, graph vs XLA.
    x = tf.random.normal([1, 302 if not args.quick else 100, inputs_dim])
    per_frame = {}
    for label, jit in (("graph", False), ("xla", True)):
        function = tf.function(lambda value: layer(value), jit_compile=jit)
        function(x).numpy()
        best = math.inf
        for _ in range(3):
            begin = time.perf_counter()
            function(x).numpy()
            best = min(best, time.perf_counter() - begin)
        per_frame[label] = best / int(x.shape[1]) * 1e6
    results["batch1_forward_us_per_frame"] = per_frame
    results["recurrent_kernel_bytes"] = 4 * units * 4 * units
    return results


# ----------------------------------------------------------------------------------------------
# Table and JSON

def _row(section, model, measurement, value, unit, target=None, met=None, note=None):
    return {"section": section, "model": model, "measurement": measurement, "value": value, "unit": unit,
            "target": target, "met": met, "note": note}


def build_rows(report):
    rows = []
    peak = report["peak"]
    rows.append(_row("peak", "-", f"matmul float32 {peak['size']}x{peak['size']}, {report['machine']['threads']} threads",
                     peak["gflops_start"], "GFLOP/s"))
    rows.append(_row("peak", "-", "matmul, best sample in the run", peak["gflops_best"], "GFLOP/s"))
    for result in report.get("training", []):
        model = result["model"]
        if "error" in result:
            rows.append(_row("training", model, "training step", None, "", note=result["error"]))
            continue
        shape = (f"B={result['batch']}" + ("" if result["frames"] is None
                                          else f", {result['frames']} frames ({result['crop_seconds']:.2f} s crops)"))
        rows.append(_row("training", model, f"examples/s, {shape}", result["examples_per_second"], "ex/s"))
        if result["frames"] is not None:
            rows.append(_row("training", model, "3 s clips/s equivalent", result["clips_per_second"], "clips/s"))
        rows.append(_row("training", model, "achieved FLOP/s (3 x forward, analytical)", result["gflops"], "GFLOP/s"))
        blstm = result["family"] != "speech2vid"
        fraction = result["peak_fraction"]
        target = TARGETS["blstm_peak_fraction"] if blstm else None
        rows.append(_row("training", model, "fraction of matmul peak (adjacent samples)", fraction, "",
                         f">= {target:.2f}" if target else None, (fraction >= target) if target else None,
                         note=f"vs the run's best peak {result['peak_fraction_vs_run_best']:.2f}; "
                              f"CPU-time normalised {result['peak_fraction_cpu_time']:.2f}"))
    for result in report.get("inference", []):
        model = result["model"]
        target = TARGETS["rtf"] if result["family"] != "speech2vid" else None
        for mode, entry in result["modes"].items():
            label = {"eager": "RTF eager", "graph": "RTF tf.function (graph)", "xla": "RTF tf.function + XLA"}[mode]
            if "error" in entry:
                rows.append(_row("inference", model, label, None, "", note=entry["error"]))
                continue
            is_best = entry["rtf"] == result["best_compiled_rtf"]
            rows.append(_row("inference", model, f"{label} ({result['input']})", entry["rtf"], "x real time",
                             f"<= {target}" if target and is_best else None,
                             (entry["rtf"] <= target) if target and is_best else None))
    for result in report.get("demo", []):
        if "error" in result:
            rows.append(_row("demo", result["model"], "live demo compute margin", None, "", note=result["error"]))
            continue
        rows.append(_row("demo", result["model"], f"compute per {result['block_ms']:g} ms block / block duration "
                         f"(mean of {result['chunks']})", result["margin_mean"], "", "< 1",
                         result["margin_mean"] < 1,
                         note=f"p95 {result['margin_p95']:.3f}, max {result['margin_max']:.3f}; "
                              f"{result['compute_ms_mean']:.1f} ms per block"))
    pipeline = report.get("pipeline")
    if pipeline:
        demand = pipeline.get("demand_clips_per_second")
        for key, entry in pipeline["results"].items():
            target = (TARGETS["pipeline_factor"] * demand) if demand and entry["stage"] == "model_inputs" else None
            label = {"parsed": "records -> parsed batches", "model_inputs": "records -> model inputs (+2 STFT)"}
            rows.append(_row("pipeline", f"enhancement {entry['mode']}", label[entry["stage"]],
                             entry["examples_per_second"], "ex/s", f">= {target:.1f}" if target else None,
                             (entry["examples_per_second"] >= target) if target else None))
        if demand:
            rows.append(_row("pipeline", "-", f"training demand ({pipeline['demand_model']}, fastest enhancement step)",
                             demand, "clips/s"))
    for key, entry in (report.get("preprocessing") or {}).items():
        if "error" in entry:
            rows.append(_row("preprocessing", key, entry["label"], None, "", note=entry["error"]))
        elif "frames_per_second" in entry:
            rows.append(_row("preprocessing", "landmarks", entry["label"], entry["frames_per_second"], "frames/s",
                             note=f"detector ran on {entry['detector_frames']}/{entry['frames']} frames"))
        else:
            rows.append(_row("preprocessing", "features", entry["label"], entry["clips_per_second"], "clips/s"))
    profile = report.get("profile")
    if profile and "batches" in profile:
        for batch, entry in profile["batches"].items():
            rows.append(_row("profile", "LSTM layer", f"{profile['layer']}, B={batch}: fraction of peak",
                             entry["lstm_peak_fraction"], "",
                             note=f"one GEMM of the same FLOPs: {entry['gemm_peak_fraction']:.2f}; the recurrence "
                                  f"adds {entry['beyond_gemm_us_per_frame']:.0f} us per frame (fwd+bwd)"))
        for mode, value in profile["batch1_forward_us_per_frame"].items():
            rows.append(_row("profile", "LSTM layer", f"batch-1 forward, {mode}", value, "us/frame"))
    return rows


def _format_value(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(report) -> str:
    rows = report["rows"]
    header = ("section", "model", "measurement", "value", "unit", "target", "met")
    lines_data = [(row["section"], row["model"], row["measurement"], _format_value(row["value"]), row["unit"],
                   row["target"] or "", "" if row["met"] is None else ("yes" if row["met"] else "NO")) for row in rows]
    widths = [max(len(header[i]), *(len(line[i]) for line in lines_data)) if lines_data else len(header[i])
              for i in range(len(header))]
    machine = report["machine"]
    out = [f"avse_tf benchmark: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} TF threads, "
           f"{machine['device']}, {machine['precision']}, TF {machine['tensorflow']}, Keras {machine['keras']}"
           + (", QUICK (reduced sizes)" if report["settings"]["quick"] else ""),
           f"load average {machine['load_average_start']} -> {machine.get('load_average_end')}, "
           f"run {report['duration_seconds']:.0f} s", ""]

    def fmt(line):
        return "  ".join(str(value).ljust(widths[i]) if i not in (3,) else str(value).rjust(widths[i])
                         for i, value in enumerate(line)).rstrip()

    out.append(fmt(header))
    out.append(fmt(["-" * width for width in widths]))
    previous = None
    for line, row in zip(lines_data, rows):
        if previous and row["section"] != previous:
            out.append("")
        previous = row["section"]
        out.append(fmt(line) + (f"   [{row['note']}]" if row["note"] else ""))
    out.append("")
    out.append("Model sizes: " + "; ".join(sorted({r["size"] for r in report.get("training", []) + report.get("inference", [])
                                             if "size" in r})))
    out.append("")
    out.extend(report["notes"])
    return "\n".join(out)


def explain(report, args) -> list:
    """Footer notes: how things were measured, and what limits each target that is missed."""
    notes = ["Notes:"]
    peak = report["peak"]
    notes.append(f"- Peak: float32 square matmul, best of 5 (sizes {', '.join(map(str, peak['by_size']))} at the "
                 f"start), sampled again at {peak['size']} before and after every timed training step. Other jobs "
                 f"share the cores (load average {report['machine']['load_average_start']} at the start; samples "
                 f"ranged {peak['sample_min']:.0f}-{peak['sample_max']:.0f} GFLOP/s), so each step's fraction uses "
                 "the higher of its two adjacent samples; the note column adds the fraction against the run's best "
                 "sample (a lower bound: the step rarely gets the cores as undisturbed as a 15 ms matmul does) and "
                 "the CPU-time normalised one (GFLOP per CPU-second of the step / of the matmul: immune to time "
                 "slices taken by other jobs, but counts idle spinning of our own threads).")
    training = [r for r in report.get("training", []) if "error" not in r]
    profile = report.get("profile") or {}
    batches = profile.get("batches", {})
    if training:
        notes.append(f"- Training: Keras train_on_batch (library losses, Adam) on random inputs of the records' "
                     f"shapes, best of {args.steps} timed steps after a warm-up step; FLOPs analytical "
                     "(tools/bench/flops.py: LSTM T*2*4H*(D+H) per direction, Dense, Conv), training = 3 x forward; "
                     "CTC and other elementwise work not counted. BLSTM models train on crops of the 3 s clips "
                     f"({args.train_seconds:g} s) to fit the time budget: the work per frame, hence FLOP/s, does not "
                     "depend on the length; clips/s = examples/s x crop/clip.")
        blstm = [r for r in training if r["family"] != "speech2vid"]
        missed = [r for r in blstm if r["peak_fraction"] < TARGETS["blstm_peak_fraction"]]
        parts = [f"B={b}: {e['lstm_peak_fraction']:.2f} (one GEMM of the same FLOPs {e['gemm_peak_fraction']:.2f})"
                 for b, e in batches.items()]
        detail = (" Profile, one paper-size LSTM layer forward + backward, fraction of peak: " + "; ".join(parts)
                  + ".") if parts else ""
        if missed:
            notes.append(f"- BLSTM training below {TARGETS['blstm_peak_fraction']:.0%} of the adjacent peak for "
                         f"{', '.join(r['model'] for r in missed)}. What limits it: the recurrence is sequential; "
                         "each of T frames multiplies [B, H] x [H, 4H] (plus gate nonlinearities, mask selects, "
                         "loop bookkeeping) and the backward pass does the same in reverse; only the input "
                         "projections run as large GEMMs (hoisted out of the loop by ProjectedLSTM). The fraction "
                         "grows with the batch; at B=64 the layer itself runs near the peak, so the misses here "
                         "come from contention during the step (compare the CPU-time column)." + detail)
        elif blstm:
            notes.append(f"- BLSTM training: >= {TARGETS['blstm_peak_fraction']:.0%} of peak at B={args.train_batch}: "
                         "with the input projection hoisted into one GEMM per layer (ProjectedLSTM) and 64 sequences "
                         "per recurrent product ([64, 250] x [250, 1000], 32 MFLOP per frame). Small batches are "
                         "bound by the sequential recurrence." + detail)
    inference = [r for r in report.get("inference", []) if r.get("best_compiled_rtf") is not None]
    if inference:
        notes.append("- Inference: model forward only (features and iSTFT excluded), one 3 s clip, best of N calls "
                     "after the first (tracing / XLA compilation times in the JSON). Eager runs the recurrence frame "
                     "by frame from Python; XLA compiles the whole model for the clip's fixed shape. Speech2Vid: the "
                     "clip's 75 frames in one call.")
        missed = [r for r in inference if r["family"] != "speech2vid" and r["best_compiled_rtf"] > TARGETS["rtf"]]
        per_frame = profile.get("batch1_forward_us_per_frame", {})
        if missed:
            details = []
            for result in missed:
                text = f"{result['model']} ({result['lstm_directions']} LSTM directions x {result['sequential_lstm_frames'] // max(result['lstm_directions'], 1)} frames = {result['sequential_lstm_frames']} dependent steps"
                if per_frame.get("xla"):
                    text += f", ~{result['sequential_lstm_frames'] * per_frame['xla'] / 1e3:.0f} ms at the profiled {per_frame['xla']:.0f} us per step"
                details.append(text + f"; {result['forward_flops_per_clip'] / 1e9:.1f} GFLOP per clip)")
            notes.append(f"- RTF above {TARGETS['rtf']} for " + "; ".join(details) + ". What limits it: at batch 1 "
                         "every frame of every direction of every layer is a [1, H] x [H, 4H] product that depends "
                         "on the previous one and reads the whole 1 MB recurrent kernel (more than a core's 512 KB "
                         "L2); XLA runs the loops one after another on one core (two independent LSTM loops take 2x "
                         "one), and a plain graph, which does run the directions in parallel, costs ~3-6x more per "
                         "step. The input projections are hoisted into GEMMs (ProjectedLSTM: -35 % per layer).")
        elif per_frame:
            notes.append(f"- Inference RTF <= {TARGETS['rtf']} under XLA for every BLSTM model (profile: "
                         f"{per_frame.get('xla', 0):.0f} us per frame and direction under XLA, "
                         f"{per_frame.get('graph', 0):.0f} us in a plain graph).")
    pipeline = report.get("pipeline")
    if pipeline and pipeline.get("demand_clips_per_second"):
        slow = [e for e in pipeline["results"].values() if e["stage"] == "model_inputs"
                and e["examples_per_second"] < TARGETS["pipeline_factor"] * pipeline["demand_clips_per_second"]]
        notes.append("- Pipeline: avse_tf.records.make_dataset (interleave, shuffle, batch, parse, prefetch) on the "
                     f"benchmark's records, batch {pipeline['batch']}, + tasks.enhancement.model_batch for the model "
                     "inputs; measured alone (in training it shares the cores with the step); demand = the fastest "
                     "enhancement training step in 3 s clips/s." + ("" if not slow else
                     " Below target: " + ", ".join(e["mode"] for e in slow) + " (var mode stores waveforms as one "
                     "feature per sample: parsing 3 x 48000 protobuf features per example dominates)."))
    return notes


def write_json(path, report):
    from avse_tf.utils import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1, default=_json_default) + "\n")


def _json_default(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:
        pass
    return str(value)


# ----------------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    gpus = configure(args)
    report = {"command": "python tools/bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "settings": {"quick": args.quick, "families": args.families, "sections": args.sections,
                           "threads": args.threads, "train_batch": args.train_batch,
                           "train_seconds": args.train_seconds, "s2v_batch": args.s2v_batch, "steps": args.steps,
                           "cache_dir": os.path.abspath(args.cache_dir), "mixed_precision": args.mixed_precision,
                           "targets": TARGETS},
              "machine": machine_info(args, gpus)}
    log(f"device {report['machine']['device']}, {args.threads} threads; families {', '.join(args.families)}")

    needs_data = "pipeline" in args.sections or "preprocessing" in args.sections
    data = None
    if needs_data:
        from tools.bench import data as bench_data

        data = bench_data.prepare(args.cache_dir, args.quick, log=log)
        report["data"] = {key: data[key] for key in ("root", "settings", "cached", "seconds", "steps")}
        log("data ready" + (" (cached)" if data["cached"] else f" in {data['seconds']:.0f} s"))

    peak = Peak(sizes=(1024,) if args.quick else (512, 1024, 2048))
    report["peak"] = {"size": peak.size, "by_size": {str(k): v for k, v in peak.results.items()},
                      "gflops_start": peak.results[peak.size]}
    log(f"matmul peak {peak.results[peak.size]:.1f} GFLOP/s at {peak.size}x{peak.size}")

    models = [(family, name, preset) for family in args.families for name, preset in FAMILIES[family]]
    if "training" in args.sections:
        report["training"] = []
        for family, name, preset in models:
            try:
                result = measure_training(family, name, preset, args, peak, gpus)
                log(f"training {name}: {result['examples_per_second']:.1f} ex/s, {result['gflops']:.1f} GFLOP/s, "
                    f"{result['peak_fraction']:.2f} of peak")
            except Exception as error:
                result = {"family": family, "model": name, "preset": preset,
                          "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                log(f"training {name} FAILED: {result['error']}")
            report["training"].append(result)
    if "inference" in args.sections:
        report["inference"] = []
        for family, name, preset in models:
            try:
                result = measure_inference(family, name, preset, args, gpus)
                log(f"inference {name}: " + ", ".join(f"{mode} {entry['rtf']:.3f}" if "rtf" in entry else
                                                      f"{mode} error" for mode, entry in result["modes"].items()))
            except Exception as error:
                result = {"family": family, "model": name, "preset": preset, "modes": {}, "best_compiled_rtf": None,
                          "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                log(f"inference {name} FAILED: {result['error']}")
            report["inference"].append(result)
    if "demo" in args.sections:
        from tools.bench.demo_margin import STREAMED, measure_demo_margin

        report["demo"] = []
        for family, name, preset in models:
            if name not in STREAMED.get(family, ((),))[0]:
                continue
            try:
                result = measure_demo_margin(family, name, build(family, preset, args)[0])
                log(f"demo {name}: compute / block {result['margin_mean']:.3f} (max {result['margin_max']:.3f})")
            except Exception as error:
                result = {"family": family, "model": name,
                          "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                log(f"demo {name} FAILED: {result['error']}")
            report["demo"].append(result)
    if "pipeline" in args.sections:
        batch = args.train_batch
        results = measure_pipeline(data, args, batch)
        demand, demand_model = None, None
        for result in report.get("training", []):
            if result.get("family") == "enhancement" and "clips_per_second" in result:
                if demand is None or result["clips_per_second"] > demand:
                    demand, demand_model = result["clips_per_second"], result["model"]
        report["pipeline"] = {"batch": batch, "results": results, "demand_clips_per_second": demand,
                              "demand_model": demand_model,
                              "target": f">= {TARGETS['pipeline_factor']} x demand (model inputs)"}
        log("pipeline: " + ", ".join(f"{key} {entry['examples_per_second']:.0f} ex/s" for key, entry in results.items()))
    if "preprocessing" in args.sections:
        report["preprocessing"] = measure_preprocessing(data, args)
        log("preprocessing done")
    if "profile" in args.sections:
        try:
            report["profile"] = measure_profile(args, peak)
        except Exception as error:
            report["profile"] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
        log("profile done")
    if args.profile_flops and "speech2vid" in args.families:
        import numpy as np

        from tools.bench import flops
        from avse_tf.systems import presets

        model = presets.from_preset("speech2vid_voxceleb", **args.overrides["speech2vid"])
        example = {"mfcc": np.zeros([1, 12, 35], "float32"),
                   "identity": np.zeros([1, model.image_size, model.image_size, 3 * model.num_identity], "float32")}
        report["flops_check"] = {"model": "speech2vid", "analytical": flops.forward_flops(model)["total"],
                                 "tf_profiler": flops.profiler_forward_flops(model, example)}

    for result in report.get("training", []):  # against the whole run's best peak, known only now
        if "gflops" in result:
            result["peak_fraction_vs_run_best"] = result["gflops"] / peak.best
            result["peak_fraction_cpu_time"] = result["gflops_per_cpu_second"] / peak.cpu_best
    peak_samples = peak.samples or [peak.results[peak.size]]
    report["peak"].update(gflops_best=peak.best, gflops_per_cpu_second_best=peak.cpu_best, samples=peak.samples, sample_min=min(peak_samples),
                          sample_max=max(peak_samples), method="tf.linalg.matmul float32 n x n in tf.function, "
                                                               "best of 5 (3 per later sample)")
    report["machine"]["load_average_end"] = _load_average()
    report["duration_seconds"] = time.perf_counter() - _START
    report["notes"] = explain(report, args)
    report["rows"] = build_rows(report)
    checked = [row for row in report["rows"] if row["met"] is not None]
    report["targets_met"] = {"met": sum(row["met"] for row in checked), "checked": len(checked)}
    table = format_table(report)
    report["table"] = table
    print(table)
    if args.json:
        write_json(args.json, report)
        log(f"JSON written to {os.path.abspath(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
