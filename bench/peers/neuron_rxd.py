"""NEURON with rxd for the peer benchmarks (wave_rxd.py, li_rinzel_neuron.py).

Debian 12's python3-neuron 8.2.2 looks for librxdmath in <prefix>/lib, but installs it in <prefix>/lib/nrn: rxd then
fails at finitialize with "unable to connect to the librxdmath library". import_neuron() points rxd at the right
file before anything asks for it, and loads stdrun.hoc.
"""
import os


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
