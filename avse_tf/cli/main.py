"""Entry point of the ``avse`` console script and ``python -m avse_tf``.

The shared command modules and every registered system's ``cli`` module expose ``register(subparsers)``, which adds its sub-commands and sets
``func`` on them. Errors the user can fix (:class:`avse_tf.errors.UserInputError`) print one line
and exit with code 2; so do missing files, a full disk (:class:`avse_tf.errors.DiskFullError`) and
argparse usage errors. A sub-command that declares ``set_defaults(work_folder=...)`` runs holding the
lock of that folder (:mod:`avse_tf.workdir_lock`): a second avse process on it fails at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from avse_tf import __version__
from avse_tf.errors import InputWarning, UserInputError, disk_full_error

# Shared command modules; each system's command group comes from the registry
# (avse_tf.systems) between them, in registry order.
SHARED_COMMANDS = ("avse_tf.cli.shared", "avse_tf.cli.align", "avse_tf.cli.metrics", "avse_tf.cli.check_corpus",
                   "avse_tf.cli.preprocess", "avse_tf.cli.platform")
SHARED_COMMANDS_AFTER_SYSTEMS = ("avse_tf.cli.demo",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avse",
        description="Audio-visual speech models in TensorFlow / Keras.",
    )
    parser.add_argument("--version", action="version", version=f"avse_tf {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    from avse_tf.systems import all_systems

    for module_name in SHARED_COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    for system in all_systems():
        system.module(system.cli_module).register(subparsers)
    for module_name in SHARED_COMMANDS_AFTER_SYSTEMS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter (CPU feature notices) hides the one line that matters.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log (CUDA probing, oneDNN notices) silenced.

    Those lines are written before absl logging is initialised, so no environment variable hides
    them; stderr is pointed at a temporary file during the import and replayed only on failure.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow
            # Device discovery logs on first use, not on import. Listing the physical devices
            # triggers it without creating the logical ones (--cpu_replicas configures those later).
            tensorflow.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow


def _show_input_warnings() -> None:
    """Print :class:`InputWarning` as one ``avse: warning: ...`` line (no source line), every time."""
    import warnings

    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, InputWarning):
            print(f"avse: warning: {message}", file=sys.stderr, flush=True)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", InputWarning)


def _run_locked(args, argv):
    """Run the sub-command, holding the lock of the folder it writes if it declares one."""
    from avse_tf.workdir_lock import resolve_work_folder, work_folder_lock

    folder, create = resolve_work_folder(args)
    if folder is None:
        return args.func(args)
    command = "avse " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    with work_folder_lock(folder, command, create):
        return args.func(args)


def main(argv: list[str] | None = None) -> int:
    import warnings

    with warnings.catch_warnings():  # restores the caller's warning settings (main() called in-process)
        _show_input_warnings()
        return _run(argv)


def _run(argv) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = _run_locked(args, argv)
    except UserInputError as error:
        error = disk_full_error(error) or error
        print(f"avse: error: {error}", file=sys.stderr)
        return error.exit_code
    except FileNotFoundError as error:
        print(f"avse: error: file not found: {error.filename or error}; check the path", file=sys.stderr)
        return 2
    except Exception as error:  # only a full disk is turned into a message; the rest propagates
        full = disk_full_error(error)
        if full is None:
            raise
        if argv is None:  # the console script: h5py objects of the failed write complain when collected
            sys.unraisablehook = lambda unraisable: None
        print(f"avse: error: {full}", file=sys.stderr)
        return full.exit_code
    except KeyboardInterrupt:
        print("avse: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
