from __future__ import annotations

import io
import multiprocessing
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.models import (
    make_command_model,
    make_inference_model,
    make_sklearn_model,
    make_tarball,
)
from turnout.domain.resources import Model
from turnout.models.artifact import (
    ArtifactError,
    cache_key,
    detect_flavor,
    inspect_artifact,
    locate,
    prepare,
)


def model_of(artifact: Path | str, **fields: object) -> Model:
    return Model(name="m", artifact=str(artifact), **fields)  # type: ignore[arg-type]


def touch(path: Path, text: str = "x", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def tarball(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isfile():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.mode = kind, linkname, 0o644
    return member


# -- locating ---------------------------------------------------------------------------


def test_locate_a_directory_and_a_file_url(tmp_path: Path) -> None:
    folder = tmp_path / "my model"
    folder.mkdir()
    assert locate(str(folder)) == folder
    assert locate("file://" + str(folder).replace(" ", "%20")) == folder
    assert locate("file://localhost" + str(folder)) == folder


def test_other_schemes_are_not_supported_yet() -> None:
    with pytest.raises(ArtifactError, match=r"s3:// is not supported yet"):
        locate("s3://bucket/model.tar.gz")


def test_a_missing_artifact_says_so(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.tar.gz")
    with pytest.raises(ArtifactError, match=rf"^model artifact {missing} does not exist$"):
        locate(missing)


def test_a_file_url_with_a_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="local path"):
        locate("file://otherhost" + str(tmp_path))


# -- flavor detection -------------------------------------------------------------------


def test_detect_sklearn_from_a_single_pickle(tmp_path: Path) -> None:
    touch(tmp_path / "estimator.pkl")
    touch(tmp_path / "README.md")
    assert detect_flavor(tmp_path, model_of(tmp_path)) == "sklearn"


def test_detect_prefers_model_joblib_among_several(tmp_path: Path) -> None:
    touch(tmp_path / "model.joblib")
    touch(tmp_path / "scaler.pkl")
    assert detect_flavor(tmp_path, model_of(tmp_path)) == "sklearn"


def test_several_model_files_without_model_joblib_is_ambiguous(tmp_path: Path) -> None:
    touch(tmp_path / "a.pkl")
    touch(tmp_path / "b.joblib")
    with pytest.raises(ArtifactError, match=r"a\.pkl, b\.joblib.*model\.joblib"):
        detect_flavor(tmp_path, model_of(tmp_path))


def test_detect_inference_script(tmp_path: Path) -> None:
    make_inference_model(tmp_path)
    assert detect_flavor(tmp_path, model_of(tmp_path)) == "inference"


def test_sagemaker_program_names_the_script(tmp_path: Path) -> None:
    touch(tmp_path / "code" / "serve_it.py")
    model = model_of(tmp_path, environment={"SAGEMAKER_PROGRAM": "serve_it.py"})
    assert detect_flavor(tmp_path, model) == "inference"
    lacking = model_of(tmp_path, environment={"SAGEMAKER_PROGRAM": "other.py"})
    with pytest.raises(ArtifactError, match=r"code/other\.py"):
        detect_flavor(tmp_path, lacking)


def test_a_command_wins(tmp_path: Path) -> None:
    make_sklearn_model(tmp_path)
    assert detect_flavor(tmp_path, model_of(tmp_path, command=("x",))) == "command"


def test_an_executable_serve_is_a_command(tmp_path: Path) -> None:
    make_command_model(tmp_path)
    assert detect_flavor(tmp_path, model_of(tmp_path)) == "command"


def test_a_serve_that_is_not_executable_is_not_enough(tmp_path: Path) -> None:
    touch(tmp_path / "serve", mode=0o644)
    with pytest.raises(ArtifactError, match="cannot tell how to serve"):
        detect_flavor(tmp_path, model_of(tmp_path))


def test_cannot_tell_says_what_to_add(tmp_path: Path) -> None:
    touch(tmp_path / "notes.txt")
    expected = (
        f"cannot tell how to serve {tmp_path}: add code/inference.py, an MLmodel file, "
        "a .onnx file, an xgboost-model file, a .joblib/.pkl file, or give a command"
    )
    with pytest.raises(ArtifactError) as caught:
        detect_flavor(tmp_path, model_of(tmp_path))
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    ("files", "flavor"),
    [
        (("MLmodel", "model.pkl", "requirements.txt"), "mlflow"),  # not sklearn
        (("classifier.onnx", "model.joblib"), "onnx"),  # a converted model beside its pickle
        (("xgboost-model",), "xgboost"),
        (("booster.ubj",), "xgboost"),
        (("model.bst", "notes.json"), "xgboost"),
    ],
)
def test_detect_by_file_names(tmp_path: Path, files: tuple[str, ...], flavor: str) -> None:
    for name in files:
        touch(tmp_path / name)
    assert detect_flavor(tmp_path, model_of(tmp_path)) == flavor


def test_several_onnx_files_need_a_model_onnx(tmp_path: Path) -> None:
    touch(tmp_path / "a.onnx")
    touch(tmp_path / "b.onnx")
    with pytest.raises(ArtifactError, match=r"several \.onnx files \(a\.onnx, b\.onnx\)"):
        detect_flavor(tmp_path, model_of(tmp_path, flavor="onnx"))
    touch(tmp_path / "model.onnx")
    assert detect_flavor(tmp_path, model_of(tmp_path)) == "onnx"


def test_a_json_booster_only_when_the_flavor_is_named(tmp_path: Path) -> None:
    touch(tmp_path / "booster.json")
    with pytest.raises(ArtifactError, match="cannot tell how to serve"):
        detect_flavor(tmp_path, model_of(tmp_path))
    assert detect_flavor(tmp_path, model_of(tmp_path, flavor="xgboost")) == "xgboost"


def test_a_lone_file_is_the_booster_of_an_explicit_xgboost_model(tmp_path: Path) -> None:
    touch(tmp_path / "model")  # the container loads the first file it finds
    assert detect_flavor(tmp_path, model_of(tmp_path, flavor="xgboost")) == "xgboost"
    touch(tmp_path / "other")
    with pytest.raises(ArtifactError, match="has no xgboost-model file"):
        detect_flavor(tmp_path, model_of(tmp_path, flavor="xgboost"))


def test_an_explicit_flavor_wins(tmp_path: Path) -> None:
    make_inference_model(tmp_path)  # has model.joblib too
    assert detect_flavor(tmp_path, model_of(tmp_path, flavor="sklearn")) == "sklearn"


@pytest.mark.parametrize(
    ("flavor", "fragment"),
    [
        ("sklearn", r"no \.joblib/\.pkl/\.pickle file"),
        ("inference", r"no code/inference\.py"),
        ("command", r"no executable 'serve'"),
        ("onnx", r"has no \.onnx file at its root"),
        ("xgboost", r"has no xgboost-model file at its root \(nor one \.ubj, \.bst or \.json"),
        ("mlflow", r"has no MLmodel file at its root"),
    ],
)
def test_an_explicit_flavor_must_fit(tmp_path: Path, flavor: str, fragment: str) -> None:
    touch(tmp_path / "notes.txt")
    with pytest.raises(ArtifactError, match=fragment):
        detect_flavor(tmp_path, model_of(tmp_path, flavor=flavor))


def test_a_command_contradicting_the_flavor_is_refused(tmp_path: Path) -> None:
    make_sklearn_model(tmp_path)
    with pytest.raises(ArtifactError, match="gives a command"):
        detect_flavor(tmp_path, model_of(tmp_path, flavor="sklearn", command=("x",)))


# -- inspecting -------------------------------------------------------------------------


def test_inspect_a_directory_reports_flavor_and_requirements(tmp_path: Path) -> None:
    make_inference_model(tmp_path)
    touch(tmp_path / "code" / "requirements.txt", "numpy>=1\nturnout-no-such-package==1\n")
    report = inspect_artifact(model_of(tmp_path))
    assert report.flavor == "inference"
    assert len(report.warnings) == 1
    assert "turnout-no-such-package==1" in report.warnings[0]


def test_inspect_a_tarball_without_unpacking(tmp_path: Path) -> None:
    source = make_inference_model(tmp_path / "src")
    touch(source / "code" / "requirements.txt", "turnout-no-such-package\n")
    archive = make_tarball(source, tmp_path / "model.tar.gz")
    before = set(tmp_path.iterdir())
    report = inspect_artifact(model_of("file://" + str(archive)))
    assert report.flavor == "inference"
    assert ["turnout-no-such-package" in w for w in report.warnings] == [True]
    assert set(tmp_path.iterdir()) == before


def test_inspect_a_tarball_made_with_dot_paths(tmp_path: Path) -> None:
    archive = tarball(
        tmp_path / "model.tar.gz", [info(".", tarfile.DIRTYPE), info("./model.joblib")]
    )
    assert inspect_artifact(model_of(archive)).flavor == "sklearn"


def test_inspect_a_file_that_is_not_a_tarball(tmp_path: Path) -> None:
    bogus = touch(tmp_path / "model.tar.gz", "not a tarball")
    with pytest.raises(ArtifactError, match=r"neither a directory nor a \.tar\.gz"):
        inspect_artifact(model_of(bogus))


def test_inspect_a_truncated_tarball(tmp_path: Path) -> None:
    archive = make_tarball(make_sklearn_model(tmp_path / "src"), tmp_path / "model.tar.gz")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ArtifactError, match="damaged"):
        inspect_artifact(model_of(archive))


