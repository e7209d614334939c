// Question (issue 8): what do the kernels cost over many sites, how does the cost grow with size, and how close
// does the diffusion-reaction right-hand side come to the machine's memory bandwidth?
//
//  - bm_mechanism/<type>/n: one mechanism's rates() over n sites, on structure-of-arrays inputs filled here from
//    the info table's defaults. items_per_second counts sites; bytes_per_second counts the bytes the kernel's
//    arrays hold per site (each array it reads or writes once: parameters, concentrations, states, derivatives,
//    outputs, size, potential).
//  - bm_triad: a STREAM-like triad a = b + s * c over 3 x 128 MiB (4x the 32 MiB L3 of the development
//    machine), one thread: the memory-bandwidth reference, counted as STREAM counts it (24 bytes per element).
//  - bm_rhs_box/n and bm_rhs_cable/n: system::rhs() of a spatial model with free Ca and one mobile buffer
//    (calbindin) diffusing over n voxels: the buffer's binding in every voxel plus finite-volume diffusion of
//    both fields. items_per_second counts voxel-steps; bytes_per_second counts the streams the engine's rhs
//    passes over (see rhs_bytes_per_voxel); the counter min_bytes_per_voxel is what any implementation must move
//    (read y and write ydot, 8 bytes each per field and voxel).
//
// bench/kernel_scaling.py runs this binary and writes the table and the plot in docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/mechanism.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

namespace {

// --- mechanism kernels ---------------------------------------------------------------------------------------

// Physiological concentrations for each read of a mechanism, in the order of its info table [uM].
struct mechanism_case {
    std::string_view type;
    std::vector<double> conc;  // per read
    bool reads_potential;      // whether rates() reads p.potential
};

const std::vector<mechanism_case>& cases() {
    static const std::vector<mechanism_case> all{
        {"pmca", {0.1}, false},                              // ca inner (cytosol)
        {"serca", {0.1}, false},                             // ca outer (cytosol)
        {"buffer", {0.1}, false},                            // ca local
        {"ip3r_li_rinzel", {500.0, 0.1, 0.4}, false},        // ca inner (ER lumen), ca outer (cytosol), ip3 outer
        {"ncx", {0.1, 1500.0, 10000.0, 145000.0}, true},     // ca inner, ca outer, na inner, na outer
    };
    return all;
}

// The arrays one kernel call works on, owned here and filled from the info table's defaults.
struct kernel_arrays {
    std::size_t n = 0;
    std::vector<std::vector<double>> param, conc, state, dstate, out;
    std::vector<const double*> param_ptr, conc_ptr, state_ptr;
    std::vector<double*> dstate_ptr, out_ptr;
    std::vector<double> size, potential;
    cadyn::mechanism_pack pack;
    double bytes_per_site = 0;  // bytes rates() reads and writes per site

    kernel_arrays(const cadyn::mechanism& m, const mechanism_case& c, std::size_t sites): n(sites) {
        const auto& info = m.info();
        std::size_t arrays = 0;
        for (const auto& f: info.parameters) {
            param.emplace_back(n, cadyn::to_canonical(f.default_text, *f.dim));
            // The buffer's diffusion coefficient is for the engine; its kernel never reads it.
            arrays += f.name == "diffusion" ? 0 : 1;
        }
        for (std::size_t r = 0; r < info.reads.size(); ++r) {
            auto& v = conc.emplace_back(n);
            for (std::size_t i = 0; i < n; ++i) {
                v[i] = c.conc[r] * (1.0 + 0.01 * static_cast<double>(i % 17));  // not all equal
            }
        }
        arrays += info.reads.size();
        for (std::size_t s = 0; s < info.states.size(); ++s) {
            state.emplace_back(n, 0.5);
            dstate.emplace_back(n, 0.0);
        }
        arrays += 2 * info.states.size();
        for (std::size_t k = 0; k < info.outputs.size(); ++k) {
            out.emplace_back(n, 0.0);
        }
        arrays += info.outputs.size();
        // Membrane kernels scale by the area; volume kernels write concentration rates and do not read it.
        size.assign(n, 1.0);
        arrays += info.kind == cadyn::mechanism_kind::membrane ? 1 : 0;
        potential.assign(n, -70.0);
        arrays += c.reads_potential ? 1 : 0;
        bytes_per_site = 8.0 * static_cast<double>(arrays);

        // init() sets the states from the concentrations (the buffer in equilibrium with Ca, h at rest).
        point_pack();
        std::vector<double*> st;
        for (auto& s: state) {
            st.push_back(s.data());
        }
        m.init(pack, st.data());
    }

