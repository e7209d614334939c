"""Tests of the Python package cadyn (python/; issue #6): load, change with units, run, results, plots, errors.

Run by ctest (python.cadyn) as /usr/bin/python3 -m unittest with PYTHONPATH=build/python. Environment, set by
ctest: CADYN_SOURCE_DIR (the repository), CADYN_BINARY (the command line, whose error messages the exceptions
must repeat word for word).

The physics checked (models/buffered_cell.toml: PMCA against a linear leak in a sphere of radius 7 um, a fixed
buffer, one 10 ms influx of 200 pA):
  - resting state: vmax c / (K + c) = k (c_out - c), PMCA (Hill 1) against the leak, both per cytosol volume;
  - the influx carries I dt / (z F) (Faraday's law) into the cytosol;
  - after it, Ca returns to rest with tau ~ (1 + kappa_B) / gamma (Neher & Augustine 1992), kappa_B = B K_B /
    (K_B + c)^2, gamma = vmax K / (K + c)^2 + k; doubling the pump shortens tau;
  - every compartment's change of total Ca equals what the budget channels moved into it.
"""

import math
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import numpy as np

import cadyn

SOURCE = os.environ.get("CADYN_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BINARY = os.environ.get("CADYN_BINARY", "")
MODELS = os.path.join(SOURCE, "models")
BROKEN = os.path.join(SOURCE, "tests", "data", "broken")

FARADAY = 96485.33212  # C/mol
RADIUS = 7.0  # um, models/buffered_cell.toml


def buffered_cell():
    return cadyn.load(os.path.join(MODELS, "buffered_cell.toml"))


def per_volume(model, key):
    """A membrane parameter per area [.../um^2] of the buffered cell as a rate per cytosol volume: x A / V = 3 / r."""
    return model.get(key) * 3.0 / RADIUS


def pump_leak_rest(model):
    """The resting Ca [uM] of the buffered cell: vmax c / (K + c) = k (c_out - c), solved for c > 0."""
    vmax = per_volume(model, "pmca.vmax")  # uM/ms
    k = per_volume(model, "leak.permeability")  # 1/ms
    kd = model.get("pmca.kd")
    c_out = model.get("bath.ca")
    assert model.get("pmca.hill") == 1.0
    # vmax c = k (c_out - c) (K + c)  ->  k c^2 + (vmax + k K - k c_out) c - k c_out K = 0
    a, b, c0 = k, vmax + k * kd - k * c_out, -k * c_out * kd
    return (-b + math.sqrt(b * b - 4 * a * c0)) / (2 * a)


def cli(*args):
    """Run the command line; returns (exit status, stderr)."""
    if not BINARY:
        raise unittest.SkipTest("CADYN_BINARY is not set (ctest sets it)")
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([BINARY, *args, "--no-plot", "--out", out], capture_output=True, text=True)
    return p.returncode, p.stderr


class LoadSetRun(unittest.TestCase):
    def test_model_contents(self):
        m = buffered_cell()
        self.assertEqual(m.name, "buffered cell")
        self.assertTrue(m.source.endswith("buffered_cell.toml"))
        self.assertEqual({x["name"] for x in m.mechanisms()}, {"pmca", "leak", "fixed", "influx"})
        self.assertEqual([s["name"] for s in m.species()], ["ca"])
        cyt = [c for c in m.compartments() if c["name"] == "cyt"][0]
        self.assertAlmostEqual(cyt["volume_um3"], 4 / 3 * math.pi * RADIUS**3, places=9)
        self.assertIn("cyt.ca", dict(m.observables()))
        self.assertIn("pmca.vmax", m.parameters)
        self.assertEqual(m.get("t_end", "s"), 3.0)
        self.assertAlmostEqual(m.get("cyt.ca", "nM"), 50.0, places=9)
        self.assertAlmostEqual(m.get("temperature", "degC"), 22.0, places=9)

    def test_units_are_converted_like_the_model_file(self):
        # "30 uM/s" of the cytosol in the file; the same pump per area: 30 uM/s x V/A = 30 x 7/3 uM um/s =
        # 70 zmol/(um^2 s) = 7 pmol/(cm^2 s).
        m = buffered_cell()
        per_area = m.get("pmca.vmax")
        m.set("pmca.vmax", "7 pmol/cm^2/s")
        self.assertAlmostEqual(m.get("pmca.vmax") / per_area, 1.0, places=12)
        self.assertAlmostEqual(m.get("pmca.vmax", "pmol/cm^2/s"), 7.0, places=12)
        m.set("pmca.vmax", "60 uM/s")
        self.assertAlmostEqual(m.get("pmca.vmax") / per_area, 2.0, places=12)
        m.set("cyt.ca", "200 nM").set("t_end", "2.5 s").set("rtol", 1e-7).set("start", "initial")
        self.assertAlmostEqual(m.get("cyt.ca"), 0.2, places=12)
        self.assertEqual(m.get("run.t_end"), 2500.0)
        self.assertEqual(m.get("run.rtol"), 1e-7)
        self.assertEqual(m.get("start"), "initial")
        # A copy is independent.
        twin = m.copy()
        twin.set("pmca.vmax", "1 uM/s")
        self.assertAlmostEqual(m.get("pmca.vmax") / per_area, 2.0, places=12)

    def test_resting_state_transient_and_budget(self):
        m = buffered_cell()
        slow = m.run()
        m.set("pmca.vmax", "60 uM/s")  # twice the pump
        r = m.run()
        self.assertEqual(r.start, "steady_state")  # the model's run.start
        t, ca = r.time, r["cyt.ca"]
        self.assertEqual(t.shape, ca.shape)
        self.assertEqual(t[0], 0.0)
        self.assertAlmostEqual(t[-1], 3000.0, places=9)
        self.assertTrue(np.all(np.diff(t) > 0))
        self.assertTrue(r.rest["converged"])

        # The resting state: the analytic pump-leak balance, and the model's own steady state.
        rest = pump_leak_rest(m)
        self.assertAlmostEqual(rest, 0.2 / 9, delta=1e-4)  # c / (0.2 + c) = 0.1 when c_out >> c
        self.assertLess(abs(ca[0] / rest - 1), 1e-5)
        self.assertLess(abs(m.steady_state()["cyt.ca"] / rest - 1), 1e-5)
        s = r.summary()
        self.assertEqual(s["observable"], "cyt.ca")
        self.assertEqual(s["resting"], ca[0])

        # The influx at 100-110 ms: a peak, then back to rest (3 s is > 6 time constants).
        self.assertGreater(s["peak"], 3 * rest)
        self.assertTrue(100.0 <= s["peak_time_ms"] <= 120.0)
        self.assertLess(abs(ca[-1] / rest - 1), 0.01)

        # The influx's charge, by Faraday's law: 200 pA x 10 ms / (2 F) = 10.364 amol.
        influx = [b for b in r.budget if b["mechanism"] == "influx"]
        self.assertEqual(len(influx), 1)
        expected = 200e-12 * 10e-3 / (2 * FARADAY) * 1e18  # amol
        self.assertAlmostEqual(influx[0]["amount_amol"] / expected, 1.0, places=6)
        self.assertEqual((influx[0]["from"], influx[0]["to"]), ("bath", "cyt"))

        # Budgets close: the change of total Ca in the cytosol is what the channels moved.
        self.assertLess(r.budget_closure, 1e-9)
        moved = sum(b["amount_amol"] for b in r.budget if b["to"] == "cyt" and b["role"] != "conversion")
        (cyt,) = [b for b in r.balances if b["compartment"] == "cyt"]
        self.assertAlmostEqual(cyt["change_amol"], moved, delta=1e-9 * expected)
        self.assertAlmostEqual(s["removed_amol"]["influx"], -influx[0]["amount_amol"], places=12)
        self.assertAlmostEqual(s["atp_amol"]["pmca"], s["removed_amol"]["pmca"], places=9)  # 1 ATP per Ca

        # Decay: tau ~ (1 + kappa_B) / gamma for small transients (these are not small: c rises 5-fold, so
        # within 25 %), and twice the pump makes it markedly faster.
        kappa = m.get("fixed.total") * m.get("fixed.kd") / (m.get("fixed.kd") + rest) ** 2
        gamma = per_volume(m, "pmca.vmax") * m.get("pmca.kd") / (m.get("pmca.kd") + rest) ** 2 + per_volume(
            m, "leak.permeability"
        )
        tau = (1 + kappa) / gamma
        self.assertIsNotNone(s["decay_tau_ms"])
        self.assertLess(abs(s["decay_tau_ms"] / tau - 1), 0.25)
        self.assertLess(s["decay_tau_ms"], 0.6 * slow.summary()["decay_tau_ms"])

    def test_initial_concentration_relaxes_to_rest(self):
        m = buffered_cell()
        m.set("pmca.vmax", "60 uM/s").set("cyt.ca", "0.2 uM")
        r = m.run(t_end="4 s", start="initial")
        self.assertAlmostEqual(r.t_end, 4000.0)
        ca = r["cyt.ca"]
        self.assertAlmostEqual(ca[0], 0.2, places=12)
        # The buffer starts in equilibrium with it: B c / (K_B + c).
        self.assertAlmostEqual(r["fixed.bound"][0], 200 * 0.2 / (2 + 0.2), places=9)
        self.assertIsNone(r.rest)
        self.assertLess(abs(ca[-1] / pump_leak_rest(m) - 1), 0.005)
        self.assertEqual(set(r.final_state), {"cyt.ca", "fixed.bound"})

    def test_default_model(self):
        m = cadyn.default_model()
        self.assertEqual(m.source, "")
        r = m.run(t_end="300 ms")
        self.assertIn("cyt.ca", r)
        self.assertEqual(len(r.time), len(r["cyt.ca"]))
        self.assertLess(r.budget_closure, 1e-9)

    def test_parse(self):
        with open(os.path.join(MODELS, "buffered_cell.toml")) as f:
            text = f.read().replace('"30 uM/s"', '"60 uM/s"')
        m = cadyn.parse(text, source="doubled.toml")
        self.assertEqual(m.source, "doubled.toml")
        self.assertAlmostEqual(m.get("pmca.vmax") / buffered_cell().get("pmca.vmax"), 2.0, places=12)

    def test_arrays_are_read_only_views(self):
        r = buffered_cell().run(t_end="200 ms")
        ca = r["cyt.ca"]
        with self.assertRaises(ValueError):
            ca[0] = 1.0
        del r  # the arrays keep the records alive
        self.assertTrue(np.isfinite(ca).all())


    def test_observable_selection(self):
        # Recording a subset computes only those observables: the same values, to the bit, as in a full run (the
        # solver's steps do not depend on what is recorded), and nothing else is kept.
        m = buffered_cell()
        whole = m.run(t_end="200 ms")
        names = whole.names
        self.assertGreater(len(names), 2)
        some = m.run(t_end="200 ms", observables=[names[-1], names[0]])
        self.assertEqual(some.names, [names[0], names[-1]])  # in the model's recording order
        for n in (names[0], names[-1]):
            np.testing.assert_array_equal(some[n], whole[n])
        np.testing.assert_array_equal(some.time, whole.time)
        self.assertEqual(m.run(t_end="200 ms", observables="cyt.ca").names, ["cyt.ca"])
        with self.assertRaises(cadyn.ModelError) as e:
            m.run(t_end="10 ms", observables=["cyt.nope"])
        self.assertIn("no observable named 'cyt.nope'", str(e.exception))
        self.assertIn("cyt.ca", str(e.exception))
        with self.assertRaises(cadyn.ModelError):
            m.run(t_end="10 ms", observables=[])


    def test_sweep_in_threads_equals_runs_one_by_one(self):
        # cadyn.sweep (docs/sweeps.md): Li & Rinzel (1994) over IP3 and the SERCA capacity, two runs at a time. The
        # resting state loses stability at IP3 0.355 uM (Hopf): no period at 0.2 uM, one at 0.5 uM (bracketed loosely,
        # 10-15 s; the period's arithmetic is tested against sines in test_analysis.cpp). Each point equals the same
        # run made alone, to the bit.
        m = cadyn.load(os.path.join(MODELS, "li_rinzel.toml"))
        vary = {"cyt.ip3": ["0.2 uM", "0.5 uM"], "pump.vmax": ["0.9 uM/s", "1 uM/s"]}
        points = cadyn.sweep(m, vary, jobs=2, t_end="200 s", observables="cyt.ca")
        self.assertEqual([p["values"] for p in points],
                         [{"cyt.ip3": a, "pump.vmax": b} for a in vary["cyt.ip3"] for b in vary["pump.vmax"]])
        for p in points:
            self.assertIsNone(p["error"])
            alone = m.copy().set("cyt.ip3", p["values"]["cyt.ip3"]).set("pump.vmax", p["values"]["pump.vmax"])
            np.testing.assert_array_equal(p["result"]["cyt.ca"], alone.run(t_end="200 s")["cyt.ca"])
        rest, oscillating = points[0]["result"].summary(), points[2]["result"].summary()
        self.assertIsNone(rest["period_ms"])
        self.assertEqual(rest["cycles"], 0)
        self.assertGreater(oscillating["period_ms"], 10000)
        self.assertLess(oscillating["period_ms"], 15000)
        self.assertGreaterEqual(oscillating["cycles"], 5)
        # A wrong value raises before anything runs; a failed run is the point's error, the others go on.
        with self.assertRaises(cadyn.UnitError):
            cadyn.sweep(m, {"cyt.ip3": ["0.2 uM", "3 mV"]})
        failed = cadyn.sweep(m, {"max_steps": [1, 100000]}, t_end="10 s", start="initial")
        self.assertIsInstance(failed[0]["error"], cadyn.SolverError)
        self.assertIsNone(failed[0]["result"])
        self.assertIsNone(failed[1]["error"])

    def test_seed_of_stochastic_channels(self):
        # models/ip3r_puffs.toml: a cluster of 20 stochastic IP3Rs (docs/stochastic.md). The same seed gives the same
        # run, another seed another one; a negative seed is refused.
        m = cadyn.load(os.path.join(MODELS, "ip3r_puffs.toml"))
        a = m.run(t_end="30 s", seed=3, observables=["cyt.ca", "cluster.n3"])
        b = m.run(t_end="30 s", seed=3, observables=["cyt.ca", "cluster.n3"])
        c = m.run(t_end="30 s", seed=4, observables=["cyt.ca", "cluster.n3"])
        np.testing.assert_array_equal(a["cyt.ca"], b["cyt.ca"])
        self.assertFalse(np.array_equal(a["cluster.n3"], c["cluster.n3"]))
        self.assertTrue(np.all(a["cluster.n3"] == np.round(a["cluster.n3"])))
        self.assertGreater(a.stats["stochastic_events"], 10)
        with self.assertRaises(cadyn.Error):
            m.run(t_end="1 s", seed=-1)
        # The model's own seed, set and read back like any run setting.
        self.assertEqual(m.get("seed"), 1)
        d = m.copy().set("seed", 3).run(t_end="30 s", observables=["cyt.ca", "cluster.n3"])
        np.testing.assert_array_equal(d["cluster.n3"], a["cluster.n3"])
        with self.assertRaises(cadyn.ModelError):
            m.set("seed", -2)

    def test_ctrl_c_stops_a_run(self):
        # SIGINT during a run (Ctrl-C in a notebook): the engine looks for it at output steps, at most every 20 ms
        # of wall time, stops and raises KeyboardInterrupt. Li & Rinzel over 1e7 s would take about a minute.
        m = cadyn.load(os.path.join(MODELS, "li_rinzel.toml"))
        m.set("t_end", "1e7 s")
        m.set("record.interval", "100 s")
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        start = time.monotonic()
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                m.run()
        finally:
            timer.cancel()
        self.assertLess(time.monotonic() - start, 10.0)


class Spatial(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        model = cadyn.load(os.path.join(MODELS, "soma_radial.toml"))
        cls.model = model
        cls.r = model.run(t_end="300 ms")  # two spikes, at 200 and 250 ms

    def test_fields_have_the_grid_shape(self):
        r = self.r
        records = len(r.time)
        self.assertEqual(records, 151)  # every 2 ms
        self.assertEqual(set(r.fields), {"cyt.ca", "er.ca", "calbindin.bound"})  # the model's record.fields
        for name, values in r.fields.items():
            self.assertEqual(values.shape, (records, 40), name)
        self.assertEqual(r.field_units["cyt.ca"], "uM")
        g = r.grid
        self.assertEqual((g.geometry, g.dimensions, g.shape, g.size), ("shells", 1, (40,), 40))
        self.assertEqual(len(g.centres[0]), 40)
        self.assertEqual(len(g.edges[0]), 41)
        self.assertAlmostEqual(g.edges[0][-1], 10.0)
        self.assertAlmostEqual(g.volume.sum() / (4 / 3 * math.pi * 10.0**3), 1.0, places=9)
        self.assertEqual(g.reshape(r.fields["cyt.ca"][0]).shape, (40,))

    def test_fields_agree_with_the_traces(self):
        r, g = self.r, self.r.grid
        ca = r.fields["cyt.ca"]
        # "cyt.ca" is the volume average of the field; "cyt.ca@edge" (9.9 um) its outermost shell.
        average = ca @ g.volume / g.volume.sum()
        np.testing.assert_allclose(average, r["cyt.ca"], rtol=1e-9)
        np.testing.assert_allclose(ca[:, -1], r["cyt.ca@edge"], rtol=1e-12)
        np.testing.assert_allclose(ca[:, 0], r["cyt.ca@centre"], rtol=1e-12)
        # At rest until the first spike; then Ca enters at the membrane: the outer shell far above the centre.
        before = np.searchsorted(r.time, 198.0)
        np.testing.assert_allclose(ca[before], ca[0], rtol=1e-6)
        self.assertGreater(ca[:, -1].max(), 10 * ca[:, 0].max())
        self.assertTrue(200.0 <= r.time[np.argmax(ca[:, -1])] <= 260.0)

    def test_user_parameters(self):
        m = self.model.copy()
        m.set("na_rest", "12 mM").set("parameters.tau_na", "5 s")
        self.assertAlmostEqual(m.get("parameters.na_rest"), 12000.0, places=6)  # uM
        self.assertAlmostEqual(m.get("tau_na"), 5000.0, places=9)  # ms
        self.assertAlmostEqual(self.model.get("na_rest"), 10000.0, places=6)
        self.assertIn("parameters.tau_na", m.parameters)
        self.assertIn("pulse_train", cadyn.mechanism_types())
        self.assertAlmostEqual(cadyn.convert(1, "mM", "uM"), 1000.0, places=9)

    def test_field_selection(self):
        r = self.model.run(t_end="10 ms", fields="all")
        self.assertIn("fluo4.bound", r.fields)
        r = self.model.run(t_end="10 ms", fields=["er.ca"])
        self.assertEqual(list(r.fields), ["er.ca"])
        with self.assertRaises(cadyn.ModelError) as e:
            self.model.run(t_end="10 ms", fields=["cyt.nope"])
        self.assertIn("cyt.nope", str(e.exception))
        self.assertEqual(buffered_cell().run(t_end="10 ms").fields, {})
        self.assertIsNone(buffered_cell().run(t_end="10 ms").grid)

    def test_hdf5(self):
        try:
            import h5py
        except ImportError:
            self.skipTest("h5py is not installed (scripts/setup.sh installs python3-h5py)")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "results.h5")
            self.r.to_hdf5(path)
            with h5py.File(path, "r") as f:
                np.testing.assert_array_equal(f["traces/time"][()], self.r.time)
                np.testing.assert_array_equal(f["traces/cyt.ca"][()], self.r["cyt.ca"])
                np.testing.assert_array_equal(f["fields/cyt.ca"][()], self.r.fields["cyt.ca"])
                np.testing.assert_array_equal(f["grid/volume"][()], self.r.grid.volume)
                self.assertEqual(f.attrs["model_name"], "soma_radial")


class Plot(unittest.TestCase):
    def test_plot_writes_a_png(self):
        r = buffered_cell().run(t_end="500 ms")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "plot.png")
            fig = r.plot(path=path)
            with open(path, "rb") as f:
                head = f.read(8)
            self.assertEqual(head, b"\x89PNG\r\n\x1a\n")
            self.assertGreater(os.path.getsize(path), 10000)
            # One panel per group: cyt.ca, the other concentrations (fixed.bound), the fluxes.
            self.assertEqual(len(fig.axes), 3)

            from matplotlib.figure import Figure

            own = Figure()
            ax = own.add_subplot()
            self.assertIs(r.plot(ax=ax, names=["cyt.ca", "fixed.bound"]), own)
            self.assertEqual(len(ax.lines), 2)
            path2 = os.path.join(d, "two.png")
            own.savefig(path2)
            self.assertTrue(os.path.exists(path2))
        with self.assertRaises(KeyError):
            r.plot(names=["cyt.nope"])


