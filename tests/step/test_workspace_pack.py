"""The workspace archive: deterministic, content-addressed, confined to the notebook's
folder, checked on unpack; and a step folder that hands files on and collects what a
step writes."""

from __future__ import annotations

import os
import tarfile

import pytest

from liminal_jupyter.step.runtime import StepFailed
from liminal_jupyter.step.workdir import FILES, collect_files, snapshot, step_folder
from liminal_jupyter.step.workspace_pack import (
    WorkspaceError,
    pack_workspace,
    unpack_workspace,
    workspace_reference,
)


def tree(root):
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("x\n1\n")
    (root / "data" / "raw" / "big.parquet").write_bytes(b"\0" * 10)
    (root / "config.yaml").write_text("a: 1\n")
    (root / "helpers.py").write_text("def f():\n    return 1\n")
    return root


PATHS = ["config.yaml", "data/", "helpers.py"]


def test_the_same_files_pack_to_the_same_bytes_whatever_their_times_and_order(tmp_path):
    one = pack_workspace(tree(tmp_path / "a"), PATHS, tmp_path / "out1")
    other = tree(tmp_path / "b")
    os.utime(other / "config.yaml", (1_000_000, 1_000_000))
    two = pack_workspace(other, list(reversed(PATHS)), tmp_path / "out2")
    assert one.sha256 == two.sha256 and one.path.read_bytes() == two.path.read_bytes()
    assert one.path.name == f"workspace-{one.sha256}.tar.gz"
    assert one.files == ["config.yaml", "data/raw/big.parquet", "data/train.csv", "helpers.py"]
    with tarfile.open(one.path) as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(0, 0, 0, "")}

    (other / "data" / "train.csv").write_text("x\n2\n")
    assert pack_workspace(other, PATHS, tmp_path / "out3").sha256 != one.sha256


def test_excluded_files_are_left_out(tmp_path):
    packed = pack_workspace(tree(tmp_path / "nb"), PATHS, tmp_path / "out",
                            exclude=["*.parquet"])
    assert "data/raw/big.parquet" not in packed.files


def test_a_symlink_out_of_the_folder_is_refused_and_one_inside_is_packed_as_its_content(
        tmp_path):
    folder = tree(tmp_path / "nb")
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "data" / "inside.csv").symlink_to(folder / "data" / "train.csv")
    packed = pack_workspace(folder, PATHS, tmp_path / "out")
    with tarfile.open(packed.path) as tar:
        member = tar.getmember("data/inside.csv")
        assert member.isfile() and tar.extractfile(member).read() == b"x\n1\n"

    (folder / "data" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(WorkspaceError, match=r"'data/escape.txt' is a symlink to .*secret.txt"):
        pack_workspace(folder, PATHS, tmp_path / "out")


def test_a_missing_file_names_the_step_that_reads_it(tmp_path):
    folder = tree(tmp_path / "nb")
    (folder / "config.yaml").unlink()
    with pytest.raises(WorkspaceError, match=r"'config.yaml' \(named by step 'load'\) does "
                                             "not exist"):
        pack_workspace(folder, PATHS, tmp_path / "out", owners={"config.yaml": "step 'load'"})


def test_a_large_workspace_is_a_warning_with_its_size_and_the_fix(tmp_path):
    packed = pack_workspace(tree(tmp_path / "nb"), PATHS, tmp_path / "out", warn_above=8)
    assert len(packed.warnings) == 1 and "liminal.exclude" in packed.warnings[0]
    assert "MiB (4 files)" in packed.warnings[0]


def test_unpacking_checks_the_hash_from_an_embedded_or_stored_archive(tmp_path):
    packed = pack_workspace(tree(tmp_path / "nb"), PATHS, tmp_path / "store")
    for n, reference in enumerate((workspace_reference(packed, None),
                                   workspace_reference(packed, str(tmp_path / "store")))):
        target = tmp_path / f"w{n}"
        target.mkdir()
        assert "helpers.py" in unpack_workspace(reference, target)
        assert (target / "data" / "train.csv").read_text() == "x\n1\n"
    changed = {**workspace_reference(packed, None), "sha256": "0" * 64}
    with pytest.raises(WorkspaceError, match="changed or truncated"):
        unpack_workspace(changed, tmp_path)


def test_a_step_folder_hands_files_on_collects_what_the_step_writes_and_is_removed(tmp_path):
    packed = pack_workspace(tree(tmp_path / "nb"), PATHS, tmp_path / "store")
    producer = tmp_path / "producer"
    (producer / FILES).mkdir(parents=True)
    (producer / FILES / "report.csv").write_text("a,1\n")
    out = tmp_path / "out"
    with step_folder(workspace_reference(packed, None), {"report.csv": producer},
                     out) as folder:
        assert (folder.path / "report.csv").read_text() == "a,1\n"
        assert (folder.path / "helpers.py").is_file()
        (folder.path / "config.yaml").write_text("a: 2\n")  # changed
        (folder.path / "plots").mkdir()
        (folder.path / "plots" / "roc.png").write_bytes(b"png")  # created
    assert folder.files == ["config.yaml", "plots/roc.png"]
    assert (out / FILES / "plots" / "roc.png").read_bytes() == b"png"
    assert folder.temporary and not folder.path.exists()

    with pytest.raises(StepFailed, match="no files/missing.csv"), \
            step_folder(None, {"missing.csv": producer}, out):
        pass


def test_file_outputs_beyond_the_cap_are_a_warning_naming_them(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(work)
    (work / "small.txt").write_bytes(b"x" * 10)
    (work / "big.bin").write_bytes(b"x" * 100)
    kept, warnings = collect_files(work, before, tmp_path / "out", cap=50)
    assert kept == ["small.txt"]
    assert "big.bin" in warnings[0] and "at most" in warnings[0]
