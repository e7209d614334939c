"""cadyn: intracellular calcium dynamics from Python.

Load a model (the TOML model files of ``cadyn run``), change its parameters with units, run it, and get numpy
arrays of its traces and fields, its budgets and a summary::

    import cadyn

    model = cadyn.load("models/buffered_cell.toml")
    model.set("pmca.vmax", "60 uM/s")          # any unit of the parameter's dimension
    model.set("cyt.ca", "0.2 uM")              # an initial concentration
    result = model.run(t_end="2 s")
    result.time                                # [ms], numpy
    result["cyt.ca"]                           # [uM], numpy
    result.summary()                           # resting, peak, decay time constant, budget closure, ...
    result.budget                              # where every ion went
    result.plot().savefig("plot.png")

Numbers inside cadyn are in its canonical units (uM, ms, um, um^2, um^3, zmol, mV, pA, K; docs/units.md);
everything you type carries its unit (``"0.2 uM"``, ``"25 pmol/cm^2/s"``, ``"5 s"``), except dimensionless values,
which may be plain numbers. Budget amounts are in amol (1 amol = 1000 zmol).

Errors raise ``cadyn.ModelError`` (a ``ValueError``; ``cadyn.UnitError`` for a quantity, a subclass) with the same
text the command line prints, ``cadyn.SolverError`` (a ``RuntimeError``) when the solver cannot finish, and
``cadyn.OutputError`` (an ``OSError``) when a file cannot be written; all derive from ``cadyn.Error``.
"""

import concurrent.futures
import itertools
import os

from . import _cadyn
from ._cadyn import Error, ModelError, OutputError, SolverError, UnitError
from .result import Grid, Result

__version__ = _cadyn.__version__
__all__ = [
    "Error",
    "Grid",
    "Model",
    "ModelError",
    "OutputError",
    "Result",
    "SolverError",
    "UnitError",
    "convert",
    "default_model",
    "load",
    "mechanism_types",
    "parse",
    "sweep",
]

# Readers by file suffix; anything else is read as TOML (as `cadyn run` does).
SBML_SUFFIXES = (".xml", ".sbml")


class Model(_cadyn.Model):
    """A cadyn model: what a model file says, validated, in canonical units.

    Make one with :func:`load`, :func:`parse` or :func:`default_model`. Changing it (:meth:`set`) changes this
    object only; :meth:`copy` first to keep the original.
    """

    # name, description, source (the file, "<string>", or "" for the built-in default), text (its TOML) and
    # spatial (it has a [geometry]) are read-only properties from the engine.

    def set(self, key, value):
        """Set one value of the model, with its unit; the model is validated as the model reader would.

        key is
          - ``"MECHANISM.PARAMETER"``: a mechanism parameter (``"pmca.vmax"``), in any unit of its dimension;
            membrane capacities may also be given per volume (``"30 uM/s"``) or for the whole membrane
            (``"5 amol/s"``), as in a model file;
          - ``"COMPARTMENT.SPECIES"``: an initial concentration (``"cyt.ca"``; of a clamped compartment: its fixed
            concentration);
          - ``"parameters.NAME"`` or ``"NAME"``: a user parameter of the model's [parameters];
          - ``"t_end"``, ``"rtol"``, ``"atol"``, ``"max_step"``, ``"max_steps"``, ``"start"`` (``"initial"`` or
            ``"steady_state"``), ``"seed"`` (stochastic mechanisms; each also as ``"run.KEY"``),
            ``"record.interval"``, ``"temperature"``.

        value is a quantity string (``"0.2 uM"``, ``"37 degC"``), or a plain number for a dimensionless value.
        Raises UnitError for a wrong unit and ModelError for an unknown key or a value out of range; the model is
        then unchanged. Returns the model, so that calls can be chained.
        """
        self._set(key, value)
        return self

    def get(self, key, unit=None):
        """The value of ``key`` (as for :meth:`set`) in canonical units, or converted to ``unit`` (``"nM"``)."""
        value, canonical = self._get(key)
        if unit is None:
            return value
        if not canonical:
            error = ModelError(f"'{key}': its unit is not known to the model; ask without a unit")
            error.problems = []
            raise error
        return _cadyn.convert(value, canonical, unit)

    @property
    def parameters(self):
        """Every value :meth:`set` can change: ``{key: (value, canonical unit)}`` (a snapshot; unit "" for user
        parameters, whose unit the model does not keep)."""
        return self._parameters()

    def mechanisms(self):
        """The mechanisms: a list of dicts (name, type, kind "membrane" or "volume", location, stimulus)."""
        return self._mechanisms()

    def species(self):
        """The species: a list of dicts (name, charge)."""
        return self._species()

    def compartments(self):
        """The compartments: a list of dicts (name, volume_um3, clamped, initial_uM {species: uM})."""
        return self._compartments()

    def observables(self):
        """What a run records: a list of (name, canonical unit)."""
        return self._observables()

    def steady_state(self):
        """The resting state (stimuli off, dy/dt = 0) as ``{state name: value}`` in canonical units (uM for
        concentrations). Raises SolverError when none is found."""
        return self._steady_state()

    def run(self, t_end=None, start=None, fields=None, observables=None, seed=None):
        """Simulate the model and return a :class:`Result`.

        t_end: the simulated time with its unit (``"5 s"``); default the model's run.t_end.
        start: ``"initial"`` (the model's concentrations) or ``"steady_state"``; default the model's run.start.
        fields: spatial models only: which fields to keep voxel by voxel at every record: None (the model's
            record.fields, else every spatial species, as ``cadyn run``), ``"all"``, or a list of names.
        observables: which of :meth:`observables` to record: None (every one), a name or a list of names (kept
            in the model's recording order). Only those are computed and kept at each record: less memory for a
            long run or a sweep that needs one trace (Li & Rinzel, 10001 records of 1 of its 7 observables: 6 %
            less time; the records themselves, CVODE's interpolation to each output time, cost the most).
        seed: the seed of the random numbers of stochastic mechanisms (ip3r_cluster; docs/stochastic.md): a
            whole number >= 0; default the model's run.seed (1 when it gives none). Same seed, same run.
        The run releases the GIL; Ctrl-C stops it with KeyboardInterrupt.
        """
        if t_end is not None and not isinstance(t_end, str):
            t_end = repr(t_end)  # a bare number: the units module says what is missing
        return Result(self._run(t_end=t_end, start=start, fields=fields, observables=observables, seed=seed))

    def copy(self):
        """An independent copy of the model."""
        return Model(self)

    def __repr__(self):
        where = self.source or "built-in default"
        return f"<cadyn.Model {self.name!r} ({where}): {len(self.mechanisms())} mechanisms>"


