"""``avse demo``: the live demo's flags. The run itself is :func:`avse_tf.streaming.live.run`
(PortAudio engine: :mod:`avse_tf.streaming.engine`; chunker: :mod:`avse_tf.streaming.chunker`;
the processor comes from the checkpoint's system: :mod:`avse_tf.streaming.processors`).
"""

from __future__ import annotations


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="live demo: stream a microphone through an inpainting or enhancement model (PortAudio)",
        description="Stream audio from an input device (or --input-wav) through a model, chunk by chunk with a "
                    "fixed look-ahead, and play the result (and/or write --output-wav). Prints the measured "
                    "end-to-end latency and the dropped blocks at the end. Needs pip install \"avse_tf[demo]\" "
                    "and the PortAudio library.")
    demo.add_argument("--model", help="a .keras checkpoint or an experiment folder (its normalisation.npz beside it)")
    demo.add_argument("--list-devices", "--list_devices", dest="list_devices", action="store_true",
                      help="list the audio devices and exit")
    demo.add_argument("--input-device", "--input_device", dest="input_device", default=None,
                      help="input device number or name (see --list-devices; default: the system's)")
    demo.add_argument("--output-device", "--output_device", dest="output_device", default=None,
                      help="output device number or name (default: the system's)")
    demo.add_argument("--video", default=None,
                      help="landmarks for AV models: a camera number (0) or a face video / landmark TXT file")
    demo.add_argument("--output-wav", "--output_wav", dest="output_wav", default=None,
                      help="write the processed stream (32-bit float wav, sample n = input sample n) here")
    demo.add_argument("--input-wav", "--input_wav", dest="input_wav", default=None,
                      help="stream this file instead of the microphone (paced by the output device's clock)")
    demo.add_argument("--record-input", "--record_input", dest="record_input", default=None,
                      help="also write the input the model saw (after --drop_rate) as a 32-bit float wav")
    demo.add_argument("--no-playback", "--no_playback", dest="no_playback", action="store_true",
                      help="open no output device (write --output-wav only)")
    demo.add_argument("--duration", type=float, default=None,
                      help="seconds to stream (default: until Ctrl-C or the end of --input-wav)")
    demo.add_argument("--chunk_ms", type=float, default=None,
                      help="output per model call = audio block (default 96; the pseudo-visual denoiser 160)")
    demo.add_argument("--lookahead_ms", type=float, default=None,
                      help="audio after a chunk the model sees (rounded down to frames; default 96; the "
                           "pseudo-visual denoiser 200)")
    demo.add_argument("--context_ms", type=float, default=None,
                      help="audio before a chunk the model sees (default 480; the pseudo-visual denoiser 160)")
    demo.add_argument("--compute_ms", type=float, default=None,
                      help="time a chunk may take to compute (default: one chunk); adds to the latency")
    demo.add_argument("--drop_rate", type=float, default=0.0,
                      help="inpainting: drop this fraction of --packet_ms packets of the input (simulated loss)")
    demo.add_argument("--packet_ms", type=float, default=20.0, help="packet length for --drop_rate (>= 20 ms)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulated packet loss")
    demo.add_argument("--max_gap_ms", type=float, default=480.0,
                      help="inpainting: fill at most this much of a silent run (longer silence stays silent)")
    demo.add_argument("--griffin_lim_iterations", type=int, default=32, help="inpainting: phase iterations (32)")
    demo.add_argument("--norm_file", default=None, help="normalisation statistics (default: beside --model)")
    demo.add_argument("--shape_predictor", default=None, help="dlib 68-point model for --video")
    demo.add_argument("--threads", type=int, default=1, help="TensorFlow threads (default 1: leave the audio a core)")
    demo.add_argument("--realtime", action="store_true",
                      help="run the model's threads at real-time (round-robin) priority 5 where allowed (root or an "
                           "rtprio limit), below the audio server's threads, so other jobs cannot starve the stream")
    demo.add_argument("--warmup_blocks", type=int, default=8,
                      help="blocks played as silence and not counted when the stream opens (default 8: the "
                           "audio server re-plans its graph and the callback thread starts up)")
    demo.add_argument("--report", default=None, help="write the run's figures as JSON here")
    demo.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from avse_tf.streaming.live import run

    return run(args)
