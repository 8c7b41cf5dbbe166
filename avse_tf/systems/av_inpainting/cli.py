"""``avse inpainting <subcommand>``: AV speech inpainting (Morrone et al., ICASSP 2021).

Subcommands follow the steps of the original project and of the enhancement command group:
``audio_preprocessing`` / ``video_preprocessing`` (features), ``gap_generator`` (seeded gap sets),
``tfrecords_generator``, ``training``, ``testing`` (metrics per test set), ``recipe`` (everything on a
synthetic corpus, paper-style tables) and ``inpaint`` (a user's own file).
"""

from __future__ import annotations

import os

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.cli.shared import add_length_policy_arguments
from avse_tf.constants import SAMPLE_RATE
from avse_tf.data.corpora.recipes import add_user_corpus_arguments, user_corpus_from_args
from avse_tf.data.synth.options import add_corpus_arguments, corpus_options_from_args
from avse_tf.systems.av_inpainting import SYSTEM
from avse_tf.systems.presets import add_preset_argument
from avse_tf.workdir_lock import experiment_folder

# Training flags read from the preset (flag -> preset key); explicit flags win.
PRESET_FLAGS = {"hidden_units": "architecture.hidden_units", "layers": "architecture.num_layers",
                "learning_rate": "training.learning_rate", "batch_size": "training.batch_size",
                "epochs": "training.epochs", "patience": "training.early_stopping_patience",
                "recognizer_copies": "training.recognizer_copies"}



def _testing_folder(args):
    """Lock of ``testing``: its output folder."""
    return os.path.join(args.data_dir, args.output_dir, str(args.exp), os.path.basename(args.test_set.rstrip("/")))


def _speakers(parser, name, required=True, help_text="speaker numbers (1 2 3) or names (s1 s2)"):
    parser.add_argument(name, nargs="+", required=required, help=help_text)


