"""Build hook: the wheel carries the bundled model as package data, ``htr/models/legajo-default``.

The model lives once, in ``data/models/legajo-default`` (the sdist takes it along through
MANIFEST.in); `BuildPyWithModel` copies it into the build tree, never into the source tree.
An editable install copies nothing: there `htr.default_model` finds the checkout's folder.
Before the packages are built, the page viewer's JavaScript (OpenSeadragon) and Mirador are
brought from npm when they are not there yet (``python -m ui.viewer.bundle``, ``python -m
legajo.server.iiif.bundle``), so the wheel carries them. All the project's metadata is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODEL_NAME = "legajo-default"
MODEL_SOURCE = ROOT / "data" / "models" / MODEL_NAME
BUNDLES = {
    "ui.viewer.bundle": ROOT / "ui/viewer/frontend/vendor/openseadragon/openseadragon.min.js",
    "legajo.server.iiif.bundle": ROOT / "legajo/server/iiif/mirador/vendor/mirador.min.js",
    "legajo.server.api.docs_bundle": ROOT / "legajo/server/api/docs/vendor/swagger-ui-bundle.js",
}
"""The build steps that bring JavaScript from npm, each with a file it must leave behind."""
MODEL_TARGET = Path("htr", "models", MODEL_NAME)
"""Where the model goes in the built package (see `htr.default_model`)."""


class BuildPyWithModel(build_py):
    """`build_py` that also copies the bundled model into ``htr/models/`` of the build tree."""

    def run(self) -> None:
        """Builds the packages, then copies the model next to them (not for editable installs)."""
        for module, script in BUNDLES.items():
            if not self.editable_mode and not script.is_file():
                # a separate process: the build's own environment need not import the package
                subprocess.run([sys.executable, "-m", module], cwd=ROOT, check=True)
        super().run()
        if self.editable_mode:
            return
        if not (MODEL_SOURCE / "config.json").is_file():
            raise FileNotFoundError(
                f"{MODEL_SOURCE} holds no model: a wheel without its default model is broken"
            )
        target = Path(self.build_lib) / MODEL_TARGET
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(MODEL_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The packages' files plus the model's, for the installation record."""
        outputs = list(super().get_outputs(include_bytecode))
        if self.editable_mode or not MODEL_SOURCE.is_dir():
            return outputs
        model = [
            str(Path(self.build_lib) / MODEL_TARGET / path.relative_to(MODEL_SOURCE))
            for path in sorted(MODEL_SOURCE.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        ]
        return outputs + model


setup(cmdclass={"build_py": BuildPyWithModel})
