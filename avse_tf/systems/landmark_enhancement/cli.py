"""``avse enhancement <subcommand>``: the seed's ``av_speech_enhancement.py`` command line.

Subcommand and flag names are those of Morrone et al.'s original project (shared/seeds/003), so
its users are at home. Extensions are marked as such in each ``--help``; ``recipe`` runs the whole
pipeline on a synthetic corpus and prints the paper-style table.
"""

from __future__ import annotations

import os

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.cli.shared import add_length_buckets_argument, add_length_policy_arguments
from avse_tf.constants import BEST_CHECKPOINT, SAMPLE_RATE
from avse_tf.data.corpora.recipes import add_user_corpus_arguments, user_corpus_from_args
from avse_tf.data.synth.options import add_corpus_arguments, corpus_options_from_args
from avse_tf.systems.landmark_enhancement import SYSTEM
from avse_tf.systems.presets import add_preset_argument
from avse_tf.training.strategy import add_distribution_args
from avse_tf.workdir_lock import experiment_folder

# Training flags read from the preset (flag -> preset key); explicit flags win.
PRESET_FLAGS = {"hidden_units": "architecture.hidden_units", "layers": "architecture.num_layers",
                "dropout": "architecture.dropout", "regularization": "architecture.regularization",
                "audio_dim": "architecture.audio_dim", "video_dim": "architecture.video_dim",
                "opt": "training.optimizer", "learning_rate": "training.learning_rate",
                "batch_size": "training.batch_size", "epochs": "training.epochs"}
# Used only where the paper leaves a value unknown (the preset says null): chosen here.
TRAINING_FALLBACKS = {"batch_size": 8, "epochs": 10, "patience": 5}


