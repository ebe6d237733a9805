"""Data migrations on databases that hold pages (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from indexer.store.db import Database, migrations_folder, open_database, schema_revision
from indexer.store.repository import Repository
from tests.integration import test_postgres as backends
from tests.integration.test_search import PAGE_A, store

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_lines_corrected_before_0004_get_the_words_of_their_correction(database_url: str) -> None:
    database = open_database(database_url)
    repository = Repository(database)
    page = store(repository, "a", PAGE_A)
    first, second, third = repository.lines(page)
    repository.correct_line(second.id, "sepan todos quantos", "e", second.version)
    repository.confirm_line(third.id, "e", third.version)
    _migrate(database, "0003", down=True)
    # As an older legajo left them: the corrected line still has the recognizer's words.
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM words WHERE line_id = :id"), {"id": second.id})
        for position, word in enumerate(second.line.words):
            connection.execute(
                text(
                    "INSERT INTO words (line_id, position, text, confidence, x0, y0, x1, y1) "
                    "VALUES (:line, :position, :text, :confidence, :x0, :y0, :x1, :y1)"
                ),
                {
                    "line": second.id,
                    "position": position,
                    "text": word.text,
                    "confidence": word.confidence,
                    "x0": word.bbox[0],
                    "y0": word.bbox[1],
                    "x1": word.bbox[2],
                    "y1": word.bbox[3],
                },
            )
    assert [w.text for w in repository.lines(page)[1].line.words] == [
        "sepan",
        "quantos",
        "esta",
        "carta",
        "vieren",
    ]
    _migrate(database, "head")
    assert schema_revision(database) == "0007"
    after = repository.lines(page)
    corrected = after[1].line.words
    assert [(w.text, w.confidence) for w in corrected] == [
        ("sepan", 1.0),
        ("todos", 1.0),
        ("quantos", 1.0),
    ]
    # Three words for five boxes: the line's box is split among them, left to right.
    assert corrected[0].bbox[0] == second.line.bbox[0]
    assert corrected[0].bbox[2] <= corrected[1].bbox[0] <= corrected[2].bbox[0]
    confirmed = after[2].line.words
    assert [(w.text, w.bbox) for w in confirmed] == [(w.text, w.bbox) for w in third.line.words]
    assert {w.confidence for w in confirmed} == {1.0}
    assert after[0].line.words == first.line.words  # never verified: untouched
    database.close()
