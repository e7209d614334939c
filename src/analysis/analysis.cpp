#include <algorithm>
#include <cmath>
#include <limits>

#include <cadyn/analysis.hpp>
#include <cadyn/catalogue.hpp>

namespace cadyn {

namespace {

// Best baseline and amplitude for a given tau; returns the residual sum of squares.
double fit_linear_part(std::span<const double> t, std::span<const double> y, double tau, double& baseline,
                       double& amplitude) {
    const auto n = static_cast<double>(t.size());
    double se = 0;
    double see = 0;
    double sy = 0;
    double sey = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double e = std::exp(-(t[i] - t[0]) / tau);
        se += e;
        see += e * e;
        sy += y[i];
        sey += e * y[i];
    }
    const double det = n * see - se * se;
    if (std::abs(det) < 1e-300) {
        baseline = sy / n;
        amplitude = 0;
    }
    else {
        baseline = (see * sy - se * sey) / det;
        amplitude = (n * sey - se * sy) / det;
    }
    double ss = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double r = y[i] - baseline - amplitude * std::exp(-(t[i] - t[0]) / tau);
        ss += r * r;
    }
    return ss;
}

} // namespace

std::optional<exponential_fit> fit_exponential(std::span<const double> t, std::span<const double> y) {
    if (t.size() < 4 || t.size() != y.size()) {
        return std::nullopt;
    }
    const double span = t.back() - t.front();
    if (!(span > 0)) {
        return std::nullopt;
    }
    double b = 0;
    double a = 0;
    // Scan log(tau) from 1/1000 of the window to 100 windows.
    const double lo = std::log(span * 1e-3);
    const double hi = std::log(span * 1e2);
    constexpr int steps = 200;
    int best = 0;
    double best_ss = std::numeric_limits<double>::infinity();
    for (int k = 0; k <= steps; ++k) {
        const double ss = fit_linear_part(t, y, std::exp(lo + (hi - lo) * k / steps), b, a);
        if (ss < best_ss) {
            best_ss = ss;
            best = k;
        }
    }
    // Golden-section refinement between the neighbours of the best grid point.
    double x0 = lo + (hi - lo) * std::max(best - 1, 0) / steps;
    double x3 = lo + (hi - lo) * std::min(best + 1, steps) / steps;
    const double g = (std::sqrt(5.0) - 1) / 2;
    double x1 = x3 - g * (x3 - x0);
    double x2 = x0 + g * (x3 - x0);
    double f1 = fit_linear_part(t, y, std::exp(x1), b, a);
    double f2 = fit_linear_part(t, y, std::exp(x2), b, a);
    for (int it = 0; it < 100 && (x3 - x0) > 1e-12; ++it) {
        if (f1 < f2) {
            x3 = x2;
            x2 = x1;
            f2 = f1;
            x1 = x3 - g * (x3 - x0);
            f1 = fit_linear_part(t, y, std::exp(x1), b, a);
        }
        else {
            x0 = x1;
            x1 = x2;
            f1 = f2;
            x2 = x0 + g * (x3 - x0);
            f2 = fit_linear_part(t, y, std::exp(x2), b, a);
        }
    }
    exponential_fit fit;
    fit.tau = std::exp((x0 + x3) / 2);
    const double ss = fit_linear_part(t, y, fit.tau, fit.baseline, fit.amplitude);
    fit.rms = std::sqrt(ss / static_cast<double>(t.size()));
    // Flat data do not decay: their fitted amplitude is rounding noise (~1e-16 of the values), not exactly 0, and
    // its tau is arbitrary. Treat an amplitude below 1e-10 of the largest |y| as none.
    double scale = 0;
    for (const double v: y) {
        scale = std::max(scale, std::abs(v));
    }
    if (!std::isfinite(fit.tau) || !(std::abs(fit.amplitude) > 1e-10 * scale)) {
        return std::nullopt;
    }
    return fit;
}

transient_summary summarize_transient(std::span<const double> t, std::span<const double> y, double last_stimulus) {
    transient_summary s;
    if (t.empty()) {
        return s;
    }
    s.resting = y[0];
    const auto peak = std::max_element(y.begin(), y.end());
    s.peak = *peak;
    s.peak_time = t[static_cast<std::size_t>(peak - y.begin())];
    const auto first = std::lower_bound(t.begin(), t.end(), last_stimulus);
    if (first == t.end()) {
        return s;
    }
    const auto start = static_cast<std::size_t>(first - t.begin());
    const auto local_peak = std::max_element(y.begin() + static_cast<long>(start), y.end());
    const auto from = static_cast<std::size_t>(local_peak - y.begin());
    s.decay_from = t[from];
    auto fit = fit_exponential(t.subspan(from), y.subspan(from));
    if (fit && fit->amplitude > 0) {
        s.decay = fit;
    }
    return s;
}

