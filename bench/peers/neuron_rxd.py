"""NEURON with rxd for the peer benchmarks (wave_rxd.py, li_rinzel_neuron.py, decay_neuron.py).

Debian 12's python3-neuron 8.2.2 looks for librxdmath in <prefix>/lib, but installs it in <prefix>/lib/nrn: rxd then
fails at finitialize with "unable to connect to the librxdmath library". import_neuron() points rxd at the right
file before anything asks for it, and loads stdrun.hoc.
"""
import os
import re
import shutil
import sys
import tempfile


def in_scratch_folder(run, *args):
    """run(*args) in a temporary folder, removed afterwards (rxd compiles its reactions into C files in the
    current folder); returns what run returns."""
    here = os.getcwd()
    work = tempfile.mkdtemp(prefix="cadyn-rxd.")
    os.chdir(work)
    try:
        return run(*args)
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)


def import_neuron():
    """Returns (h, rxd) ready to use."""
    from neuron import h, rxd
    import neuron.rxd.rxd as rxd_impl

    prefix = os.path.dirname(os.path.dirname(os.path.realpath(h.neuronhome())))
    librxdmath = os.path.join(prefix, "lib", "nrn", "librxdmath.so")
    if os.path.exists(librxdmath):
        rxd_impl._find_librxdmath = lambda: librxdmath
    h.load_file("stdrun.hoc")
    return h, rxd


def cvode_stats(cv):
    """CVode's counts since the last finitialize: cvode.statistics() prints them to C's stdout, so catch it there.
    Returns {"steps": advance_tn, "nfev": function evaluations, "inits": (re)initialisations}."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as f:
        os.dup2(f.fileno(), 1)
        try:
            cv.statistics()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        f.seek(0)
        text = f.read()
    out = {}
    for key, pattern in (("steps", r"(\d+) advance_tn"), ("nfev", r"(\d+) function evaluations"),
                         ("inits", r"(\d+) init")):
        m = re.search(pattern, text)
        out[key] = int(m.group(1)) if m else -1
    return out
