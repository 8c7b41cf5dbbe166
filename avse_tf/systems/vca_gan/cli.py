"""``avse lip2speech <subcommand>``: the multi-language VCA-GAN seed's preprocessing (shared/seeds/001)
and one ``preprocess`` command that does all of it.

``preprocess_audio_only --Grid_dir --output_dir``, ``crop_video_processing --input_dir --output_dir``
and ``remove_not_25`` keep the seed's script names (the seed hard-coded the folders of the last two:
here they are flags). ``train`` and ``test`` keep the seed's flags (``--grid`` is a ``preprocess``
output folder); ``synthesize`` speaks one silent video; ``recipe`` runs everything on a synthetic corpus.
"""

from __future__ import annotations

import os

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.cli.preprocess import add_runner_arguments
from avse_tf.systems.vca_gan import SYSTEM


def register(subparsers) -> None:
    from avse_tf.systems.vca_gan.sources import SOURCE_LAYOUTS

    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="VCA-GAN lip-to-speech (Kim, Hong, Ro, NeurIPS 2021): data preparation. The seed's "
                    "preprocess_audio_only.py / crop_video_processing.py / remove_not_25.py, and preprocess (all "
                    "of it, with 3 s segments, split lists and records).")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    audio = commands.add_parser(
        "preprocess_audio_only", help="every wav -> 16 kHz, 55 Hz high-pass, flac in <folder>/audio/",
        description="7th-order Butterworth high-pass at 55 Hz, zero-phase, as VCA-GAN's data loader. Existing "
                    "outputs are kept (resume).")
    audio.add_argument("--Grid_dir", required=True, help="corpus folder (searched recursively)")
    audio.add_argument("--output_dir", required=True, help="output folder")
    audio.set_defaults(func=run_preprocess_audio_only, work_folder="output_dir")

    crop = commands.add_parser(
        "crop_video_processing", help="112x112 gray mouth crop of every video; several / no faces reported, kept",
        description="Face detection and tracking (dlib), a stable mouth-centred square per clip, 112x112 gray, "
                    "muted mp4 at the video's frame rate. Clips with several faces or none are listed in "
                    "OUTPUT_DIR/bad_clips.txt and skipped (the seed deleted them).")
    crop.add_argument("--input_dir", required=True, help="folder of videos (searched recursively)")
    crop.add_argument("--output_dir", required=True, help="output folder (same relative paths, .mp4)")
    crop.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    crop.set_defaults(func=run_crop_video_processing, work_folder="output_dir")

    not_25 = commands.add_parser(
        "remove_not_25", help="list the videos that are not 25 fps (--convert: re-encode them at 25 fps)")
    not_25.add_argument("--input_dir", required=True, help="folder of videos (searched recursively)")
    not_25.add_argument("--output_file", default=None, help="the list (default: INPUT_DIR/not_25.txt)")
    not_25.add_argument("--convert", action="store_true", help="re-encode them at 25 fps instead of listing them")
    not_25.add_argument("--output_dir", default=None, help="with --convert: write there (default: in place)")
    not_25.set_defaults(func=run_remove_not_25)

    prep = commands.add_parser(
        "preprocess", help="any videos -> 25 fps, 3 s segments, mouth crops, mel/linear, split lists, TFRecords",
        description="One resumable run: OUTPUT_DIR/<clip>_<k>/{video,audio,features}/, data/{training,validation,"
                    "test}.txt, tfrecords/<split>/ (schema in tfrecords/README.md), bad_clips.txt.")
    prep.add_argument("--input_dir", required=True, help="folder of videos, or a GRID / seed / LRS3 corpus")
    prep.add_argument("--output_dir", required=True, help="output folder")
    prep.add_argument("--audio_dir", default=None, help="separate audio (<relative path or name>.wav/.flac); "
                      "default: the videos' sound tracks")
    prep.add_argument("--layout", default="auto", choices=SOURCE_LAYOUTS,
                      help="auto: a corpus layout if the tree is one, else any folder of videos")
    prep.add_argument("--segment_seconds", type=float, default=3.0, help="segment length (paper: 3 s); 0: whole clips")
    prep.add_argument("--tail", default="pad", choices=("pad", "drop"), help="last partial segment: padded (last "
                      "crop repeated, silence) or dropped")
    prep.add_argument("--val_fraction", type=float, default=0.1)
    prep.add_argument("--test_fraction", type=float, default=0.1)
    prep.add_argument("--seed", type=int, default=0, help="split seed")
    prep.add_argument("--examples_per_shard", type=int, default=64)
    prep.add_argument("--compression", default=None, choices=("GZIP",), help="record compression")
    prep.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    prep.add_argument("--unseen_speakers", default="", help="comma-separated speakers held out of training, "
                      "validation and test: their clips form the 'unseen' split (the unseen-speaker setting)")
    add_runner_arguments(prep)
    prep.set_defaults(func=run_preprocess, work_folder="output_dir")
    _register_model_commands(commands)


