"""``avse denoising <subcommand>``: the pseudo-visual denoising seed's commands (shared/seeds/004).

``preprocess --data_root --preprocessed_root`` keeps the seed's ``preprocess.py`` flags (its
``--batch_size`` and ``--ngpu`` set the S3FD detector's batch and GPUs; the dlib detector here runs
on the CPU, one frame at a time, so they are accepted and have no effect).

``train_syncnet --data_root --checkpoint_dir [--checkpoint_path]`` is Wav2Lip's
``color_syncnet_train.py`` (its flags; ``--checkpoint_path`` resumes from a ``.keras`` file: its
weights start the run); ``train_teacher --data_root --checkpoint_dir [--syncnet_checkpoint_path]``
is Wav2Lip's ``wav2lip_train.py`` (without ``--syncnet_checkpoint_path`` the expert is trained first
into ``<checkpoint_dir>/expert``); ``evaluate_teacher`` measures both on held-out clips. ``--data_root``
is ``preprocess``'s ``--preprocessed_root``. The student's: ``train_student`` (the seed's
``lipsync/train_student.py``), ``lipsync`` (``lipsync/inference.py``), ``evaluate_student``; the
denoiser's: ``train`` (the seed's ``train.py``), ``inference`` (``inference.py``) and ``evaluate`` (PESQ, STOI, ESTOI,
SI-SDR, WER; the original released none); ``recipe`` runs them all on a synthetic corpus.
"""

from __future__ import annotations

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.cli.preprocess import add_runner_arguments
from avse_tf.systems.pseudo_visual import SYSTEM


