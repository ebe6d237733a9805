"""The URLs of legajo's IIIF resources, from one base address.

Every IIIF id is an absolute URL that dereferences to the resource: the server's
``--base-url`` when it was given one (behind a proxy), otherwise the address each request
came to. Collection names are percent-encoded as one path segment; pages are named by their
database ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from legajo.server.context import ServerContext

PREFIX = "/iiif"
"""Where the IIIF routes live."""


def segment(value: str) -> str:
    """`value` percent-encoded as one URL path segment (a slash included)."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class IiifUrls:
    """Builds the ids of legajo's IIIF resources.

    Attributes:
        base: The server's public address, without a trailing slash.
    """

    base: str

    @property
    def root(self) -> str:
        """The prefix of every IIIF route."""
        return self.base + PREFIX

    def collection_list(self) -> str:
        """The IIIF Collection that lists one manifest per legajo collection."""
        return f"{self.root}/collection.json"

    def manifest(self, collection: str) -> str:
        """A collection's manifest."""
        return f"{self.root}/{segment(collection)}/manifest.json"

    def canvas(self, collection: str, page_id: int) -> str:
        """The canvas of a page."""
        return f"{self.root}/{segment(collection)}/canvas/{page_id}"

    def painting_page(self, collection: str, page_id: int) -> str:
        """The annotation page that paints a page's image on its canvas."""
        return f"{self.canvas(collection, page_id)}/painting"

    def painting(self, collection: str, page_id: int) -> str:
        """The annotation that paints a page's image."""
        return f"{self.canvas(collection, page_id)}/painting/image"

    def transcription(self, collection: str, page_id: int) -> str:
        """The annotation page of a page's transcription (one annotation per line)."""
        return f"{self.root}/{segment(collection)}/annotations/{page_id}.json"

    def line_annotation(self, collection: str, page_id: int, line_id: int) -> str:
        """The annotation of one line of a page's transcription."""
        return f"{self.root}/{segment(collection)}/annotations/{page_id}/line/{line_id}"

    def image_service(self, page_id: int) -> str:
        """The Image API service of a page's image (``/info.json`` below it)."""
        return f"{self.root}/image/{page_id}"

    def full_image(self, page_id: int) -> str:
        """The whole image of a page as JPEG, through the image service."""
        return f"{self.image_service(page_id)}/full/max/0/default.jpg"

    def search(self, collection: str) -> str:
        """The Content Search 2 service of a collection."""
        return f"{self.root}/search/{segment(collection)}"

    def autocomplete(self, collection: str) -> str:
        """The Content Search 2 autocomplete service of a collection."""
        return f"{self.root}/autocomplete/{segment(collection)}"

    def search_v1(self, collection: str) -> str:
        """The Content Search 1 service of a collection (for Mirador 4, which reads only 1)."""
        return f"{self.root}/search1/{segment(collection)}"

    def autocomplete_v1(self, collection: str) -> str:
        """The Content Search 1 autocomplete service of a collection."""
        return f"{self.root}/autocomplete1/{segment(collection)}"

    def export(self, page_id: int, format_name: str) -> str:
        """A page's ALTO or PAGE XML export, from the JSON API."""
        return f"{self.base}/api/pages/{page_id}/export?format={format_name}"


def urls_for(context: ServerContext, request: Request) -> IiifUrls:
    """The URL builder of a request: the server's base URL, or the request's own."""
    base = context.base_url or str(request.base_url)
    return IiifUrls(base.rstrip("/"))
