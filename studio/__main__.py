"""``python -m studio [streamlit options]``: the app (``streamlit run app.py``) with the default
checkpoint loading, and its landing example explained, while the server and the first browser start.

Imports and loading take most of a cold start (about 7 s on a 2-core CPU); the browser fetching and
starting Streamlit's page takes about 2 s that they can run beside (bench/RESULTS.md, the app in a real
browser). ``streamlit run app.py`` (Hugging Face Spaces) still works: its first visit does all of it.
"""
from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def warm_up() -> None:
    """Load the default checkpoint into the app's model cache and explain the Explain page's landing
    example into its explanation cache, as a first visit would ask for them (its faithfulness is left
    to the page, which draws the explanation meanwhile). Never raises: on failure the page computes
    them itself and says what is wrong."""
    try:
        from studio import models, state

        models.explain_request(state.Request())  # loads the checkpoint through models.load first
    except Exception:
        logging.getLogger("studio").warning("warming up the default checkpoint failed", exc_info=True)


def main(argv: list[str]) -> None:
    from streamlit.web import cli

    # A first visit's script imports the same modules and asks the same caches: Python's import locks,
    # st.cache_resource's per-key lock and the explanations' (models._one_at_a_time) make it wait for
    # this thread instead of doing the work twice.
    threading.Thread(target=warm_up, name="studio-warm-up", daemon=True).start()
    cli.main(["run", str(APP), *argv], prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