def register(subparsers) -> None:
    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="Morrone et al., ICASSP 2021: restore missing stretches of speech from the audio context and "
                    "the speaker's face landmarks. Models a_blstm, av_blstm, a_blstm_mtl, av_blstm_mtl.")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    audio = commands.add_parser(
        "audio_preprocessing", help="log-magnitude spectrograms log(|X| + 1e-6) of every wav, as NPY",
        description="STFT 384/192/512 (periodic Hann, end padding): a 3 s clip gives 250 x 257. "
                    "Written to <data_dir>/s<k>/log_spectrograms/<id>.npy; existing outputs are kept.")
    audio.add_argument("--data_dir", required=True)
    _speakers(audio, "--speaker_ids")
    audio.add_argument("--audio_dir", default="audio")
    audio.add_argument("--max_wav_length", type=int, default=48000, help="pad/trim clips to this many samples")
    audio.set_defaults(func=run_audio_preprocessing, work_folder="data_dir")

    video = commands.add_parser("video_preprocessing", help="68 dlib face landmarks per video frame, T x 136 TXT")
    video.add_argument("--data_dir", required=True)
    _speakers(video, "--speaker_ids")
    video.add_argument("--video_dir", default="video")
    video.add_argument("--dest_dir", default="landmarks")
    video.add_argument("--shape_predictor", default=None)
    video.add_argument("--ext", default="mpg")
    video.set_defaults(func=run_video_preprocessing, work_folder="data_dir")

    gaps = commands.add_parser(
        "gap_generator", help="seeded gap sets: training distribution and fixed-length test gaps",
        description="Writes <data_dir>/<gaps_dir>/<SET>.json. TRAINING_SET / VALIDATION_SET: 1-8 gaps, total "
                    "~N(900, 300) ms, each >= 36 ms, <= 80%% of the clip. TEST_SET: the same distribution on the "
                    "test speakers; TEST_SET_<ms>ms: one gap of that length. Same seed, same gaps.")
    gaps.add_argument("--data_dir", required=True)
    _speakers(gaps, "--train_speakers")
    _speakers(gaps, "--val_speakers")
    _speakers(gaps, "--test_speakers")
    gaps.add_argument("--gaps_dir", default="gaps")
    gaps.add_argument("--seed", type=int, default=0)
    gaps.add_argument("--train_copies", type=int, default=1, help="gap draws per training clip (each an example)")
    gaps.add_argument("--test_gaps", default="100,200,400,800,1600", help="fixed test gap lengths in ms")
    gaps.set_defaults(func=run_gap_generator, work_folder="data_dir")

    records = commands.add_parser("tfrecords_generator", help="normalised features + gaps of every gap set as TFRecords")
    records.add_argument("--data_dir", required=True)
    records.add_argument("--gaps_dir", default="gaps")
    records.add_argument("--dest_dir", default="inpainting_records")
    records.add_argument("--landmark_dir", default="landmarks")
    records.add_argument("--compression", choices=("none", "gzip"), default="none")
    records.set_defaults(func=run_tfrecords_generator, work_folder="data_dir")

    training = commands.add_parser(
        "training", help="train an inpainting model or the PER phone recogniser",
        description="Inpainting models train on the gapped records. phone_recognizer (for the PER) is a BLSTM frame "
                    "classifier on 80 log-mel bands of the clean clips of --train_set (early stopping on --val_set), "
                    "with per-frame phone targets from the corpus's .align word timings (39 CMUdict phones + "
                    "silence), decoded by collapsing repeats and dropping silence.")
    training.add_argument("--data_dir", required=True)
    training.add_argument("--train_set", default="inpainting_records/TRAINING_SET")
    training.add_argument("--val_set", default="inpainting_records/VALIDATION_SET")
    training.add_argument("--exp", required=True, help="experiment folder under <data_dir>/experiments")
    training.add_argument("--model", default=None, choices=SYSTEM.all_models,
                          help=f"default: the --preset's model, else {SYSTEM.models[0]}")
    add_preset_argument(training, SYSTEM.name)
    training.add_argument("--hidden_units", type=int, default=None, help="default: the preset's (250)")
    training.add_argument("--layers", type=int, default=None, help="BLSTM layers (default: the preset's; 3, "
                          "recogniser 2)")
    training.add_argument("--learning_rate", type=float, default=None,
                          help="Adam learning rate (default: the preset's; 1e-3, the paper's; phone_recognizer 3e-3)")
    training.add_argument("--recognizer_copies", type=int, default=None,
                          help="phone_recognizer: copies of each clean clip per epoch (1 as it is, the others speed- "
                               "and time-shift-perturbed; default: the preset's, 4)")
    training.add_argument("--batch_size", type=int, default=None, help="default: the preset's (8)")
    training.add_argument("--epochs", type=int, default=None, help="default: the preset's (50)")
    training.add_argument("--patience", type=int, default=None, help="default: the preset's (5)")
    training.add_argument("--seed", type=int, default=None)
    training.set_defaults(func=run_training, work_folder=experiment_folder)

    testing = commands.add_parser("testing", help="inpaint a test record set: wavs, figures, L1/STOI/PESQ/PER")
    testing.add_argument("--data_dir", required=True)
    testing.add_argument("--test_set", required=True, help="record set, relative to --data_dir")
    testing.add_argument("--exp", required=True)
    testing.add_argument("--ckp", default=None, help="checkpoint (default: the experiment's best.keras)")
    testing.add_argument("--recognizer", default=None, help="phone recogniser checkpoint or experiment folder (PER)")
    testing.add_argument("--phase", choices=("auto", "lws", "griffin_lim"), default="auto",
                         help="phase of the gap: LWS if installed, else Griffin-Lim (auto)")
    testing.add_argument("--oracle_phase", action="store_true", help="analysis: the clean phase in the gap")
    testing.add_argument("--output_dir", default="inpainted")
    testing.add_argument("--batch_size", type=int, default=8)
    testing.set_defaults(func=run_testing, work_folder=_testing_folder)

    recipe = commands.add_parser(
        "recipe", help="the whole pipeline on a synthetic corpus; tables per gap length with the paper's beside",
        description="synth-grid -> landmarks -> gaps -> records -> phone recogniser -> 4 models -> tests on unseen "
                    "speakers. Resumable.")
    recipe.add_argument("--work_dir", required=True)
    recipe.add_argument("--speakers", type=int, default=None, help="synthetic speakers (default 10)")
    recipe.add_argument("--utterances", type=int, default=None, help="synthetic utterances per speaker (default 30)")
    recipe.add_argument("--epochs", type=int, default=20)
    recipe.add_argument("--hidden_units", type=int, default=250)
    recipe.add_argument("--layers", type=int, default=None)
    recipe.add_argument("--recognizer_units", type=int, default=None)
    recipe.add_argument("--recognizer_epochs", type=int, default=None, help="default: 2 x --epochs")
    recipe.add_argument("--recognizer_copies", type=int, default=4,
                        help="copies of each clean training clip per recogniser epoch (1 + perturbed)")
    recipe.add_argument("--batch_size", type=int, default=8)
    recipe.add_argument("--train_copies", type=int, default=2)
    recipe.add_argument("--models", default="a_blstm,av_blstm,a_blstm_mtl,av_blstm_mtl")
    recipe.add_argument("--phase", choices=("auto", "lws", "griffin_lim"), default="auto")
    recipe.add_argument("--griffin_lim_iterations", type=int, default=100)
    recipe.add_argument("--patience", type=int, default=5)
    recipe.add_argument("--seed", type=int, default=1)
    add_corpus_arguments(recipe)
    add_user_corpus_arguments(recipe)
    recipe.set_defaults(func=run_recipe, work_folder="work_dir")

    inpaint = commands.add_parser(
        "inpaint", help="inpaint your own wav (gaps in seconds, or digital silence) and draw a figure",
        description="Frames whose window overlaps a gap are re-estimated; everything else is kept as it is.")
    inpaint.add_argument("--input", required=True, help="wav (or any audio/video file ffmpeg reads)")
    inpaint.add_argument("--video", default=None, help="the speaker's face video (AV models)")
    inpaint.add_argument("--gaps", default=None, help="START:END,... in seconds (default: detect digital silence)")
    inpaint.add_argument("--ckp", required=True, help="checkpoint (.keras) or experiment folder; its folder must hold "
                         "normalization.npz (training puts it there)")
    inpaint.add_argument("--output", required=True, help="output wav")
    inpaint.add_argument("--figure", default=None, help="PNG (default: <output>.png)")
    inpaint.add_argument("--reference", default=None, help="clean wav to draw under the others")
    inpaint.add_argument("--phase", choices=("auto", "lws", "griffin_lim"), default="auto")
    inpaint.add_argument("--shape_predictor", default=None)
    add_length_policy_arguments(inpaint)
    inpaint.set_defaults(func=run_inpaint)