def load(path):
    """Read a model file: TOML (``cadyn run``'s format, docs/model-format.md); SBML (.xml, .sbml) is reserved.

    Raises ModelError with every problem found, as ``cadyn check`` prints them (file:line:col: 'key': message).
    """
    path = os.fspath(path)
    if path.lower().endswith(SBML_SUFFIXES):
        return _load_sbml(path)
    return Model(path=path)


def _load_sbml(path):
    """An SBML model (Level 2 or 3, ODE core; docs/sbml.md): the engine's importer reads files named .xml or .sbml,
    refusing with a ModelError whatever it cannot honour exactly."""
    return Model(path=path)


def parse(text, source="<string>"):
    """A model from TOML text (the model-file format); ``source`` names it in error messages."""
    return Model(text=text, source=source)


def default_model():
    """The built-in default model (models/soma.toml, as ``cadyn run`` without a model)."""
    return Model()


def sweep(model, vary, jobs=None, **run_options):
    """Run ``model`` at every combination of values, ``jobs`` runs at a time, as ``cadyn sweep`` (docs/sweeps.md).

    vary: ``{key: [value, ...]}`` with the keys and values of :meth:`Model.set` (``{"cyt.ip3": ["0.2 uM",
    "0.4 uM"], "pump.vmax": ["0.9 uM/s", "1.2 uM/s"]}``); the first key varies slowest.
    jobs: runs at once, in threads (a run releases the GIL); default ``os.cpu_count()``.
    run_options: passed to :meth:`Model.run` (t_end, start, observables, fields, seed): ``observables="cyt.ca"``
    keeps only what the sweep needs.

    Every value is first set alone on a copy of the model, so that a wrong unit or a value out of range raises
    (UnitError, ModelError) before anything runs. Returns one dict per point, in order: ``values`` ({key: value}),
    ``result`` (a :class:`Result`, or None) and ``error`` (the exception a failed run raised, or None): a point
    whose run fails does not stop the others. ``p["result"].summary()`` gives peak, period_ms, decay_tau_ms, ...
    The same numbers as running the points one by one, whatever ``jobs``.
    """
    keys = list(vary)
    values = [list(vary[k]) for k in keys]
    for key, vs in zip(keys, values):
        if not vs:
            raise ValueError(f"sweep: no values for '{key}'")
        for v in vs:
            model.copy().set(key, v)
    points = [dict(zip(keys, combination)) for combination in itertools.product(*values)]

    def run(point):
        try:
            m = model.copy()
            for key, v in point.items():
                m.set(key, v)  # a combination wrong only together fails its point
            return {"values": point, "result": m.run(**run_options), "error": None}
        except (SolverError, ModelError) as e:
            return {"values": point, "result": None, "error": e}

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        return list(pool.map(run, points))


def convert(value, from_unit, to_unit):
    """Convert a number between units with cadyn's units module: ``convert(1, "mM", "uM")`` is 1000 (to round-off)."""
    return _cadyn.convert(value, from_unit, to_unit)


def mechanism_types():
    """The names of every mechanism type in the catalogue (``cadyn mechanisms`` describes them)."""
    return _cadyn.mechanism_types()
