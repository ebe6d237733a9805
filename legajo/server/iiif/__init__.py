"""IIIF under ``/iiif``: Presentation 3 manifests, Content Search 2, Image API 3 (level 1)."""
