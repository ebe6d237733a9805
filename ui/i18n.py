"""The workbench's messages in English and Spanish.

Each message is a `str.format` template with named fields; both languages have the same
fields (a test checks it). Messages are Markdown, as Streamlit shows labels; values that come
from the data are escaped by the caller (`ui.text.escape_markdown`).
"""

from __future__ import annotations

import logging
from typing import Any

from ui.config import UI_LANGUAGES

logger = logging.getLogger(__name__)

LANGUAGE_NAMES = {"en": "English", "es": "Español"}
"""Each interface language, named in itself."""

MESSAGES: dict[str, dict[str, str]] = {
    # navigation and sidebar
    "nav.search": {"en": "Search", "es": "Buscar"},
    "nav.page": {"en": "Page", "es": "Página"},
    "nav.correct": {"en": "Correct", "es": "Corregir"},
    "nav.review": {"en": "Review", "es": "Revisar"},
    "nav.collections": {"en": "Collections", "es": "Colecciones"},
    "sidebar.editor": {"en": "Your name", "es": "Su nombre"},
    "sidebar.editor_placeholder": {
        "en": "needed to save corrections",
        "es": "necesario para guardar correcciones",
    },
    "sidebar.editor_help": {
        "en": "Every correction is stored with the name of who made it.",
        "es": "Cada corrección se guarda con el nombre de quien la hizo.",
    },
    "sidebar.read_only": {
        "en": "Read-only: corrections are switched off on this server.",
        "es": "Solo lectura: las correcciones están desactivadas en este servidor.",
    },
    "sidebar.database": {"en": "Database: {url}", "es": "Base de datos: {url}"},
    "sidebar.account": {
        "en": "Logged in as **{name}** ({role})",
        "es": "Sesión iniciada como **{name}** ({role})",
    },
    "sidebar.log_out": {"en": "Log out", "es": "Cerrar sesión"},
    "sidebar.viewer": {
        "en": "Your account can search and read; correcting needs an editor's account.",
        "es": "Su cuenta puede buscar y leer; para corregir hace falta una cuenta de editor.",
    },
    "role.viewer": {"en": "viewer", "es": "lector"},
    "role.editor": {"en": "editor", "es": "editor"},
    "role.admin": {"en": "admin", "es": "administrador"},
    # login
    "login.title": {"en": "Log in", "es": "Iniciar sesión"},
    "login.intro": {
        "en": "This archive has accounts: log in with your name and password.",
        "es": "Este archivo tiene cuentas: inicie sesión con su nombre y contraseña.",
    },
    "login.name": {"en": "Name", "es": "Nombre"},
    "login.password": {"en": "Password", "es": "Contraseña"},
    "login.submit": {"en": "Log in", "es": "Entrar"},
    "login.failed": {
        "en": "Wrong name or password.",
        "es": "Nombre o contraseña incorrectos.",
    },
    # shared
    "common.collection": {"en": "Collection", "es": "Colección"},
    "common.page": {"en": "Page", "es": "Página"},
    "common.line": {"en": "Line", "es": "Línea"},
    "common.page_choice": {"en": "{page} ({lines} lines)", "es": "{page} ({lines} líneas)"},
    "common.no_collections": {
        "en": "Nothing is indexed yet: run `legajo index` on a folder of page images.",
        "es": "Aún no hay nada indexado: ejecute `legajo index` sobre una carpeta de imágenes.",
    },
    "common.no_pages": {
        "en": "This collection has no indexed page.",
        "es": "Esta colección no tiene páginas indexadas.",
    },
    "common.empty_line": {"en": "(empty line)", "es": "(línea vacía)"},
    "image.unavailable": {
        "en": "The page image cannot be read.",
        "es": "No se puede leer la imagen de la página.",
    },
    "image.unavailable_reason": {
        "en": "The page image cannot be read: {reason}",
        "es": "No se puede leer la imagen de la página: {reason}",
    },
    # search
    "search.title": {"en": "Search the archive", "es": "Buscar en el archivo"},
    "search.query": {"en": "Words to find", "es": "Palabras que buscar"},
    "search.placeholder": {
        "en": 'a name, a place, "a phrase", word*, -excluded',
        "es": 'un nombre, un lugar, "una frase", palabra*, -excluida',
    },
    "search.mode": {"en": "Mode", "es": "Modo"},
    "search.mode_help": {
        "en": "Auto combines the probable readings, spelling variants and near misses. Exact "
        "looks only at the best reading; Meaning finds lines about the same thing.",
        "es": "Automático combina lecturas probables, variantes gráficas y parecidos. Exacto "
        "mira solo la mejor lectura; Sentido encuentra líneas que tratan de lo mismo.",
    },
    "search.mode.auto": {"en": "Auto", "es": "Automático"},
    "search.mode.exact": {"en": "Exact", "es": "Exacto"},
    "search.mode.prob": {"en": "Probable", "es": "Probable"},
    "search.mode.fuzzy": {"en": "Fuzzy", "es": "Aproximado"},
    "search.mode.semantic": {"en": "Meaning", "es": "Sentido"},
    "search.all_collections": {"en": "All collections", "es": "Todas las colecciones"},
    "search.min_confidence": {"en": "Minimum confidence", "es": "Confianza mínima"},
    "search.min_confidence_help": {
        "en": "Leave out hits whose matched words were read with less confidence.",
        "es": "Omitir resultados cuyas palabras se leyeron con menos confianza.",
    },
    "search.submit": {"en": "Search", "es": "Buscar"},
    "search.empty": {
        "en": "Type a word and press Enter.",
        "es": "Escriba una palabra y pulse Intro.",
    },
    "search.searching": {"en": "Searching…", "es": "Buscando…"},
    "search.syntax_error": {
        "en": "The query cannot be read: {error}",
        "es": "No se entiende la consulta: {error}",
    },
    "search.timeout": {
        "en": "The search took too long; try more precise words.",
        "es": "La búsqueda tardó demasiado; pruebe con palabras más precisas.",
    },
    "search.no_hits": {"en": "No hits for {query}.", "es": "Ningún resultado para {query}."},
    "search.summary": {
        "en": "Hits {first}–{last} of {total} · {seconds} s",
        "es": "Resultados {first}–{last} de {total} · {seconds} s",
    },
    "search.download_help": {
        "en": "The first {limit} hits of this search.",
        "es": "Los primeros {limit} resultados de esta búsqueda.",
    },
    "search.open_page": {"en": "Open the page", "es": "Abrir la página"},
    "search.line_gone": {
        "en": "This line is no longer in the database.",
        "es": "Esta línea ya no está en la base de datos.",
    },
    "search.previous": {"en": "Previous", "es": "Anteriores"},
    "search.next": {"en": "Next", "es": "Siguientes"},
    "search.results_page": {
        "en": "Results page {number} of {pages}",
        "es": "Página {number} de {pages} de resultados",
    },
    "search.unknown_collection": {
        "en": "That collection no longer exists.",
        "es": "Esa colección ya no existe.",
    },
    "search.url_invalid": {
        "en": "This link's `{name}` value “{value}” cannot be used; it was left out.",
        "es": "El valor “{value}” de `{name}` de este enlace no sirve; se omitió.",
    },
    "search.link": {"en": "Link to this search", "es": "Enlace a esta búsqueda"},
    "search.link_help": {
        "en": "Copy this address to come back to exactly these results, or to share them.",
        "es": "Copie esta dirección para volver a estos mismos resultados o compartirlos.",
    },
    "search.sort": {"en": "Order", "es": "Orden"},
    "search.sort.relevance": {"en": "Relevance", "es": "Relevancia"},
    "search.sort.document": {"en": "Document order", "es": "Orden del documento"},
    "search.sort_help": {
        "en": "Relevance: the documents whose hits score best together come first. Document "
        "order: documents by file path, pages in order, lines from top to bottom.",
        "es": "Relevancia: primero los documentos cuyos resultados puntúan mejor juntos. Orden "
        "del documento: documentos por ruta, páginas en orden, líneas de arriba abajo.",
    },
    "search.facet.collection": {"en": "Collection", "es": "Colección"},
    "search.facet.folder": {"en": "Folder", "es": "Carpeta"},
    "search.facet.band": {"en": "Word confidence", "es": "Confianza de la palabra"},
    "search.facet_all": {"en": "all", "es": "todas"},
    "search.facet_choice": {"en": "{value} ({count})", "es": "{value} ({count})"},
    "search.facet_help": {
        "en": "Show only these hits; the counts are among the hits grouped below.",
        "es": "Mostrar solo estos resultados; las cifras cuentan los resultados agrupados.",
    },
    "search.band.high": {"en": "high (80 % or more)", "es": "alta (80 % o más)"},
    "search.band.medium": {"en": "medium (50–80 %)", "es": "media (50–80 %)"},
    "search.band.low": {"en": "low (under 50 %)", "es": "baja (menos del 50 %)"},
    "search.band.unknown": {"en": "no matched word", "es": "sin palabra coincidente"},
    "search.hit_scores": {
        "en": "{page} · line {line} · score {score} · word confidence {confidence}",
        "es": "{page} · línea {line} · puntuación {score} · confianza de la palabra {confidence}",
    },
    "search.score_help.common": {
        "en": "The score reads as the probability that the line answers the query. Several "
        "words: their scores multiply; a OR b: 1 − (1 − a)(1 − b); an excluded word "
        "multiplies by 1 − its score. The word confidence beside it is how surely the "
        "recognizer read each matched word in the line's text (token probabilities; 100 % for "
        "a corrected line).",
        "es": "La puntuación se lee como la probabilidad de que la línea responda a la "
        "consulta. Varias palabras: sus puntuaciones se multiplican; a OR b: "
        "1 − (1 − a)(1 − b); una palabra excluida multiplica por 1 − su puntuación. La "
        "confianza de la palabra, al lado, dice con qué seguridad el reconocedor leyó cada "
        "palabra coincidente en el texto de la línea (probabilidades de sus tokens; 100 % en "
        "una línea corregida).",
    },
    "search.score_help.auto": {
        "en": "Auto: the probability that the line holds the word, summed over the "
        "recognizer's alternative readings that contain it, times a weight: 1 for the word "
        "itself, 0.9 for a spelling variant, 0.8 × similarity for a near miss. When every "
        "reading has the word the score is 1.000, even if the word's own confidence is lower.",
        "es": "Automático: la probabilidad de que la línea contenga la palabra, sumada sobre "
        "las lecturas alternativas del reconocedor que la contienen, por un peso: 1 para la "
        "palabra misma, 0,9 para una variante gráfica, 0,8 × similitud para un parecido. Si "
        "todas las lecturas tienen la palabra, la puntuación es 1,000 aunque la confianza de "
        "la palabra sea menor.",
    },
    "search.score_help.exact": {
        "en": "Exact: the confidence with which the word was read in the line's current text "
        "(the best reading, or the correction); a phrase multiplies its words' confidences.",
        "es": "Exacto: la confianza con que se leyó la palabra en el texto actual de la línea "
        "(la mejor lectura o la corrección); una frase multiplica las confianzas de sus "
        "palabras.",
    },
    "search.score_help.prob": {
        "en": "Probable: the probability that the line holds the word, summed over the "
        "recognizer's alternative readings that contain it. When every reading has the word "
        "the score is 1.000, even if the word's own confidence is lower.",
        "es": "Probable: la probabilidad de que la línea contenga la palabra, sumada sobre las "
        "lecturas alternativas del reconocedor que la contienen. Si todas las lecturas tienen "
        "la palabra, la puntuación es 1,000 aunque la confianza de la palabra sea menor.",
    },
    "search.score_help.fuzzy": {
        "en": "Fuzzy: as Probable, for the word and its near misses (similarity at least "
        "0.7), each weighted by its similarity to the query word.",
        "es": "Aproximado: como Probable, para la palabra y sus parecidos (similitud de al "
        "menos 0,7), cada uno ponderado por su similitud con la palabra buscada.",
    },
    "search.score_help.semantic": {
        "en": "Meaning: the cosine similarity between the query and the passage as sentence "
        "embeddings (0 to 1). No word is matched, so no word confidence is shown.",
        "es": "Sentido: la similitud coseno entre la consulta y el pasaje como vectores de "
        "frase (0 a 1). No se compara ninguna palabra, así que no hay confianza de palabra.",
    },
    "search.score_title": {"en": "What the score means", "es": "Qué significa la puntuación"},
    "search.document_header": {
        "en": "{document} · hits: {hits} · pages: {pages}",
        "es": "{document} · resultados: {hits} · páginas: {pages}",
    },
    "search.document_continued": {
        "en": "{document} (continued)",
        "es": "{document} (continuación)",
    },
    "search.page_header": {
        "en": "Page {frame} · hits: {hits}",
        "es": "Página {frame} · resultados: {hits}",
    },
    "search.select_hit": {"en": "Link to this hit", "es": "Enlazar este resultado"},
    "search.selected": {"en": "Selected hit", "es": "Resultado elegido"},
    "search.selected_missing": {
        "en": "The linked hit is not among these results any more.",
        "es": "El resultado enlazado ya no está entre estos resultados.",
    },
    "search.chart_title": {"en": "Hits per document", "es": "Resultados por documento"},
    "search.chart_hits": {"en": "Hits", "es": "Resultados"},
    "search.chart_document": {"en": "Document", "es": "Documento"},
    "search.chart_more": {
        "en": "The chart shows the first {shown} of {total} documents.",
        "es": "El gráfico muestra los primeros {shown} de {total} documentos.",
    },
    "search.window": {
        "en": "Groups, facets and the chart cover the best {window} of {total} hits.",
        "es": "Los grupos, las facetas y el gráfico cubren los mejores {window} de {total} "
        "resultados.",
    },
    "search.no_facet_hits": {
        "en": "No hit matches the chosen facets.",
        "es": "Ningún resultado coincide con las facetas elegidas.",
    },
    # page
    "page.title": {"en": "Page", "es": "Página"},
    "page.frame_title": {"en": "{name}, page {frame}", "es": "{name}, página {frame}"},
    "page.caption": {
        "en": "{path} · {width}×{height} px · {lines} lines",
        "es": "{path} · {width}×{height} px · {lines} líneas",
    },
    "page.unknown": {"en": "There is no page {page_id}.", "es": "No existe la página {page_id}."},
    "page.no_lines": {
        "en": "No line was found on this page.",
        "es": "No se encontró ninguna línea en esta página.",
    },
    "page.hits_here": {
        "en": "Hits of «{query}» on this page: {count} lines, boxed on the picture.",
        "es": "Resultados de «{query}» en esta página: {count} líneas, recuadradas en la imagen.",
    },
    "page.back_to_results": {"en": "Back to the results", "es": "Volver a los resultados"},
    "page.search_failed": {
        "en": "The search in the address could not run: {error}",
        "es": "No se pudo hacer la búsqueda de la dirección: {error}",
    },
    "page.viewer_missing": {
        "en": "The zoomable viewer is not installed (`python -m ui.viewer.bundle` builds it): "
        "the page is shown as a still picture.",
        "es": "El visor con zoom no está instalado (`python -m ui.viewer.bundle` lo construye): "
        "la página se muestra como imagen fija.",
    },
    # the page viewer (ui/viewer)
    "viewer.text": {"en": "Text of the page", "es": "Texto de la página"},
    "viewer.hits": {"en": "words found", "es": "palabras encontradas"},
    "viewer.doubtful": {"en": "doubtful reading", "es": "lectura dudosa"},
    "viewer.line": {"en": "Line", "es": "Línea"},
    "viewer.empty": {"en": "(empty line)", "es": "(línea vacía)"},
    "viewer.click_correct": {
        "en": "Wheel to zoom, drag to pan, double-click to zoom in. Click a line, on the "
        "picture or in the text, to correct it.",
        "es": "Rueda para ampliar, arrastrar para desplazar, doble clic para acercar. Haga clic "
        "en una línea, en la imagen o en el texto, para corregirla.",
    },
    "viewer.click_select": {
        "en": "Wheel to zoom, drag to pan, double-click to zoom in. Click a line, on the "
        "picture or in the text, to see its words and readings.",
        "es": "Rueda para ampliar, arrastrar para desplazar, doble clic para acercar. Haga clic "
        "en una línea, en la imagen o en el texto, para ver sus palabras y lecturas.",
    },
    "page.line_confidence": {"en": "Line confidence", "es": "Confianza de la línea"},
    "page.version": {"en": "Version", "es": "Versión"},
    "page.correct": {"en": "Correct this line", "es": "Corregir esta línea"},
    "page.words": {"en": "Words", "es": "Palabras"},
    "page.word": {"en": "Word", "es": "Palabra"},
    "page.confidence": {"en": "Confidence", "es": "Confianza"},
    "page.readings": {"en": "Alternative readings", "es": "Lecturas alternativas"},
    "page.reading": {"en": "Reading", "es": "Lectura"},
    "page.probability": {"en": "Probability", "es": "Probabilidad"},
    # correct
    "correct.title": {"en": "Correct a line", "es": "Corregir una línea"},
    "correct.back_to_page": {"en": "Back to the page", "es": "Volver a la página"},
    "correct.version_caption": {
        "en": "{page}, line {line} · version {version} · corrections: {count}",
        "es": "{page}, línea {line} · versión {version} · correcciones: {count}",
    },
    "correct.text": {"en": "Text of the line", "es": "Texto de la línea"},
    "correct.save": {"en": "Save correction", "es": "Guardar corrección"},
    "correct.saved": {
        "en": "Saved as version {version}; search finds it now.",
        "es": "Guardada como versión {version}; la búsqueda ya la encuentra.",
    },
    "correct.confirmed": {
        "en": "Confirmed as version {version}.",
        "es": "Confirmada como versión {version}.",
    },
    "correct.confirmed_by": {
        "en": "confirmed by {editor} · {when}",
        "es": "confirmada por {editor} · {when}",
    },
    "correct.unchanged": {"en": "The text was not changed.", "es": "El texto no ha cambiado."},
    "correct.need_editor": {
        "en": "Type your name in the sidebar first: every correction records who made it.",
        "es": "Escriba antes su nombre en la barra lateral: cada corrección registra su autor.",
    },
    "correct.refused_read_only": {
        "en": "Refused: this server is read-only. Nothing was saved.",
        "es": "Rechazado: este servidor es de solo lectura. No se guardó nada.",
    },
    "correct.refused_role": {
        "en": "Refused: saving corrections needs an editor's or admin's account. "
        "Nothing was saved.",
        "es": "Rechazado: para guardar correcciones hace falta una cuenta de editor o de "
        "administrador. No se guardó nada.",
    },
    "correct.history": {"en": "History", "es": "Historial"},
    "correct.machine": {"en": "machine reading", "es": "lectura automática"},
    "correct.restore": {"en": "Restore", "es": "Restaurar"},
    "correct.readings": {"en": "Machine readings", "es": "Lecturas automáticas"},
    "correct.reading_caption": {
        "en": "{model} (revision {revision}) · {when} · confidence {confidence}",
        "es": "{model} (revisión {revision}) · {when} · confianza {confidence}",
    },
    "correct.current_reading": {"en": "current", "es": "actual"},
    "correct.use_reading": {"en": "Use this reading", "es": "Usar esta lectura"},
    "correct.palette_help": {
        "en": "Characters of this collection: a click inserts one at the cursor.",
        "es": "Caracteres de esta colección: un clic inserta uno en el cursor.",
    },
    "correct.insert": {"en": "Insert {name}", "es": "Insertar {name}"},
    "correct.previous_line": {"en": "Previous line ({number})", "es": "Línea anterior ({number})"},
    "correct.next_line": {"en": "Next line ({number})", "es": "Línea siguiente ({number})"},
    "correct.changes": {"en": "Changes from v{version}", "es": "Cambios respecto a v{version}"},
    # conflict
    "conflict.explain": {
        "en": "Someone saved this line while you were editing it. Both texts are below: "
        "save yours (edited if you like) on top, or keep theirs.",
        "es": "Otra persona guardó esta línea mientras usted la editaba. Abajo están los dos "
        "textos: guarde el suyo (editado si quiere) encima, o conserve el otro.",
    },
    "conflict.mine": {
        "en": "Your text (made on version {version})",
        "es": "Su texto (hecho sobre la versión {version})",
    },
    "conflict.theirs": {
        "en": "Saved meanwhile by {editor}, {when} (version {version})",
        "es": "Guardado entretanto por {editor}, {when} (versión {version})",
    },
    "conflict.merged": {"en": "Text to save", "es": "Texto que guardar"},
    "conflict.save": {"en": "Save this text", "es": "Guardar este texto"},
    "conflict.keep_theirs": {"en": "Keep their version", "es": "Conservar la otra versión"},
    "conflict.kept_theirs": {
        "en": "Their version was kept; yours was not saved.",
        "es": "Se conservó la otra versión; la suya no se guardó.",
    },
    # review
    "review.title": {"en": "Review doubtful lines", "es": "Revisar líneas dudosas"},
    "review.nothing": {
        "en": "Nothing to review: every line of this collection is corrected.",
        "es": "Nada que revisar: todas las líneas de esta colección están corregidas.",
    },
    "review.counter": {
        "en": "Line {position} of {total} · reviewed {reviewed} · corrected {corrected}",
        "es": "Línea {position} de {total} · revisadas {reviewed} · corregidas {corrected}",
    },
    "review.done": {
        "en": "Done: {reviewed} lines reviewed.",
        "es": "Terminado: {reviewed} líneas revisadas.",
    },
    "review.restart": {"en": "Start again", "es": "Empezar de nuevo"},
    "review.item_caption": {
        "en": "{page} · weakest word {weakest}",
        "es": "{page} · palabra más dudosa {weakest}",
    },
    "review.text": {
        "en": "Text of the line (Enter saves and goes on)",
        "es": "Texto de la línea (Intro guarda y sigue)",
    },
    "review.save_next": {"en": "Save and next", "es": "Guardar y seguir"},
    "review.previous": {"en": "Previous", "es": "Anterior"},
    "review.skip": {"en": "Skip", "es": "Saltar"},
    "review.open_correct": {"en": "Open in Correct", "es": "Abrir en Corregir"},
    "review.conflict": {
        "en": "Someone saved this line meanwhile; compare both texts in Correct.",
        "es": "Otra persona guardó esta línea entretanto; compare ambos textos en Corregir.",
    },
    # collections
    "collections.title": {"en": "Collections", "es": "Colecciones"},
    "collections.pages": {"en": "Pages", "es": "Páginas"},
    "collections.lines": {"en": "Lines", "es": "Líneas"},
    "collections.words": {"en": "Words", "es": "Palabras"},
    "collections.mean_confidence": {"en": "Mean confidence", "es": "Confianza media"},
    "collections.failed": {"en": "Failed files", "es": "Archivos fallidos"},
    "collections.failures": {"en": "Failed files", "es": "Archivos fallidos"},
    "collections.no_failures": {"en": "No file failed.", "es": "Ningún archivo falló."},
    "collections.runs": {"en": "Models and settings", "es": "Modelos y ajustes"},
    "collections.export": {"en": "Export", "es": "Exportar"},
    "collections.export_all": {
        "en": "All {pages} pages of the collection:",
        "es": "Las {pages} páginas de la colección:",
    },
    "collections.format.page": {"en": "PAGE XML", "es": "PAGE XML"},
    "collections.format.alto": {"en": "ALTO", "es": "ALTO"},
    "collections.format.txt": {"en": "Text", "es": "Texto"},
    "collections.format.json": {"en": "JSON", "es": "JSON"},
    "collections.file": {"en": "File", "es": "Archivo"},
    "collections.frame": {"en": "Page in file", "es": "Página del archivo"},
    "collections.status": {"en": "Status", "es": "Estado"},
    "collections.model": {"en": "Model", "es": "Modelo"},
    "collections.revision": {"en": "Revision", "es": "Revisión"},
    "collections.software": {"en": "Software", "es": "Programa"},
    "collections.error": {"en": "Error", "es": "Error"},
    "collections.kind": {"en": "Kind", "es": "Tipo"},
    "collections.reason": {"en": "Reason", "es": "Motivo"},
    "collections.when": {"en": "When", "es": "Cuándo"},
    "collections.run": {"en": "Run", "es": "Ejecución"},
    "collections.started": {"en": "Started", "es": "Inicio"},
    "collections.finished": {"en": "Finished", "es": "Fin"},
    "collections.settings": {"en": "Settings", "es": "Ajustes"},
    "collections.models": {"en": "Models", "es": "Modelos"},
    "collections.overview": {"en": "Overview", "es": "Resumen"},
    "overview.histogram": {"en": "Word confidence", "es": "Confianza de las palabras"},
    "overview.confidence": {"en": "Confidence", "es": "Confianza"},
    "overview.from": {"en": "From", "es": "Desde"},
    "overview.to": {"en": "To", "es": "Hasta"},
    "overview.words": {"en": "Words", "es": "Palabras"},
    "overview.no_words": {"en": "No words read yet.", "es": "Aún no hay palabras leídas."},
    "overview.pages_by_confidence": {
        "en": "Pages by mean confidence (click a bar to open the page)",
        "es": "Páginas por confianza media (pulse una barra para abrir la página)",
    },
    "overview.pages_axis": {
        "en": "Pages, least confident first",
        "es": "Páginas, de menos a más confianza",
    },
    "overview.page": {"en": "Page", "es": "Página"},
    "overview.mean_confidence": {"en": "Mean confidence", "es": "Confianza media"},
    "overview.review_progress": {"en": "Review progress", "es": "Progreso de la revisión"},
    "overview.review_caption": {
        "en": "{verified} of {lines} lines corrected or confirmed",
        "es": "{verified} de {lines} líneas corregidas o confirmadas",
    },
    "overview.no_reviews": {
        "en": "No line corrected or confirmed yet.",
        "es": "Aún no se ha corregido ni confirmado ninguna línea.",
    },
    "overview.day": {"en": "Day", "es": "Día"},
    "overview.lines_verified": {"en": "Lines verified so far", "es": "Líneas verificadas"},
    "overview.saves": {"en": "Saves that day", "es": "Guardados ese día"},
    "overview.failures": {"en": "Failed files by reason", "es": "Archivos fallidos por motivo"},
    "overview.reason": {"en": "Reason", "es": "Motivo"},
    "overview.files": {"en": "Files", "es": "Archivos"},
    # models: the adaptation loop (collections page)
    "models.active": {
        "en": "This collection is read by **{name}**.",
        "es": "Esta colección la lee **{name}**.",
    },
    "models.bundled": {
        "en": "the bundled model (legajo-default)",
        "es": "el modelo incluido (legajo-default)",
    },
    "models.none": {
        "en": "No model has been trained in this home yet.",
        "es": "Aún no se ha entrenado ningún modelo en este directorio.",
    },
    "models.name": {"en": "Model", "es": "Modelo"},
    "models.trained_on": {"en": "Trained on", "es": "Entrenado con"},
    "models.reads": {"en": "Reads this collection", "es": "Lee esta colección"},
    "models.cer_before": {"en": "CER before", "es": "CER antes"},
    "models.cer_after": {"en": "CER after", "es": "CER después"},
    "models.minutes_column": {"en": "Minutes", "es": "Minutos"},
    "models.created": {"en": "Created", "es": "Creado"},
    "models.minutes": {"en": "Minutes of training", "es": "Minutos de entrenamiento"},
    "models.minutes_help": {
        "en": "Training stops after this time, or sooner when the model stops improving on "
        "the held-back lines.",
        "es": "El entrenamiento se detiene pasado este tiempo, o antes si el modelo deja de "
        "mejorar en las líneas reservadas.",
    },
    "models.train": {"en": "Train on my corrections", "es": "Entrenar con mis correcciones"},
    "models.train_help": {
        "en": "Fine-tunes this collection's model on its verified lines (corrections, "
        "confirmations, imported transcriptions), holding back some pages to measure it. "
        "The new model reads the collection only if it reads those pages better.",
        "es": "Ajusta el modelo de esta colección con sus líneas verificadas (correcciones, "
        "confirmaciones, transcripciones importadas), reservando algunas páginas para "
        "medirlo. El modelo nuevo lee la colección solo si lee mejor esas páginas.",
    },
    "models.reread": {
        "en": "Read again with the new model",
        "es": "Volver a leer con el modelo nuevo",
    },
    "models.reread_help": {
        "en": "Reads the collection's pages again with the model that reads it now ({name}). "
        "Verified lines keep their text; every earlier reading stays in the line's history.",
        "es": "Vuelve a leer las páginas de la colección con el modelo que la lee ahora "
        "({name}). Las líneas verificadas conservan su texto; cada lectura anterior queda en "
        "el historial de la línea.",
    },
    "models.started.adapt": {
        "en": "Training started; it goes on in the background.",
        "es": "Entrenamiento iniciado; continúa en segundo plano.",
    },
    "models.started.reread": {
        "en": "Reading again started; it goes on in the background.",
        "es": "Nueva lectura iniciada; continúa en segundo plano.",
    },
    "models.busy": {
        "en": "Refused: {kind} is already running for this collection (started {when}). "
        "Wait until it ends.",
        "es": "Rechazado: ya hay {kind} en marcha para esta colección (empezó {when}). "
        "Espere a que termine.",
    },
    "models.kind.adapt": {"en": "a training", "es": "un entrenamiento"},
    "models.kind.reread": {"en": "a new reading", "es": "una nueva lectura"},
    "models.refused_read_only": {
        "en": "Refused: this server is read-only. Nothing was started.",
        "es": "Rechazado: este servidor es de solo lectura. No se inició nada.",
    },
    "models.refused_role": {
        "en": "Refused: training and reading again need an editor's or admin's account. "
        "Nothing was started.",
        "es": "Rechazado: entrenar y volver a leer requieren una cuenta de editor o de "
        "administrador. No se inició nada.",
    },
    "models.cannot_start": {
        "en": "The job could not be started: {error}",
        "es": "No se pudo iniciar la tarea: {error}",
    },
    "models.training": {"en": "Training", "es": "Entrenamiento"},
    "models.rereading": {"en": "Reading again", "es": "Nueva lectura"},
    "models.started_at": {"en": "Started {when}", "es": "Iniciado {when}"},
    "models.waiting": {"en": "Starting…", "es": "Iniciando…"},
    "models.job_failed": {
        "en": "The job failed (exit code {code}). Its last messages:",
        "es": "La tarea falló (código de salida {code}). Sus últimos mensajes:",
    },
    "models.job_vanished": {
        "en": "The job ended without an exit code: it was stopped.",
        "es": "La tarea terminó sin código de salida: se detuvo.",
    },
    "models.cer_before_held": {"en": "CER before (held back)", "es": "CER antes (reservadas)"},
    "models.cer_after_held": {"en": "CER after (held back)", "es": "CER después (reservadas)"},
    "models.cer_summary": {
        "en": "CER on the held-back lines ({lines}): {before} before, {after} after.",
        "es": "CER en las líneas reservadas ({lines}): {before} antes, {after} después.",
    },
    "models.activated": {
        "en": "{name} reads the held-back lines better: it now reads this collection.",
        "es": "{name} lee mejor las líneas reservadas: ahora lee esta colección.",
    },
    "models.not_activated": {
        "en": "{name} does not read the held-back lines better: {base} keeps reading this "
        "collection.",
        "es": "{name} no lee mejor las líneas reservadas: {base} sigue leyendo esta colección.",
    },
    "models.trained_caption": {
        "en": "Trained on {train_lines} lines of {train_pages} pages; held back {held_lines} "
        "lines of {held_pages} pages; {minutes} min.",
        "es": "Entrenado con {train_lines} líneas de {train_pages} páginas; reservadas "
        "{held_lines} líneas de {held_pages} páginas; {minutes} min.",
    },
    "models.lines_read": {"en": "Lines read", "es": "Líneas leídas"},
    "models.lines_changed": {"en": "Lines read differently", "es": "Líneas leídas de otro modo"},
    "models.verified_kept": {
        "en": "Verified lines kept",
        "es": "Líneas verificadas conservadas",
    },
    "models.confidence": {"en": "Mean confidence", "es": "Confianza media"},
    "models.confidence_change": {"en": "{before} → {after}", "es": "{before} → {after}"},
    "models.reread_caption": {
        "en": "Read by {model}: {reread} pages read again, {already} already read by it; "
        "{seconds} s.",
        "es": "Leído por {model}: {reread} páginas leídas de nuevo, {already} ya leídas por "
        "él; {seconds} s.",
    },
    "models.no_failed_pages": {"en": "No page failed.", "es": "Ninguna página falló."},
    "models.failed_pages": {
        "en": "{count} pages could not be read again:",
        "es": "{count} páginas no se pudieron volver a leer:",
    },
}


class Translator:
    """Looks messages up in one language.

    Args:
        language: One of `ui.config.UI_LANGUAGES`; anything else falls back to the
            first (a stale session value must not break the page).
    """

    def __init__(self, language: str) -> None:
        self.language = language if language in UI_LANGUAGES else UI_LANGUAGES[0]

    def __call__(self, key: str, **values: Any) -> str:
        """The message `key` in this language, its fields filled from `values`.

        Raises:
            KeyError: If the catalogue has no such message (a programming error).
        """
        template = MESSAGES[key][self.language]
        return template.format(**values) if values else template
