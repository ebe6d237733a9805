"""IIIF Presentation 3 for a legajo collection, built with ``iiif-prezi3``.

A collection is one manifest (legajo groups pages by collection): one canvas per indexed
page, of the page image's size in pixels, so canvas coordinates are page pixels. Each canvas
paints its image through the page's Image API service and points at one annotation page of
its transcription: one ``supplementing`` annotation per line, a ``TextualBody`` with the
line's current text, targeting the line's box (``FragmentSelector``, ``xywh``) and its polygon
(``SvgSelector``). Its ``seeAlso`` links are the page's ALTO and PAGE XML exports from the
JSON API. The manifest announces the collection's Content Search services.

The builders return plain JSON-ready dicts; ``iiif-prezi3``'s pydantic models check every
field on the way (a wrong type or a malformed id raises), and the tests load the output back
into them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from html import escape
from typing import Any

from iiif_prezi3 import (
    Annotation,
    AnnotationBody,
    AnnotationPage,
    AnnotationPageRefExtended,
    Canvas,
    Collection,
    FragmentSelector,
    LinkedResource,
    Manifest,
    ManifestRef,
    ServiceV3,
    SpecificResource,
    SVGSelector,
    TextualBody,
)

from htr.document import Line
from htr.types import BBox
from indexer.store.repository import PageSummary, StoredLine
from legajo.server.iiif.ids import IiifUrls

logger = logging.getLogger(__name__)

ALTO_PROFILE = "http://www.loc.gov/standards/alto/v4/alto.xsd"
PAGE_PROFILE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15/pagecontent.xsd"
SEARCH_1_PROFILE = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE_1_PROFILE = "http://iiif.io/api/search/1/autocomplete"


def _label(text: str) -> dict[str, list[str]]:
    return {"none": [text]}


def _as_json(resource: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resource.json())
    return data


def page_label(page: PageSummary) -> str:
    """How a page is named on its canvas: its file's name, and the frame of a multi-page file."""
    name = page.source_path.replace("\\", "/").rsplit("/", 1)[-1]
    return name if page.frame == 0 else f"{name} [{page.frame + 1}]"


def image_service(urls: IiifUrls, page_id: int) -> ServiceV3:
    """The Image API 3 service of a page (level 1, `legajo.server.iiif.image_api`)."""
    return ServiceV3(id=urls.image_service(page_id), type="ImageService3", profile="level1")


def search_services(urls: IiifUrls, collection: str) -> list[ServiceV3]:
    """Content Search 2 (with autocomplete), and the same search in Content Search 1.

    Mirador 4 finds a search service only by a Search 0 or 1 ``profile``; the Search 1
    service answers from the same search (`legajo.server.iiif.content_search`).
    """
    return [
        ServiceV3(
            id=urls.search(collection),
            type="SearchService2",
            service=[ServiceV3(id=urls.autocomplete(collection), type="AutoCompleteService2")],
        ),
        ServiceV3(
            id=urls.search_v1(collection),
            type="SearchService1",
            profile=SEARCH_1_PROFILE,
            service=[
                ServiceV3(
                    id=urls.autocomplete_v1(collection),
                    type="AutoCompleteService1",
                    profile=AUTOCOMPLETE_1_PROFILE,
                )
            ],
        ),
    ]


def exports(urls: IiifUrls, page_id: int) -> list[LinkedResource]:
    """The ``seeAlso`` links of a page: its ALTO and PAGE XML exports (JSON API)."""
    return [
        LinkedResource(
            id=urls.export(page_id, "alto"),
            type="Dataset",
            label=_label("ALTO XML"),
            format="application/xml",
            profile=ALTO_PROFILE,
        ),
        LinkedResource(
            id=urls.export(page_id, "page"),
            type="Dataset",
            label=_label("PAGE XML"),
            format="application/xml",
            profile=PAGE_PROFILE,
        ),
    ]


