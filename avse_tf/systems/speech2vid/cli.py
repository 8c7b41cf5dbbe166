"""``avse speech2vid <subcommand>``: the seed's Speech2Vid scripts (shared/seeds/002) as subcommands.

``extract_features -d``, ``prepare_data -f -p``, ``train -a -i -gt -b -se -e -w -gpu`` and
``predict -m -t -f`` keep the seed's flags; ``train_deblur`` (the paper's refinement network) and
``evaluate`` (PSNR / SSIM / lip-sync table and a frame grid) are additions. Features are ``.npz``
files and TFRecords, never pickles: the seed's ``*.pkl`` names are read as the records beside them.
"""

from __future__ import annotations

import os

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.systems.presets import add_preset_argument
from avse_tf.systems.speech2vid import SYSTEM
from avse_tf.workdir_lock import chief_folder

# Training flags read from the preset (flag -> preset key); explicit flags win.
PRESET_FLAGS = {"width": "architecture.width", "content_weight": "training.content_weight",
                "learning_rate": "training.learning_rate", "batch_size": "training.batch_size",
                "epochs": "training.epochs", "steps_per_epoch": "training.steps_per_epoch",
                "patience": "training.early_stopping_patience"}
DEBLUR_PRESET_FLAGS = {"layers": "training.deblur.num_layers", "filters": "training.deblur.filters"}



