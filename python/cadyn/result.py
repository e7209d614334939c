"""The result of a run: traces and fields as numpy arrays, budgets, a summary, plots."""

import os
from dataclasses import dataclass

import numpy as np

# Units as the engine names them, as a reader wants them on an axis (the values are the same: zmol/ms = amol/s).
_DISPLAY_UNITS = {"zmol/ms": "amol/s", "1": ""}
# At most this many panels in a default plot (as scripts/plot_traces.py).
MAX_PANELS = 8


@dataclass(frozen=True)
class Grid:
    """The voxels of a spatial model (cadyn/geometry.hpp).

    geometry: "cable", "shells", "axisymmetric" or "box"; dimensions: axes in use (1 to 3); shape: voxels along
    each axis in use; centres, edges: per axis, cell centres and edges [um] in the geometry's own coordinates
    (cable x; shells r; axisymmetric r, z; box x, y, z); volume: [um^3] per voxel; membrane_face: the face the
    membrane sits on. Voxel indices run fastest along axis 0: ``grid.reshape(row)`` turns one record of a field
    into an array of shape ``shape[::-1]`` (C order).
    """

    geometry: str
    dimensions: int
    shape: tuple
    centres: list
    edges: list
    volume: np.ndarray
    membrane_face: str

    @property
    def size(self):
        """Number of voxels."""
        return int(np.prod(self.shape))

    def reshape(self, values):
        """One record of a field (``result.fields[name][k]``, one value per voxel) as an array of shape
        ``shape[::-1]``: [z, y, x] for a box, [z, r] for an axisymmetric grid, [x] or [r] in 1-D."""
        return np.asarray(values).reshape(tuple(reversed(self.shape)))


