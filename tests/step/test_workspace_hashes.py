"""Workspace files on disk: the exclude matcher and the content hashes cache keys use."""

from __future__ import annotations

import hashlib

from liminal_jupyter.step import workspace
from liminal_jupyter.step.workspace import excluded, hash_workspace_files


def tree(root):
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("x\n1\n")
    (root / "data" / "raw" / "big.parquet").write_bytes(b"\0" * 10)
    (root / "config.yaml").write_text("a: 1\n")
    return root


def test_exclude_patterns_match_paths_and_everything_inside_a_matching_folder():
    assert excluded("data/raw/big.parquet", ["data/raw"])
    assert excluded("data/raw/big.parquet", ["*.parquet"])
    assert excluded("data/raw/", ["data/raw/"])
    assert not excluded("data/train.csv", ["data/raw", "*.parquet"])
    assert excluded("x/.liminal/runs.db", [])
    assert excluded(".ipynb_checkpoints/nb.ipynb", [])


def test_a_file_hashes_its_bytes_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(workspace, "CHUNK", 3)  # several reads for a 7-byte file
    (tmp_path / "f.txt").write_bytes(b"abcdefg")
    assert hash_workspace_files(tmp_path, ["f.txt"]) == {
        "f.txt": hashlib.sha256(b"abcdefg").hexdigest()}


def test_a_folder_hash_changes_with_any_content_name_or_new_file(tmp_path):
    root = tree(tmp_path)

    def folder_hash(exclude=()):
        return hash_workspace_files(root, ["data/"], exclude)["data/"]

    first = folder_hash()
    assert folder_hash() == first
    (root / "data" / "train.csv").write_text("x\n2\n")
    edited = folder_hash()
    assert edited != first
    (root / "data" / "train.csv").rename(root / "data" / "renamed.csv")
    assert folder_hash() != edited
    renamed = folder_hash()
    (root / "data" / "new.csv").write_text("")
    assert folder_hash() != renamed


def test_excluded_content_does_not_change_a_folder_hash(tmp_path):
    root = tree(tmp_path)
    before = hash_workspace_files(root, ["data/"], ["*.parquet"])
    (root / "data" / "raw" / "big.parquet").write_bytes(b"changed")
    assert hash_workspace_files(root, ["data/"], ["*.parquet"]) == before
    assert hash_workspace_files(root, ["data/"]) != before


def test_a_vanished_path_hashes_as_missing(tmp_path):
    root = tree(tmp_path)
    assert hash_workspace_files(root, ["gone.csv", "gone/", "config.yaml"]) == {
        "gone.csv": "missing", "gone/": "missing",
        "config.yaml": hashlib.sha256(b"a: 1\n").hexdigest()}