def _register_model_commands(commands) -> None:
    from avse_tf.cli.shared import positive_int
    from avse_tf.systems.presets import add_preset_argument
    from avse_tf.training.strategy import add_distribution_args
    from avse_tf.workdir_lock import chief_folder

    train = commands.add_parser(
        "train", help="train VCA-GAN (or the regression-only baseline) on preprocess's records; resumable",
        description="The seed's train.py flags. Writes CHECKPOINT_DIR/{best.keras, last.keras, history.csv, "
                    "logs/ (TensorBoard: losses, mel images, audio)}; the same command after a kill resumes with "
                    "both optimisers' state.")
    train.add_argument("--grid", required=True, help="preprocess output folder (holds tfrecords/)")
    train.add_argument("--checkpoint_dir", required=True, help="experiment folder")
    train.add_argument("--batch_size", type=positive_int, default=None, help="global batch (default: the preset's)")
    train.add_argument("--epochs", type=positive_int, default=None, help="default: the preset's")
    train.add_argument("--eval_step", type=positive_int, default=None,
                       help="validate every N steps (an epoch is N steps; default: one pass over the training set)")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's, 1e-4)")
    train.add_argument("--patience", type=positive_int, default=None,
                       help="early stopping on the validation L1 (default: none, as the original)")
    train.add_argument("--regression_only", action="store_true",
                       help="baseline: the same generator without adversarial and sync losses")
    train.add_argument("--seed", type=int, default=None)
    add_preset_argument(train, SYSTEM.name)
    add_distribution_args(train)
    train.set_defaults(func=run_train, work_folder=chief_folder("checkpoint_dir"))

    test = commands.add_parser(
        "test", help="speech from the test clips' lips, scored: STOI, ESTOI, PESQ (nb, wb), MCD, WER",
        description="The seed's test.py flags. Writes OUTPUT_DIR/{scores.csv, summary.json, mel/ (--save_mel), "
                    "wav/ (--save_wav)}.")
    test.add_argument("--grid", required=True, help="preprocess output folder")
    test.add_argument("--checkpoint", required=True, help="a .keras file or a train --checkpoint_dir")
    test.add_argument("--split", default="test", help="record split: test (constrained speakers), unseen, validation")
    test.add_argument("--batch_size", type=positive_int, default=8)
    test.add_argument("--save_mel", action="store_true", help="write mel/<clip>.npz (mel, linear)")
    test.add_argument("--save_wav", action="store_true", help="write wav/<clip>.wav")
    test.add_argument("--output_dir", default=None, help="default: GRID/test_results/SPLIT")
    test.add_argument("--griffin_lim_iterations", type=positive_int, default=60)
    test.add_argument("--no_wer", action="store_true", help="skip the PocketSphinx WER (non-English speech)")
    test.add_argument("--nearest_neighbour", action="store_true",
                      help="also score the nearest-neighbour baseline (training clip with the closest lips)")
    add_distribution_args(test)
    test.set_defaults(func=run_test)

    synthesize = commands.add_parser(
        "synthesize", help="speech for one silent video: a wav, and an mp4 of the video with that speech")
    synthesize.add_argument("--video", required=True, help="video of one face speaking (any frame rate)")
    synthesize.add_argument("--checkpoint", required=True, help="a .keras file or a train --checkpoint_dir")
    synthesize.add_argument("--output", required=True, help="output .wav")
    synthesize.add_argument("--output_video", default=None, help="output .mp4 (default: OUTPUT with .mp4)")
    synthesize.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    synthesize.set_defaults(func=run_synthesize)

    recipe = commands.add_parser(
        "recipe", help="synthetic corpus -> preprocess -> VCA-GAN and regression-only -> the paper's table",
        description="Constrained-speaker and unseen-speaker tables with the nearest-neighbour baseline and the "
                    "paper's numbers beside ours. Resumable.")
    recipe.add_argument("--work_dir", required=True)
    recipe.add_argument("--language", default="en", help="synthetic speech language (en, cmn, es)")
    recipe.add_argument("--speakers", type=positive_int, default=8)
    recipe.add_argument("--utterances", type=positive_int, default=16)
    recipe.add_argument("--unseen_speakers", type=positive_int, default=2)
    recipe.add_argument("--epochs", type=positive_int, default=30)
    recipe.add_argument("--preset", default="vca_gan_cpu")
    recipe.add_argument("--batch_size", type=positive_int, default=None, help="default: the preset's")
    recipe.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's, 1e-4)")
    recipe.add_argument("--seed", type=int, default=1)
    recipe.add_argument("--griffin_lim_iterations", type=positive_int, default=60)
    recipe.set_defaults(func=run_recipe, work_folder="work_dir")


