"""Keep Streamlit's collection after every page run cheap.

Streamlit runs a full garbage collection (`gc.collect(2)`) after each script run
(`runner.postScriptGC`), holding the GIL. In this server the heap holds some 345,000 long-lived
objects (torch, MediaPipe, plotly, scipy, SQLAlchemy, the shipped models), and walking them took
90-180 ms per page open: more than the page itself (about 20 ms), and with twenty therapists
signed in every page waited for everyone else's collections (bench/load.py).

Those objects live as long as the process. `gc.freeze()` moves everything alive now into a
permanent generation that collections skip, so the collection after each run only walks what the
page runs made. The heap is frozen again whenever a page run imported new modules (the first open
of each page imports its own), after one collection so that no garbage is frozen with it."""
from __future__ import annotations

import gc
import sys

_modules_at_last_freeze = 0


def freeze_long_lived_objects() -> bool:
    """Freeze the heap if modules were imported since the last freeze; True when it froze."""
    global _modules_at_last_freeze
    if len(sys.modules) == _modules_at_last_freeze:
        return False
    gc.collect()
    gc.freeze()
    _modules_at_last_freeze = len(sys.modules)
    return True