std::optional<oscillation> oscillation_period(std::span<const double> t, std::span<const double> y) {
    if (t.size() != y.size() || t.size() < 4) {
        return std::nullopt;
    }
    const double middle = 0.5 * (t.front() + t.back());
    const auto from = static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), middle) - t.begin());
    if (t.size() - from < 4) {
        return std::nullopt;
    }
    double sum = 0;
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    for (std::size_t i = from; i < t.size(); ++i) {
        sum += y[i];
        low = std::min(low, y[i]);
        high = std::max(high, y[i]);
    }
    const double mean = sum / static_cast<double>(t.size() - from);
    if (!std::isfinite(mean) || !(high - low > 1e-6 * std::abs(mean)) || high - low <= 0) {
        return std::nullopt;
    }
    const double below = mean - 0.1 * 0.5 * (high - low);
    bool armed = false;  // been below `below` since the last crossing
    std::vector<double> up;
    for (std::size_t i = from; i < t.size(); ++i) {
        if (y[i] < below) {
            armed = true;
        }
        if (armed && i > from && y[i - 1] < mean && y[i] >= mean) {
            up.push_back(t[i - 1] + (mean - y[i - 1]) / (y[i] - y[i - 1]) * (t[i] - t[i - 1]));
            armed = false;
        }
    }
    if (up.size() < 3) {
        return std::nullopt;
    }
    return oscillation{(up.back() - up.front()) / static_cast<double>(up.size() - 1), up.size() - 1};
}

std::vector<removal> removal_by_mechanism(const system& sys, const std::vector<double>& budget,
                                          const std::string& compartment, const std::string& species) {
    std::vector<removal> out;
    const auto& channels = sys.flux_channels();
    for (std::size_t c = 0; c < channels.size() && c < budget.size(); ++c) {
        const auto& ch = channels[c];
        if (ch.species != species) {
            continue;
        }
        double removed = 0;
        if (ch.to == compartment) {
            removed = -budget[c];  // amount into `to`: negative when taken out
        }
        else if (ch.from == compartment) {
            removed = budget[c];
        }
        else {
            continue;
        }
        out.push_back({ch.mechanism, removed});
    }
    return out;
}

std::vector<atp_use> atp_consumption(const system& sys, const std::vector<double>& budget) {
    std::vector<atp_use> out;
    const auto& channels = sys.flux_channels();
    for (std::size_t c = 0; c < channels.size() && c < budget.size(); ++c) {
        const auto* m = find_mechanism(channels[c].type);
        if (m == nullptr || m->info().atp_per_flux == 0) {
            continue;
        }
        const auto& info = m->info();
        // Channels of one mechanism are consecutive, in the order of its outputs.
        const bool first = c == 0 || channels[c - 1].mechanism != channels[c].mechanism;
        if (!first) {
            continue;
        }
        if (c + info.atp_output < channels.size()) {
            out.push_back({channels[c].mechanism, info.atp_per_flux * budget[c + info.atp_output]});
        }
    }
    return out;
}

std::vector<balance> balances(const system& sys, const std::vector<double>& y_start, const std::vector<double>& y_end,
                              const std::vector<double>& budget) {
    std::vector<balance> out;
    const auto& channels = sys.flux_channels();
    for (const auto& c: sys.model().compartments) {
        if (c.clamped) {
            continue;
        }
        for (const auto& sp: sys.model().species) {
            if (sys.state_index(c.name, sp.name) < 0) {
                continue;
            }
            balance b{c.name, sp.name,
                      sys.total_amount(y_end.data(), sp.name, c.name) -
                          sys.total_amount(y_start.data(), sp.name, c.name),
                      0.0, std::max(std::abs(sys.total_amount(y_start.data(), sp.name)),
                                    std::abs(sys.total_amount(y_end.data(), sp.name)))};
            for (std::size_t k = 0; k < channels.size() && k < budget.size(); ++k) {
                const auto& ch = channels[k];
                if (ch.species != sp.name || ch.role == flux_channel::kind::conversion) {
                    continue;
                }
                if (ch.to == c.name) {
                    b.accounted += budget[k];
                }
                if (ch.from == c.name) {
                    b.accounted -= budget[k];
                }
                if (ch.to == c.name || ch.from == c.name) {
                    b.scale = std::max(b.scale, std::abs(budget[k]));
                }
            }
            out.push_back(b);
        }
    }
    return out;
}

} // namespace cadyn
