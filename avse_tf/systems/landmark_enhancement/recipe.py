"""One command from nothing to the paper-style table of Morrone et al. 2019, on synthetic data.

Steps (each resumable: finished outputs are kept):

1. ``synth-grid`` corpus; speakers split into training, validation and unseen test speakers
   (the last three are the test speakers, the three before them validation, the rest training);
2. landmarks (``video_preprocessing``) and oracle TBMs (``tbm_computation``) for every speaker;
3. for each mixture size (2, 3 speakers): mixtures per set, interferers drawn from the same set's
   speakers, so test mixtures contain unseen voices only; records with oracle TBMs;
4. train ``vl2m``, ``av_concat_mask``, ``av_concat_spec`` on them;
5. the ``_ref`` recipe of the paper: VL2M's estimated TBMs for every set (``testing --mask_dir``),
   records rebuilt with them (same normalisation statistics), ``vl2m_ref`` and
   ``av_concat_mask_ref`` trained on oracle TBMs, then fine-tuned on estimated ones;
6. every model tested on the unseen speakers (``_ref`` models with estimated TBMs, as at test time
   no oracle exists): metrics of the mixture, the enhanced signal and the improvement.
"""

from __future__ import annotations

import json
import os

from avse_tf.constants import BEST_CHECKPOINT, RECORDS_MANIFEST
from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text

SETS = ("TRAINING_SET", "VALIDATION_SET", "TEST_SET")
REF_MODELS = ("vl2m_ref", "av_concat_mask_ref")


def split_speakers(count):
    names = [f"s{k}" for k in range(1, count + 1)]
    if count < 8:
        raise UserInputError(f"the recipe needs at least 8 speakers (>= 2 training, 3 validation, 3 test), got {count}; "
                             "pass --speakers 8 or more")
    return {"TRAINING_SET": names[:-6], "VALIDATION_SET": names[-6:-3], "TEST_SET": names[-3:]}


def run_recipe(work_dir, speakers=10, utterances=12, epochs=20, hidden_units=250, layers=None, batch_size=8,
               num_speakers=(2, 3), models=("vl2m", "av_concat_mask", "av_concat_spec") + REF_MODELS,
               metrics=("sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol"), seed=1, num_mix=2, patience=5,
               verbose="auto") -> str:
    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.mixing import generate_mixtures
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.metrics import format_table
    from avse_tf.systems.landmark_enhancement.evaluate import test as test_model
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records
    from avse_tf.systems.landmark_enhancement.train import train as train_model
    from avse_tf.systems.presets import get_preset

    corpus = os.path.join(work_dir, "corpus")
    generate_grid_corpus(corpus, speakers=speakers, utterances=utterances, seed=seed)
    split = split_speakers(speakers)
    every = [s for names in split.values() for s in names]
    extract_landmarks(corpus, every, "video", "landmarks")
    compute_tbms(corpus, every, "audio", "tbm")
    results = {}
    for size in num_speakers:
        mix_dir = f"mix{size}"
        for set_name, names in split.items():
            if not os.path.isfile(os.path.join(corpus, mix_dir, set_name, "mixtures.json")):
                generate_mixtures(corpus, names, names, "audio", os.path.join(mix_dir, set_name),
                                  num_samples=utterances, num_mix=num_mix, num_mix_speakers=size - 1,
                                  seed=seed + SETS.index(set_name))
        oracle = f"tfrecords{size}"
        generate_records(corpus, size, "fixed", oracle, mix_dir, "landmarks", "tbm")
        experiments = os.path.join(work_dir, "experiments", f"{size}spk")
        results_dir = os.path.join(work_dir, "results", f"{size}spk")

        def train(model_name, records, exp_name, init=None):
            preset = get_preset(f"{model_name}_grid")
            options = dict(hidden_units=hidden_units, layers=layers or preset["architecture"]["num_layers"],
                           opt=preset["training"].get("optimizer", "adam"),
                           learning_rate=preset["training"].get("learning_rate", 1e-3))
            return train_model(os.path.join(corpus, records, "TRAINING_SET"),
                                     os.path.join(corpus, records, "VALIDATION_SET"),
                                     os.path.join(experiments, exp_name), model_name, batch_size, epochs, patience,
                                     seed, init_checkpoint=init, verbose=verbose, **options)

        def test(model_name, records, exp_name, mask_dir=None, set_name="TEST_SET", wanted=metrics):
            return test_model(os.path.join(corpus, records, set_name), os.path.join(experiments, exp_name),
                                    os.path.join(results_dir, exp_name, set_name), corpus, mask_dir,
                                    metrics=tuple(wanted), model_name=model_name,
                                    write_wavs=set_name == "TEST_SET")[1]

        needs_vl2m = "vl2m" in models or any(m in models for m in REF_MODELS)
        for model_name in ("vl2m", "av_concat_mask", "av_concat_spec"):
            if model_name in models or (model_name == "vl2m" and needs_vl2m):
                train(model_name, oracle, model_name)
        if any(m in models for m in REF_MODELS):
            estimated = f"tfrecords{size}_estimated"
            mask_dir = f"estimated_tbm{size}"
            if not os.path.isfile(os.path.join(corpus, estimated, "TEST_SET", RECORDS_MANIFEST)):
                for set_name in SETS:
                    test("vl2m", oracle, "vl2m", mask_dir=mask_dir, set_name=set_name, wanted=("stoi",))
            generate_records(corpus, size, "fixed", estimated, mix_dir, "landmarks", mask_dir,
                                         norm_data_dir=oracle)
            for model_name in REF_MODELS:
                if model_name in models:
                    train(model_name, oracle, model_name + "_oracle")
                    train(model_name, estimated, model_name,
                          init=os.path.join(experiments, model_name + "_oracle", BEST_CHECKPOINT))
        for model_name in models:
            records = f"tfrecords{size}_estimated" if model_name in REF_MODELS else oracle
            results[(size, model_name)] = test(model_name, records, model_name)
    rows = []
    for size in num_speakers:
        sized = {model_name: summary for (s, model_name), summary in results.items() if s == size}
        if not sized:
            continue
        first = next(iter(sized.values()))
        rows.append((f"{size}spk mixture", {metric: first[f"{metric}_mixture"] for metric in metrics}))
        for model_name, summary in sized.items():
            values = {}
            for metric in metrics:
                values[metric] = summary[f"{metric}_enhanced"]
                values[f"{metric} impr."] = summary[f"{metric}_improvement"]
            rows.append((f"{size}spk {model_name}", values))
    columns = [column for metric in metrics for column in (metric, f"{metric} impr.")]
    table = format_table(rows, columns, precision=2, label="model")
    os.makedirs(os.path.join(work_dir, "results"), exist_ok=True)
    atomic_write_text(os.path.join(work_dir, "results", "table.txt"), table + "\n")
    atomic_write_text(os.path.join(work_dir, "results", "summary.json"),
                      json.dumps({f"{s}spk/{m}": v for (s, m), v in results.items()}, indent=1))
    return table