# -- preparing --------------------------------------------------------------------------


def test_a_directory_is_used_in_place(tmp_path: Path) -> None:
    source = make_sklearn_model(tmp_path / "src")
    cache = tmp_path / "cache"
    prepared = prepare(model_of(source), cache)
    assert prepared.path == source
    assert prepared.flavor == "sklearn"
    assert prepared.warnings == ()
    assert not cache.exists()


def test_a_tarball_is_unpacked_once(tmp_path: Path) -> None:
    archive = make_tarball(make_sklearn_model(tmp_path / "src"), tmp_path / "model.tar.gz")
    cache = tmp_path / "cache"
    model = model_of("file://" + str(archive))
    first = prepare(model, cache)
    assert first.path == cache / cache_key(model)
    assert first.path.name.startswith("m-")
    assert (first.path / "model.joblib").read_bytes() == (
        tmp_path / "src/model.joblib"
    ).read_bytes()
    assert first.flavor == "sklearn"
    (first.path / "marker").write_text("kept")
    assert prepare(model, cache).path == first.path
    assert (first.path / "marker").exists()  # reused, not unpacked again
    assert sorted(p.name for p in cache.iterdir()) == [first.path.name]


def test_the_cache_key_follows_name_creation_and_artifact() -> None:
    base = Model(name="m/1", artifact="/a.tar.gz", created_at=1.0)
    keys = {
        cache_key(base),
        cache_key(Model(name="m/1", artifact="/a.tar.gz", created_at=2.0)),
        cache_key(Model(name="m/1", artifact="/b.tar.gz", created_at=1.0)),
        cache_key(Model(name="m2", artifact="/a.tar.gz", created_at=1.0)),
    }
    assert len(keys) == 4
    assert "/" not in cache_key(base)
    assert cache_key(base) == cache_key(Model(name="m/1", artifact="/a.tar.gz", created_at=1.0))