def canvas_of(urls: IiifUrls, page: PageSummary) -> Canvas:
    """The canvas of an indexed page: its image, its transcription's page, its exports."""
    canvas_id = urls.canvas(page.collection, page.id)
    image = AnnotationBody(
        id=urls.full_image(page.id),
        type="Image",
        format="image/jpeg",
        width=page.width,
        height=page.height,
        service=[image_service(urls, page.id)],
    )
    painting = Annotation(
        id=urls.painting(page.collection, page.id),
        motivation="painting",
        body=image,
        target=canvas_id,
    )
    return Canvas(
        id=canvas_id,
        label=_label(page_label(page)),
        width=page.width,
        height=page.height,
        items=[AnnotationPage(id=urls.painting_page(page.collection, page.id), items=[painting])],
        annotations=[
            AnnotationPageRefExtended(
                id=urls.transcription(page.collection, page.id),
                type="AnnotationPage",
                label=_label("Transcription"),
            )
        ],
        seeAlso=exports(urls, page.id),
    )


def build_manifest(urls: IiifUrls, collection: str, pages: Sequence[PageSummary]) -> dict[str, Any]:
    """The manifest of a collection: one canvas per page with an image (failed frames left out).

    Args:
        urls: Where the resources live.
        collection: The collection's name.
        pages: Its pages, in the order of `indexer.store.repository.Repository.pages`.
    """
    canvases = [canvas_of(urls, page) for page in pages if page.width > 0 and page.height > 0]
    manifest = Manifest(
        id=urls.manifest(collection),
        label=_label(collection),
        summary=_label(f"{len(canvases)} pages transcribed by legajo"),
        items=canvases,
        service=search_services(urls, collection),
    )
    logger.debug("manifest of %s: %d canvases", collection, len(canvases))
    return _as_json(manifest)


def build_collection_list(urls: IiifUrls, collections: Sequence[str]) -> dict[str, Any]:
    """A IIIF Collection listing one manifest per legajo collection."""
    return _as_json(
        Collection(
            id=urls.collection_list(),
            label=_label("legajo"),
            items=[
                ManifestRef(id=urls.manifest(name), type="Manifest", label=_label(name))
                for name in collections
            ],
        )
    )


def xywh(bbox: BBox) -> str:
    """A box (x0, y0, x1, y1) as a media-fragment ``xywh=x,y,w,h`` (width and height >= 1)."""
    x0, y0, x1, y1 = bbox
    return f"xywh={x0},{y0},{max(1, x1 - x0)},{max(1, y1 - y0)}"


def svg_polygon(line: Line) -> str | None:
    """The line's polygon as the SVG of an ``SvgSelector``; None without one."""
    if len(line.polygon) < 3:
        return None
    points = " ".join(f"{x},{y}" for x, y in line.polygon)
    return f"<svg xmlns='http://www.w3.org/2000/svg'><polygon points='{escape(points)}'/></svg>"


def line_annotation(
    urls: IiifUrls, collection: str, page_id: int, stored: StoredLine
) -> Annotation:
    """One line of a transcription as a ``supplementing`` annotation on its canvas."""
    line = stored.line
    selectors: list[Any] = [FragmentSelector(value=xywh(line.bbox))]
    polygon = svg_polygon(line)
    if polygon is not None:
        selectors.append(SVGSelector(value=polygon))
    return Annotation(
        id=urls.line_annotation(collection, page_id, stored.id),
        motivation="supplementing",
        body=TextualBody(value=line.text, format="text/plain"),
        target=SpecificResource(
            source={"id": urls.canvas(collection, page_id), "type": "Canvas"},
            selector=selectors,
        ),
    )


def build_transcription(
    urls: IiifUrls, collection: str, page_id: int, lines: Sequence[StoredLine]
) -> dict[str, Any]:
    """The annotation page of a page's transcription: one annotation per line, in reading order."""
    page = AnnotationPage(
        id=urls.transcription(collection, page_id),
        label=_label("Transcription"),
        items=[line_annotation(urls, collection, page_id, line) for line in lines],
    )
    return _as_json(page)
