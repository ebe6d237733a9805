"""The deep-zoom page viewer: OpenSeadragon with lines, hits and the page's text (`component`).

`payload` builds what it draws, `bundle` brings its JavaScript into the package at build time.
"""
