// Channel: one open Ca channel as a point source of Ca current (a single-channel nanodomain's source).
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

class channel_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "channel",
            .kind = mechanism_kind::membrane,
            .summary = "A single open Ca channel, a point source of Ca current into the inner compartment; placed "
                       "`at` a point of a spatial model, its nanodomain (see `cadyn nanodomain`)",
            .equations = "J_in = i / (z F) while open_at <= t < close_at, 0 otherwise (z = 2);\n"
                         "the current is per instance, not per area: with `at` the channel is one membrane face;\n"
                         "around it, at steady state, c(r) - c_inf = J_in / (2 pi D_Ca r) without buffers "
                         "(flux into a half-space)",
            .citation = "Faraday's law, i = z F J; single-channel point source: Neher (1986) Exp Brain Res Ser "
                        "14:80-96, Naraghi & Neher (1997) J Neurosci 17:6961-6973, Neher (1998) Neuron "
                        "20:389-399 (0.1-1 pA unitary Ca currents)",
            .parameters =
                {
                    {"current", &dims::current, "0.5 pA", -inf, inf,
                     "Ca current carried into the inner compartment while open (per channel, positive inward)"},
                    {"open_at", &dims::time, "0 ms", 0, inf, "when the channel opens"},
                    {"close_at", &dims::time, "1e9 s", 0, inf, "when it closes (default: never, in practice)"},
                },
            .reads = {},
            .outputs = {"ca"},
            .states = {},
            .energy = energy_source::external,
            // Not a stimulus: the resting state of a cell with an open channel is its nanodomain's steady state.
            .is_stimulus = false,
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* current = p.param[0];
        const double* open_at = p.param[1];
        const double* close_at = p.param[2];
        for (std::size_t i = 0; i < p.n; ++i) {
            const bool open = p.t >= open_at[i] && p.t < close_at[i];
            p.out[0][i] = open ? current[i] * constants::zmol_per_ms_per_pA / ca_valence : 0.0;
        }
    }

    void breakpoints(const double* const* par, std::size_t n, double t_end, std::vector<double>& out) const override {
        for (std::size_t i = 0; i < n; ++i) {
            for (const double edge: {par[1][i], par[2][i]}) {
                if (edge > 0 && edge <= t_end) {
                    out.push_back(edge);
                }
            }
        }
    }
};

} // namespace

const mechanism& channel() {
    static const channel_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