def register(subparsers) -> None:
    from avse_tf.systems.pseudo_visual.sources import SOURCE_LAYOUTS

    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="Pseudo-visual speech denoising (Hegde et al., WACV 2021): data preparation. The seed's "
                    "preprocess.py (Wav2Lip's): face crops per frame and audio.wav per clip, plus split lists "
                    "and records.")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    prep = commands.add_parser(
        "preprocess", help="videos -> PREPROCESSED_ROOT/<folder>/<clip>/{<frame>.jpg, audio.wav}, split lists, TFRecords",
        description="One resumable run: 96x96 face crops (dlib detector, box padded at the bottom) and 16 kHz "
                    "audio.wav per clip in the seed's layout, data/{training,validation,test}.txt, tfrecords/<split>/ "
                    "(schema in the system's README), bad_clips.txt (no face, several faces, unreadable, audio and "
                    "video of different lengths).")
    prep.add_argument("--data_root", required=True,
                      help="an LRS3 set (<root>/<folder>/<id>.mp4), LRS3 with its split folders, GRID or a synth-grid corpus")
    prep.add_argument("--preprocessed_root", required=True, help="output folder")
    prep.add_argument("--layout", default="auto", choices=SOURCE_LAYOUTS,
                      help="auto: a corpus layout if the tree is one, else an LRS3 set (lrs3_split)")
    prep.add_argument("--val_fraction", type=float, default=0.1)
    prep.add_argument("--test_fraction", type=float, default=0.1)
    prep.add_argument("--seed", type=int, default=0, help="split seed")
    prep.add_argument("--unseen_speakers", default="", help="comma-separated speakers (corpus speakers, LRS3 video "
                      "ids) held out of training, validation and test: their clips form the 'unseen' split")
    prep.add_argument("--av_offsets", default=None, metavar="FILE",
                      help="undo each clip's audio-visual offset (sync correction) before writing it: a synth_grid.json "
                           "(the synthetic corpus's own offsets) or a JSON object {\"<folder>/<clip>\": offset_ms}; "
                           "positive: the video lags the audio, which is delayed by that much")
    prep.add_argument("--examples_per_shard", type=int, default=64)
    prep.add_argument("--compression", default=None, choices=("GZIP",), help="record compression")
    prep.add_argument("--batch_size", type=int, default=None, help="the seed's detector batch: accepted, no effect here")
    prep.add_argument("--ngpu", type=int, default=None, help="the seed's GPU count: accepted, no effect (dlib on CPU)")
    add_runner_arguments(prep)
    prep.set_defaults(func=run_preprocess, work_folder="preprocessed_root")

    def training_flags(command, preset):
        command.add_argument("--data_root", required=True, help="a `denoising preprocess` output folder (its records)")
        command.add_argument("--checkpoint_dir", required=True, help="training folder: best.keras, last.keras, "
                             "history.csv; a rerun resumes")
        command.add_argument("--preset", default=preset, help=f"model and training preset (default {preset})")
        for flag, kind in (("--batch_size", int), ("--epochs", int), ("--lr", float), ("--steps_per_epoch", int)):
            command.add_argument(flag, type=kind, default=None, help="default: the preset's")
        command.add_argument("--seed", type=int, default=None)

    syncnet = commands.add_parser(
        "train_syncnet", help="train the lip-sync expert (Wav2Lip's color_syncnet_train.py)",
        description="The expert: SyncNet on the lower halves of 5 frames and their 16 x 80 mel, BCE on in-sync / "
                    "shifted pairs.")
    training_flags(syncnet, "lipsync_expert_cpu")
    syncnet.add_argument("--checkpoint_path", default=None, help="a .keras expert whose weights start the run")
    syncnet.set_defaults(func=run_train_syncnet, work_folder="checkpoint_dir")

    teacher = commands.add_parser(
        "train_teacher", help="train the Wav2Lip teacher against the frozen expert (wav2lip_train.py)",
        description="The teacher: Wav2Lip's generator, L1 + sync loss of the frozen expert. Without "
                    "--syncnet_checkpoint_path, the expert is trained first into CHECKPOINT_DIR/expert.")
    training_flags(teacher, "wav2lip_teacher_cpu")
    teacher.add_argument("--syncnet_checkpoint_path", default=None, help="the trained expert (.keras or its folder)")
    teacher.set_defaults(func=run_train_teacher, work_folder="checkpoint_dir")

    evaluate = commands.add_parser(
        "evaluate_teacher", help="lip-sync correlation of the teacher and the expert's accuracy on held-out clips",
        description="Per held-out clip: teacher (fixed first face, clean mels), still face and real frames, mouth "
                    "opening vs speech envelope; the expert's accuracy on in-sync vs shifted pairs.")
    evaluate.add_argument("--data_root", required=True, help="a `denoising preprocess` output folder")
    evaluate.add_argument("--checkpoint_path", required=True, help="the teacher (.keras or its training folder)")
    evaluate.add_argument("--syncnet_checkpoint_path", default=None, help="default: the expert inside the teacher")
    evaluate.add_argument("--split", default="unseen", help="held-out split: unseen (default) or test")
    evaluate.add_argument("--max_clips", type=int, default=None)
    evaluate.add_argument("--min_shift", type=int, default=5, help="frames between a shifted window and the mel's")
    evaluate.add_argument("--output_dir", default=None, help="writes teacher_eval.json and table.txt")
    evaluate.set_defaults(func=run_evaluate_teacher)

    student = commands.add_parser(
        "train_student", help="distil the audio-only lip generator from the frozen teacher (lipsync/train_student.py)",
        description="The student reads noisy mels (noise mixed on the fly at 0, 5 or 10 dB) and learns the lower half "
                    "of the teacher's face from the clean mels and a fixed face (L1). Resumable; writes "
                    "CHECKPOINT_DIR/student.keras at the end.")
    _lrs3_flags(student)
    student.add_argument("--wav2lip_checkpoint_path", default=None,
                         help="the teacher trained by `train_teacher` (.keras or its folder); .pth files are refused")
    student.add_argument("--teacher", choices=("wav2lip", "speech2vid"), default="wav2lip",
                         help="wav2lip (default: --wav2lip_checkpoint_path) or speech2vid (--speech2vid_checkpoint_path)")
    student.add_argument("--speech2vid_checkpoint_path", default=None,
                         help="with --teacher speech2vid: a generator trained by `avse speech2vid train` (its 112 x 112 "
                              "face resized to 96 x 96, lower half taken)")
    student.add_argument("--checkpoint_path", default=None, help="a student .keras whose weights start the run")
    student.add_argument("--face", default=None, help="the fixed face image (default: the first frame of the first "
                         "training clip); saved as CHECKPOINT_DIR/face.png")
    _schedule_flags(student, "lipsync_student_cpu")
    student.set_defaults(func=run_train_student, work_folder="checkpoint_dir")

    lipsync = commands.add_parser(
        "lipsync", help="lips from (noisy) speech alone: RESULTS_DIR/result_voice.mp4 (lipsync/inference.py)",
        description="The student on any audio or video file: one lower face per 25 fps video frame, written with the "
                    "input audio as an mp4.")
    lipsync.add_argument("--checkpoint_path", required=True, help="the student (student.keras or its training folder)")
    lipsync.add_argument("--audio", required=True, help="an audio or video file (its sound track is used)")
    lipsync.add_argument("--results_dir", default="results", help="output folder (default results/)")
    lipsync.add_argument("--output_fname", default="result", help="writes <results_dir>/<output_fname>_voice.mp4")
    lipsync.add_argument("--batch_size", type=int, default=128)
    lipsync.set_defaults(func=run_lipsync)

    denoiser = commands.add_parser(
        "train", help="train the denoiser on noisy speech and the student's lips (train.py)",
        description="The denoiser reads the noisy STFT (magnitude and phase) and a visual stream: the frozen student's "
                    "lips from the noisy mels (--visual pseudo, the paper's), none (the audio-only ablation) or the "
                    "corpus's real lips; L1 to the clean STFT. Resumable; writes CHECKPOINT_DIR/denoiser.keras.")
    _lrs3_flags(denoiser)
    denoiser.add_argument("--lipsync_student_model_path", default=None,
                          help="the student (`train_student` folder or student.keras); .pth files are refused")
    denoiser.add_argument("--checkpoint_path", default=None, help="a denoiser checkpoint whose weights start the run")
    denoiser.add_argument("--visual", choices=("pseudo", "none", "real"), default="pseudo",
                          help="the visual stream: pseudo (default, the student's lips), none, real")
    _schedule_flags(denoiser, "pseudo_visual_denoiser_cpu")
    denoiser.set_defaults(func=run_train_denoiser, work_folder="checkpoint_dir")

    infer = commands.add_parser(
        "inference", help="denoise any audio or video file: RESULTS_DIR/result.wav or result.mp4 (inference.py)",
        description="1 s windows with 0.2 s overlap, cross-faded; inputs of any length come back with exactly their "
                    "length; a video input gives an mp4 with the denoised audio.")
    infer.add_argument("--lipsync_student_model_path", default=None,
                       help="the student (default: the one saved in the denoiser checkpoint)")
    infer.add_argument("--checkpoint_path", required=True, help="the `denoising train` folder or its best.keras")
    infer.add_argument("--input", required=True, help="a noisy audio or video file")
    infer.add_argument("--results_dir", default="results", help="output folder (default results/)")
    infer.add_argument("--batch_size", type=int, default=16, help="1 s windows per batch")
    infer.set_defaults(func=run_inference)

    evaluate_s = commands.add_parser(
        "evaluate_student", help="student vs teacher lips from noisy speech, against the teacher's clean-speech lips",
        description="Held-out clips mixed with held-out noise kinds at --snr dB: L1 and mouth-opening agreement of the "
                    "student's and the teacher's lips from the noisy speech with the teacher's from the clean speech; "
                    "table.txt, metrics.csv and frames.png (real, teacher clean, student noisy, teacher noisy).")
    evaluate_s.add_argument("--data_root", required=True, help="a `denoising preprocess` output folder")
    evaluate_s.add_argument("--checkpoint_path", required=True, help="the train_student folder (or its best.keras)")
    evaluate_s.add_argument("--split", default="unseen", help="held-out split: unseen (default) or test")
    evaluate_s.add_argument("--snr", type=float, default=0.0, help="dB (default 0)")
    evaluate_s.add_argument("--noise_data_root", default=None,
                            help="noise bank (its test kinds are used); default: the one in the checkpoint folder")
    evaluate_s.add_argument("--max_clips", type=int, default=None)
    evaluate_s.add_argument("--output_dir", required=True, help="writes table.txt, metrics.csv, frames.png")
    evaluate_s.set_defaults(func=run_evaluate_student)

    evaluate = commands.add_parser(
        "evaluate", help="PESQ, STOI, ESTOI, SI-SDR and WER per SNR and noise kind: noisy, audio-only, pseudo lips, "
                         "teacher clean lips, true video",
        description="Held-out clips mixed with the bank's held-out noise kinds at each --snrs value; every given "
                    "denoiser on the whole clip; table.txt, metrics.csv, summary.json.")
    evaluate.add_argument("--data_root", required=True, help="a `denoising preprocess` output folder")
    evaluate.add_argument("--checkpoint_path", default=None, help="the pseudo-lip denoiser (`train` folder)")
    evaluate.add_argument("--audio_only_checkpoint_path", default=None, help="the `train --visual none` folder")
    evaluate.add_argument("--true_video_checkpoint_path", default=None, help="the `train --visual real` folder")
    evaluate.add_argument("--student_checkpoint_dir", default=None,
                          help="the train_student folder: its teacher's lips from the clean speech, given to the "
                               "pseudo-lip denoiser (the paper's real-lips comparison)")
    evaluate.add_argument("--corpus_root", default=None, help="the corpus preprocessed (the clips' words, for WER)")
    evaluate.add_argument("--split", default="unseen", help="held-out split: unseen (default) or test")
    evaluate.add_argument("--snrs", default="0,5,10", help="comma-separated dB (default 0,5,10)")
    evaluate.add_argument("--noise_data_root", default=None,
                          help="noise bank (its test kinds are used); default: the one in the first checkpoint folder")
    evaluate.add_argument("--max_clips", type=int, default=None)
    evaluate.add_argument("--seed", type=int, default=0, help="noise clip and offset seed")
    evaluate.add_argument("--output_dir", required=True, help="writes table.txt, metrics.csv, summary.json")
    evaluate.set_defaults(func=run_evaluate)

    from avse_tf.cli.shared import positive_int  # a count of 0 or less is one argparse line, not a failed run

    recipe = commands.add_parser(
        "recipe", help="synthetic corpus -> teacher, student, three denoisers -> the evaluation table",
        description="One resumable run in WORK_DIR: corpus, preprocess, noise bank, teacher (expert first), student, "
                    "the pseudo-lip, audio-only and true-video denoisers, then `evaluate` on the unseen speakers; "
                    "prints the table (also WORK_DIR/evaluation/table.txt). One schedule for every training.")
    recipe.add_argument("--work_dir", required=True, help="everything goes here; a rerun resumes")
    recipe.add_argument("--speakers", type=positive_int, default=8, help="synthetic speakers (default 8)")
    recipe.add_argument("--utterances", type=positive_int, default=16, help="utterances per speaker (default 16)")
    recipe.add_argument("--unseen_speakers", type=positive_int, default=2,
                        help="the last N speakers are held out (default 2)")
    recipe.add_argument("--epochs", type=positive_int, default=4, help="every training's epochs (default 4)")
    recipe.add_argument("--steps_per_epoch", type=positive_int, default=50, help="default 50")
    recipe.add_argument("--batch_size", type=positive_int, default=8, help="default 8")
    recipe.add_argument("--snrs", default="0,5,10", help="comma-separated dB (default 0,5,10)")
    recipe.add_argument("--max_clips", type=positive_int, default=None, help="evaluate at most N unseen clips")
    recipe.add_argument("--seed", type=int, default=1)
    recipe.set_defaults(func=run_recipe, work_folder="work_dir")