class Errors(unittest.TestCase):
    def test_broken_model_has_the_cli_message(self):
        path = os.path.join(BROKEN, "unknown_mechanism_parameter_vmaxx.toml")
        with self.assertRaises(cadyn.ModelError) as caught:
            cadyn.load(path)
        e = caught.exception
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, cadyn.Error)
        with open(path) as f:
            line = [n for n, text in enumerate(f, start=1) if "vmaxx" in text.split("#")[0]][0]
        self.assertTrue(str(e).startswith(f"{path}:{line}:"), str(e))
        self.assertIn("'mechanisms.pmca.vmaxx'", str(e))
        self.assertIn("its parameters are: vmax, kd, hill", str(e))
        self.assertEqual(e.problems[0]["line"], line)
        self.assertEqual(e.problems[0]["key"], "mechanisms.pmca.vmaxx")
        status, stderr = cli("run", path)
        self.assertEqual(status, 2)
        self.assertEqual(stderr, str(e) + "\n")

    def test_several_problems_like_the_cli(self):
        path = os.path.join(BROKEN, "several_problems.toml")
        with self.assertRaises(cadyn.ModelError) as caught:
            cadyn.load(path)
        self.assertEqual(len(caught.exception.problems), 6)
        self.assertEqual(len(str(caught.exception).splitlines()), 6)
        status, stderr = cli("run", path)
        self.assertEqual(stderr, str(caught.exception) + "\n")

    def test_toml_syntax_error(self):
        with self.assertRaises(cadyn.ModelError) as caught:
            cadyn.parse('format_version = 1\nname = "x\n', source="typed.toml")
        self.assertTrue(str(caught.exception).startswith("typed.toml:2:"), str(caught.exception))
        self.assertIn("TOML syntax error", str(caught.exception))

    def test_missing_file(self):
        with self.assertRaises(cadyn.ModelError) as caught:
            cadyn.load("/nonexistent/model.toml")
        self.assertEqual(str(caught.exception), "/nonexistent/model.toml: cannot open the model file")

    def test_wrong_unit(self):
        m = buffered_cell()
        before = m.get("pmca.vmax")
        with self.assertRaises(cadyn.UnitError) as caught:
            m.set("pmca.vmax", "25 mV")
        e = caught.exception
        self.assertIsInstance(e, cadyn.ModelError)
        self.assertIsInstance(e, ValueError)
        self.assertEqual(
            str(e), "'pmca.vmax': '25 mV' is an electric potential; expected an amount per area per time, "
            "e.g. '2 pmol/cm^2/s'"
        )
        self.assertEqual(m.get("pmca.vmax"), before)  # unchanged
        with self.assertRaises(cadyn.UnitError) as caught:
            m.set("cyt.ca", 0.2)  # a bare number for a concentration
        self.assertIn("'cyt.ca'", str(caught.exception))
        self.assertIn("unit", str(caught.exception))
        with self.assertRaises(cadyn.UnitError):
            m.set("cyt.ca", "0.2 furlongs")
        with self.assertRaises(cadyn.UnitError) as caught:
            m.run(t_end=5)  # no unit
        self.assertIn("missing unit", str(caught.exception))
        # run's t_end: the CLI's --t-end message.
        with self.assertRaises(cadyn.UnitError) as caught:
            m.run(t_end="5 mV")
        status, stderr = cli("run", os.path.join(MODELS, "buffered_cell.toml"), "--t-end", "5 mV")
        self.assertEqual((status, stderr), (2, "error: " + str(caught.exception) + "\n"))

    def test_bad_keys_and_values(self):
        m = buffered_cell()
        with self.assertRaises(cadyn.ModelError) as caught:
            m.set("pmca.vmaxx", "1 uM/s")
        self.assertIn("its parameters are: vmax, kd, hill", str(caught.exception))
        with self.assertRaises(cadyn.ModelError) as caught:
            m.set("nothing", "1 uM")
        self.assertIn("'nothing'", str(caught.exception))
        with self.assertRaises(cadyn.ModelError) as caught:
            m.set("pmca.kd", "-1 uM")  # out of the parameter's range: validate()'s message
        self.assertIn("'mechanisms.pmca.kd'", str(caught.exception))
        self.assertIn("out of range", str(caught.exception))
        with self.assertRaises(cadyn.ModelError):
            m.set("start", "rest")
        self.assertEqual(m.get("pmca.kd"), 0.2)

    def test_solver_error(self):
        path = os.path.join(SOURCE, "tests", "data", "longrun", "blowup.toml")
        with self.assertRaises(cadyn.SolverError) as caught:
            cadyn.load(path).run()
        self.assertIsInstance(caught.exception, RuntimeError)
        self.assertIn("cyt.y", str(caught.exception))
        status, stderr = cli("run", path)
        self.assertEqual(status, 3)
        self.assertTrue(stderr.startswith("solver error: " + str(caught.exception) + "\n"), stderr)

    def test_sbml_export_loads_back_with_the_same_traces(self):
        # cadyn export-sbml writes the model as SBML Level 3; cadyn.load reads it back through the engine's importer:
        # the traces agree within the integration tolerance (rtol 1e-6 in the model).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "buffered_cell.xml")
            if not BINARY:
                raise unittest.SkipTest("CADYN_BINARY is not set (ctest sets it)")
            p = subprocess.run([BINARY, "export-sbml", os.path.join(MODELS, "buffered_cell.toml"), "-o", path],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            toml_run = buffered_cell().run(t_end="1 s")
            sbml_run = cadyn.load(path).run(t_end="1 s")
        # The export names species by SBML ids ("cyt_ca" in compartment "cyt"; docs/sbml.md).
        # SBML carries no record interval: compare at the TOML run's record times (both include every one of them).
        a = toml_run["cyt.ca"]
        b = np.interp(toml_run.time, sbml_run.time, sbml_run["cyt.cyt_ca"])
        self.assertTrue(set(toml_run.time.tolist()) <= set(sbml_run.time.tolist()))
        self.assertLess(float(np.max(np.abs(a - b))), 1e-5 * float(np.max(np.abs(a))))

    def test_unreadable_sbml_is_a_model_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "broken.xml")
            with open(path, "w") as f:
                f.write("<sbml><model>")
            with self.assertRaises(cadyn.ModelError):
                cadyn.load(path)

if __name__ == "__main__":
    unittest.main()
