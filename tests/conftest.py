"""Shared fixtures: a small synthetic GRID corpus made once per test session."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# README's test command runs two pytest-xdist workers with ``--dist loadfile`` (a module's tests stay
# on one worker, so a module fixture is made once) and ``--no-loadscope-reorder``: the modules that
# take minutes go first, so that the other worker fills in around them (a scheduling hint only:
# every test passes in any order). Session fixtures that take minutes are made once for both
# workers (``made_once``).
LONGEST_FIRST = ("test_enhancement_claims", "test_pseudo_visual_denoiser", "test_inpainting_claims",
                 "test_vca_gan_train", "test_vca_gan_model", "test_pseudo_visual_recipe", "test_bench",
                 "test_user_corpus_recipes", "test_faults", "test_corpus_transfer", "test_inpainting_recognizer",
                 "test_beam_preprocess")


def pytest_collection_modifyitems(config, items):
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))  # stable sort


def made_once(tmp_path_factory, name, make):
    """``make(folder)`` run once per test session, shared by the xdist workers (pytest-xdist's
    documented pattern: the workers' common base folder and a file lock). ``make`` returns a
    JSON value, which every caller gets."""
    import fcntl
    import json

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-N/, above popen-gw0/ and popen-gw1/
    result_file = root / f"{name}.json"
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here while the first makes it
        if not result_file.is_file():
            result_file.write_text(json.dumps(make(root / name)))
    return json.loads(result_file.read_text())


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """2 speakers x 3 utterances, seed 1 (about 3 s to make)."""
    from avse_tf.data.synth.corpus import generate_grid_corpus

    root = tmp_path_factory.mktemp("corpus")
    description = generate_grid_corpus(str(root), speakers=2, utterances=3, seed=1)
    return root, description


@pytest.fixture(scope="session")
def enhancement_corpus(tmp_path_factory):
    """Corpus (4 speakers x 3), landmarks, TBMs, 2-speaker mixtures for train/val/test sets."""
    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.mixing import generate_mixtures
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus

    root = str(tmp_path_factory.mktemp("enh") / "corpus")
    generate_grid_corpus(root, speakers=4, utterances=3, seed=4)
    speakers = [1, 2, 3, 4]
    extract_landmarks(root, speakers, show_progress=False)
    compute_tbms(root, speakers)
    for name, base, seed in (("TRAINING_SET", [1, 2], 1), ("VALIDATION_SET", [3], 2), ("TEST_SET", [4], 3)):
        generate_mixtures(root, base, speakers, dest_dir=f"mix/{name}", num_samples=3, num_mix=1, seed=seed)
    return root


@pytest.fixture(scope="session")
def lip2speech_data(small_corpus, tmp_path_factory):
    """``avse lip2speech preprocess`` of ``small_corpus``: s1's 3 clips split 1 / 1 / 1 into training,
    validation and test, s2's 3 clips the unseen-speaker split."""
    from avse_tf.systems.vca_gan.preprocess import preprocess

    root, _ = small_corpus
    output = str(tmp_path_factory.mktemp("lip2speech") / "data")
    result = preprocess(str(root), output, val_fraction=0.34, test_fraction=0.34, seed=0, unseen_speakers=["s2"])
    assert result["splits"] == {"test": 1, "validation": 1, "training": 1, "unseen": 3}, result
    return output


@pytest.fixture(scope="session")
def pseudo_visual_preprocessed(tmp_path_factory):
    """The synthetic corpus (4 speakers x 4 utterances, seed 11) through `denoising preprocess`:
    s4 held out as the unseen split; s1-s3's 12 clips split 10 / 1 / 1 (training / validation / test)."""
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.systems.pseudo_visual.preprocess import preprocess

    def make(base):
        generate_grid_corpus(str(base / "corpus"), speakers=4, utterances=4, seed=11)
        output = str(base / "preprocessed")
        result = preprocess(str(base / "corpus"), output, val_fraction=0.08, test_fraction=0.08, seed=0,
                            unseen_speakers=["s4"])
        assert result["splits"] == {"training": 10, "validation": 1, "test": 1, "unseen": 4}, result
        return output

    return made_once(tmp_path_factory, "pseudo_visual_preprocessed", make)


# The teacher's CLI run that its acceptance tests evaluate and the student is distilled from: one
# schedule for the expert and the teacher, sized for the CI budget; the teacher's lr 3e-3 (CPU
# preset: 1e-3) to learn what it can in these few steps.
PSEUDO_VISUAL_TEACHER_RUN = {"epochs": 2, "steps_per_epoch": 15, "batch_size": 4, "lr": 3e-3}


@pytest.fixture(scope="session")
def pseudo_visual_teacher(pseudo_visual_preprocessed, tmp_path_factory):
    """`avse denoising train_teacher` with no expert given (trains the expert into C/expert first), in
    a fresh process with TensorFlow's deterministic ops, so the acceptance numbers repeat. Returns the
    schedule and ``checkpoint_dir`` (C)."""
    import subprocess
    import sys

    def make(folder):
        checkpoint_dir = str(folder / "run")
        flags = [item for key, value in PSEUDO_VISUAL_TEACHER_RUN.items() for item in (f"--{key}", str(value))]
        argv = ["denoising", "train_teacher", "--data_root", pseudo_visual_preprocessed, "--checkpoint_dir",
                checkpoint_dir, *flags, "--seed", "0"]
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "TF_DETERMINISTIC_OPS": "1", "PYTHONHASHSEED": "0",
               "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run([sys.executable, "-m", "avse_tf", *argv], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "train_teacher: best validation L1" in result.stdout
        return {**PSEUDO_VISUAL_TEACHER_RUN, "checkpoint_dir": checkpoint_dir}

    return made_once(tmp_path_factory, "pseudo_visual_teacher", make)


# A tiny distillation: enough to check the machinery and the evaluations; the model card has the
# larger run whose numbers the acceptance claims are about.
PSEUDO_VISUAL_STUDENT_ARGS = ["--epochs", "2", "--steps_per_epoch", "4", "--batch_size", "4", "--seed", "0"]


@pytest.fixture(scope="session")
def pseudo_visual_student(pseudo_visual_preprocessed, pseudo_visual_teacher, tmp_path_factory):
    """`avse denoising train_student` from the session's teacher: ``(checkpoint_dir, argv)``; the
    student's tests and the denoiser's (its frozen student) share it."""
    from avse_tf.cli.main import main

    def make(folder):
        checkpoint_dir = str(folder / "run")
        argv = ["denoising", "train_student", "--data_root_lrs3_pretrain", pseudo_visual_preprocessed,
                "--wav2lip_checkpoint_path", pseudo_visual_teacher["checkpoint_dir"], "--checkpoint_dir",
                checkpoint_dir, *PSEUDO_VISUAL_STUDENT_ARGS]
        assert main(argv) == 0
        return checkpoint_dir, argv

    return tuple(made_once(tmp_path_factory, "pseudo_visual_student", make))  # JSON gives a list back
