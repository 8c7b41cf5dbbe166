"""The shared ``avse check-corpus`` command: every problem of a corpus, before hours of work."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check-corpus", help="check a corpus folder (GRID, this library's layout, LRS3) and list every problem",
        description="Recognise the corpus layout, then check every clip: audio readable, finite, at 16 kHz or "
                    "more; video decodable, at 25 fps (the rate the models are trained on: GRID's), with the "
                    "frames its container announces and a face in each of a few sampled frames; audio and video "
                    "of the same length (within 2 frames); the alignment present (with --require_align) and "
                    "readable. Prints one line per problem, '<file>: <problem>; <what to do>', then a summary. "
                    "Exit code 2 if any problem would stop a recipe (an error), 0 otherwise (warnings allowed).")
    parser.add_argument("data_dir", metavar="DIR", help="corpus folder")
    parser.add_argument("--layout", choices=("auto", "grid", "seed", "lrs3"), default="auto",
                        help="grid: <DIR>/s<k>/<id>.mpg + <id>.wav (GRID's archives unpacked); seed: "
                             "<DIR>/s<k>/{video,audio,align}/; lrs3: <DIR>/<split>/<video id>/<clip>.mp4 + .txt; "
                             "auto (default): whichever one DIR matches")
    parser.add_argument("--speakers", nargs="+", default=None,
                        help="speakers to check (1 2 or s1 s2; LRS3: video ids or s<k>); default: all")
    parser.add_argument("--audio_dir", default=None, help="grid: folder where the audio archives were unpacked "
                                                          "(<audio_dir>/s<k>/<id>.wav), if not DIR")
    parser.add_argument("--align_dir", default=None, help="alignments at <align_dir>/s<k>/<id>.align instead of DIR's")
    parser.add_argument("--require_align", action="store_true",
                        help="a clip without a .align file is an error (the recipes that use word timings need it)")
    parser.set_defaults(func=run_check_corpus)


def run_check_corpus(args) -> int:
    from avse_tf.data.corpora import check_corpus, read_corpus, summary

    corpus = read_corpus(args.data_dir, args.layout, args.speakers, audio_dir=args.audio_dir,
                         align_dir=args.align_dir)
    problems = check_corpus(corpus, require_align=args.require_align)
    for problem in problems:
        print(problem.line())
    print(summary(corpus, problems))
    return 2 if any(problem.severity == "error" for problem in problems) else 0
