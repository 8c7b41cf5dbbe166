"""Entry point of the ``avse`` console script and ``python -m avse_tf``.

The shared command modules and every registered system's ``cli`` module expose ``register(subparsers)``, which adds its sub-commands and sets
``func`` on them. Errors the user can fix (:class:`avse_tf.errors.UserInputError`) print one line
and exit with code 2; so do missing files and argparse usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from avse_tf import __version__
from avse_tf.errors import InputWarning, UserInputError

# Shared command modules; each system's command group comes from the registry
# (avse_tf.systems) between them, in registry order.
SHARED_COMMANDS = ("avse_tf.cli.shared", "avse_tf.cli.metrics", "avse_tf.cli.platform")
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
        result = args.func(args)
    except UserInputError as error:
        print(f"avse: error: {error}", file=sys.stderr)
        return error.exit_code
    except FileNotFoundError as error:
        print(f"avse: error: file not found: {error.filename or error}; check the path", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("avse: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
