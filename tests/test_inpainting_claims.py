"""The inpainting paper's vision claim as tests, with margins: AV beats A at 800 ms gaps on L1.

Morrone et al. 2021 (Fig. 2): audio-only inpainting degrades quickly with the gap length and the
advantage of the video widens from 800 ms. Measured here on the library's default synthetic corpus
(no two speakers share a voice, so the test speakers' voices are disjoint from the training ones;
the camera-like video: audio-visual offset up to +-2 frames, coarticulation, blinks, head motion,
lighting), with the library's steps as the recipe runs them (corpus, landmarks, gap sets, records,
training) but only what the claim needs: ``a_blstm`` and ``av_blstm`` trained with the same seed
and settings, tested on the held-out speakers' 800 ms single-gap set, scored with the paper's L1
(gap-only L1 on the normalised log spectrogram, :func:`avse_tf.systems.av_inpainting.evaluate.gap_l1`;
no waveforms, no phone recogniser).

Sizes, for about 2.5 minutes of CI on 2 idle cores (the corpus and its landmarks take over half):
12 speakers x 8 utterances; s1-s7 train (56 clips, 2 gap draws each: 112 examples), s8 validates
(early stopping only, so one speaker), s9-s12 are the held-out test speakers (32 test clips: four
voices, so that one odd held-out voice does not decide the comparison); 64 x 2 BLSTMs, batch 8,
10 epochs (140 steps), the best validation epoch kept; one seed for the corpus, the gaps and both
models' training. Larger sizes tried (up to 16 x 10, 4 gap draws per clip) were not more
consistent: the AV - A difference at 800 ms moved by a few hundredths with the seed either way.

The AV > A claim is a strict xfail: at these sizes it held on seeds 1 and 2 and missed its margin
on seeds 3 and 4 (figures in its reason). The test runs seed 3, a seed where it misses, so that a
change making AV win there shows up as an XPASS failure (then measure the other seeds before
turning it into a plain test). The video-is-used check and the sanity checks held on all 4 seeds.
Measured figures belong in the model card (``avse_tf/systems/av_inpainting/README.md``); the
margins here leave room for seed-to-seed spread. Measure: ``PYTHONPATH=. python tests/test_inpainting_claims.py WORK_DIR [SEED]``.
"""

import os
import sys

import numpy as np
import pytest

SPEAKERS, UTTERANCES, VALIDATION_SPEAKERS, TEST_SPEAKERS = 12, 8, 1, 4
TRAIN_COPIES, EPOCHS, UNITS, LAYERS, BATCH_SIZE, SEED = 2, 10, 64, 2, 8, 3
GAP_MS = 800
MODELS = ("a_blstm", "av_blstm")


def run_claims(work, seed=SEED, speakers=SPEAKERS, utterances=UTTERANCES, epochs=EPOCHS, units=UNITS, layers=LAYERS,
               train_copies=TRAIN_COPIES, batch_size=BATCH_SIZE, validation_speakers=VALIDATION_SPEAKERS,
               test_speakers=TEST_SPEAKERS, timings=None):
    """Prepare the corpus and records, train both models (resumable: finished steps are kept) and
    return the per-clip gap L1s on the 800 ms test set: ``{"unprocessed", "a_blstm", "av_blstm",
    "av_blstm zeroed video"}`` arrays aligned on the test clips."""
    import time

    from avse_tf.constants import BEST_CHECKPOINT
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.systems.av_inpainting import pipeline
    from avse_tf.systems.av_inpainting.evaluate import gap_l1
    from avse_tf.systems.av_inpainting.recipe import split_speakers
    from avse_tf.systems.av_inpainting.train import train

    timings = {} if timings is None else timings
    clock = [time.time()]

    def lap(name):
        now = time.time()
        timings[name] = now - clock[0]
        clock[0] = now

    corpus = os.path.join(work, "corpus")
    generate_grid_corpus(corpus, speakers=speakers, utterances=utterances, seed=seed)
    lap("corpus")
    split = split_speakers(speakers, validation_speakers, test_speakers)
    extract_landmarks(corpus, [s for names in split.values() for s in names], show_progress=False)
    lap("landmarks")
    test_set = pipeline.fixed_gap_set_name(GAP_MS)
    pipeline.generate_gap_sets(corpus, split, "gaps", seed=seed, test_gap_ms=(GAP_MS,), train_copies=train_copies)
    pipeline.generate_records(corpus, "gaps", "inpainting_records", sets=["TRAINING_SET", "VALIDATION_SET", test_set])
    lap("records")
    records = os.path.join(corpus, "inpainting_records")
    checkpoints = {}
    for model_name in MODELS:
        experiment = os.path.join(work, "experiments", model_name)
        train(os.path.join(records, "TRAINING_SET"), os.path.join(records, "VALIDATION_SET"), experiment, model_name,
              batch_size, epochs, epochs, seed, units, layers, verbose=0)
        checkpoints[model_name] = os.path.join(experiment, BEST_CHECKPOINT)
        lap(f"train {model_name}")
    rows = {name: gap_l1(os.path.join(records, test_set), path) for name, path in checkpoints.items()}
    rows["av_blstm zeroed video"] = gap_l1(os.path.join(records, test_set), checkpoints["av_blstm"], zero_video=True)
    lap("test")
    clips = [(row["speaker"], row["utterance"]) for row in rows["a_blstm"]]
    for name, values in rows.items():
        assert [(row["speaker"], row["utterance"]) for row in values] == clips, name
    l1 = {"unprocessed": np.array([row["l1_unprocessed"] for row in rows["a_blstm"]])}
    l1.update({name: np.array([row["l1_inpainted"] for row in values]) for name, values in rows.items()})
    return {"l1": l1, "clips": clips, "gap_ms": [row["gap_ms"] for row in rows["a_blstm"]], "split": split,
            "timings": timings, "test_records": os.path.join(records, test_set), "checkpoints": checkpoints}


