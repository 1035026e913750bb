"""Where things live in a model directory (SageMaker's `model.tar.gz` layout).

The same rules serve two views of an artifact: an unpacked directory, and the member list of
a tarball that must not be unpacked just to be inspected. Both are reduced to a `Listing`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CODE_DIR = "code"
DEFAULT_SCRIPT = "inference.py"
REQUIREMENTS = "code/requirements.txt"
SERVE = "serve"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
PROGRAM = "SAGEMAKER_PROGRAM"
# The SDK's repacked model.tar.gz says its code is in the model: /opt/ml/model/code.
IN_MODEL_DIR = "/opt/ml/model"
MODEL_FILE_SUFFIXES = (".joblib", ".pkl", ".pickle")
PREFERRED_MODEL_FILE = "model.joblib"


@dataclass(frozen=True)
class Listing:
    """The files that matter for serving: those at the root and those in code/.

    `files` maps a relative POSIX path to whether it is executable by its owner.
    """

    files: Mapping[str, bool]

    @classmethod
    def of_directory(cls, model_dir: Path) -> Listing:
        files: dict[str, bool] = {}
        for base in (model_dir, model_dir / CODE_DIR):
            try:
                entries = list(os.scandir(base))
            except (FileNotFoundError, NotADirectoryError):
                continue
            prefix = "" if base == model_dir else CODE_DIR + "/"
            for entry in entries:
                if entry.is_file():  # follows symlinks, like opening the file would
                    mode = entry.stat().st_mode
                    files[prefix + entry.name] = bool(mode & stat.S_IXUSR)
        return cls(files)

    def root_files(self) -> list[str]:
        return sorted(name for name in self.files if "/" not in name)


def script_name(environment: Mapping[str, str]) -> str:
    """The handler script in code/: SAGEMAKER_PROGRAM (with or without .py), else inference.py."""
    program = environment.get(PROGRAM, "").strip()
    if not program:
        return DEFAULT_SCRIPT
    return program if program.endswith(".py") else program + ".py"


def submit_directory(environment: Mapping[str, str]) -> str | None:
    """Where the model's code comes from apart from its artifact (SageMaker script mode:
    an s3:// or file:// sourcedir.tar.gz or directory); None when the code is in the artifact."""
    url = environment.get(SUBMIT_DIRECTORY, "").strip()
    if not url or url.rstrip("/") == IN_MODEL_DIR or url.startswith(IN_MODEL_DIR + "/"):
        return None
    return url


def model_files(listing: Listing) -> list[str]:
    """Root files that look like a pickled estimator, sorted."""
    return [name for name in listing.root_files() if name.lower().endswith(MODEL_FILE_SUFFIXES)]


def pick_model_file(listing: Listing) -> str | None:
    """The one model file to load: the only one, or model.joblib among several."""
    candidates = model_files(listing)
    if len(candidates) == 1:
        return candidates[0]
    if PREFERRED_MODEL_FILE in candidates:
        return PREFERRED_MODEL_FILE
    return None


def has_serve(listing: Listing) -> bool:
    """SageMaker's bring-your-own-container convention: an executable `serve` at the root."""
    return listing.files.get(SERVE, False)
