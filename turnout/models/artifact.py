"""Find, check and unpack a model's artifact; tell which flavor serves it.

An artifact is a directory, a `.tar.gz` (SageMaker's `model.tar.gz`: files at the archive
root), or a `file://` URL to either. `inspect_artifact` is the fast check at registration
(it lists a tarball, never unpacks it); `prepare` unpacks into a cache once, safely when
several threads or processes prepare the same model at the same time.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path

from turnout.domain.resources import Model
from turnout.models import layout, registry
from turnout.models.errors import ArtifactError
from turnout.models.flavors.command import NAME as COMMAND
from turnout.models.layout import Listing
from turnout.models.requirements import check_requirements, requirement_warnings


@dataclass(frozen=True)
class ArtifactReport:
    """What registration learns about an artifact without unpacking it."""

    flavor: str  # a registered flavor's name, never auto
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class PreparedModel:
    path: Path  # directory holding the unpacked artifact
    flavor: str  # a registered flavor's name, never auto
    warnings: tuple[str, ...]  # e.g. code/requirements.txt items that are not installed


def locate(artifact: str) -> Path:
    """The local path an artifact string names; ArtifactError if unsupported or missing."""
    scheme, separator, _ = artifact.partition("://")
    if separator:
        if scheme.lower() != "file":
            raise ArtifactError(
                f"model artifact {artifact}: {scheme}:// is not supported yet; "
                "give a local directory, a .tar.gz, or a file:// URL"
            )
        url = urllib.parse.urlparse(artifact)
        if url.netloc not in ("", "localhost"):
            raise ArtifactError(
                f"model artifact {artifact}: a file:// URL must name a local path "
                "(file:///path/to/model.tar.gz)"
            )
        path = Path(urllib.parse.unquote(url.path))
    else:
        path = Path(artifact).expanduser()
    if not path.exists():
        raise ArtifactError(f"model artifact {artifact} does not exist")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise ArtifactError(f"model artifact {artifact} is not readable by turnout")
    return path.absolute()


def detect_flavor(model_dir: Path, model: Model) -> str:
    """The flavor that serves `model` from its unpacked directory `model_dir`."""
    return _detect(Listing.of_directory(model_dir), model)


def inspect_artifact(model: Model) -> ArtifactReport:
    """Check at registration that the artifact exists, is readable and can be served."""
    path = locate(model.artifact)
    if path.is_dir():
        flavor = detect_flavor(path, model)
        return ArtifactReport(flavor, check_requirements(path))
    listing, requirements = _scan_tarball(path, model.artifact)
    flavor = _detect(listing, model)
    return ArtifactReport(flavor, requirement_warnings(requirements) if requirements else ())


def cache_key(model: Model) -> str:
    """The name of a model's unpacked directory in the cache: stable, unique per artifact."""
    identity = json.dumps([model.name, model.created_at, model.artifact])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', model.name)}-{digest}"


def prepare(model: Model, cache_dir: Path) -> PreparedModel:
    """Make the artifact a local directory: a directory is used in place, a tarball unpacked.

    Unpacking goes to a private temporary directory renamed into place atomically, so a
    directory in the cache is always complete and concurrent callers agree on one copy.
    """
    path = locate(model.artifact)
    if not path.is_dir():
        path = _unpack(path, model, cache_dir)
    return PreparedModel(path, detect_flavor(path, model), check_requirements(path))


# -- flavor detection -------------------------------------------------------------------


def _detect(listing: Listing, model: Model) -> str:
    """The flavor's name: the one the model names if its files fit, else the first (by
    rank) whose files are there. Only the listing is read: nothing is imported or loaded."""
    artifact = model.artifact
    wanted = model.flavor
    if model.command:
        if wanted not in (registry.AUTO, COMMAND):
            raise ArtifactError(
                f"model {model.name} gives a command but has flavor {wanted}; "
                f"use flavor {COMMAND} (or {registry.AUTO}), or drop the command"
            )
        return COMMAND
    try:
        if wanted == registry.AUTO:
            for flavor in registry.flavors():
                if flavor.detect(listing, model.environment):
                    return flavor.name
            raise ArtifactError(_cannot_tell(listing, artifact))
        try:
            flavor = registry.get(wanted)
        except KeyError:
            raise ArtifactError(
                f"model {model.name} has flavor {wanted!r}, which turnout does not know; "
                f"use one of {', '.join(registry.names())}"
            ) from None
        if not flavor.fits(listing, model.environment):
            raise ArtifactError(
                f"model {model.name} has flavor {wanted} but {artifact} "
                f"{flavor.explain(listing, model.environment)}"
            )
        return flavor.name
    except ArtifactError as err:  # a flavor's own words name "the artifact"
        raise ArtifactError(str(err).replace("the artifact", artifact, 1)) from None


