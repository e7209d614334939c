#include <cmath>
#include <limits>
#include <vector>

#include <cadyn/catalogue.hpp>
#include <cadyn/error.hpp>

#include "mechanisms/mechanisms.hpp"

namespace cadyn {

const std::vector<const mechanism*>& all_mechanisms() {
    static const std::vector<const mechanism*> list = {
        &mechanisms::pmca(),
        &mechanisms::serca(),
        &mechanisms::leak(),
        &mechanisms::buffer(),
        &mechanisms::pulse_train(),
        &mechanisms::ncx(),
        &mechanisms::pmca_cam(),
        &mechanisms::serca_reversible(),
        &mechanisms::ghk_leak(),
        &mechanisms::ryr(),
        &mechanisms::ryr_cluster(),
        &mechanisms::ip3r_dyk(),
        &mechanisms::ip3r_li_rinzel(),
        &mechanisms::ip3r_neymotin(),
        &mechanisms::ip3r_cluster(),
        &mechanisms::mcu(),
        &mechanisms::nclx(),
        &mechanisms::soce(),
        &mechanisms::vgcc(),
        &mechanisms::fluo4(),
        &mechanisms::fura2(),
        &mechanisms::ogb1(),
        &mechanisms::channel(),
    };
    return list;
}

const mechanism* find_mechanism(std::string_view key) {
    for (const auto* m: all_mechanisms()) {
        if (m->info().name == key) {
            return m;
        }
    }
    return nullptr;
}

double default_value(const field_info& field) {
    // Defaults are written by us in the mechanism tables; a bad one is a bug, not a user error.
    try {
        return to_canonical(field.default_text, *field.dim);
    }
    catch (const unit_error& e) {
        throw internal_error(std::string("bad default for parameter '") + std::string(field.name) + "': " + e.what());
    }
}

int mechanism_info::parameter_index(std::string_view key) const {
    for (std::size_t i = 0; i < parameters.size(); ++i) {
        if (parameters[i].name == key) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

void mechanism::init(const mechanism_pack&, double* const*) const {}

void mechanism::observe(const mechanism_pack&, double* const*) const {}

void mechanism::propensities(const mechanism_pack&, double* const*) const {
    throw internal_error("propensities() called on a mechanism without stochastic transitions");
}

void mechanism::breakpoints(const double* const*, std::size_t, double, std::vector<double>&) const {}

} // namespace cadyn
