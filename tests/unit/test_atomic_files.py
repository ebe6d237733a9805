"""Tests for `htr.atomic_files`: whole files or none, no temporary files left, file modes."""

import os
import stat
from pathlib import Path
from typing import IO

import pytest

from htr.atomic_files import (
    PRIVATE_MODE,
    PUBLIC_MODE,
    write_atomically,
    write_bytes_atomically,
    write_text_atomically,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("durable", [True, False])
def test_a_write_replaces_the_whole_file(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old content, longer than the new")
    write_bytes_atomically(path, b"new", durable=durable)
    assert path.read_bytes() == b"new"
    assert _names(tmp_path) == ["file.bin"]


def test_a_write_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    write_text_atomically(path, "café\r\n")
    assert path.read_bytes() == "café\r\n".encode()
    assert _names(tmp_path) == ["new.json"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, error: BaseException
) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def fail(stream: IO[bytes]) -> None:
        stream.write(b"half")
        raise error

    with pytest.raises(type(error)):
        write_atomically(path, fail)
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["file.bin"]


def test_text_that_cannot_be_encoded_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(path, "ñ", encoding="ascii")
    assert path.read_text() == "old"
    assert _names(tmp_path) == ["file.txt"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_bytes_atomically(tmp_path / "missing" / "file.bin", b"x")
    assert _names(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_file_modes_are_private_by_default_and_public_on_request(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        private, public = tmp_path / "private", tmp_path / "public"
        private.write_bytes(b"old")  # replaced, so its mode does not carry over
        os.chmod(private, 0o644)
        write_bytes_atomically(private, b"x")
        write_bytes_atomically(public, b"x", mode=PUBLIC_MODE, durable=False)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(private.stat().st_mode) == PRIVATE_MODE
    assert stat.S_IMODE(public.stat().st_mode) == PUBLIC_MODE & ~0o022