def register(subparsers) -> None:
    from avse_tf.training.strategy import add_distribution_args

    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="Speech2Vid (Chung, Jamaludin, Zisserman, BMVC 2017). Same subcommands and flags as the seed's "
                    "extract_features.py / prepare_data.py / train.py / predict.py.")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    extract = commands.add_parser(
        "extract_features", help="aligned faces, landmarks, MFCC and audio of every video, one .npz per video",
        description="dlib landmarks -> similarity alignment on points 28-48 -> S x S faces; HTK MFCC (16 kHz, "
                    "25/10 ms) of the GRID wav or the video's sound track. Existing outputs are kept (resume).")
    extract.add_argument("-d", "--data_dir", required=True, help="corpus folder (GRID layout s<k>/video, or any "
                         "folder of videos)")
    extract.add_argument("-o", "--features_dir", default="features", help="output folder (default: features)")
    extract.add_argument("--image_size", type=int, default=112, help="face crop side, a multiple of 16 (paper: 112)")
    extract.add_argument("--speaker_ids", nargs="+", default=None, help="only these speakers (1 2 or s1 s2)")
    extract.add_argument("--video_dir", default="video", help="video folder inside each speaker folder")
    extract.add_argument("--ext", default="mpg", help="video file extension")
    extract.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    extract.add_argument("--skip_bad", action="store_true", help="warn about and skip videos without a face")
    extract.set_defaults(func=run_extract_features, work_folder="features_dir")

    prepare = commands.add_parser(
        "prepare_data", help="TFRecords: one example per frame (12x35 MFCC, target face, K identity stills)",
        description="Splits utterances into train / val / test, writes <processed>/train and <processed>/val "
                    "record sets and speech2vid.json (sizes, MFCC statistics, the split).")
    prepare.add_argument("-f", "--features_dir", required=True, help="extract_features output")
    prepare.add_argument("-p", "--processed_dir", required=True, help="output folder")
    prepare.add_argument("-k", "--num_identity", type=int, default=5, help="identity stills per example (paper: 5)")
    prepare.add_argument("--val_fraction", type=float, default=0.1, help="utterances for validation (seed: 10 %%)")
    prepare.add_argument("--test_fraction", type=float, default=0.1, help="utterances held out for evaluate")
    prepare.add_argument("--seed", type=int, default=0)
    prepare.add_argument("--examples_per_shard", type=int, default=256)
    prepare.set_defaults(func=run_prepare_data, work_folder="processed_dir")

    train = commands.add_parser(
        "train", help="train the generator (L1 + content loss); writes <exp>/best.keras",
        description="The seed's train.py flags; -a/-i/-gt name files inside a prepare_data folder (their .pkl "
                    "names are read as its records). Resumable: the same command after a kill continues.")
    train.add_argument("-a", "--audio_feature_path", default=None, help="seed: audio_features.pkl (read as the records "
                       "in its folder)")
    train.add_argument("-i", "--identity_feature_path", default=None, help="seed: identity_features.pkl")
    train.add_argument("-gt", "--ground_truth_feature_path", default=None, help="seed: gt_features.pkl")
    train.add_argument("-p", "--processed_dir", default=None, help="prepare_data folder (instead of -a/-i/-gt)")
    train.add_argument("-b", "--batch_size", type=int, default=None, help="default: the preset's (64)")
    train.add_argument("-se", "--steps_per_epoch", type=int, default=None,
                       help="0: one pass over the data (default: the preset's, 1000)")
    train.add_argument("-e", "--epochs", type=int, default=None, help="default: the preset's (20)")
    train.add_argument("-w", "--no_of_workers", type=int, default=1, help="parallel input-pipeline calls")
    train.add_argument("-o", "--exp_dir", default="saved_models", help="experiment folder (best.keras, ...)")
    add_preset_argument(train, SYSTEM.name)
    train.add_argument("--width", type=float, default=None, help="channel multiplier (default: the preset's; 1.0 = "
                       "the paper's)")
    train.add_argument("--masked_target", action="store_true", default=None,
                       help="seed variant: + lower-half-masked target frame (the speech2vid_masked_lrs2 preset)")
    train.add_argument("--content_weight", type=float, default=None,
                       help="content-loss weight (default: the preset's; 0: L1 only, the seed)")
    train.add_argument("--face_encoder", default=None, help="frozen face encoder (.keras) for the content loss "
                       "(default: train one on the records first)")
    train.add_argument("--encoder_epochs", type=int, default=10)
    train.add_argument("--learning_rate", type=float, default=None, help="default: the preset's (1e-3)")
    train.add_argument("--patience", type=int, default=None, help="early stopping patience (default: the preset's; "
                       "seed: 10)")
    train.add_argument("--seed", type=int, default=None)
    add_distribution_args(train)
    train.set_defaults(func=run_train, work_folder=chief_folder("exp_dir"))

    deblur = commands.add_parser(
        "train_deblur", help="train the deblurring refinement network (paper section 3.4) on blurred real faces")
    deblur.add_argument("-p", "--processed_dir", required=True)
    deblur.add_argument("-o", "--exp_dir", default="saved_models/deblur")
    deblur.add_argument("-b", "--batch_size", type=int, default=32)
    deblur.add_argument("-se", "--steps_per_epoch", type=int, default=0, help="0: one pass over the data")
    deblur.add_argument("-e", "--epochs", type=int, default=10)
    add_preset_argument(deblur, SYSTEM.name)
    deblur.add_argument("--layers", type=int, default=None, help="conv layers (default: the preset's; paper: 10)")
    deblur.add_argument("--filters", type=int, default=None,
                        help="channels per layer (default: the preset's; paper: 64)")
    deblur.add_argument("--patience", type=int, default=5)
    deblur.add_argument("--seed", type=int, default=None)
    deblur.set_defaults(func=run_train_deblur, work_folder="exp_dir")

    predict = commands.add_parser(
        "predict", help="mp4 (25 fps, audio muxed) of a face speaking an audio file",
        description="-t: a wav or any video (its sound track); -f: a face image, or a video whose evenly spaced "
                    "frames give the identity stills.")
    predict.add_argument("-m", "--model", required=True, help="generator (.keras, or its experiment folder)")
    predict.add_argument("-t", "--test_file", required=True, help="speech: wav/flac/mp3 or a video")
    predict.add_argument("-f", "--face", required=True, help="face image (jpg/png) or video")
    predict.add_argument("-o", "--output", default="output.mp4", help="output video (default: output.mp4)")
    predict.add_argument("--deblur", default=None, help="refinement network (.keras) applied to each face")
    predict.add_argument("--full_frame", action="store_true", help="paste the face back into the full frame")
    predict.add_argument("--shape_predictor", default=None)
    predict.set_defaults(func=run_predict)

    evaluate = commands.add_parser(
        "evaluate", help="PSNR, SSIM and lip-sync correlations on held-out clips; table + frame grid PNG")
    evaluate.add_argument("-m", "--model", required=True)
    evaluate.add_argument("-p", "--processed_dir", required=True)
    evaluate.add_argument("-o", "--output_dir", default="evaluation")
    evaluate.add_argument("--deblur", default=None)
    evaluate.add_argument("--split", default="test", choices=("test", "val", "train"))
    evaluate.add_argument("--max_clips", type=int, default=None)
    evaluate.add_argument("--shape_predictor", default=None)
    evaluate.set_defaults(func=run_evaluate, work_folder="output_dir")


