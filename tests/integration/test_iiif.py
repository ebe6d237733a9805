"""IIIF over a real `legajo serve` on 127.0.0.1: Presentation 3, Content Search, Image API 3.

The archive is `tests.ui.archive` (three pages read by the memorised model) plus the Image API
validator's test pattern as a page of its own collection (`iiif_validation`). Manifests and
annotation pages are loaded back into ``iiif-prezi3``'s models, which validate every field.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from iiif_prezi3 import AnnotationPage, Collection, Manifest
from PIL import Image

from indexer.store.repository import Repository, StoredLine
from legajo.server.iiif.image_cache import CACHE_FOLDER
from legajo.server.iiif.presentation import ALTO_PROFILE, PAGE_PROFILE
from tests.integration.iiif_validation import (
    VALIDATOR_COLLECTION,
    add_validator_page,
    run_image_validator,
)
from tests.legajo_serve import running_server
from tests.ui.archive import COLLECTION, Archive, build_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, memorised_checkpoint: Path) -> Archive:
    archive = build_archive(tmp_path_factory.mktemp("iiif") / "home", memorised_checkpoint)
    repository = archive.repository()
    try:
        add_validator_page(repository, archive.storage.home / "validator")
    finally:
        repository.database.close()
    return archive


@pytest.fixture(scope="module")
def repository(archive: Archive) -> Iterator[Repository]:
    repository = archive.repository()
    yield repository
    repository.database.close()


@pytest.fixture(scope="module")
def server(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("log") / "legajo-serve.log"
    with running_server(archive.storage.home, log) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    return answer.json()


def collection_lines(repository: Repository) -> dict[int, list[StoredLine]]:
    return {page.id: repository.lines(page.id) for page in repository.pages(COLLECTION)}


# -- Presentation 3 -------------------------------------------------------------------------


def test_the_manifest_validates_with_one_canvas_per_page(
    client: httpx.Client, server: str, archive: Archive, repository: Repository
) -> None:
    data = get_json(client, f"/iiif/{COLLECTION}/manifest.json")
    Manifest(**data)  # iiif-prezi3's models check every field
    assert data["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert data["id"] == f"{server}/iiif/{COLLECTION}/manifest.json"
    pages = repository.pages(COLLECTION)
    assert [canvas["id"] for canvas in data["items"]] == [
        f"{server}/iiif/{COLLECTION}/canvas/{page.id}" for page in pages
    ]
    for canvas, path in zip(data["items"], archive.pages, strict=True):
        with Image.open(path) as image:
            assert (canvas["width"], canvas["height"]) == image.size
        assert canvas["label"] == {"none": [path.name]}
        [painting] = canvas["items"][0]["items"]
        assert painting["motivation"] == "painting"
        assert painting["target"] == canvas["id"]
        body = painting["body"]
        assert (body["width"], body["height"]) == (canvas["width"], canvas["height"])
        page_id = int(canvas["id"].rsplit("/", 1)[1])
        assert body["service"] == [
            {"id": f"{server}/iiif/image/{page_id}", "type": "ImageService3", "profile": "level1"}
        ]
        assert [(link["profile"], link["id"]) for link in canvas["seeAlso"]] == [
            (ALTO_PROFILE, f"{server}/api/pages/{page_id}/export?format=alto"),
            (PAGE_PROFILE, f"{server}/api/pages/{page_id}/export?format=page"),
        ]
        [transcription] = canvas["annotations"]
        assert transcription["id"] == f"{server}/iiif/{COLLECTION}/annotations/{page_id}.json"
    services = {service["type"]: service for service in data["service"]}
    assert services["SearchService2"]["id"] == f"{server}/iiif/search/{COLLECTION}"
    assert services["SearchService2"]["service"][0]["type"] == "AutoCompleteService2"
    assert services["SearchService1"]["profile"] == "http://iiif.io/api/search/1/search"


def test_see_also_links_lead_to_the_exports(client: httpx.Client) -> None:
    data = get_json(client, f"/iiif/{COLLECTION}/manifest.json")
    for link in data["items"][0]["seeAlso"]:
        answer = client.get(link["id"])
        assert answer.status_code == 200, answer.text
        assert answer.text.lstrip().startswith("<?xml")


def test_the_collection_lists_every_manifest(client: httpx.Client, server: str) -> None:
    data = get_json(client, "/iiif/collection.json")
    Collection(**data)
    assert [item["id"] for item in data["items"]] == [
        f"{server}/iiif/{COLLECTION}/manifest.json",
        f"{server}/iiif/{VALIDATOR_COLLECTION}/manifest.json",
    ]


def test_transcriptions_are_one_supplementing_annotation_per_line(
    client: httpx.Client, server: str, repository: Repository
) -> None:
    for page_id, lines in collection_lines(repository).items():
        data = get_json(client, f"/iiif/{COLLECTION}/annotations/{page_id}.json")
        AnnotationPage(**data)
        assert len(data["items"]) == len(lines) > 0
        for annotation, stored in zip(data["items"], lines, strict=True):
            line = stored.line
            assert annotation["motivation"] == "supplementing"
            assert annotation["body"] == {
                "type": "TextualBody",
                "value": line.text,
                "format": "text/plain",
            }
            target = annotation["target"]
            assert target["source"]["id"] == f"{server}/iiif/{COLLECTION}/canvas/{page_id}"
            fragment, svg = target["selector"]
            x0, y0, x1, y1 = line.bbox
            assert fragment["value"] == f"xywh={x0},{y0},{x1 - x0},{y1 - y0}"
            points = " ".join(f"{x},{y}" for x, y in line.polygon)
            assert svg["type"] == "SvgSelector" and f"points='{points}'" in svg["value"]


def test_unknown_collections_and_pages_are_404(
    client: httpx.Client, repository: Repository
) -> None:
    other = repository.pages(VALIDATOR_COLLECTION)[0].id
    for path in (
        "/iiif/nowhere/manifest.json",
        f"/iiif/{COLLECTION}/annotations/99999.json",
        f"/iiif/{COLLECTION}/annotations/{other}.json",  # a page of another collection
        f"/iiif/{COLLECTION}/annotations/..%2F1.json",
        "/iiif/search/nowhere?q=dios",
        "/iiif/autocomplete/nowhere?q=d",
    ):
        assert client.get(path).status_code == 404, path


# -- Content Search -------------------------------------------------------------------------


def test_search_hits_are_word_boxes_with_text_and_confidence(
    client: httpx.Client, server: str, repository: Repository
) -> None:
    data = get_json(client, f"/iiif/search/{COLLECTION}", q="dios")
    assert data["type"] == "AnnotationPage"
    assert "http://iiif.io/api/search/2/context.json" in data["@context"]
    expected = {}
    for page_id, lines in collection_lines(repository).items():
        for stored in lines:
            for word in stored.line.words:
                if word.text == "dios":
                    x0, y0, x1, y1 = word.bbox
                    canvas = f"{server}/iiif/{COLLECTION}/canvas/{page_id}"
                    expected[f"{canvas}#xywh={x0},{y0},{x1 - x0},{y1 - y0}"] = word.confidence
    assert len(expected) == 2  # folios 1 and 3
    boxed = {item["target"]: item for item in data["items"] if "/word/" in item["id"]}
    assert set(boxed) == set(expected)
    for target, item in boxed.items():
        assert item["body"]["value"] == "dios"
        assert item["confidence"] == pytest.approx(expected[target], abs=1e-6)
        assert item["motivation"] == "supplementing"
    assert data["partOf"]["total"] >= 2
    contexts = {a["target"]["source"]["id"]: a for a in data["annotations"][0]["items"]}
    first = next(iter(boxed.values()))
    [quote] = contexts[first["id"]]["target"]["selector"]
    assert (quote["prefix"], quote["exact"], quote["suffix"]) == ("en el nonbre de ", "dios", "")


def test_search_runs_in_auto_mode_with_variants(client: httpx.Client) -> None:
    # "nombre" is nowhere in the text; the spelling variant "nonbre" is
    data = get_json(client, f"/iiif/search/{COLLECTION}", q="nombre")
    assert "nonbre" in {item["body"]["value"] for item in data["items"]}


def test_search_1_answers_the_same_search_for_mirador(client: httpx.Client) -> None:
    data = get_json(client, f"/iiif/search1/{COLLECTION}", q="dios")
    assert data["@type"] == "sc:AnnotationList"
    ids = {resource["@id"] for resource in data["resources"]}
    assert data["hits"] and all(set(hit["annotations"]) <= ids for hit in data["hits"])
    assert data["hits"][0]["match"] == "dios"
    assert all("#xywh=" in resource["on"] for resource in data["resources"])


def test_empty_and_malformed_queries(client: httpx.Client) -> None:
    assert get_json(client, f"/iiif/search/{COLLECTION}", q="")["items"] == []
    answer = client.get(f"/iiif/search/{COLLECTION}", params={"q": '"unclosed'})
    assert answer.status_code == 400


def test_autocomplete_completes_from_the_word_index(client: httpx.Client, server: str) -> None:
    data = get_json(client, f"/iiif/autocomplete/{COLLECTION}", q="d")
    assert data["type"] == "TermPage"
    assert [(item["value"], item["total"]) for item in data["items"]] == [("de", 2), ("dios", 2)]
    assert data["items"][1]["service"][0]["id"] == f"{server}/iiif/search/{COLLECTION}?q=dios"
    assert get_json(client, f"/iiif/autocomplete/{COLLECTION}", q="zz")["items"] == []
    old = get_json(client, f"/iiif/autocomplete1/{COLLECTION}", q="am")
    assert [(term["match"], term["count"]) for term in old["terms"]] == [("amen", 2)]


# -- Image API 3 ----------------------------------------------------------------------------


def first_page(repository: Repository) -> tuple[int, int, int]:
    page = repository.pages(COLLECTION)[0]
    return page.id, page.width, page.height


def get_image(client: httpx.Client, path: str) -> Image.Image:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    return Image.open(io.BytesIO(answer.content))


def test_info_json_is_level_1(client: httpx.Client, server: str, repository: Repository) -> None:
    page_id, width, height = first_page(repository)
    data = get_json(client, f"/iiif/image/{page_id}/info.json")
    assert data["@context"] == "http://iiif.io/api/image/3/context.json"
    assert data["id"] == f"{server}/iiif/image/{page_id}"
    assert (data["type"], data["protocol"], data["profile"]) == (
        "ImageService3",
        "http://iiif.io/api/image",
        "level1",
    )
    assert (data["width"], data["height"]) == (width, height)
    answer = client.get(
        f"/iiif/image/{page_id}/info.json", headers={"Accept": "application/ld+json"}
    )
    assert answer.headers["content-type"].startswith("application/ld+json")
    redirect = client.get(f"/iiif/image/{page_id}")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"{server}/iiif/image/{page_id}/info.json"


def test_image_requests(client: httpx.Client, repository: Repository, archive: Archive) -> None:
    page_id, width, height = first_page(repository)
    base = f"/iiif/image/{page_id}"
    full = get_image(client, f"{base}/full/max/0/default.jpg")
    assert (full.format, full.size, full.mode) == ("JPEG", (width, height), "RGB")
    with Image.open(archive.pages[0]) as original:
        expected = original.convert("RGB").crop((30, 30, 130, 70))
    region = get_image(client, f"{base}/30,30,100,40/max/0/default.png")
    assert region.format == "PNG" and region.size == (100, 40)
    assert list(region.convert("RGB").getdata()) == list(expected.getdata())  # exact pixels
    assert get_image(client, f"{base}/full/320,/0/default.jpg").size == (320, round(height / 2))
    assert get_image(client, f"{base}/full/,{height // 2}/0/default.jpg").size[1] == height // 2
    assert get_image(client, f"{base}/full/pct:50/0/default.jpg").size == (
        round(width / 2),
        round(height / 2),
    )
    assert get_image(client, f"{base}/full/!100,100/0/default.jpg").size == (
        100,
        round(100 * height / width),
    )
    assert get_image(client, f"{base}/pct:0,0,50,50/max/0/default.jpg").size == (
        round(width / 2),
        round(height / 2),
    )
    square = get_image(client, f"{base}/square/max/0/default.jpg")
    assert square.size == (min(width, height),) * 2
    assert get_image(client, f"{base}/full/max/0/gray.jpg").mode == "L"
    # a region reaching past the edge is cut there
    assert get_image(client, f"{base}/{width - 10},0,100,20/max/0/default.jpg").size == (10, 20)


@pytest.mark.parametrize(
    "request_path",
    [
        "full/max/90/default.jpg",  # rotation other than 0
        "full/max/!0/default.jpg",  # mirroring
        "full/max/0/bitonal.jpg",
        "full/max/0/default.gif",
        "full/max/0/default",
        "full/full/0/default.jpg",  # 2.x syntax
        "full/^max/0/default.jpg",  # upscaling
        "full/100000,/0/default.jpg",  # larger than the image
        "full/0,/0/default.jpg",
        "0,0,0,10/max/0/default.jpg",  # empty region
        "100000,0,10,10/max/0/default.jpg",  # wholly outside
        "-1,0,10,10/max/0/default.jpg",
        "pct:200,0,10,10/max/0/default.jpg",
        "nonsense/max/0/default.jpg",
        "full/w,h/0/default.jpg",
    ],
)
def test_invalid_image_requests_are_400(
    client: httpx.Client, repository: Repository, request_path: str
) -> None:
    page_id = first_page(repository)[0]
    answer = client.get(f"/iiif/image/{page_id}/{request_path}")
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/iiif/image/0/full/max/0/default.jpg",
        "/iiif/image/99999/info.json",
        "/iiif/image/abc/info.json",
        "/iiif/image/..%2F..%2Flegajo.db/info.json",
        "/iiif/image/%2e%2e/full/max/0/default.jpg",
        "/iiif/image/1%2F..%2F2/full/max/0/default.jpg",
        "/iiif/image/..%252F1/info.json",
        "/iiif/image/1/full/max/0/..%2F..%2Flegajo.db",
        "/viewer/..%2F..%2Fapp.py",
        "/viewer/index.html",
    ],
)
def test_paths_never_escape(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (400, 404), (path, answer.status_code)
    assert b"SQLite format" not in answer.content and b"import" not in answer.content


def test_derivatives_are_cached(
    client: httpx.Client, repository: Repository, archive: Archive
) -> None:
    page_id = first_page(repository)[0]
    path = f"/iiif/image/{page_id}/10,10,50,50/max/0/gray.png"
    first = client.get(path)
    second = client.get(path)
    assert (first.headers["x-legajo-cache"], second.headers["x-legajo-cache"]) == ("miss", "hit")
    assert first.content == second.content
    cached = [p for p in (archive.storage.home / CACHE_FOLDER).rglob("*") if p.is_file()]
    assert cached and not [p for p in cached if p.name.endswith(".partial")]


def test_the_image_api_validator_passes_level_1(server: str, repository: Repository) -> None:
    if importlib.util.find_spec("iiif_validator") is None:
        message = "iiif-validator is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message)  # the dev extra installs it: in CI it must run
        pytest.skip(message)
    page_id = repository.pages(VALIDATOR_COLLECTION)[0].id
    outcomes = run_image_validator(server, str(page_id), max_level=1)
    assert len(outcomes) >= 20
    failed = [(o.name, o.message) for o in outcomes if not o.passed]
    assert failed == []
