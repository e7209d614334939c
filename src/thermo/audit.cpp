#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include <cadyn/audit.hpp>
#include <cadyn/catalogue.hpp>
#include <cadyn/units.hpp>

namespace cadyn {

namespace {

// Electrochemical potential difference inner - outer of one mole of a species [kJ/mol].
double delta_mu(double c_in, double c_out, int z, double v, double temperature) {
    constexpr double floor = 1e-30;  // [uM] a species absent on one side: effectively infinitely far uphill
    const double rt = constants::gas * temperature * 1e-3;  // kJ/mol
    return rt * std::log(std::max(c_in, floor) / std::max(c_out, floor)) + z * constants::faraday * v * 1e-6;
}

class null_recorder final: public recorder {
public:
    void begin(const std::vector<observable_info>&) override {}
    void record(double, std::span<const double>) override {}
    std::vector<char> wanted(const std::vector<observable_info>& observables) const override {
        return std::vector<char>(observables.size(), 0);  // reads none
    }
};

} // namespace

audit_report audit(system& sys, const audit_options& audit, const simulation_options& options) {
    const auto& model = sys.model();
    const auto& channels = sys.flux_channels();
    audit_report report;

    // Group the transfer channels by mechanism.
    struct subject {
        std::string name;
        const mechanism_info* info;
        std::vector<std::size_t> channels;
    };
    std::vector<subject> subjects;
    for (std::size_t c = 0; c < channels.size(); ++c) {
        const auto& ch = channels[c];
        if (ch.role != flux_channel::kind::transfer) {
            continue;
        }
        auto it = std::find_if(subjects.begin(), subjects.end(), [&](const subject& s) { return s.name == ch.mechanism; });
        if (it == subjects.end()) {
            subjects.push_back({ch.mechanism, &find_mechanism(ch.type)->info(), {}});
            it = subjects.end() - 1;
        }
        it->channels.push_back(c);
    }
    std::erase_if(subjects, [&](const subject& s) {
        if (s.info->energy == energy_source::external) {
            report.skipped.push_back(fmt::format("{} ({}): {}", s.name, s.info->name,
                                                 s.info->is_stimulus ? "a stimulus imposed by the model"
                                                                     : "coupled to species the model does not track"));
            return true;
        }
        report.audited.push_back(s.name);
        return false;
    });

    std::vector<double> flux(channels.size());
    std::map<std::string, audit_finding> found;
    simulation_options opts = options;
    opts.inspect = [&](double t, const double* y) {
        sys.fluxes(t, y, flux.data());
        for (const auto& s: subjects) {
            double power = 0;  // [fW] = zmol/ms x kJ/mol
            double gross = 0;
            for (const auto c: s.channels) {
                const auto& ch = channels[c];
                const auto* species = model.find_species(ch.species);
                const double v = sys.potential(ch.membrane, t, y);
                const double dmu = delta_mu(sys.concentration(y, ch.to, ch.species),
                                            sys.concentration(y, ch.from, ch.species), species->charge, v,
                                            model.temperature);
                power += flux[c] * dmu;
                gross += std::abs(flux[c] * dmu);
            }
            double limit = 0;
            if (s.info->energy == energy_source::atp) {
                const double atp_rate = s.info->atp_per_flux * flux[s.channels[s.info->atp_output]];
                limit = atp_rate * audit.atp_free_energy;
            }
            ++report.checks;
            if (power > limit + audit.tolerance * gross + 1e-300) {
                auto [it, fresh] = found.try_emplace(s.name);
                auto& f = it->second;
                if (fresh) {
                    f.mechanism = s.name;
                    f.type = std::string(s.info->name);
                    f.t = t;
                    f.power = power;
                    f.limit = limit;
                    f.message =
                        s.info->energy == energy_source::atp
                            ? fmt::format("pumps uphill at {:.4g} fW, more than its ATP turnover supplies "
                                          "({:.4g} at |dG_ATP| = {} kJ/mol)",
                                          power, limit, audit.atp_free_energy)
                        : s.info->energy == energy_source::coupled
                            ? fmt::format("runs its exchange cycle uphill ({:+.4g} fW): it does not reverse "
                                          "at its reversal potential",
                                          power)
                            : fmt::format("moves ions against their electrochemical gradient without an energy source "
                                          "({:+.4g} fW)",
                                          power);
                }
                ++f.count;
            }
        }
    };
    null_recorder out;
    simulate(sys, out, opts);
    for (auto& [name, f]: found) {
        report.findings.push_back(std::move(f));
    }
    return report;
}

} // namespace cadyn
