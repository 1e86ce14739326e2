"""gunicorn settings shared by `make run` (scripts/run.sh) and the benchmark (bench/run.py).
Command-line flags (bind, workers) still win over what is set here."""

import gc


def post_worker_init(worker) -> None:
    """Move everything loaded at start-up (Django, the URL conf, templates compiled so far) out of
    the garbage collector's sight: later collections walk only objects made by requests, which
    trims the latency tail (the technique Instagram described for Django under uWSGI)."""
    gc.collect()
    gc.freeze()