def run_extract_features(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.pipeline import extract_features

    written = extract_features(args.data_dir, args.features_dir, args.image_size, args.speaker_ids, args.video_dir,
                               args.ext, args.shape_predictor, args.skip_bad)
    print(f"extract_features: wrote {len(written)} feature files in {args.features_dir}")
    return 0


def run_prepare_data(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.pipeline import prepare_data

    counts = prepare_data(args.features_dir, args.processed_dir, args.num_identity, args.val_fraction,
                          args.test_fraction, args.seed, args.examples_per_shard)
    for name, count in counts.items():
        print(f"prepare_data: {name}: " + ("kept (exists)" if count is None else f"{count} examples"))
    return 0


def run_train(args) -> int:
    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config

    args.model = "speech2vid_masked" if args.masked_target else None
    config = resolve_training_flags(args, SYSTEM, PRESET_FLAGS, {})
    args.masked_target = args.model == "speech2vid_masked"
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.pipeline import resolve_processed
    from avse_tf.systems.speech2vid.train import train
    from avse_tf.training.strategy import strategy_from_args

    processed = resolve_processed(args.audio_feature_path, args.identity_feature_path,
                                  args.ground_truth_feature_path, args.processed_dir)
    save_resolved_config(args.exp_dir, config, {"processed_dir": processed, "seed": args.seed})
    summary = train(processed, args.exp_dir, args.batch_size, args.epochs, args.steps_per_epoch or None, args.patience,
                    args.width, args.masked_target, args.content_weight, args.face_encoder, args.learning_rate,
                    args.encoder_epochs, seed=args.seed, strategy=strategy_from_args(args),
                    workers=args.no_of_workers)
    print(f"train: best validation loss {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    return 0


def run_train_deblur(args) -> int:
    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config

    # The refinement network's values live in the generator presets (training.deblur); the model
    # trained here is the deblurring network whichever generator preset gives them.
    generator = resolve_training_flags(args, SYSTEM, DEBLUR_PRESET_FLAGS, {})
    config = {**generator, "model": "speech2vid_deblur", "generator_model": generator["model"]}
    save_resolved_config(args.exp_dir, config, {"processed_dir": args.processed_dir, "seed": args.seed})
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.train import train_deblur

    summary = train_deblur(args.processed_dir, args.exp_dir, args.batch_size, args.epochs, args.steps_per_epoch or None,
                           args.layers, args.filters, patience=args.patience, seed=args.seed)
    print(f"train_deblur: best validation loss {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    return 0


def run_predict(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.predict import predict

    result = predict(args.model, args.test_file, args.face, args.output, args.deblur, args.full_frame,
                     args.shape_predictor)
    print(f"predict: {result['output']} ({result['frames']} frames at 25 fps, {result['seconds']:.2f} s, "
          f"{result['size'][1]}x{result['size'][0]})")
    return 0


def run_evaluate(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.speech2vid.evaluate import evaluate

    result = evaluate(args.model, args.processed_dir, args.output_dir, args.deblur, args.split, args.max_clips,
                      shape_predictor=args.shape_predictor)
    print(result["table"])
    print(f"(per-clip CSV and frames.png in {os.path.abspath(args.output_dir)})")
    return 0
