"""docs/sagemaker-sdk.md shows what tests/sdk runs: the scripts, inference.py and the SDK
config to the letter, and the same environment variables (no SDK needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.sdk.conftest import CONFIG, INFERENCE_PY, SCRIPTS, recipe

DOC = Path(__file__).resolve().parents[2] / "docs" / "sagemaker-sdk.md"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_each_script_is_in_the_doc_as_it_runs(script: str) -> None:
    assert (SCRIPTS / script).read_text() in DOC.read_text()


def test_the_handlers_and_the_sdk_config_are_in_the_doc() -> None:
    doc = DOC.read_text()
    assert INFERENCE_PY in doc
    assert CONFIG.read_text() in doc


def test_the_doc_exports_the_variables_the_tests_set() -> None:
    environment = DOC.read_text().split("## 2. The environment", 1)[1].split("\n## ", 1)[0]
    exported = set()
    for line in environment.splitlines():
        if line.startswith("export "):
            exported |= set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", line.split("#", 1)[0]))
    assert exported == set(recipe("http://turnout", "http://s3"))