@pytest.fixture(scope="module")
def claims(tmp_path_factory):
    return run_claims(str(tmp_path_factory.mktemp("inpainting_claims") / "work"))


@pytest.mark.slow
def test_held_out_speakers_one_800_ms_gap_and_both_models_beat_the_gapped_input(claims):
    test_speakers = {f"s{k}" for k in range(SPEAKERS - TEST_SPEAKERS + 1, SPEAKERS + 1)}
    assert {speaker for speaker, _ in claims["clips"]} == test_speakers == set(claims["split"]["TEST_SET"])
    assert len(claims["clips"]) == TEST_SPEAKERS * UTTERANCES
    assert all(abs(gap - GAP_MS) <= 12 for gap in claims["gap_ms"])  # 67 frames of 12 ms
    l1 = claims["l1"]
    for name in MODELS:  # both learnt something, so the comparison is between two working models
        assert l1[name].mean() <= l1["unprocessed"].mean() - 0.005, (name, l1[name].mean(), l1["unprocessed"].mean())


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "measured at these sizes, AV - A mean gap L1 at 800 ms (share of the 32 test clips where AV is better): "
    "seed 1 -0.0192 (0.62), seed 2 -0.0201 (0.56), seed 3 -0.0059 (0.53; A 0.779, AV 0.773), seed 4 +0.0045 "
    "(0.38): AV is better on average but by less than the 0.01 margin on seeds 3 and 4 (this test runs seed 3); "
    "with 2 test speakers and 6-12 training speakers (17 more runs) it ranged from -0.094 to +0.011"))
def test_audio_visual_beats_audio_only_at_800_ms_on_held_out_voices(claims):
    gain = claims["l1"]["a_blstm"] - claims["l1"]["av_blstm"]
    assert gain.mean() >= 0.01, (claims["l1"]["a_blstm"].mean(), claims["l1"]["av_blstm"].mean())
    assert np.mean(gain > 0) > 0.5, gain  # and not carried by a few clips


@pytest.mark.slow
def test_the_video_is_used(claims):
    from avse_tf.errors import UserInputError
    from avse_tf.systems.av_inpainting.evaluate import gap_l1

    # Zeroed video features at test time must cost L1 (a model ignoring its video loses nothing).
    loss = claims["l1"]["av_blstm zeroed video"] - claims["l1"]["av_blstm"]
    assert loss.mean() >= 0.02, (claims["l1"]["av_blstm zeroed video"].mean(), claims["l1"]["av_blstm"].mean())
    assert np.mean(loss > 0) > 0.5, loss
    with pytest.raises(UserInputError, match="no video input"):
        gap_l1(claims["test_records"], claims["checkpoints"]["a_blstm"], zero_video=True)


if __name__ == "__main__":  # measure: PYTHONPATH=. python tests/test_inpainting_claims.py <work_dir> [seed]
    import time

    start = time.time()
    measured = run_claims(sys.argv[1], seed=int(sys.argv[2]) if len(sys.argv) > 2 else SEED)
    print(f"{time.time() - start:.0f} s, {len(measured['clips'])} test clips at {GAP_MS} ms; steps: "
          + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in measured["timings"].items()))
    l1 = measured["l1"]
    for name, values in l1.items():
        print(f"{name:24s} gap L1 {values.mean():.4f}")
    gain, cost = l1["a_blstm"] - l1["av_blstm"], l1["av_blstm zeroed video"] - l1["av_blstm"]
    print(f"AV - A {-gain.mean():+.4f} (AV better on {np.mean(gain > 0):.2f} of the clips); "
          f"zeroed video - AV {cost.mean():+.4f} (worse on {np.mean(cost > 0):.2f})")