def _lrs3_flags(parser) -> None:
    """The seed's data flags of ``train_student`` and ``train`` (its two LRS3 roots and VGGSound)."""
    parser.add_argument("--data_root_lrs3_pretrain", required=True,
                        help="a `denoising preprocess` output folder (the seed's preprocessed LRS3 pretrain set)")
    parser.add_argument("--data_root_lrs3_train", default=None,
                        help="a second one (the seed's trainval set): training clips of both; validation from this one")
    parser.add_argument("--noise_data_root", default=None, help="a folder of noise wavs (VGGSound-style) or one "
                        "written by `avse noise-bank`; default: the shared bank, written into CHECKPOINT_DIR/noise_bank")
    parser.add_argument("--checkpoint_dir", required=True, help="training folder; a rerun resumes")


def _schedule_flags(parser, preset) -> None:
    parser.add_argument("--preset", default=preset, help=f"default {preset}")
    for flag, kind in (("--batch_size", int), ("--epochs", int), ("--lr", float), ("--steps_per_epoch", int)):
        parser.add_argument(flag, type=kind, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=None)


def run_preprocess(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.preprocess import preprocess

    result = preprocess(args.data_root, args.preprocessed_root, args.layout, args.val_fraction, args.test_fraction,
                        args.seed, [name for name in args.unseen_speakers.split(",") if name],
                        args.examples_per_shard, args.compression, runner=args.runner,
                        beam_options=args.beam_option, av_offsets=args.av_offsets)
    splits = ", ".join(f"{name} {count}" for name, count in result["splits"].items())
    synced = f"; {result['synced']} clips' audio-visual offsets undone" if args.av_offsets else ""
    print(f"preprocess: {result['clips']} clips, {result['frames']} face crops ({splits}); {len(result['bad'])} clips "
          f"skipped (bad_clips.txt){synced}; records in {result['records']}")
    return 0


def run_train_syncnet(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.train_teacher import train_expert

    result = train_expert(args.data_root, args.checkpoint_dir, args.preset, args.batch_size, args.epochs, args.lr,
                          args.steps_per_epoch, seed=args.seed, initial_checkpoint=args.checkpoint_path)
    print(f"train_syncnet: best validation loss {result['best_val_loss']:.4f}; expert in {result['best_model']}")
    return 0


def run_train_teacher(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.train_teacher import train_teacher

    result = train_teacher(args.data_root, args.checkpoint_dir, args.syncnet_checkpoint_path, args.preset,
                           args.batch_size, args.epochs, args.lr, args.steps_per_epoch, seed=args.seed)
    print(f"train_teacher: best validation L1 {result['best_val_loss']:.4f}; teacher in {result['best_model']}")
    return 0


def run_evaluate_teacher(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.evaluate_teacher import evaluate_teacher

    result = evaluate_teacher(args.checkpoint_path, args.data_root, args.split, args.syncnet_checkpoint_path,
                              args.max_clips, args.min_shift, output_dir=args.output_dir)
    print(result["table"])
    return 0


def run_train_student(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.train_student import train_student

    teacher_checkpoint = getattr(args, f"{args.teacher}_checkpoint_path")
    result = train_student(args.data_root_lrs3_pretrain, args.checkpoint_dir, teacher_checkpoint,
                           args.data_root_lrs3_train, args.noise_data_root, args.preset, args.batch_size, args.epochs,
                           args.steps_per_epoch, args.lr, args.face, seed=args.seed,
                           initial_checkpoint=args.checkpoint_path, teacher=args.teacher)
    print(f"train_student: best validation L1 {result['best_val_loss']:.4f}; student in {result['student']}")
    return 0


def run_train_denoiser(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.train_denoiser import train_denoiser

    result = train_denoiser(args.data_root_lrs3_pretrain, args.checkpoint_dir, args.lipsync_student_model_path,
                            args.data_root_lrs3_train, args.noise_data_root, args.preset, args.visual,
                            args.batch_size, args.epochs, args.steps_per_epoch, args.lr, seed=args.seed,
                            initial_checkpoint=args.checkpoint_path)
    print(f"train: best validation L1 {result['best_val_loss']:.4f}; denoiser in {result['denoiser']}")
    return 0


def run_inference(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.inference import inference

    result = inference(args.lipsync_student_model_path, args.checkpoint_path, args.input, args.results_dir,
                       args.batch_size)
    print(f"inference: {result['samples']} samples in {result['windows']} windows -> {result['output']}")
    return 0


def run_lipsync(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.lipsync import lipsync

    result = lipsync(args.checkpoint_path, args.audio, args.results_dir, args.output_fname, args.batch_size)
    print(f"lipsync: {result['frames']} frames ({result['seconds']:.2f} s) -> {result['video']}")
    return 0


def run_evaluate_student(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.evaluate_student import evaluate_student

    result = evaluate_student(args.checkpoint_path, args.data_root, args.output_dir, args.split, args.snr,
                              args.noise_data_root, args.max_clips)
    print(result["table"])
    return 0


def _snrs(text) -> tuple:
    from avse_tf.errors import UserInputError

    try:
        snrs = tuple(float(value) for value in text.split(",") if value.strip())
    except ValueError:
        raise UserInputError(f"--snrs {text}: give comma-separated numbers of dB, e.g. 0,5,10") from None
    return snrs or (0.0,)


def run_evaluate(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.evaluate_denoiser import evaluate_denoiser

    result = evaluate_denoiser(args.data_root, args.output_dir, args.checkpoint_path, args.audio_only_checkpoint_path,
                               args.true_video_checkpoint_path, args.student_checkpoint_dir, args.corpus_root,
                               args.split, _snrs(args.snrs), args.noise_data_root, args.max_clips, args.seed)
    print(result["table"])
    return 0


def run_recipe(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.recipe import run_recipe as recipe

    result = recipe(args.work_dir, args.speakers, args.utterances, args.unseen_speakers, args.seed, args.epochs,
                    args.steps_per_epoch, args.batch_size, _snrs(args.snrs), args.max_clips)
    print(result["table"])
    return 0
