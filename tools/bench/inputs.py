"""The input side, on the benchmark corpus (:mod:`tools.bench.data`): records read into batches
(each :class:`~avse_tf.training.benchmark.RecordsCase`), landmark extraction, and feature
extraction (each :class:`~avse_tf.training.benchmark.FeatureCase`)."""

from __future__ import annotations

import time


def measure_pipeline(data, records_cases, args, batch):
    """examples/s of each records case's modes, parsed and mapped to the model inputs."""
    import tensorflow as tf

    from avse_tf.records import load_manifest, make_dataset

    results = {}
    seconds = 1.0 if args.quick else 2.0
    for case in records_cases:
        for mode in case.modes:
            manifest = load_manifest(data["records"][case.name][mode])
            for stage in ("parsed", "model_inputs"):
                dataset = make_dataset(manifest, batch_size=batch, shuffle=True, seed=0, repeat=True)
                if stage == "model_inputs":
                    dataset = dataset.map(case.model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
                        tf.data.AUTOTUNE)
                iterator = iter(dataset)
                next(iterator)
                count, begin = 0, time.perf_counter()
                while time.perf_counter() - begin < seconds:
                    next(iterator)
                    count += batch
                elapsed = time.perf_counter() - begin
                # Keys as the single-system table had them; prefixed only if two systems write records.
                key = f"{mode}/{stage}" if len(records_cases) == 1 else f"{case.name}:{mode}/{stage}"
                results[key] = {"label": case.name, "mode": mode, "stage": stage,
                                "examples_per_second": count / elapsed, "examples": count, "seconds": elapsed,
                                "batch": batch, "shards": len(manifest.files), "records": manifest.num_examples}
    return results


def measure_preprocessing(data, feature_cases, args):
    import numpy as np

    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import LandmarkExtractor
    from tools.bench.data import first_video

    results = {}
    video = first_video(data["corpus"])
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

    for case in feature_cases:  # per clip
        try:
            label, items, extract = case.setup(data, args.quick)
            if case.warmup:
                extract(items[0])
            begin = time.perf_counter()
            for item in items:
                extract(item)
            elapsed = time.perf_counter() - begin
            results[case.key] = {"label": label, "clips_per_second": len(items) / elapsed, "clips": len(items),
                                 "seconds": elapsed}
        except Exception as error:  # one system's failure must not hide the others'
            results[case.key] = {"label": case.key, "error": f"{type(error).__name__}: {error}"}
    return results