def run_train(args) -> int:
    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config

    args.model = None
    config = resolve_training_flags(args, SYSTEM, {"batch_size": "training.batch_size", "epochs": "training.epochs",
                                                   "lr": "training.learning_rate"}, {})
    import_tensorflow_quietly()
    from avse_tf.systems.vca_gan.train import train
    from avse_tf.training.strategy import strategy_from_args

    save_resolved_config(args.checkpoint_dir, config, {"grid": args.grid, "seed": args.seed,
                                                       "regression_only": args.regression_only})
    summary = train(args.grid, args.checkpoint_dir, config["preset"], args.batch_size, args.epochs, args.eval_step,
                    args.lr, args.patience, args.regression_only, seed=args.seed, strategy=strategy_from_args(args))
    print(f"train: best validation L1 {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    return 0


def run_test(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.vca_gan.evaluate import test
    from avse_tf.training.strategy import strategy_from_args

    strategy_from_args(args)  # --gpu selects the devices; inference runs on the first
    result = test(args.grid, args.checkpoint, args.split, args.batch_size, args.save_mel, args.save_wav,
                  args.output_dir, args.griffin_lim_iterations, not args.no_wer, args.nearest_neighbour)
    for name, summary in result.items():
        print(f"test {args.split} {name}: " + ", ".join(f"{key} {value:.4g}" for key, value in summary.items()))
    return 0


def run_synthesize(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.vca_gan.predict import synthesize_file

    video_out = args.output_video or os.path.splitext(args.output)[0] + ".mp4"
    result = synthesize_file(args.checkpoint, args.video, args.output, video_out, args.shape_predictor)
    print(f"synthesize: wrote {args.output} and {video_out}" + (f" ({result})" if result else ""))
    return 0


def run_recipe(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.vca_gan.recipe import run_recipe as recipe

    print(recipe(args.work_dir, args.language, args.speakers, args.utterances, args.unseen_speakers, args.epochs,
                 args.preset, args.batch_size, args.lr, args.seed, args.griffin_lim_iterations))
    return 0


def run_preprocess_audio_only(args) -> int:
    from avse_tf.systems.vca_gan.seed_steps import preprocess_audio_only

    result = preprocess_audio_only(args.Grid_dir, args.output_dir)
    print(f"preprocess_audio_only: wrote {result['written']} flac files in {args.output_dir} "
          f"({result['kept']} kept, {len(result['bad'])} skipped)")
    return 0


def run_crop_video_processing(args) -> int:
    from avse_tf.systems.vca_gan.seed_steps import crop_video_processing

    result = crop_video_processing(args.input_dir, args.output_dir, args.shape_predictor)
    print(f"crop_video_processing: wrote {result['written']} mouth videos in {args.output_dir} "
          f"({result['kept']} kept, {len(result['bad'])} skipped: bad_clips.txt)")
    return 0


def run_remove_not_25(args) -> int:
    from avse_tf.systems.vca_gan.seed_steps import remove_not_25

    result = remove_not_25(args.input_dir, args.output_file, args.convert, args.output_dir)
    if args.convert:
        print(f"remove_not_25: re-encoded {len(result['converted'])} videos at 25 fps")
    else:
        print(f"remove_not_25: {len(result['not_25'])} videos are not 25 fps, listed in {result['list']}")
    return 0


def run_preprocess(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.vca_gan.preprocess import preprocess

    result = preprocess(args.input_dir, args.output_dir, args.layout, args.audio_dir, args.segment_seconds,
                        args.tail, args.val_fraction, args.test_fraction, args.seed, args.examples_per_shard,
                        args.compression, args.shape_predictor,
                        [name for name in args.unseen_speakers.split(",") if name], runner=args.runner,
                        beam_options=args.beam_option)
    splits = ", ".join(f"{name} {count}" for name, count in result["splits"].items())
    print(f"preprocess: {result['segments']} segments from {result['clips']} clips ({splits}); "
          f"{len(result['bad'])} clips skipped (bad_clips.txt); records in {result['records']}")
    return 0
