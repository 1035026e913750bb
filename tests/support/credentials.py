"""`turnout serve --credentials FILE` options for a test module's server."""

from __future__ import annotations

import pytest


def credentials_args(
    tmp_path_factory: pytest.TempPathFactory, key: str, secret: str
) -> tuple[str, ...]:
    """Writes a credentials file (~/.aws/credentials format) holding one key pair; the
    `turnout serve` options that make the server take only that pair."""
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(f"[tests]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    return ("--credentials", str(path))
