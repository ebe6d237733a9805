"""Semantic index with real sentence models: the packaged all-MiniLM-L6-v2 and a tiny one.

all-MiniLM-L6-v2 is English-centric. What these tests pin down is what it does well: English
paraphrase, and Spanish queries that share words or word stems with Spanish passages.
(Spanish synonyms with no shared stem, "navío" for "nao", and English queries for Spanish
passages are not reliably found; see `indexer.search.semantic`.)
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from indexer.errors import SemanticModelError
from indexer.search import semantic
from indexer.search.semantic import SemanticIndex, load_sentence_model

PASSAGES = {
    1: "the galleon sailed from Seville to the Indies",
    2: "the price of wheat in the market rose this year",
    3: "el galeón partió de Sevilla hacia las Indias",
    4: "el rey mandó pagar los diezmos a la iglesia",
    5: "the bishop wrote a letter to the king",
    6: "se vendió una casa en la calle mayor por cien ducados",
    7: "murió el dicho Juan de una calentura en el hospital",
    8: "las naos llegaron al puerto de Cádiz cargadas de plata",
    9: "bautizé a una niña hija de Pedro y de María",
    # A window that starts at line 1 has id -1, the id FAISS uses for "no result".
    -1: "a baptism was recorded in the parish book",
}


@pytest.fixture(scope="module")
def index() -> SemanticIndex:
    built = SemanticIndex(device="cpu")
    built.build(PASSAGES.items())
    return built


@pytest.fixture
def fresh(index: SemanticIndex, tmp_path: Path) -> SemanticIndex:
    """A copy of the module's index that a test may change (the model stays cached)."""
    index.save(tmp_path / "copy.index")
    return SemanticIndex.load(tmp_path / "copy.index", device="cpu")


def _ids(hits: list[tuple[int, float]]) -> list[int]:
    return [passage_id for passage_id, _ in hits]


def test_an_english_paraphrase_finds_the_galleon_above_unrelated_passages(
    index: SemanticIndex,
) -> None:
    ranking = _ids(index.search("ship at sea", k=len(PASSAGES)))
    assert ranking[0] == 1
    assert all(ranking.index(1) < ranking.index(other) for other in (2, 5, 6, 7, 9))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("diezmos de la iglesia", 4),
        ("bautismo de una niña", 9),
        ("muerte en el hospital", 7),
        ("baptism of a girl", -1),
    ],
)
def test_queries_sharing_words_or_stems_find_their_passage(
    index: SemanticIndex, query: str, expected: int
) -> None:
    hits = index.search(query, k=3)
    assert hits[0][0] == expected


def test_hits_are_cosines_best_first(index: SemanticIndex) -> None:
    hits = index.search("galleon", k=4)
    assert len(hits) == 4
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= score <= 1.0 for score in scores)
    assert len(index.search("galleon", k=50)) == len(PASSAGES)


def test_an_exact_passage_text_finds_itself_with_cosine_one(index: SemanticIndex) -> None:
    passage_id, score = index.search(PASSAGES[6], k=1)[0]
    assert passage_id == 6
    assert score == pytest.approx(1.0, abs=1e-4)


def test_upsert_replaces_a_passage(fresh: SemanticIndex) -> None:
    fresh.upsert([(1, "the harvest of barley was poor")])
    assert len(fresh) == len(PASSAGES)
    assert fresh.search("the harvest of barley was poor", k=1)[0][0] == 1
    assert fresh.search("the galleon sailed to the Indies", k=1)[0][0] != 1


def test_upsert_adds_new_ids_and_a_blank_text_removes(fresh: SemanticIndex) -> None:
    fresh.upsert([(42, "a storm wrecked the fleet near Havana"), (9, "   ")])
    assert len(fresh) == len(PASSAGES)
    assert fresh.search("shipwreck in a tempest", k=1)[0][0] == 42
    assert 9 not in _ids(fresh.search("bautismo de una niña", k=len(PASSAGES)))


def test_remove_removes(fresh: SemanticIndex) -> None:
    fresh.remove([1, -1, 12345])
    assert len(fresh) == len(PASSAGES) - 2
    remaining = _ids(fresh.search("galleon baptism", k=len(PASSAGES)))
    assert set(remaining) == set(PASSAGES) - {1, -1}


