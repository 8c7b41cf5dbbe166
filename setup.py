"""Install avse_tf: ``pip install .`` (extras: ``[test]``, ``[demo]``, ``[beam]``, ``[io]``)."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def requirements():
    with open(os.path.join(HERE, "requirements.txt"), encoding="utf-8") as handle:
        return [line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()]


def long_description():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def version():
    with open(os.path.join(HERE, "avse_tf", "__init__.py"), encoding="utf-8") as handle:
        return re.search(r'^__version__ = "([^"]+)"', handle.read(), re.MULTILINE).group(1)


setup(
    name="avse_tf",
    version=version(),
    # What the package includes now: three systems (lip-to-speech and pseudo-visual denoising are planned).
    description="Audio-visual speech models in TensorFlow 2 / Keras 3: face-landmark speech enhancement, "
                "speech inpainting and Speech2Vid (lip-to-speech and pseudo-visual denoising planned)",
    long_description=long_description(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["avse_tf", "avse_tf.*"]),
    # Each system folder ships its presets and its model card.
    package_data={"avse_tf.systems": ["*/presets/*.json", "*/README.md"]},
    install_requires=requirements(),
    extras_require={
        # mir_eval: reference BSS-eval that the tests compare our SDR with; librosa: reference mel / MFCC /
        # STFT / resampling that the tests compare our TF features with (at run time it would only wrap
        # soxr, at the cost of numba + scikit-learn); sounddevice: the live demo's test streams through
        # PortAudio (tools/ci/audio_setup.sh installs the system side).
        "test": ["pytest>=7", "pytest-xdist>=3.5", "mir_eval>=0.7", "librosa>=0.10", "sounddevice>=0.4",
                 "apache-beam>=2.60"],
        # `avse preprocess --runner direct|flink|spark|dataflow|portable`: corpus preparation on Apache Beam
        # (tested: apache-beam 2.77 with TensorFlow 2.21, which resolves protobuf to 6.33; README, "Beam").
        "beam": ["apache-beam>=2.60"],
        # The live demo streams through PortAudio (a system library: apt-get install libportaudio2).
        "demo": ["sounddevice>=0.4"],
        # tensorflow-io's native ops load only on the TF 2.16 line (unmaintained since); core code
        # uses tf.signal / tf.io / tf.data instead.
        "io": ["tensorflow-io>=0.37; python_version < '3.13'", "tensorflow>=2.16,<2.17"],
        # LWS phase reconstruction for speech inpainting (Morrone 2021); it compiles from source
        # (no wheel for Python 3.11), so it is optional: Griffin-Lim is used without it.
        "lws": ["lws>=1.2"],
    },
    entry_points={"console_scripts": ["avse = avse_tf.cli.main:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: Multimedia :: Sound/Audio :: Speech"],
)
