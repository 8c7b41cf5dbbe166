#!/usr/bin/env python
"""VCA-GAN's generator side (lip to speech) in avse_tf against the same network written plainly in PyTorch.

    python tools/bench/race_vca_gan.py [--preset vca_gan_grid] [--threads 2] [--steps 3] [--cases 0,1]
                                       [--precisions float32,bfloat16] [--stem conv3d] [--check] [--json out.json]

The twin (:func:`torch_generator_side`): visual front-end + generator + post-net of ``avse_tf.systems.vca_gan``
(no discriminators), the Keras preset's sizes (:func:`twin_config`), channels first. Rows per precision
(``bfloat16``: Keras' ``mixed_bfloat16`` against ``torch.autocast("cpu", torch.bfloat16)``):

* 0, inference, batch 1, a 3 s clip (75 uint8 112 x 112 lip frames): avse_tf as ``lips_to_waveform`` runs it
  before Griffin-Lim (``predict._graph_forward``: normalisation -> front-end -> generator -> post-net ->
  linear); the twin the same under ``torch.inference_mode()`` (fixed noise draw, as Keras' inference).
* 1, training step of the regression-only baseline (``loss_weights={"adversarial": 0, "sync": 0}``: ``50 x
  (mel L1 over 3 scales + linear L1)``, Adam amsgrad 1e-4, L2 decay 1e-5 added to the gradients), batch 8 of
  the preset's 40-frame windows (not the paper's 88 = 4 GPUs x 22: a step must fit 2 cores). avse_tf:
  ``train_on_batch`` (``VCAGAN.train_step``); the twin: forward, same loss, backward, ``Adam(amsgrad=True,
  weight_decay=1e-5)``.

"same parameters": :func:`torch_parameter_count`'s rule. PyTorch runs in a ``--worker`` child (TF and
torch cannot share a process). Best of ``--steps`` calls after a warm-up, two rounds. No torch: one line, exit 0.
On a machine shared with other jobs, torch's OpenMP threads spin at every barrier while a descheduled
team member waits for a core (TF's kernels run on TF's own thread pool, not OpenMP): with
``OMP_WAIT_POLICY=PASSIVE`` in the environment (the worker inherits it) the twin's step ran 4x faster there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

# Plain Python: importing it loads neither TensorFlow nor torch.
from tools.bench.pytorch_race import ROUNDS, TorchWorker, best_of, start_threads, torch_missing  # noqa: E402

INFERENCE_FRAMES = 75  # 3 s at 25 fps (vca_gan/bench.py CLIP_FRAMES)
TRAIN_BATCH = 8


# -- the Keras side (parent process) ---------------------------------------------------------------
def twin_config(source) -> dict:
    """The twin's sizes (plain JSON) from a preset name / preset JSON file or a built ``VCAGAN``, every
    width through the library's own ``visual_frontend.channels`` rounding; training values from the preset."""
    from avse_tf.systems.presets import get_preset
    from avse_tf.systems.vca_gan import features
    from avse_tf.systems.vca_gan.generator import MEL_ROWS
    from avse_tf.systems.vca_gan.pipeline import VIDEO_MEAN, VIDEO_STD
    from avse_tf.systems.vca_gan.visual_frontend import channels

    named = isinstance(source, (str, os.PathLike))
    arch = get_preset(os.fspath(source))["architecture"] if named else source.architecture
    train = get_preset(os.fspath(source)).get("training", {}) if named else {}
    weights = {"reconstruction": 50.0, "weight_decay": 1e-5, **({} if named else source.loss_weights)}
    w = float(arch["width"])
    return {"crop_size": int(arch["crop_size"]), "stem": channels(64, w), "stem_conv": "conv3d",
            "resnet": [[channels(64 * 2 ** s, w), int(n)] for s, n in enumerate(arch["resnet_blocks"])],
            "feature_dim": channels(512, w), "gru_units": channels(512, w), "gru_layers": int(arch["gru_layers"]),
            "dropout": float(arch["dropout"]), "noise": channels(arch["noise_channels"], w), "mel_rows": MEL_ROWS,
            "noise_seed": int(arch["noise_seed"]), "bottleneck": [channels(f, w) for f in (512, 256, 256)],
            "stages": [channels(f, w) for f in (128, 64, 32)], "blocks_per_stage": int(arch["blocks_per_stage"]),
            "attention_dim": channels(arch["attention_dim"], w), "postnet_in": channels(128, w),
            "postnet_width": channels(256, w), "postnet_blocks": int(arch["postnet_blocks"]),
            "num_mels": features.NUM_MELS, "num_bins": features.NUM_LINEAR_BINS, "log_floor": features._LOG_FLOOR,
            "video_mean": VIDEO_MEAN, "video_std": VIDEO_STD, "learning_rate": float(train.get("learning_rate", 1e-4)),
            "reconstruction_weight": float(train.get("reconstruction_weight", weights["reconstruction"])),
            "weight_decay": float(train.get("weight_decay", weights["weight_decay"])),
            "window_frames": int(train.get("window_frames", 40))}