def test_save_and_load_give_the_same_answers(index: SemanticIndex, tmp_path: Path) -> None:
    path = tmp_path / "semantic.index"
    index.save(path)
    header = SemanticIndex.read_header(path)
    assert (header.model_id, header.dimension, header.kind, header.count) == (
        semantic.DEFAULT_MODEL_ID,
        384,
        "exact",
        len(PASSAGES),
    )
    loaded = SemanticIndex.load(path, device="cpu")
    for query in ("ship at sea", "diezmos", "a baptism"):
        assert loaded.search(query, k=5) == index.search(query, k=5)


def test_the_model_is_loaded_once_per_process(index: SemanticIndex) -> None:
    index.search("warm up", k=1)
    assert load_sentence_model(device="cpu") is load_sentence_model(
        semantic.DEFAULT_MODEL_ID, device="cpu"
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 32-dimensional BERT with the packaged model's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-sentence-model")
    tokenizer = BertTokenizerFast.from_pretrained(semantic.resolve_model(None).location)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_any_model_directory_works_and_is_named_by_its_path(
    tiny_model: Path, tmp_path: Path
) -> None:
    index = SemanticIndex(tiny_model, device="cpu")
    index.build(PASSAGES.items())
    assert index.dimension == 32
    assert index.search(PASSAGES[3], k=1)[0][0] == 3
    index.save(tmp_path / "tiny.index")
    assert SemanticIndex.read_header(tmp_path / "tiny.index").model_id == str(tiny_model)
    assert len(SemanticIndex.load(tmp_path / "tiny.index", tiny_model, device="cpu")) == 10


def test_an_index_refuses_another_model(
    index: SemanticIndex, tiny_model: Path, tmp_path: Path
) -> None:
    path = tmp_path / "semantic.index"
    index.save(path)
    with pytest.raises(SemanticModelError, match="all-MiniLM-L6-v2"):
        SemanticIndex.load(path, tiny_model)


def test_an_unknown_hub_name_offline_is_a_clear_error() -> None:
    with pytest.raises(SemanticModelError, match="needs a network"):
        load_sentence_model("legajo-tests/no-such-model", device="cpu")


SUBJECTS = ("the captain", "the bishop", "a merchant", "the notary", "the widow", "el alcalde")
ACTIONS = ("sold", "bought", "sent", "recorded", "lost", "received")
OBJECTS = (
    "a cargo of silver",
    "forty sacks of wheat",
    "the tithes of the parish",
    "a house near the port",
    "letters from the king",
    "two horses and a mule",
    "the deed of the vineyard",
    "a chest of cloth",
)


@pytest.mark.slow
def test_ivf_finds_the_same_top_hits_as_exact_search(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    passages = [
        (number, f"{subject} {action} {thing}")
        for number, (subject, action, thing) in enumerate(
            itertools.product(SUBJECTS, ACTIONS, OBJECTS), start=1
        )
    ]
    # A few lists out of several per query, so the IVF search really is approximate.
    monkeypatch.setattr(semantic, "IVF_SCANNED_VECTORS", 150)
    lists = semantic.ivf_list_count(len(passages))
    assert 1 < semantic.ivf_probe_count(len(passages), lists) < lists
    exact = SemanticIndex(device="cpu")
    exact.build(passages)
    ivf = SemanticIndex(device="cpu", ivf_threshold=100)
    ivf.build(passages)
    assert (exact.kind, ivf.kind, len(ivf)) == ("exact", "ivf", len(passages))

    queries = [text for _, text in passages[::23]]
    for query in queries:
        assert ivf.search(query, k=1)[0][0] == exact.search(query, k=1)[0][0]

    ivf.upsert([(1, "the archbishop blessed the new cathedral")])
    ivf.remove([2])
    assert ivf.search("the archbishop blessed the new cathedral", k=1)[0][0] == 1
    assert 2 not in _ids(ivf.search(passages[1][1], k=20))

    ivf.save(tmp_path / "ivf.index")
    loaded = SemanticIndex.load(tmp_path / "ivf.index", device="cpu")
    assert (loaded.kind, len(loaded)) == ("ivf", len(passages) - 1)
    for query in queries:
        assert loaded.search(query, k=3) == ivf.search(query, k=3)