def _cannot_tell(listing: Listing, artifact: str) -> str:
    several = layout.model_files(listing)
    if several:
        return (
            f"cannot tell which model file in {artifact} to serve ({', '.join(several)}): "
            "name it model.joblib"
        )
    markers = [f.marker for f in registry.flavors() if f.marker]
    return f"cannot tell how to serve {artifact}: add {', '.join(markers)}, or give a command"


# -- tarballs ---------------------------------------------------------------------------


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):  # `tar czf model.tar.gz .` writes ./model.joblib
        name = name[2:]
    return name


def _escapes(path: str) -> bool:
    normal = posixpath.normpath(path)
    return normal == ".." or normal.startswith("../")


def _check_member(member: tarfile.TarInfo, artifact: str) -> None:
    """Refuse members that would land outside the directory (a second net under "data")."""
    name = _member_name(member)
    problem = None
    if name.startswith("/") or _escapes(name):
        problem = "a path outside the archive"
    elif member.issym():
        target = member.linkname
        if target.startswith("/") or _escapes(posixpath.join(posixpath.dirname(name), target)):
            problem = f"a link to {target}, outside the archive"
    elif member.islnk():
        if member.linkname.startswith("/") or _escapes(member.linkname):
            problem = f"a link to {member.linkname}, outside the archive"
    elif not (member.isfile() or member.isdir()):
        problem = "a device or other special file"
    if problem:
        raise ArtifactError(
            f"model artifact {artifact} is unsafe: member {member.name!r} is {problem}; "
            "rebuild the archive with paths relative to its root"
        )


def _open_tarball(path: Path, artifact: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except tarfile.ReadError:
        raise ArtifactError(
            f"model artifact {artifact} is neither a directory nor a .tar.gz archive"
        ) from None
    except OSError as err:
        if err.errno is not None:  # permissions, I/O
            raise ArtifactError(f"cannot read model artifact {artifact}: {err.strerror}") from None
        raise ArtifactError(f"model artifact {artifact} is a damaged archive: {err}") from None
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ArtifactError(f"model artifact {artifact} is a damaged archive: {err}") from None


def _scan_tarball(path: Path, artifact: str) -> tuple[Listing, str | None]:
    """The listing of a tarball and its code/requirements.txt text, read without unpacking."""
    files: dict[str, bool] = {}
    requirements = None
    with _open_tarball(path, artifact) as tar:
        try:
            for member in tar:
                _check_member(member, artifact)
                name = _member_name(member)
                top, _, rest = name.partition("/")
                relevant = not rest or (top == layout.CODE_DIR and "/" not in rest)
                if relevant and (member.isfile() or member.issym() or member.islnk()):
                    files[name] = bool(member.mode & 0o100) and member.isfile()
                if name == layout.REQUIREMENTS and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        requirements = handle.read().decode("utf-8", errors="replace")
        except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as err:
            raise ArtifactError(f"model artifact {artifact} is a damaged archive: {err}") from None
    return Listing(files), requirements


def _unpack(path: Path, model: Model, cache_dir: Path) -> Path:
    target = cache_dir / cache_key(model)
    if target.is_dir():  # complete: only ever created by the rename below
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache_dir))
    try:
        with _open_tarball(path, model.artifact) as tar:
            try:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, model.artifact)
                tar.extractall(scratch, members=members, filter="data")
            except tarfile.FilterError as err:
                raise ArtifactError(f"model artifact {model.artifact} is unsafe: {err}") from None
            except (tarfile.TarError, EOFError, ValueError, zlib.error) as err:
                raise ArtifactError(
                    f"model artifact {model.artifact} is a damaged archive: {err}"
                ) from None
            except OSError as err:
                raise ArtifactError(
                    f"cannot unpack model artifact {model.artifact} into {cache_dir}: {err}"
                ) from None
        os.chmod(scratch, 0o755)  # mkdtemp makes it private; keep the cache readable
        try:
            os.rename(scratch, target)
        except OSError as err:
            if not target.is_dir():  # not a lost race with another preparer: a real failure
                raise ArtifactError(
                    f"cannot unpack model artifact {model.artifact} into {cache_dir}: {err}"
                ) from None
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target
