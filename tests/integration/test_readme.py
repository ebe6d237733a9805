"""The README's Python API section, run as it stands: its code blocks in order, in one
namespace, in an empty folder that has the repository's ``data/`` beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # the bundled model reads the three sample pages

SECTION = re.compile(r"^## Python API\n(.*?)^## ", re.S | re.M)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def api_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = SECTION.search(readme)
    assert section, "the README has no '## Python API' section"
    return BLOCK.findall(section.group(1))


def test_the_python_api_section_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = api_blocks()
    assert len(blocks) == 3 and all(len(b.strip().splitlines()) <= 4 for b in blocks)
    (tmp_path / "data").symlink_to(REPO / "data")
    monkeypatch.chdir(tmp_path)
    for name in ("LEGAJO_HOME", "LEGAJO_DB", "LEGAJO_MODEL"):
        monkeypatch.delenv(name, raising=False)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    pages, hits = namespace["pages"], namespace["hits"]
    assert isinstance(pages, list) and pages[0].lines  # type: ignore[attr-defined]
    assert capsys.readouterr().out.strip()
    assert hits and all(hit.words for hit in hits)  # type: ignore[attr-defined]
    assert (tmp_path / "legajo-data" / "legajo.db").is_file()
    exported = sorted(p.name for p in (tmp_path / "export").rglob("*.xml"))
    assert len(exported) == 3, exported
    corrected = (tmp_path / "export").rglob("*.xml")
    assert any('CONTENT="alfonso"' in p.read_text(encoding="utf-8") for p in corrected)