def original_regularization(config, num_audio_samples=48000):
    """``(divisor, how)``: the original's ``--regularization`` divided by ``divisor`` is the same
    weight here (hook of :func:`avse_tf.systems.presets.original_flag_messages`).

    Facts of the original (Morrone et al. 2019, ``enhancement_model.py``): its loss was
    ``data + reg * sum(tf.nn.l2_loss(w))`` = ``data + reg * sum(w**2) / 2``, with ``data`` the SUM of
    the masked cross-entropy over the batch's valid frames and bins (VL2M), half the sum of the squared
    errors (``tf.nn.l2_loss``, the IAM models), or a mean (``av_concat_spec``). Ours is the mean over
    valid frames and bins plus ``reg * sum(w**2)`` (Keras L2, kernels only). Dividing the original's
    loss by its data term's scale ``S`` (N = batch x frames x bins; S = N, N / 2, 1) gives the weight
    ``reg / (2 S)``. Frames: those of a ``num_audio_samples`` clip (302 for 48000: 256 zeros prepended,
    hop 160, end padded).
    """
    values, model = config["values"], config["model"]
    frames = -(-(int(num_audio_samples) + 256) // 160)  # StftConfig("morrone2019").num_frames, without TensorFlow
    batch, bins = int(values.get("batch_size") or TRAINING_FALLBACKS["batch_size"]), int(values.get("audio_dim") or 257)
    terms = batch * frames * bins
    if model == "av_concat_spec":
        return 2.0, f"the original's {model} loss was a mean and it added half the sum of squares"
    if model == "vl2m":
        return 2.0 * terms, (f"the original's {model} loss summed the cross-entropy over {batch} x {frames} x {bins} "
                             "(batch x frames x bins) terms and it added half the sum of squares")
    return float(terms), (f"the original's {model} loss was half the sum of squared errors over {batch} x {frames} x "
                          f"{bins} (batch x frames x bins) terms and it added half the sum of squares")


def _testing_folder(args):
    """Lock of ``testing``: the corpus when masks go into its speaker folders, else the output folder."""
    return args.data_dir if args.mask_dir else os.path.join(args.data_dir, args.output_dir, str(args.exp))


def _speaker_args(parser, name="--speaker_ids"):
    parser.add_argument(name, nargs="+", required=True, help="speaker numbers (1 2 3) or names (s1 s2)")


def register(subparsers) -> None:
    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="Morrone et al., ICASSP 2019: VL2M / AV concat models. Same subcommands and flags as "
                    "the original av_speech_enhancement.py.")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    audio = commands.add_parser(
        "audio_preprocessing", help="power-law compressed spectrograms (|S|^0.3) of every wav, as NPY",
        description="STFT 400/160/512 (periodic Hann, 256 leading zeros): a 3 s clip gives 302 x 257. "
                    "Each <id>.wav gives <id>.npy; existing outputs are kept (resume).")
    audio.add_argument("--data_dir", required=True, help="corpus root")
    _speaker_args(audio)
    audio.add_argument("--audio_dir", default="audio", help="audio folder: <data_dir>/s<k>/<audio_dir> "
                       "or <data_dir>/<audio_dir>/s<k> (mixture sets)")
    audio.add_argument("--dest_dir", default=None, help="output folder (default: beside the wavs)")
    audio.add_argument("--sample_rate", type=int, default=SAMPLE_RATE, help="resample to this rate (Hz)")
    audio.add_argument("--max_wav_length", type=int, default=48000,
                       help="pad/trim every clip to this many samples (a warning names each one changed)")
    audio.set_defaults(func=run_audio_preprocessing, work_folder="data_dir")

    video = commands.add_parser(
        "video_preprocessing", help="68 face landmarks per frame of every video, as T x 136 TXT",
        description="dlib detector + shape predictor + correlation tracker re-detecting every 8 frames.")
    video.add_argument("--data_dir", required=True, help="corpus root")
    _speaker_args(video)
    video.add_argument("--video_dir", default="video", help="video folder inside each speaker folder")
    video.add_argument("--dest_dir", default="landmarks", help="output folder inside each speaker folder")
    video.add_argument("--shape_predictor", default=None,
                       help="dlib 68-point model (.dat); default: face-recognition-models' copy")
    video.add_argument("--ext", default="mpg", help="video file extension")
    video.add_argument("--skip_bad", action="store_true", help="warn about and skip videos without a face")
    video.set_defaults(func=run_video_preprocessing, work_folder="data_dir")

    mix = commands.add_parser(
        "mixed_speech_generator", help="2- or 3-speaker mixtures (0 dB raw overlay), with a manifest",
        description="For each base speaker, --num_samples utterances, each mixed --num_mix times with 1 or 2 "
                    "interferers from other speakers. mixtures.json records what was mixed (file names are not parsed).")
    mix.add_argument("--data_dir", required=True, help="corpus root")
    mix.add_argument("--base_speaker_ids", nargs="+", required=True, help="target speakers")
    mix.add_argument("--noisy_speaker_ids", nargs="+", default=None, help="interfering speakers (default: the base ones)")
    mix.add_argument("--audio_dir", default="audio", help="clean audio folder inside each speaker folder")
    mix.add_argument("--dest_dir", required=True, help="output folder, relative to --data_dir (e.g. mix/TRAINING_SET)")
    mix.add_argument("--num_samples", type=int, default=10, help="base utterances per speaker")
    mix.add_argument("--num_mix", type=int, default=1, help="mixtures per base utterance")
    mix.add_argument("--num_mix_speakers", type=int, choices=(1, 2), default=1,
                     help="interferers per mixture: 1 (2-speaker mix) or 2 (3-speaker mix)")
    mix.add_argument("--snr", type=float, default=None,
                     help="extension: target-to-interferers SNR in dB (default: the original 0 dB gain overlay)")
    mix.add_argument("--seed", type=int, default=0, help="random seed")
    mix.add_argument("--sample_rate", type=int, default=SAMPLE_RATE)
    mix.set_defaults(func=run_mixed_speech_generator, work_folder="data_dir")

    tbm = commands.add_parser(
        "tbm_computation", help="target binary masks from each speaker's long-term average speech spectrum")
    tbm.add_argument("--data_dir", required=True)
    _speaker_args(tbm)
    tbm.add_argument("--audio_dir", default="audio")
    tbm.add_argument("--dest_dir", default="tbm", help="output folder inside each speaker folder")
    tbm.add_argument("--sample_rate", type=int, default=SAMPLE_RATE)
    tbm.add_argument("--max_wav_length", type=int, default=48000)
    tbm.add_argument("--mask_factor", type=float, default=0.6, help="k in TBM = |S|^0.3 > mu + k sigma")
    tbm.set_defaults(func=run_tbm_computation, work_folder="data_dir")

    records = commands.add_parser(
        "tfrecords_generator", help="TFRecords (SequenceExample) of every mixture set, fixed or var mode",
        description="Reads <data_dir>/<mix_audio_dir>/{TRAINING_SET,VALIDATION_SET,TEST_SET}/mixtures.json and "
                    "writes <data_dir>/<dest_dir>/<SET>/ shards. Normalisation statistics come from the training set.")
    records.add_argument("--data_dir", required=True)
    records.add_argument("--num_speakers", type=int, choices=(2, 3), default=2, help="speakers per mixture")
    records.add_argument("--mode", choices=("fixed", "var"), default="fixed")
    records.add_argument("--dest_dir", default="tfrecords", help="output folder, relative to --data_dir")
    records.add_argument("--base_audio_dir", default="audio", help="clean audio folder (kept for the seed's command)")
    records.add_argument("--video_dir", default="landmarks", help="landmark TXT folder inside each speaker folder")
    records.add_argument("--tbm_dir", default="tbm", help="TBM folder inside each speaker folder (or estimated masks)")
    records.add_argument("--mix_audio_dir", default="mix", help="folder holding the mixture sets, relative to --data_dir")
    records.add_argument("--delta", type=int, choices=(0, 1, 2), default=1, help="video features: 0 landmarks, "
                         "1 motion vectors, 2 second differences")
    records.add_argument("--norm_data_dir", default=None, help="where normalisation statistics are saved/read "
                         "(default: --dest_dir)")
    records.add_argument("--per_speaker_norm", action="store_true",
                         help="the original behaviour: each speaker normalised with its own statistics")
    records.add_argument("--num_audio_samples", type=int, default=48000, help="clip length in fixed mode")
    records.add_argument("--compression", choices=("none", "gzip"), default="none")
    records.add_argument("--examples_per_shard", type=int, default=64)
    records.set_defaults(func=run_tfrecords_generator, work_folder="data_dir")

    training = commands.add_parser("training", help=f"train {', '.join(SYSTEM.models)} (hyper-parameters: --preset)")
    _training_args(training)
    training.set_defaults(func=run_training, work_folder=experiment_folder)

    testing = commands.add_parser("testing", help="enhance a test set; wavs, masks and a metrics table")
    testing.add_argument("--data_dir", required=True)
    testing.add_argument("--test_set", required=True, help="record set folder, relative to --data_dir")
    testing.add_argument("--exp", required=True, help="experiment id (folder under <data_dir>/experiments)")
    testing.add_argument("--ckp", default=None, help="checkpoint (.keras); default: the experiment's best.keras")
    testing.add_argument("--model", default=None, help="model name (default: read from the checkpoint)")
    testing.add_argument("--mode", choices=("fixed", "var"), default="fixed", help="kept for the seed's command: "
                         "the mode is read from the records")
    testing.add_argument("--audio_dim", type=int, default=257)
    testing.add_argument("--video_dim", type=int, default=136)
    testing.add_argument("--num_audio_samples", type=int, default=48000)
    testing.add_argument("--output_dir", default="enhanced", help="enhanced wavs, relative to --data_dir")
    testing.add_argument("--mask_dir", default=None, help="save estimated masks in <data_dir>/s<k>/<mask_dir> (npy + PNG)")
    testing.add_argument("--mask_threshold", type=float, default=None, help="binarise VL2M's estimated TBM")
    testing.add_argument("--batch_size", type=int, default=8)
    testing.add_argument("--metrics", default="sdr,si_sdr,pesq,stoi,estoi,visqol",
                         help="comma-separated: sdr, si_sdr, pesq, pesq_nb, stoi, estoi, visqol, and the recognition "
                         "measures wer (GRID grammar), wer_free (trigram model), per (phones) by PocketSphinx, "
                         "with its floor on the clean targets")
    testing.add_argument("--zero_video", action="store_true",
                         help="ablation (not in the original): video features replaced by zeros, to measure their use")
    testing.set_defaults(func=run_testing, work_folder=_testing_folder)

    recipe = commands.add_parser(
        "recipe", help="the whole pipeline on a synthetic corpus: all five models, paper-style table",
        description="synth-grid -> landmarks -> TBMs -> 2- and 3-speaker mixtures -> records -> train vl2m, "
                    "av_concat_mask, av_concat_spec, vl2m_ref and av_concat_mask_ref (the _ref recipe with VL2M's "
                    "estimated TBMs) -> test on unseen speakers -> table. Resumable: finished steps are kept.")
    recipe.add_argument("--work_dir", required=True, help="folder for the corpus, records, experiments, results")
    recipe.add_argument("--speakers", type=int, default=None, help="synthetic speakers (at least 8; default 8): the "
                        "last 3 are the unseen test speakers, the 3 before them validation, the rest training")
    recipe.add_argument("--utterances", type=int, default=None, help="utterances per speaker (synthetic: made, default "
                        "16; --data_dir: at most this many mixed per speaker, default all)")
    recipe.add_argument("--epochs", type=int, default=30)
    recipe.add_argument("--hidden_units", type=int, default=250)
    recipe.add_argument("--layers", type=int, default=None, help="BLSTM layers (default: each preset's)")
    recipe.add_argument("--batch_size", type=int, default=8)
    recipe.add_argument("--num_speakers", default="2,3", help="mixture sizes to run, e.g. 2 or 2,3")
    recipe.add_argument("--models", default="vl2m,av_concat_mask,av_concat_spec,vl2m_ref,av_concat_mask_ref")
    recipe.add_argument("--metrics", default="sdr,si_sdr,pesq,stoi,estoi,visqol,wer",
                        help="comma-separated: sdr, si_sdr, pesq, pesq_nb, stoi, estoi, visqol, and the recognition "
                         "measures wer (GRID grammar), wer_free (trigram model), per (phones) by PocketSphinx, "
                         "with its floor on the clean targets")
    recipe.add_argument("--num_mix", type=int, default=2, help="mixtures per target utterance")
    recipe.add_argument("--patience", type=int, default=5, help="early stopping patience (epochs)")
    recipe.add_argument("--seed", type=int, default=1)
    add_corpus_arguments(recipe)
    add_user_corpus_arguments(recipe)
    recipe.set_defaults(func=run_recipe, work_folder="work_dir")

    enhance = commands.add_parser(
        "enhance", help="enhance your own recording with the speaker's face (one file in, one wav out)",
        description="The serving graph of avse_tf.load: STFT, power law, landmark motion and the training set's "
                    "normalisation, the model, the mask on the mixture, inverse STFT with the mixture phase.")
    enhance.add_argument("--input", required=True, help="noisy speech: wav (or any audio/video file ffmpeg reads)")
    enhance.add_argument("--video", required=True, help="the target speaker's face video, or its landmarks TXT "
                         "(avse landmarks)")
    enhance.add_argument("--model", required=True, help="experiment folder, .keras checkpoint or avse export")
    enhance.add_argument("--output", required=True, help="enhanced wav")
    enhance.add_argument("--norm_file", default=None, help="normalisation statistics (default: the model's)")
    enhance.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    add_length_policy_arguments(enhance)
    enhance.set_defaults(func=run_enhance)

    show = commands.add_parser(
        "show_face_landmarks", help="draw the 68 landmarks on a video (to --output mp4 + PNG, or a window)")
    show.add_argument("--video", required=True, help="input video")
    show.add_argument("--fps", type=float, default=None, help="frame rate of the output (default: the video's)")
    show.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    show.add_argument("--output", default=None, help="output mp4 (default: <video>_landmarks.mp4); a PNG of "
                      "the middle frame is written beside it")
    show.set_defaults(func=run_show_face_landmarks)


