"""``avse lip2speech <subcommand>``: the multi-language VCA-GAN seed's preprocessing (shared/seeds/001)
and one ``preprocess`` command that does all of it.

``preprocess_audio_only --Grid_dir --output_dir``, ``crop_video_processing --input_dir --output_dir``
and ``remove_not_25`` keep the seed's script names (the seed hard-coded the folders of the last two:
here they are flags). ``train`` / ``test`` come with the model (issue 18).
"""

from __future__ import annotations

from avse_tf.cli.main import import_tensorflow_quietly
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
    prep.set_defaults(func=run_preprocess, work_folder="output_dir")


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
                        args.compression, args.shape_predictor)
    splits = ", ".join(f"{name} {count}" for name, count in result["splits"].items())
    print(f"preprocess: {result['segments']} segments from {result['clips']} clips ({splits}); "
          f"{len(result['bad'])} clips skipped (bad_clips.txt); records in {result['records']}")
    return 0
