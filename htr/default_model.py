"""Where the bundled default model is: `legajo-default`, shipped with legajo.

In a checkout it lies in ``data/models/legajo-default``; an installed wheel carries it as
package data under ``htr/models/legajo-default``.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_NAME = "legajo-default"

_PACKAGED = Path(__file__).resolve().parent / "models" / DEFAULT_MODEL_NAME
_CHECKOUT = Path(__file__).resolve().parent.parent / "data" / "models" / DEFAULT_MODEL_NAME


def default_model_path() -> Path:
    """The folder of the bundled model: the packaged copy, else the checkout's.

    Returns:
        The folder; the checkout's path when neither exists, so that the error that follows
        names the place where the model was expected.
    """
    for folder in (_PACKAGED, _CHECKOUT):
        if (folder / "config.json").is_file():
            return folder
    return _CHECKOUT