def test_an_executable_serve_survives_the_tarball(tmp_path: Path) -> None:
    archive = make_tarball(make_command_model(tmp_path / "src"), tmp_path / "model.tar.gz")
    prepared = prepare(model_of(archive), tmp_path / "cache")
    assert prepared.flavor == "command"
    assert os.access(prepared.path / "serve", os.X_OK)


@pytest.mark.parametrize(
    "member",
    [
        info("/etc/evil"),
        info("../evil"),
        info("code/../../evil"),
        info("link", tarfile.SYMTYPE, "/etc/passwd"),
        info("code/link", tarfile.SYMTYPE, "../../outside"),
        info("hard", tarfile.LNKTYPE, "../outside"),
        info("fifo", tarfile.FIFOTYPE),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "symlink-abs", "symlink-up", "hardlink", "fifo"],
)
def test_unsafe_tarballs_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    archive = tarball(tmp_path / "model.tar.gz", [info("model.joblib"), member])
    cache = tmp_path / "cache"
    with pytest.raises(ArtifactError, match="unsafe"):
        inspect_artifact(model_of(archive))
    with pytest.raises(ArtifactError, match="unsafe"):
        prepare(model_of(archive), cache)
    assert list(cache.iterdir()) == []  # no half-unpacked leftovers
    assert not (tmp_path / "evil").exists()


def test_a_link_inside_the_archive_is_fine(tmp_path: Path) -> None:
    archive = tarball(
        tmp_path / "model.tar.gz",
        [
            info("v1.joblib"),
            info("code", tarfile.DIRTYPE),
            info("code/link", tarfile.SYMTYPE, "../v1.joblib"),
        ],
    )
    prepared = prepare(model_of(archive), tmp_path / "cache")
    assert (prepared.path / "code" / "link").resolve() == prepared.path / "v1.joblib"


def test_concurrent_prepares_in_threads_agree(tmp_path: Path) -> None:
    archive = make_tarball(make_inference_model(tmp_path / "src"), tmp_path / "model.tar.gz")
    cache = tmp_path / "cache"
    model = model_of(archive)
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: prepare(model, cache).path, range(16)))
    assert len(set(paths)) == 1
    assert sorted(p.name for p in cache.iterdir()) == [paths[0].name]


def _prepare_in_child(args: tuple[str, str]) -> str:
    artifact, cache = args
    return str(prepare(model_of(artifact), Path(cache)).path)


def test_concurrent_prepares_in_processes_agree(tmp_path: Path) -> None:
    archive = make_tarball(make_inference_model(tmp_path / "src"), tmp_path / "model.tar.gz")
    cache = tmp_path / "cache"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        paths = pool.map(_prepare_in_child, [(str(archive), str(cache))] * 8)
    assert len(set(paths)) == 1
    assert sorted(p.name for p in cache.iterdir()) == [Path(paths[0]).name]
    assert (Path(paths[0]) / "code" / "inference.py").is_file()
