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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from turnout.domain.resources import Model
from turnout.models import layout, registry
from turnout.models.errors import ArtifactError
from turnout.models.flavors.command import NAME as COMMAND
from turnout.models.layout import Listing
from turnout.models.requirements import check_requirements, requirement_warnings

MAX_CODE_BYTES = 512 * 1024 * 1024  # a source directory, downloaded or unpacked


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


def locate(artifact: str, what: str = "model artifact") -> Path:
    """The local path an artifact string names; ArtifactError if unsupported or missing."""
    scheme, separator, _ = artifact.partition("://")
    if separator:
        if scheme.lower() != "file":
            raise ArtifactError(
                f"{what} {artifact}: {scheme}:// is not supported yet; "
                "give a local directory, a .tar.gz, or a file:// URL"
            )
        url = urllib.parse.urlparse(artifact)
        if url.netloc not in ("", "localhost"):
            raise ArtifactError(
                f"{what} {artifact}: a file:// URL must name a local path "
                "(file:///path/to/model.tar.gz)"
            )
        path = Path(urllib.parse.unquote(url.path))
    else:
        path = Path(artifact).expanduser()
    if not path.exists():
        raise ArtifactError(f"{what} {artifact} does not exist")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise ArtifactError(f"{what} {artifact} is not readable by turnout")
    return path.absolute()


def detect_flavor(model_dir: Path, model: Model) -> str:
    """The flavor that serves `model` from its unpacked directory `model_dir`."""
    return _detect(Listing.of_directory(model_dir), model)


def inspect_artifact(model: Model) -> ArtifactReport:
    """Check at registration that the artifact exists, is readable and can be served."""
    path = locate(model.artifact)
    if path.is_dir():
        flavor = _detect(_with_submitted(Listing.of_directory(path), model), model)
        return ArtifactReport(flavor, check_requirements(path))
    listing, requirements = _scan_tarball(path, f"model artifact {model.artifact}")
    flavor = _detect(_with_submitted(listing, model), model)
    return ArtifactReport(flavor, requirement_warnings(requirements) if requirements else ())


def cache_key(model: Model) -> str:
    """The name of a model's unpacked directory in the cache: stable, unique per artifact."""
    identity = json.dumps([model.name, model.created_at, model.artifact])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', model.name)}-{digest}"


def prepare(model: Model, cache_dir: Path, code: Path | None = None) -> PreparedModel:
    """Make the artifact a local directory: a directory is used in place, a tarball unpacked.

    Unpacking goes to a private temporary directory renamed into place atomically, so a
    directory in the cache is always complete and concurrent callers agree on one copy.
    `code` is the local copy of the model's SAGEMAKER_SUBMIT_DIRECTORY (models/submit.py):
    it replaces the artifact's code/ (as SageMaker's framework containers do).
    """
    path = locate(model.artifact)
    if not path.is_dir():
        path = _unpack(path, model, cache_dir)
    if code is not None:
        path = _with_code(path, code, model, cache_dir)
    return PreparedModel(path, detect_flavor(path, model), check_requirements(path))


def _with_code(model_dir: Path, code: Path, model: Model, cache_dir: Path) -> Path:
    """A directory holding the model's files (linked, not copied) and `code` as code/."""
    source = f"{layout.SUBMIT_DIRECTORY} {layout.submit_directory(model.environment)}"

    def fill(into: Path) -> None:
        for entry in model_dir.iterdir():
            if entry.name != layout.CODE_DIR:
                os.symlink(entry.absolute(), into / entry.name)
        if code.is_dir():
            os.symlink(code.absolute(), into / layout.CODE_DIR)
        else:
            _extract(code, source, into / layout.CODE_DIR, MAX_CODE_BYTES)
        script = layout.script_name(model.environment)
        if not (into / layout.CODE_DIR / script).is_file():
            raise ArtifactError(
                f"{layout.PROGRAM} names {script}, which is not at the root of {source}: "
                f"set {layout.PROGRAM} to the entry point's path inside it"
            )

    return _build(cache_dir / f"{cache_key(model)}-code", source, fill)


def _with_submitted(listing: Listing, model: Model) -> Listing:
    """The listing as it will be once the model's SAGEMAKER_SUBMIT_DIRECTORY is fetched:
    its code/ replaced by the entry point alone (checked when an instance starts)."""
    if layout.submit_directory(model.environment) is None:
        return listing
    files = {name: x for name, x in listing.files.items() if not name.startswith("code/")}
    files[f"{layout.CODE_DIR}/{layout.script_name(model.environment)}"] = False
    return Listing(files)


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
        if flavor.script_mode and layout.PROGRAM in model.environment:
            script = registry.get(registry.SCRIPT)
            if script.detect(listing, model.environment):  # raises if the script is missing
                return script.name
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
            f"{artifact} is unsafe: member {member.name!r} is {problem}; "
            "rebuild the archive with paths relative to its root"
        )


def _open_tarball(path: Path, artifact: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except tarfile.ReadError:
        raise ArtifactError(f"{artifact} is neither a directory nor a .tar.gz archive") from None
    except OSError as err:
        if err.errno is not None:  # permissions, I/O
            raise ArtifactError(f"cannot read {artifact}: {err.strerror}") from None
        raise ArtifactError(f"{artifact} is a damaged archive: {err}") from None
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ArtifactError(f"{artifact} is a damaged archive: {err}") from None


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
            raise ArtifactError(f"{artifact} is a damaged archive: {err}") from None
    return Listing(files), requirements


def _unpack(path: Path, model: Model, cache_dir: Path) -> Path:
    label = f"model artifact {model.artifact}"
    return _build(cache_dir / cache_key(model), label, lambda into: _extract(path, label, into))


def _build(target: Path, artifact: str, fill: Callable[[Path], None]) -> Path:
    """`target`, filled by `fill` in a private scratch directory renamed into place once
    complete (a directory in the cache is always whole; concurrent builders agree on one)."""
    if target.is_dir():  # complete: only ever created by the rename below
        return target
    cache_dir = target.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache_dir))
    try:
        fill(scratch)
        os.chmod(scratch, 0o755)  # mkdtemp makes it private; keep the cache readable
        try:
            os.rename(scratch, target)
        except OSError as err:
            if not target.is_dir():  # not a lost race with another preparer: a real failure
                raise ArtifactError(f"cannot unpack {artifact} into {cache_dir}: {err}") from None
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def _extract(path: Path, artifact: str, into: Path, max_bytes: int | None = None) -> None:
    """Unpack the tarball at `path` (named `artifact` in errors) into the directory `into`;
    with `max_bytes`, refuse archives whose files add up to more than that."""
    with _open_tarball(path, artifact) as tar:
        try:
            members = tar.getmembers()
            for member in members:
                _check_member(member, artifact)
            total = sum(m.size for m in members if m.isfile())
            if max_bytes is not None and total > max_bytes:
                raise ArtifactError(
                    f"{artifact} unpacks to {total} bytes, more than the {max_bytes} turnout "
                    "accepts: make it smaller"
                )
            tar.extractall(into, members=members, filter="data")
        except tarfile.FilterError as err:
            raise ArtifactError(f"{artifact} is unsafe: {err}") from None
        except (tarfile.TarError, EOFError, ValueError, zlib.error) as err:
            raise ArtifactError(f"{artifact} is a damaged archive: {err}") from None
        except OSError as err:
            raise ArtifactError(f"cannot unpack {artifact}: {err}") from None