    void point_pack() {
        param_ptr.clear();
        conc_ptr.clear();
        state_ptr.clear();
        dstate_ptr.clear();
        out_ptr.clear();
        for (auto& v: param) {
            param_ptr.push_back(v.data());
        }
        for (auto& v: conc) {
            conc_ptr.push_back(v.data());
        }
        for (auto& v: state) {
            state_ptr.push_back(v.data());
        }
        for (auto& v: dstate) {
            dstate_ptr.push_back(v.data());
        }
        for (auto& v: out) {
            out_ptr.push_back(v.data());
        }
        pack.n = n;
        pack.t = 0;
        pack.temperature = 310.15;
        pack.param = param_ptr.data();
        pack.conc = conc_ptr.data();
        pack.state = state_ptr.data();
        pack.dstate = dstate_ptr.data();
        pack.out = out_ptr.data();
        pack.size = size.data();
        pack.potential = potential.data();
    }
};

void bm_mechanism(benchmark::State& state, const mechanism_case* c) {
    const auto* m = cadyn::find_mechanism(c->type);
    if (m == nullptr) {
        state.SkipWithError("mechanism not in the catalogue");
        return;
    }
    const auto n = static_cast<std::size_t>(state.range(0));
    kernel_arrays k(*m, *c, n);
    for (auto _: state) {
        m->rates(k.pack);
        benchmark::DoNotOptimize(k.out[0].data());
        benchmark::ClobberMemory();
    }
    const auto sites = static_cast<double>(state.iterations()) * static_cast<double>(n);
    state.SetItemsProcessed(static_cast<std::int64_t>(sites));
    state.SetBytesProcessed(static_cast<std::int64_t>(sites * k.bytes_per_site));
    state.counters["sites"] = static_cast<double>(n);
    state.counters["bytes_per_site"] = k.bytes_per_site;
    state.counters["ns_per_site"] =
        benchmark::Counter(static_cast<double>(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                               benchmark::Counter::kInvert);
}

// --- memory bandwidth reference --------------------------------------------------------------------------------

void bm_triad(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    std::vector<double> a(n, 0.0);
    std::vector<double> b(n, 1.0);
    std::vector<double> c(n, 2.0);
    const double s = 3.0;
    for (auto _: state) {
        double* pa = a.data();
        const double* pb = b.data();
        const double* pc = c.data();
        for (std::size_t i = 0; i < n; ++i) {
            pa[i] = pb[i] + s * pc[i];
        }
        benchmark::DoNotOptimize(pa);
        benchmark::ClobberMemory();
    }
    const auto elements = static_cast<double>(state.iterations()) * static_cast<double>(n);
    state.SetItemsProcessed(static_cast<std::int64_t>(elements));
    state.SetBytesProcessed(static_cast<std::int64_t>(elements * 24.0));
    state.counters["array_MiB"] = static_cast<double>(n) * 8.0 / (1 << 20);
}

// --- diffusion-reaction right-hand side ------------------------------------------------------------------------

// Free Ca diffusing at 220 um^2/s and calbindin-D28k (40 uM, Kd 0.4 uM) at 27 um^2/s, as in
// models/soma_radial.toml, over `geometry`. No membranes: the rhs is the buffer's binding plus diffusion.
std::string spatial_model(const std::string& geometry) {
    return fmt::format(R"(format_version = 1
name = "kernels_bench"
description = "Ca and one mobile buffer diffusing over a grid"
temperature = "37 degC"

[geometry]
{}

[[compartments]]
name = "cyt"
diffusion = {{ ca = "220 um^2/s" }}
concentrations = {{ ca = "100 nM" }}

[[buffers]]
name = "calbindin"
compartment = "cyt"
total = "40 uM"
kd = "0.4 uM"
kon = "20 uM^-1 s^-1"
diffusion = "27 um^2/s"
)",
                       geometry);
}

std::string box_geometry(std::size_t per_side) {
    // 0.5 um voxels.
    const double length = 0.5 * static_cast<double>(per_side);
    return fmt::format("type = \"box\"\nsize = [\"{0} um\", \"{0} um\", \"{0} um\"]\nvoxels = [{1}, {1}, {1}]",
                       length, per_side);
}

std::string cable_geometry(std::size_t voxels) {
    // 0.5 um voxels along a 1 um thick dendrite.
    return fmt::format("type = \"cable\"\nlength = \"{} um\"\ndiameter = \"1 um\"\nvoxels = {}",
                       0.5 * static_cast<double>(voxels), voxels);
}

// Compiling a 1e6-voxel model takes seconds; Google Benchmark calls each function several times, so keep them.
cadyn::system& cached_system(const std::string& geometry) {
    static std::map<std::string, std::unique_ptr<cadyn::system>> cache;
    auto& slot = cache[geometry];
    if (!slot) {
        cache.clear();  // one large system at a time
        auto& fresh = cache[geometry];
        fresh = std::make_unique<cadyn::system>(cadyn::compile(cadyn::parse_model(spatial_model(geometry), "bench")));
        return *fresh;
    }
    return *slot;
}

// The streams the engine's rhs passes over per voxel (src/model/system.cpp, evaluate() and diffuse()), each
// counted once (8-byte values, std::size_t indices; neighbours' values are reused from cache: the faces come
// sorted by voxel, so even the z neighbour, n^2 voxels ahead, is still in L2):
//   zero ydot                                      8 * fields
//   buffer (one instance per voxel: it reads and adds in place, no gather and no site indices; its parameters
//   total, kd, kon come from a 1024-voxel copy that stays in cache, not counted)
//           rates(): Ca, bound, dbound, out                      32
//           scatter (out, ydot read+write)                       24
//   per diffuser along runs of faces (a graded cable, shells): y, ydot read+write: 24, plus zeroing; on a cable or a
//   box of equal voxels the 3- or 7-point stencil instead (no face arrays), block by block with the buffer
//   (src/model/system.cpp, evaluate_fused): for Ca it writes ydot first (y 8, ydot 8, and no zeroing), for the bound
//   buffer it adds after the buffer's rates (y 8, ydot read+write 16); the buffer's state needs no zeroing (its
//   rates() assigns it) and its output goes to a block-sized scratch in L1 (not counted): rates() 24 (Ca, bound,
//   dbound), its addition to Ca's ydot 16. The face arrays (a, b as 32-bit indices, weight: 16 per face, 1/volume 8)
//   serve only grids without the stencil (graded spacing).
enum class diffusion_layout { face_runs, stencil };
double rhs_bytes_per_voxel(double fields, double diffusers, diffusion_layout layout) {
    if (layout == diffusion_layout::stencil) {
        return (24.0 + 16.0) + 16.0 + 24.0 * (diffusers - 1.0);
    }
    return 8.0 * fields + (32.0 + 24.0) + diffusers * 24.0;
}

void run_rhs(benchmark::State& state, const std::string& geometry, diffusion_layout layout) {
    auto& sys = cached_system(geometry);
    const auto voxels = static_cast<double>(sys.mesh()->size());
    const auto faces = static_cast<double>(sys.mesh()->faces.size());
    auto y = sys.initial_state();
    // A gradient, so that every face carries a flux (the cost does not depend on it).
    for (std::size_t i = 0; i < y.size(); ++i) {
        y[i] *= 1.0 + 1e-3 * static_cast<double>(i % 101);
    }
    std::vector<double> ydot(y.size());
    const double fields = static_cast<double>(y.size()) / voxels;  // ca, calbindin.bound
    const double bytes = rhs_bytes_per_voxel(fields, 2.0, layout);
    for (auto _: state) {
        sys.rhs(1.0, y.data(), ydot.data());
        benchmark::DoNotOptimize(ydot.data());
        benchmark::ClobberMemory();
    }
    const auto steps = static_cast<double>(state.iterations()) * voxels;
    state.SetItemsProcessed(static_cast<std::int64_t>(steps));
    state.SetBytesProcessed(static_cast<std::int64_t>(steps * bytes));
    state.counters["voxels"] = voxels;
    state.counters["faces_per_voxel"] = faces / voxels;
    state.counters["bytes_per_voxel"] = bytes;
    state.counters["min_bytes_per_voxel"] = 16.0 * fields;
    state.counters["ns_per_voxel"] = benchmark::Counter(
        voxels * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void bm_rhs_box(benchmark::State& state) {
    run_rhs(state, box_geometry(static_cast<std::size_t>(state.range(0))), diffusion_layout::stencil);
}
void bm_rhs_cable(benchmark::State& state) {
    run_rhs(state, cable_geometry(static_cast<std::size_t>(state.range(0))), diffusion_layout::stencil);
}

const bool registered = [] {
    for (const auto& c: cases()) {
        benchmark::RegisterBenchmark(fmt::format("bm_mechanism/{}", c.type).c_str(), bm_mechanism, &c)
            ->RangeMultiplier(10)
            ->Range(1000, 1000000)
            ->Unit(benchmark::kMicrosecond);
    }
    return true;
}();

} // namespace

BENCHMARK(bm_triad)->Arg(16 << 20)->Unit(benchmark::kMillisecond)->MinTime(1.0);
// Box: 10^3, 20^3, 50^3, 100^3 voxels (0.5 um each); cable: 1e3 .. 1e6 voxels.
BENCHMARK(bm_rhs_box)->Arg(10)->Arg(20)->Arg(50)->Arg(100)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_rhs_cable)->RangeMultiplier(10)->Range(1000, 1000000)->Unit(benchmark::kMicrosecond);