def run_audio_preprocessing(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.data.preprocess import compute_spectrograms
    from avse_tf.systems.av_inpainting.pipeline import SPECTROGRAM_DIR

    written = compute_spectrograms(args.data_dir, args.speaker_ids, args.audio_dir, SPECTROGRAM_DIR, SAMPLE_RATE,
                                   args.max_wav_length, "morrone2021", "log")
    print(f"audio_preprocessing: wrote {len(written)} log spectrograms")
    return 0


def run_video_preprocessing(args) -> int:
    from avse_tf.data.preprocess import extract_landmarks

    written = extract_landmarks(args.data_dir, args.speaker_ids, args.video_dir, args.dest_dir, args.shape_predictor,
                                args.ext)
    print(f"video_preprocessing: wrote {len(written)} landmark files")
    return 0


def run_gap_generator(args) -> int:
    from avse_tf.errors import UserInputError
    from avse_tf.systems.av_inpainting.pipeline import generate_gap_sets

    try:
        test_gaps = [int(value) for value in args.test_gaps.split(",") if value.strip()]
    except ValueError:
        raise UserInputError(f"--test_gaps must be comma-separated milliseconds, got {args.test_gaps!r}") from None
    split = {"TRAINING_SET": args.train_speakers, "VALIDATION_SET": args.val_speakers, "TEST_SET": args.test_speakers}
    written = generate_gap_sets(args.data_dir, split, args.gaps_dir, args.seed, test_gaps, args.train_copies)
    print(f"gap_generator: {len(written)} gap sets in {os.path.join(args.data_dir, args.gaps_dir)}")
    return 0


def run_tfrecords_generator(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.av_inpainting.pipeline import generate_records

    counts = generate_records(args.data_dir, args.gaps_dir, args.dest_dir, landmark_dir=args.landmark_dir,
                              compression=None if args.compression == "none" else "GZIP")
    for name, count in counts.items():
        print(f"tfrecords_generator: {name}: " + ("kept (exists)" if count is None else f"{count} examples"))
    return 0


def run_training(args) -> int:
    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config

    config = resolve_training_flags(args, SYSTEM, PRESET_FLAGS, {})
    import_tensorflow_quietly()
    from avse_tf.systems.av_inpainting.train import train

    exp_dir = os.path.join(args.data_dir, "experiments", str(args.exp))
    save_resolved_config(exp_dir, config, {"train_set": args.train_set, "val_set": args.val_set, "seed": args.seed})
    summary = train(os.path.join(args.data_dir, args.train_set), os.path.join(args.data_dir, args.val_set),
                    exp_dir, args.model, args.batch_size, args.epochs, args.patience, args.seed, args.hidden_units,
                    args.layers, args.learning_rate, data_dir=args.data_dir, recognizer_copies=args.recognizer_copies)
    print(f"training: best validation loss {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    if "validation_per" in summary:
        print(f"training: phone recogniser PER on the clean validation clips {summary['validation_per']:.3f}")
    return 0


def run_testing(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.metrics import format_table
    from avse_tf.systems.av_inpainting.evaluate import test

    checkpoint = args.ckp or os.path.join(args.data_dir, "experiments", str(args.exp))
    output = os.path.join(args.data_dir, args.output_dir, str(args.exp), os.path.basename(args.test_set.rstrip("/")))
    _, summary = test(os.path.join(args.data_dir, args.test_set), checkpoint, output, recognizer=args.recognizer,
                      phase=args.phase, oracle_phase=args.oracle_phase, batch_size=args.batch_size)
    rows = {kind: {metric: summary.get(f"{metric}_{kind}") for metric in ("l1", "per", "stoi", "pesq")}
            for kind in ("unprocessed", "inpainted")}
    print(format_table(rows, label="signal"))
    print(f"({summary['examples']} examples; per-example CSV, wavs and figures in {output})")
    return 0


def run_recipe(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.av_inpainting.recipe import run_recipe as recipe

    user_corpus = user_corpus_from_args(args)
    if user_corpus is None:
        args.speakers = 10 if args.speakers is None else args.speakers
        args.utterances = 30 if args.utterances is None else args.utterances
    table = recipe(args.work_dir, speakers=args.speakers, utterances=args.utterances, epochs=args.epochs,
                   hidden_units=args.hidden_units, layers=args.layers, batch_size=args.batch_size,
                   models=[m for m in args.models.split(",") if m], seed=args.seed, patience=args.patience,
                   train_copies=args.train_copies, recognizer_epochs=args.recognizer_epochs,
                   recognizer_units=args.recognizer_units, phase=args.phase,
                   griffin_lim_iterations=args.griffin_lim_iterations, recognizer_copies=args.recognizer_copies,
                   corpus_options=corpus_options_from_args(args), user_corpus=user_corpus)
    print(table)
    return 0


def run_inpaint(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.data.gaps import parse_gap_spec
    from avse_tf.systems.av_inpainting.inpaint import inpaint_file

    gaps = parse_gap_spec(args.gaps) if args.gaps else None
    figure = args.figure or os.path.splitext(args.output)[0] + ".png"
    result = inpaint_file(args.input, args.output, args.ckp, gaps, args.video, args.phase, figure,
                          shape_predictor=args.shape_predictor, reference=args.reference,
                          length_policy=args.length_policy)
    spans = ", ".join(f"{a:.3f}-{b:.3f} s" for a, b in result["gaps_seconds"])
    print(f"inpaint: {args.output} ({result['model']}, gaps {spans}); figure {figure}")
    return 0