def keras_parameter_count(preset) -> dict:
    """``{"total", "trainable"}`` of the generator side (``frontend``, ``generator``, ``postnet``) of
    the preset's model (or a built ``VCAGAN``): ``total`` is Keras ``count_params()`` (BN: gamma,
    beta, moving mean and variance, 4 per channel), ``trainable`` the ``generator_variables``."""
    import numpy as np

    from avse_tf.systems import presets

    model = presets.from_preset(preset) if isinstance(preset, (str, dict, os.PathLike)) else preset
    return {"total": int(sum(part.count_params() for part in (model.frontend, model.generator, model.postnet))),
            "trainable": int(sum(np.prod(v.shape) for v in model.generator_variables))}


def keras_runner(preset, precision, batch, frames, training):
    """A no-argument callable: one library inference of a uint8 clip (``predict._graph_forward``, the
    linear spectrogram) or one regression-only ``train_on_batch`` (module doc)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from avse_tf.systems import presets
    from avse_tf.systems.vca_gan import bench, predict
    from avse_tf.systems.vca_gan.model import make_optimizers

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        keras.utils.set_random_seed(0)
        model = presets.from_preset(preset)
        rng = np.random.default_rng(0)
        if not training:
            size = int(model.architecture["crop_size"])
            lips = tf.constant(rng.integers(0, 256, (batch, frames, size, size, 1), dtype=np.uint8))
            forward = predict._graph_forward(model)  # batch 1 only, as the library's input signature
            return lambda: forward(lips).numpy()
        config = twin_config(preset)
        model.compile(*make_optimizers(config["learning_rate"]), loss_weights={
            "adversarial": 0.0, "sync": 0.0, "reconstruction": config["reconstruction_weight"],
            "weight_decay": config["weight_decay"]})
        inputs, _, _ = bench.synthetic_batch(model, batch, frames, rng)
        return lambda: model.train_on_batch(inputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")


# -- the PyTorch twin (child process; imports no TensorFlow) ---------------------------------------
def torch_generator_side(config: dict):
    """The plain PyTorch twin of ``VCAGAN.frontend`` + ``.generator`` + ``.postnet``: ``forward(video
    [B, 1, T, S, S] float) -> (mel_20 [B, T, 20], mel_40 [B, 2T, 40], mel [B, 4T, 80], linear [B, 4T, 321])``.

    Stem: ``nn.Conv3d(1, 64, (5, 7, 7), (1, 2, 2), (2, 3, 3))`` + ``BatchNorm3d`` + ``PReLU`` +
    ``MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))`` as the original's ``visual_front.py`` (and as PyTorch
    users write it); same weights (5 x 7 x 7 x 64) and products as Keras' 2D conv over 5 stacked frames
    (``TemporalStack`` + ``stem_conv``), which Keras needs only because TF's CPU ``Conv3D`` gradient is
    slow. ``config["stem_conv"] = "stack"`` gives the Keras form instead (``Conv2d(5, 64, 7, 2, 3)``).
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    c, lrelu = config, (lambda: nn.LeakyReLU(0.2))

    class Residual(nn.Module):  # ``after(body(x) + shortcut(x)) x scale``: the three block kinds below
        def __init__(self, body, shortcut, after=None, scale=1.0):
            super().__init__()
            self.body, self.shortcut, self.after, self.scale = body, shortcut, after or nn.Identity(), scale

        def forward(self, x):
            return self.after(self.body(x) + self.shortcut(x)) * self.scale

    def conv_bn(cin, cout, kernel, stride):  # visual_frontend._conv_bn
        return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]

    def basic_block(cin, cout, stride):  # visual_frontend._basic_block (ResNet-18, per-channel PReLU)
        down = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else nn.Identity()
        return Residual(nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.PReLU(cout), *conv_bn(cout, cout, 3, 1)),
                        down, nn.PReLU(cout))

    def gen_block(cin, cout, upsample):  # generator.residual_block (GenResBlk): BN, act, [up], conv 5x5, x 2
        up = [nn.Upsample(scale_factor=2.0)] if upsample else []
        shortcut = nn.Sequential(*up, *([nn.Conv2d(cin, cout, 1, bias=False)] if cin != cout else []))
        return Residual(nn.Sequential(nn.BatchNorm2d(cin), lrelu(), *up, nn.Conv2d(cin, cout, 5, padding=2),
                                      nn.BatchNorm2d(cout), lrelu(), nn.Conv2d(cout, cout, 5, padding=2)),
                        shortcut, scale=1 / math.sqrt(2))

    def post_block(cin, cout):  # generator._residual_block_1d (post-net, no normalisation)
        shortcut = nn.Conv1d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()
        return Residual(nn.Sequential(lrelu(), nn.Conv1d(cin, cin, 5, padding=2), lrelu(),
                                      nn.Conv1d(cin, cout, 5, padding=2)), shortcut, scale=1 / math.sqrt(2))

    class FrontEnd(nn.Module):  # visual_frontend.visual_frontend -> (local [B, T, D], global [B, T, D])
        def __init__(self):
            super().__init__()
            stem, self.conv3d = c["stem"], c["stem_conv"] == "conv3d"
            if self.conv3d:  # stem_conv, stem_bn, stem_prelu, stem_pool
                self.stem = nn.Sequential(nn.Conv3d(1, stem, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False),
                                          nn.BatchNorm3d(stem), nn.PReLU(stem),
                                          nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
            else:
                self.stem = nn.Sequential(nn.Conv2d(5, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem),
                                          nn.PReLU(stem), nn.MaxPool2d(3, 2, 1))
            blocks, cin = [], stem
            for stage, (width, count) in enumerate(c["resnet"]):  # visual_frontend.resnet18
                for index in range(count):
                    blocks.append(basic_block(cin, width, 2 if stage and not index else 1))
                    cin = width
            self.resnet, self.dropout = nn.Sequential(*blocks), nn.Dropout(c["dropout"])
            self.gru = nn.GRU(cin, c["gru_units"], c["gru_layers"], batch_first=True, bidirectional=True,
                              dropout=c["dropout"] if c["gru_layers"] > 1 else 0.0)  # context_bigru1..n
            self.projection = nn.Linear(2 * c["gru_units"], c["feature_dim"])  # global_projection

        def forward(self, video):
            b, _, t = video.shape[:3]
            if self.conv3d:
                x = self.stem(video).transpose(1, 2).flatten(0, 1)  # [B x T, C, 28, 28]
            else:  # TemporalStack + MergeFrames: frames t-2..t+2 as channels
                padded = F.pad(video[:, 0], (0, 0, 0, 0, 2, 2))
                x = self.stem(torch.stack([padded[:, o:o + t] for o in range(5)], 2).flatten(0, 1))
            local = self.dropout(self.resnet(x).mean((2, 3)).view(b, t, -1))  # resnet_pool, local_features
            return local, self.projection(self.gru(local)[0])

    class Attention(nn.Module):  # generator.VisualContextAttention (query, key, value, out)
        def __init__(self, rows, width):
            super().__init__()
            self.dim, feature = c["attention_dim"], c["feature_dim"]
            self.query, self.key, self.value = (nn.Linear(rows * width, self.dim), nn.Linear(feature, self.dim),
                                                nn.Linear(feature, self.dim))
            self.out = nn.Linear(self.dim, rows * (width // 2))

        def forward(self, x, context):  # x [B, C, T', F], context [B, S, D] -> [B, C/2, T', F]
            b, width, t, rows = x.shape
            query = self.query(x.permute(0, 2, 3, 1).reshape(b, t, rows * width))
            scores = query @ self.key(context).transpose(1, 2) / math.sqrt(self.dim)
            attended = self.out(torch.softmax(scores.float(), -1).to(query.dtype) @ self.value(context))
            return attended.view(b, t, rows, width // 2).permute(0, 3, 1, 2)

    class Generator(nn.Module):  # generator.generator -> [mel_20, mel_40, mel]
        def __init__(self):
            super().__init__()
            widths = [c["feature_dim"] + c["noise"], *c["bottleneck"]]
            self.bottleneck = nn.Sequential(*[gen_block(i, o, False) for i, o in zip(widths, widths[1:])])
            stages, heads, cin = [], [], widths[-1]
            for stage, width in enumerate(c["stages"]):  # stage*_block*, then the to_mel head (_to_mel)
                stages.append(nn.Sequential(*[gen_block(cin if not i else width, width, stage > 0 and not i)
                                              for i in range(c["blocks_per_stage"])]))
                heads.append(nn.Sequential(nn.BatchNorm2d(width), lrelu(), nn.Conv2d(width, 1, 1)))
                cin = width
            self.stages, self.to_mel = nn.ModuleList(stages), nn.ModuleList(heads)
            self.attention = nn.ModuleList(Attention(c["mel_rows"] * 2 ** s, w) for s, w in enumerate(c["stages"][:2]))
            self.fuse = nn.ModuleList(nn.Conv2d(w + w // 2, w, 5, padding=2) for w in c["stages"][:2])

        def forward(self, local, context):
            b, t, d = local.shape
            tiled = local.transpose(1, 2)[..., None].expand(b, d, t, c["mel_rows"])  # tile_frequency
            shape = (b, c["noise"], t, c["mel_rows"])  # GeneratorNoise: fresh in training, a fixed draw otherwise
            noise = (torch.randn(shape) if self.training else
                     torch.randn(shape, generator=torch.Generator().manual_seed(c["noise_seed"])))
            x, mels = self.bottleneck(torch.cat([tiled, noise.to(tiled.dtype)], 1)), []
            for stage in range(3):
                x = self.stages[stage](x)
                mels.append(torch.tanh(self.to_mel[stage](x).float())[:, 0])  # [B, T', F]
                if stage < 2:  # attention{1,2}, _concat, _fuse
                    x = self.fuse[stage](torch.cat([x, self.attention[stage](x, context)], 1))
            return mels

    class GeneratorSide(nn.Module):
        def __init__(self):
            super().__init__()
            self.frontend, self.generator = FrontEnd(), Generator()
            widths = [c["postnet_in"]] + [c["postnet_width"]] * c["postnet_blocks"]
            self.postnet = nn.Sequential(  # generator.postnet: postnet_conv_in, _bn, _act, _block*, linear
                nn.Conv1d(c["num_mels"], c["postnet_in"], 7, padding=3), nn.BatchNorm1d(c["postnet_in"]), lrelu(),
                *[post_block(i, o) for i, o in zip(widths, widths[1:])],
                nn.Conv1d(widths[-1], c["num_bins"], 1, bias=False))

        def forward(self, video):
            local, context = self.frontend(video)
            mel_20, mel_40, mel = self.generator(local, context)
            return mel_20, mel_40, mel, self.postnet(mel.transpose(1, 2)).transpose(1, 2).float()

    return GeneratorSide()


def torch_parameter_count(module) -> dict:
    """The rule compared with :func:`keras_parameter_count`: ``total`` = ``parameters()`` + the
    floating-point buffers (BN ``running_mean`` / ``running_var``: Keras' non-trainable moving
    statistics; ``num_batches_tracked``, an int64 step counter Keras has no counterpart of, is left
    out); ``trainable`` = ``parameters()`` alone (= Keras' trainable weights)."""
    trainable = sum(p.numel() for p in module.parameters())
    return {"total": int(trainable + sum(b.numel() for b in module.buffers() if b.is_floating_point())),
            "trainable": int(trainable)}


def reconstruction_loss(outputs, mel, linear, config):
    """``losses.reconstruction_losses`` on full windows: L1 of the unscaled log mels at 20 / 40 / 80
    rows (targets by ``mel_pyramid``: bilinear, half-pixel, no antialiasing), averaged, + linear L1."""
    import torch.nn.functional as F

    floor, frames = config["log_floor"], mel.shape[1]
    targets = [F.interpolate(mel[:, None], size=(frames * per // 4, rows), mode="bilinear", align_corners=False)[:, 0]
               for rows, per in ((20, 1), (40, 2))] + [mel]
    unscale = lambda x: (x + 1) * (-floor / 2) + floor  # noqa: E731  (features.unscale_log_mel)
    mel_l1 = sum(F.l1_loss(unscale(p.float()), unscale(t)) for p, t in zip(outputs[:3], targets)) / 3
    return mel_l1 + F.l1_loss(outputs[3].float(), linear)


def torch_runner(config, precision, batch, frames, training):
    """The twin's counterpart of :func:`keras_runner` (module doc), as a no-argument callable."""
    import contextlib

    import torch

    torch.manual_seed(0)
    generator, twin, size = torch.Generator().manual_seed(0), torch_generator_side(config), config["crop_size"]

    def scope():
        return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16" else contextlib.nullcontext()

    if not training:
        twin.eval()
        lips = torch.randint(0, 256, (batch, 1, frames, size, size), dtype=torch.uint8, generator=generator)

        def forward():
            with torch.inference_mode(), scope():
                video = (lips.float() / 255.0 - config["video_mean"]) / config["video_std"]  # normalize_video
                return twin(video)[3]

        return forward
    video = torch.randn(batch, 1, frames, size, size, generator=generator)
    mel = torch.rand(batch, 4 * frames, config["num_mels"], generator=generator) * 2 - 1
    linear = torch.rand(batch, 4 * frames, config["num_bins"], generator=generator)
    optimizer = torch.optim.Adam(twin.parameters(), lr=config["learning_rate"], amsgrad=True,
                                 weight_decay=config["weight_decay"])

    def step():
        optimizer.zero_grad(set_to_none=True)
        with scope():
            outputs = twin(video)
        loss = config["reconstruction_weight"] * reconstruction_loss(outputs, mel, linear, config)
        loss.backward()
        optimizer.step()

    return step


# -- the child process (``pytorch_race.TorchWorker(threads, script=__file__)``) -----------------------
def serve(threads) -> int:
    """Requests: ``describe`` (config, frames) -> the twin's parameter counts, torch's version and output
    shapes (inference, ``frames`` frames); ``setup`` (config, precision, batch, frames, training) builds and
    warms a runner; ``time`` (steps) -> its best of ``steps`` seconds."""
    import torch

    torch.set_num_threads(threads)
    runner = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "describe":
            twin, size = torch_generator_side(request["config"]).eval(), request["config"]["crop_size"]
            with torch.inference_mode():
                outputs = twin(torch.zeros(1, 1, request.get("frames", 2), size, size))
            reply = {"count": torch_parameter_count(twin), "version": torch.__version__,
                     "shapes": {k: list(v.shape) for k, v in zip(("mel_20", "mel_40", "mel", "linear"), outputs)}}
        elif request["op"] == "setup":
            runner = torch_runner(request["config"], request["precision"], request["batch"], request["frames"],
                                  request["training"])
            runner()
            reply = {"version": torch.__version__}
        else:
            reply = {"seconds": best_of(runner, request["steps"])}
        print(json.dumps(reply), flush=True)
    return 0


# -- the race (parent process) -----------------------------------------------------------------------
def cases(config) -> list:
    return [(f"inference, batch 1, 3 s clip ({INFERENCE_FRAMES} frames)", 1, INFERENCE_FRAMES, False),
            (f"training step, batch {TRAIN_BATCH}, {config['window_frames']}-frame windows", TRAIN_BATCH,
             config["window_frames"], True)]


def race(worker, preset, config, precision, label, batch, frames, training, steps, same) -> dict:
    import keras

    keras.backend.clear_session()
    ours = keras_runner(preset, precision, batch, frames, training)
    ours()  # warm-up: tracing, allocation
    worker.ask(op="setup", config=config, precision=precision, batch=batch, frames=frames, training=training)
    seconds = {"avse_tf": math.inf, "pytorch": math.inf}
    for _ in range(ROUNDS):
        seconds["avse_tf"] = min(seconds["avse_tf"], best_of(ours, steps))
        seconds["pytorch"] = min(seconds["pytorch"], worker.ask(op="time", steps=steps)["seconds"])
    return {"model": f"vca_gan generator side ({preset})", "preset": preset, "precision": precision, "case": label,
            "batch": batch, "frames": frames, "training": training, "avse_tf_s": seconds["avse_tf"],
            "pytorch_s": seconds["pytorch"], "pytorch_over_avse_tf": seconds["pytorch"] / seconds["avse_tf"],
            "same_parameters": same}


def format_table(rows, threads) -> str:
    """``pytorch_race.format_table`` with the "same parameters" column in place of "same FLOPs"."""
    from tools.bench import pytorch_race

    rows = [{**row, "same_flops": row["same_parameters"]} for row in rows]
    return pytorch_race.format_table(rows, threads).replace("same FLOPs", "same parameters")


def check(worker, preset_names, frames=8) -> bool:
    """Parameter counts (the rule of :func:`torch_parameter_count`) and inference output shapes on one
    clip of ``frames`` frames, Keras against the twin."""
    import numpy as np

    from avse_tf.systems import presets

    ok = True
    for preset in preset_names:
        config, model = twin_config(preset), presets.from_preset(preset)
        twin = worker.ask(op="describe", config=config, frames=frames)
        keras_count, torch_count, torch_shapes = keras_parameter_count(model), twin["count"], twin["shapes"]
        size = config["crop_size"]
        outputs = model({"video": np.zeros([1, frames, size, size, 1], "float32"),
                         "video_length": np.array([frames], "int32")}, training=False)
        keras_shapes = {key: list(value.shape) for key, value in outputs.items()}
        same = keras_count == torch_count and keras_shapes == torch_shapes
        ok &= same
        print(f"{preset}: parameters Keras {keras_count} / torch {torch_count}; shapes at {frames} frames Keras "
              f"{keras_shapes} / torch {torch_shapes}: {'same' if same else 'DIFFERENT'}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="vca_gan_grid")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed calls per round (best taken)")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--cases", default="0,1", help="0: inference, 1: training step")
    parser.add_argument("--stem", default="conv3d", choices=("conv3d", "stack"),
                        help="the twin's stem: nn.Conv3d (default) or Keras' 2D conv over 5 stacked frames")
    parser.add_argument("--check", action="store_true",
                        help="only compare parameter counts and output shapes at vca_gan_grid and vca_gan_cpu")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return serve(args.threads)
    if torch_missing():
        return 0
    import tensorflow as tf

    start_threads(args.threads)
    worker = TorchWorker(args.threads, script=__file__)
    try:
        if args.check:
            return 0 if check(worker, ["vca_gan_grid", "vca_gan_cpu"]) else 1
        config = {**twin_config(args.preset), "stem_conv": args.stem}
        twin = worker.ask(op="describe", config=config)
        same, version = keras_parameter_count(args.preset) == twin["count"], twin["version"]
        rows = []
        for precision in args.precisions.split(","):
            for index in (int(i) for i in args.cases.split(",")):
                label, batch, frames, training = cases(config)[index]
                row = race(worker, args.preset, config, precision, label, batch, frames, training, args.steps, same)
                rows.append(row)
                print(f"{precision} {label}: avse_tf {row['avse_tf_s']:.4f} s, PyTorch {row['pytorch_s']:.4f} s, "
                      f"ratio {row['pytorch_over_avse_tf']:.2f}", file=sys.stderr, flush=True)
    finally:
        worker.close()
    print(format_table(rows, args.threads))
    print(f"TensorFlow {tf.__version__}, PyTorch {version}, stem {args.stem}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    if args.json:
        from avse_tf.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps({"threads": args.threads, "rows": rows,
                                                 "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