class Result:
    """What a run of :meth:`cadyn.Model.run` produced.

    Arrays are read-only numpy views of the engine's records; times in ms, values in canonical units (see
    :attr:`observables`); budget amounts in amol.
    """

    def __init__(self, data):
        self._data = data
        self._observables = dict(data.observables)
        self._fields = None
        self._grid = None

    # ---------------------------------------------------------------- traces

    @property
    def model_name(self):
        return self._data.model_name

    @property
    def time(self):
        """Record times [ms] (numpy)."""
        return self._data.time

    @property
    def t_end(self):
        """The simulated time [ms]."""
        return self._data.t_end

    @property
    def start(self):
        """Where the run started: "initial" (the model's concentrations) or "steady_state" (see :attr:`rest`)."""
        return self._data.start

    @property
    def observables(self):
        """Every recorded observable: ``{name: canonical unit}`` in recording order ("uM", "mV", "zmol/ms" (=
        amol/s) for fluxes, "1" for dimensionless values)."""
        return dict(self._observables)

    @property
    def names(self):
        """The recorded observables' names."""
        return list(self._observables)

    def __getitem__(self, name):
        """The trace of one observable (numpy, one value per record): ``result["cyt.ca"]``."""
        return self._data.trace(name)

    def __contains__(self, name):
        return name in self._observables

    @property
    def traces(self):
        """``{name: numpy array}`` for every observable."""
        return {name: self._data.trace(name) for name in self._observables}

    @property
    def breakpoints(self):
        """Times [ms] at which a stimulus, protocol or event is discontinuous."""
        return list(self._data.breakpoints)

    # ---------------------------------------------------------------- fields (spatial models)

    @property
    def fields(self):
        """Spatial models: ``{name: 2-D numpy array [records, voxels]}`` ("cyt.ca", "calbindin.bound"), at the
        times of :attr:`time`; empty for point models."""
        if self._fields is None:
            self._fields = {name: self._data.field(k) for k, (name, _) in enumerate(self._data.field_names)}
        return dict(self._fields)

    @property
    def field_units(self):
        """``{field name: canonical unit}``."""
        return dict(self._data.field_names)

    @property
    def grid(self):
        """The voxels of a spatial model (:class:`Grid`), or None for a point model."""
        if self._grid is None:
            g = self._data.grid
            if g is None:
                return None
            self._grid = Grid(
                geometry=g["geometry"],
                dimensions=g["dimensions"],
                shape=tuple(g["shape"]),
                centres=list(g["centres"]),
                edges=list(g["edges"]),
                volume=g["volume"],
                membrane_face=g["membrane_face"],
            )
        return self._grid

    # ---------------------------------------------------------------- budgets and states

    @property
    def budget(self):
        """Every budget channel integrated over the run: a list of dicts with mechanism, type, species, from, to,
        membrane, role ("transfer": moved from -> to across a membrane, negative when it went the other way;
        "conversion": free to bound inside `to`; "source": made by a reaction or rule) and amount_amol."""
        return self._data.budget

    @property
    def balances(self):
        """Per compartment and species: change_amol (of the total, free + bound), accounted_amol (the sum of the
        channels into it) and relative_error; they agree to round-off."""
        return self._data.balances

    @property
    def budget_closure(self):
        """The largest relative_error of :attr:`balances` (0 when nothing moved)."""
        return max((b["relative_error"] for b in self._data.balances), default=0.0)

    @property
    def removed(self):
        """``{mechanism: amol}`` of the reported species (Ca) each mechanism took out of the reported
        compartment (positive: removed; negative: brought in); see :attr:`report`."""
        return dict(self._data.removed)

    @property
    def atp(self):
        """``{mechanism: amol}`` of ATP each ATP-consuming mechanism hydrolysed (negative: made)."""
        return dict(self._data.atp)

    @property
    def report(self):
        """The observable the summary reports ("cyt.ca": run.report's compartment, else cyt, else the first free
        one, and run.report_species), or "" when the model has no free compartment."""
        return self._data.report

    @property
    def rest(self):
        """When the run started from the resting state: dict (method, converged, residual_per_ms); else None."""
        return self._data.rest

    @property
    def stats(self):
        """Solver statistics: states, steps, rhs_evaluations, jacobian_evaluations, error_test_failures,
        nonlinear_failures, restarts, stochastic_events (transitions fired by stochastic mechanisms)."""
        return self._data.stats

    @property
    def initial_state(self):
        """``{state name: value}`` the run started from."""
        return dict(zip(self._data.state_names, self._data.y0.tolist()))

    @property
    def final_state(self):
        """``{state name: value}`` at the end of the run."""
        return dict(zip(self._data.state_names, self._data.y_end.tolist()))

    # ---------------------------------------------------------------- summary

    def summary(self, name=None):
        """What ``cadyn run`` prints, as a dict.

        For the observable ``name`` (default :attr:`report`, e.g. "cyt.ca"): resting (its first value), peak,
        peak_time_ms and, when the model has stimuli, the decay after the last one fitted by b + A exp(-t/tau):
        decay_tau_ms, decay_from_ms, decay_baseline, decay_amplitude, decay_rms (None when there is nothing to
        fit); period_ms and cycles of an oscillation (the mean interval between upward crossings of the mean over
        the second half of the run, and how many it averages; None and 0 when it does not oscillate there: as
        ``cadyn sweep``, docs/sweeps.md). Also: model, t_end_ms, start ("initial" or "steady_state"), rest (see :attr:`rest`), removed_amol
        and removed_from (of the reported species and compartment), atp_amol, atp_total_amol, budget_closure,
        states, steps, rhs_evaluations.
        """
        name = name or self.report
        if not name:
            raise KeyError("the model has no free compartment to report on: give the observable's name")
        out = {"model": self.model_name, "t_end_ms": self.t_end, "start": self.start, "rest": self.rest}
        out.update(self._data.summarize(name))
        out["removed_from"] = self.report
        out["removed_amol"] = self.removed
        out["atp_amol"] = self.atp
        out["atp_total_amol"] = sum(self.atp.values())
        out["budget_closure"] = self.budget_closure
        stats = self.stats
        for key in ("states", "steps", "rhs_evaluations"):
            out[key] = stats[key]
        return out

    # ---------------------------------------------------------------- output

    def to_hdf5(self, path):
        """Write results.h5 as ``cadyn run`` does (traces, grid and fields, the model's text; docs/hdf5.md)."""
        self._data.to_hdf5(os.fspath(path))

    def plot(self, ax=None, names=None, path=None):
        """Plot traces with matplotlib; returns the Figure (no pyplot and no display needed: safe under Agg).

        names: the observables to draw (default: as ``cadyn run``'s plot.png: the free Ca of each compartment,
        other concentrations, dimensionless values together, potentials, fluxes; at most eight panels), one panel
        per unit. ax: draw every chosen trace on this Axes instead (one panel). path: also save the figure there
        (PNG, or whatever the suffix says). Time in seconds.
        """
        t = self.time / 1000.0
        units = {n: _DISPLAY_UNITS.get(u, u) for n, u in self._observables.items()}
        if names is None:
            panels = self._default_panels(units)
        else:
            if isinstance(names, str):
                names = [names]
            for n in names:
                if n not in self._observables:
                    raise KeyError(f"no recorded observable named '{n}'; recorded: {', '.join(self._observables)}")
            groups = {}
            for n in names:
                groups.setdefault(units[n], []).append(n)
            panels = [(cols, cols[0] if len(cols) == 1 else "", unit) for unit, cols in groups.items()]
        if not panels:
            raise ValueError("nothing to plot: the run recorded no observable")

        if ax is not None:
            fig = ax.figure
            for cols, _, _ in panels:
                for n in cols:
                    ax.plot(t, self[n], lw=1.1, label=n)
            ax.set_xlabel("time [s]")
            ax.legend(fontsize=7, loc="best")
            ax.grid(alpha=0.3)
        else:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(8, 1.8 * len(panels) + 0.8))
            axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
            for a, (cols, label, unit) in zip(axes, panels):
                for n in cols:
                    a.plot(t, self[n], lw=1.1, label=n)
                if len(cols) > 1 or not label:
                    a.legend(fontsize=7, ncol=3, loc="best")
                a.set_ylabel(f"{label}\n[{unit}]" if unit else (label or "relative"), fontsize=8)
                a.grid(alpha=0.3)
            axes[-1].set_xlabel("time [s]")
            axes[0].set_title(self.model_name or "cadyn")
            fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=110)
        return fig

    def _default_panels(self, units):
        names = list(units)
        free_ca = [n for n in names if units[n] == "uM" and n.endswith(".ca") and n.count(".") == 1]
        other = [n for n in names if units[n] == "uM" and n not in free_ca]
        plain = [n for n in names if units[n] == ""]
        volts = [n for n in names if units[n] == "mV"]
        flux = [n for n in names if units[n] == "amol/s"]
        panels = [([n], n, "uM") for n in free_ca]
        if plain:
            panels.append((plain, "", ""))
        if volts:
            panels.append((volts, "V", "mV"))
        if flux:
            panels.append((flux, "flux into inner", "amol/s"))
        room = MAX_PANELS - len(panels)
        for n in other[: max(room, 0)]:
            panels.insert(len(free_ca), ([n], n, "uM"))
        return panels[:MAX_PANELS]

    def __repr__(self):
        return (
            f"<cadyn.Result {self.model_name!r}: {len(self.time)} records to {self.t_end:g} ms, "
            f"{len(self._observables)} observables, {len(self._data.field_names)} fields>"
        )
