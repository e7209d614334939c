// Buffer: reversible 1:1 binding of Ca with explicit kinetics, Ca + B <-> CaB.
#include <limits>

#include "mechanisms/mechanisms.hpp"
#include "util/clones.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// The binding rate over n sites; compiled for AVX2 as well as the baseline, picked at run time (target_clones).
CADYN_AVX2_CLONES void binding(std::size_t n, const double* total, const double* kd,
                                                              const double* kon, const double* c,
                                                              const double* bound, double* dbound, double* dc) {
    for (std::size_t i = 0; i < n; ++i) {
        const double j = kon[i] * (c[i] * (total[i] - bound[i]) - kd[i] * bound[i]);
        dbound[i] = j;
        dc[i] = -j;
    }
}

class buffer_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "buffer",
            .kind = mechanism_kind::volume,
            .summary = "Ca buffer with explicit binding kinetics (fixed, or mobile with a diffusion coefficient)",
            .equations = "d[CaB]/dt = kon [Ca] ([B]tot - [CaB]) - koff [CaB],  koff = kon Kd;  d[Ca]/dt -= d[CaB]/dt\n"
                         "At equilibrium the buffer capacity is kappa = [B]tot Kd / (Kd + [Ca])^2",
            .citation = "Neher & Augustine (1992) J Physiol 450:273-301; typical endogenous fixed buffer "
                        "(kon ~1e8 /M/s): Xu, Naraghi, Kang & Neher (1997) Biophys J 73:532-545",
            .parameters =
                {
                    {"total", &dims::concentration, "100 uM", 0, inf, "total buffer concentration [B]tot"},
                    {"kd", &dims::concentration, "1 uM", 1e-12, inf, "dissociation constant Kd"},
                    {"kon", &dims::second_order_rate, "0.1 uM^-1 ms^-1", 0, inf, "association rate constant"},
                    {"diffusion", &dims::diffusivity, "0 um^2/s", 0, inf,
                     "diffusion coefficient of the buffer (0: fixed; used by spatial models)"},
                },
            .reads = {{"ca", side::local}},
            .outputs = {"ca"},
            .states = {{"bound", &dims::concentration, "Ca-bound buffer [CaB]", "ca", 1.0}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* total = p.param[0];
        const double* kd = p.param[1];
        const double* kon = p.param[2];
        const double* c = p.conc[0];
        const double* bound = p.state[0];
        double* dbound = p.dstate[0];
        double* dc = p.out[0];
        binding(p.n, total, kd, kon, c, bound, dbound, dc);
    }

    // Start in equilibrium with the free Ca: [CaB] = [B]tot [Ca] / (Kd + [Ca]).
    void init(const mechanism_pack& p, double* const* state) const override {
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c = p.conc[0][i];
            state[0][i] = p.param[0][i] * c / (p.param[1][i] + c);
        }
    }
};

} // namespace

const mechanism& buffer() {
    static const buffer_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
