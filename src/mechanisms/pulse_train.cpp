// Pulse train: rectangular Ca current pulses across a membrane (a spike train's Ca entry, an uncaging flash).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

#include <fmt/format.h>

#include <cadyn/error.hpp>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

// Onset of pulse k. Written once so that rates() and breakpoints() agree to the last bit; k = 0 is special-cased
// because 0 * inf (frequency 0: a single pulse) is NaN.
double onset_of(double k, double start, double period) {
    return k > 0 ? start + k * period : start;
}

// Whether a pulse is running at time t: the latest pulse that has started, if it has not ended. Pulses longer
// than the period overlap and the current stays on (it does not add up).
bool in_pulse(double t, double start, double duration, double frequency, double count) {
    if (t < start || count < 1) {
        return false;
    }
    const double period = frequency > 0 ? 1.0 / frequency : inf;
    double k = std::floor((t - start) / period);
    // The division can round across a pulse edge; settle k on the same onsets that breakpoints() reports.
    if (k > 0 && onset_of(k, start, period) > t) {
        k -= 1;
    }
    else if (onset_of(k + 1, start, period) <= t) {
        k += 1;
    }
    // After the last onset only the last pulse can still be running (a single pulse may outlast the period).
    k = std::min(k, std::floor(count) - 1);
    const double onset = onset_of(k, start, period);
    return t >= onset && t < onset + duration;
}

class pulse_train_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "pulse_train",
            .kind = mechanism_kind::membrane,
            .summary = "Rectangular Ca current pulses into the inner compartment (spike-train or uncaging stimulus)",
            .equations = "J_in = I / (z F) during each pulse, 0 otherwise; pulse k (0 <= k < count) runs over "
                         "[start + k/f, start + k/f + duration)",
            .citation = "Faraday's law, I = z F J (z = 2 for Ca2+)",
            .parameters =
                {
                    {"amplitude", &dims::current, "100 pA", -inf, inf,
                     "Ca current carried into the inner compartment during a pulse (per instance)"},
                    {"start", &dims::time, "0 ms", 0, inf, "onset of the first pulse"},
                    {"duration", &dims::time, "2 ms", 0, inf, "length of each pulse"},
                    {"frequency", &dims::rate, "20 Hz", 0, inf, "pulse rate"},
                    {"count", &dims::dimensionless, "1", 0, 1e9, "number of pulses"},
                },
            .reads = {},
            .outputs = {"ca"},
            .states = {},
            .energy = energy_source::external,
            .is_stimulus = true,
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const bool on = in_pulse(p.t, par[1][i], par[2][i], par[3][i], par[4][i]);
            p.out[0][i] = on ? par[0][i] * constants::zmol_per_ms_per_pA / ca_valence : 0.0;
        }
    }

    void breakpoints(const double* const* par, std::size_t n, double t_end, std::vector<double>& out) const override {
        // The solver stops at every edge; refuse up front a train whose edges alone would not fit in memory.
        constexpr double most_edges = 5e7;  // 400 MB of times
        double edges = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double in_run = par[3][i] > 0 ? std::floor((t_end - par[1][i]) * par[3][i]) + 1 : 1.0;
            edges += 2 * std::max(0.0, std::min(par[4][i], in_run));
        }
        if (edges > most_edges) {
            throw error(fmt::format("a pulse train with {:.3g} pulse edges within t_end: the solver stops at each "
                                    "edge, and more than {:.0g} are refused; lower its count or frequency, or "
                                    "shorten the run",
                                    edges, most_edges));
        }
        for (std::size_t i = 0; i < n; ++i) {
            const double period = par[3][i] > 0 ? 1.0 / par[3][i] : inf;
            for (double k = 0; k < par[4][i]; ++k) {
                const double onset = onset_of(k, par[1][i], period);
                if (onset > t_end) {
                    break;
                }
                // Only times in (0, t_end], as the interface promises.
                for (const double edge: {onset, onset + par[2][i]}) {
                    if (edge > 0 && edge <= t_end) {
                        out.push_back(edge);
                    }
                }
            }
        }
    }
};

} // namespace

const mechanism& pulse_train() {
    static const pulse_train_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