def run_audio_preprocessing(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.data.preprocess import compute_spectrograms

    written = compute_spectrograms(args.data_dir, args.speaker_ids, args.audio_dir, args.dest_dir,
                                   args.sample_rate, args.max_wav_length, "morrone2019", "power_law")
    print(f"audio_preprocessing: wrote {len(written)} spectrograms")
    return 0


def run_video_preprocessing(args) -> int:
    from avse_tf.data.preprocess import extract_landmarks

    written = extract_landmarks(args.data_dir, args.speaker_ids, args.video_dir, args.dest_dir,
                                args.shape_predictor, args.ext, args.skip_bad)
    print(f"video_preprocessing: wrote {len(written)} landmark files")
    return 0


def run_show_face_landmarks(args) -> int:
    import cv2

    from avse_tf.plots import save_png
    from avse_tf.video.io import read_video, write_video
    from avse_tf.video.landmarks import LandmarkExtractor

    frames, fps = read_video(args.video)
    track = LandmarkExtractor(args.shape_predictor).extract(frames, source=args.video)
    drawn = frames.copy()
    for frame, points in zip(drawn, track.points):
        for x, y in points.astype(int):
            cv2.circle(frame, (int(x), int(y)), 2, (0, 255, 0), -1)
    output = args.output or os.path.splitext(args.video)[0] + "_landmarks.mp4"
    write_video(output, drawn, args.fps or fps)
    still = os.path.splitext(output)[0] + ".png"
    save_png(still, cv2.cvtColor(drawn[len(drawn) // 2], cv2.COLOR_RGB2BGR))
    print(f"show_face_landmarks: {output} ({len(drawn)} frames) and {still}")
    return 0


def _training_args(parser):
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--train_set", required=True, help="record set folder, relative to --data_dir")
    parser.add_argument("--validation_set", "--val_set", dest="validation_set", required=True,
                        help="record set folder, relative to --data_dir")
    parser.add_argument("--exp", required=True, help="experiment id: <data_dir>/experiments/<exp>")
    parser.add_argument("--mode", choices=("fixed", "var"), default="fixed",
                        help="kept for the seed's command: the mode is read from the records")
    parser.add_argument("--audio_dim", type=int, default=None, help="spectrogram bins (default: the preset's, 257)")
    parser.add_argument("--video_dim", type=int, default=None, help="video features (default: the preset's, 136)")
    parser.add_argument("--num_audio_samples", type=int, default=48000)
    parser.add_argument("--model", default=None, choices=SYSTEM.models,
                        help=f"default: the --preset's model, else {SYSTEM.models[0]}")
    add_preset_argument(parser, SYSTEM.name)
    parser.add_argument("--opt", choices=("sgd", "adam", "momentum"), default=None, help="default: the preset's")
    parser.add_argument("--learning_rate", type=float, default=None, help="default: the preset's")
    parser.add_argument("--updating_step", type=int, default=None, help="decay the learning rate every N steps")
    parser.add_argument("--learning_decay", type=float, default=None, help="multiplicative decay (staircase)")
    parser.add_argument("--batch_size", type=int, default=None,
                        help=f"global batch size (default: the preset's, else {TRAINING_FALLBACKS['batch_size']})")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"default: the preset's, else {TRAINING_FALLBACKS['epochs']}")
    parser.add_argument("--hidden_units", type=int, default=None, help="LSTM units (default: the preset's)")
    parser.add_argument("--layers", type=int, default=None, help="BLSTM layers (default: the preset's per model)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="DROP rate (the original took a keep probability, so its --dropout P is 1 - P here; "
                             "above 0.5 a warning says so; default: the preset's)")
    parser.add_argument("--regularization", type=float, default=None,
                        help="L2 weight on kernels against a mean loss (default: the preset's, 0); the original's "
                             "summed loss made its values ~batch x frames x bins times larger: a value given here "
                             "prints its equivalent")
    parser.add_argument("--patience", type=int, default=None,
                        help=f"early stopping on validation loss (default: {TRAINING_FALLBACKS['patience']})")
    parser.add_argument("--init_ckp", default=None, help="start from this checkpoint's weights (fine-tuning)")
    parser.add_argument("--seed", type=int, default=None, help="seed everything and make TF ops deterministic")
    add_length_buckets_argument(parser)
    add_distribution_args(parser)


def run_mixed_speech_generator(args) -> int:
    from avse_tf.data.mixing import generate_mixtures

    entries = generate_mixtures(args.data_dir, args.base_speaker_ids, args.noisy_speaker_ids, args.audio_dir,
                                args.dest_dir, args.num_samples, args.num_mix, args.num_mix_speakers, args.snr,
                                args.seed, args.sample_rate)
    print(f"mixed_speech_generator: {len(entries)} mixtures in {os.path.join(args.data_dir, args.dest_dir)}")
    return 0


def run_tbm_computation(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.data.masks import compute_tbms

    written = compute_tbms(args.data_dir, args.speaker_ids, args.audio_dir, args.dest_dir, args.sample_rate,
                           args.max_wav_length, args.mask_factor)
    print(f"tbm_computation: wrote {len(written)} masks")
    return 0


def run_tfrecords_generator(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records

    counts = generate_records(args.data_dir, args.num_speakers, args.mode, args.dest_dir, args.mix_audio_dir,
                              args.video_dir, args.tbm_dir, args.delta, args.norm_data_dir, args.per_speaker_norm,
                              args.num_audio_samples, compression=None if args.compression == "none" else "GZIP",
                              examples_per_shard=args.examples_per_shard)
    for name, count in counts.items():
        print(f"tfrecords_generator: {name}: " + ("kept (exists)" if count is None else f"{count} examples"))
    return 0


def run_training(args) -> int:
    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config

    config = resolve_training_flags(
        args, SYSTEM, PRESET_FLAGS, TRAINING_FALLBACKS,
        original_regularization=lambda resolved: original_regularization(resolved, args.num_audio_samples))
    import_tensorflow_quietly()
    from avse_tf.systems.landmark_enhancement.train import train
    from avse_tf.training.strategy import strategy_from_args

    exp_dir = os.path.join(args.data_dir, "experiments", str(args.exp))
    save_resolved_config(exp_dir, config, {"train_set": args.train_set, "validation_set": args.validation_set,
                                           "init_ckp": args.init_ckp, "seed": args.seed})
    summary = train(os.path.join(args.data_dir, args.train_set), os.path.join(args.data_dir, args.validation_set),
                    exp_dir, args.model, args.batch_size, args.epochs, args.patience, args.seed,
                    strategy_from_args(args), args.init_ckp, hidden_units=args.hidden_units, layers=args.layers,
                    dropout=args.dropout, regularization=args.regularization, audio_dim=args.audio_dim,
                    video_dim=args.video_dim, opt=args.opt, learning_rate=args.learning_rate,
                    updating_step=args.updating_step, learning_decay=args.learning_decay,
                    length_buckets=args.length_buckets)
    print(f"training: best validation loss {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    return 0


def run_testing(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.metrics import format_table
    from avse_tf.systems.landmark_enhancement.evaluate import test

    checkpoint = args.ckp or os.path.join(args.data_dir, "experiments", str(args.exp), BEST_CHECKPOINT)
    _, summary = test(os.path.join(args.data_dir, args.test_set), checkpoint,
                      os.path.join(args.data_dir, args.output_dir, str(args.exp)), args.data_dir, args.mask_dir,
                      args.mask_threshold, args.batch_size, tuple(args.metrics.split(",")), model_name=args.model,
                      zero_video=args.zero_video)
    rows = {metric: {column: summary.get(f"{metric}_{column}") for column in ("mixture", "enhanced", "improvement")}
            for metric in args.metrics.split(",")}
    print(format_table(rows))
    print(f"({summary['examples']} examples; per-example CSV in {os.path.join(args.data_dir, args.output_dir, str(args.exp))})")
    return 0


def run_enhance(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.api import load

    options = {"norm_file": args.norm_file} if args.norm_file else {}
    model = load(args.model, **options)
    if model.system != SYSTEM.name:
        from avse_tf.errors import UserInputError

        raise UserInputError(f"--model {args.model} is a {model.system} model; avse enhancement enhance needs one of "
                             f"{', '.join(SYSTEM.models)}")
    enhanced, _ = model.enhance_file(args.input, args.video, args.output, args.shape_predictor,
                                     length_policy=args.length_policy)
    print(f"enhance: {args.output} ({enhanced.size / SAMPLE_RATE:.2f} s, model {model.model_id or model.source})")
    return 0


def run_recipe(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.landmark_enhancement.recipe import run_recipe as recipe

    user_corpus = user_corpus_from_args(args)
    if user_corpus is None:
        args.speakers = 8 if args.speakers is None else args.speakers
        args.utterances = 16 if args.utterances is None else args.utterances
    table = recipe(args.work_dir, speakers=args.speakers, utterances=args.utterances, epochs=args.epochs,
                   hidden_units=args.hidden_units, layers=args.layers, batch_size=args.batch_size,
                   num_speakers=[int(n) for n in args.num_speakers.split(",")], models=args.models.split(","),
                   metrics=args.metrics.split(","), seed=args.seed, num_mix=args.num_mix, patience=args.patience,
                   corpus_options=corpus_options_from_args(args), user_corpus=user_corpus)
    print(table)
    return 0
