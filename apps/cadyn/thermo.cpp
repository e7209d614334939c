// cadyn thermo ...: equilibrium potentials, driving forces, transport and ATP free energies, NCX reversal, GHK.
#include <string>

#include <fmt/core.h>

#include <cadyn/error.hpp>
#include <cadyn/model.hpp>
#include <cadyn/thermo.hpp>
#include <cadyn/units.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {

struct thermo_arguments {
    std::string ion = "ca";
    std::string c_in;
    std::string c_out;
    std::string temperature = "37 degC";
    std::string v = "0 mV";
    bool json = false;
    // transport
    int n = 1;
    std::string c_from;
    std::string c_to;
    std::string phi_from = "0 mV";
    std::string phi_to = "0 mV";
    std::string atp_supply;
    // atp
    std::string atp;
    std::string adp;
    std::string pi;
    // ncx
    std::string na_in;
    std::string na_out;
    int ratio = 3;
    // ghk
    std::string permeability;
    std::string area;
};

int valence(const std::string& ion) {
    int z = 0;
    if (!known_species_charge(ion, z) || z == 0) {
        throw error(fmt::format("unknown ion '{}': use ca, na, k, cl or mg", ion));
    }
    return z;
}

double conc(const std::string& text) { return to_canonical(text, dims::concentration); }
double mv(const std::string& text) { return to_canonical(text, dims::potential); }
double kelvin(const std::string& text) { return to_canonical(text, dims::temperature); }

// Options shared by the subcommands.
void add_ion(CLI::App* cmd, thermo_arguments& a) {
    cmd->add_option("--ion", a.ion, "Ion: ca, na, k, cl, mg")->capture_default_str();
}
void add_temperature(CLI::App* cmd, thermo_arguments& a) {
    cmd->add_option("--temp", a.temperature, "Temperature, e.g. '37 degC'")->capture_default_str();
    cmd->add_flag("--json", a.json, "Print JSON instead of text");
}

void print_nernst(const thermo_arguments& a) {
    const int z = valence(a.ion);
    const double t = kelvin(a.temperature);
    const double e = thermo::nernst(z, conc(a.c_in), conc(a.c_out), t);
    if (a.json) {
        fmt::print("{{\"ion\": \"{}\", \"z\": {}, \"in_uM\": {}, \"out_uM\": {}, \"temperature_K\": {}, "
                   "\"E_mV\": {}}}\n",
                   a.ion, z, conc(a.c_in), conc(a.c_out), t, e);
        return;
    }
    fmt::print("E_{} = {:+.1f} mV  (z = {}, in {:.6g} uM, out {:.6g} uM, {:.2f} K)\n", a.ion, e, z, conc(a.c_in),
               conc(a.c_out), t);
}

void print_drive(const thermo_arguments& a) {
    const int z = valence(a.ion);
    const double t = kelvin(a.temperature);
    const double v = mv(a.v);
    const double e = thermo::nernst(z, conc(a.c_in), conc(a.c_out), t);
    const double dg = thermo::delta_g_inward(z, conc(a.c_in), conc(a.c_out), v, t);
    if (a.json) {
        fmt::print("{{\"ion\": \"{}\", \"z\": {}, \"V_mV\": {}, \"E_mV\": {}, \"driving_force_mV\": {}, "
                   "\"dG_inward_kJ_per_mol\": {}}}\n",
                   a.ion, z, v, e, v - e, dg);
        return;
    }
    fmt::print("E_{} = {:+.1f} mV, V = {:+.1f} mV: driving force V - E = {:+.1f} mV\n", a.ion, e, v, v - e);
    fmt::print("moving 1 mol of {} inward: dG = {:+.2f} kJ/mol ({})\n", a.ion, dg,
               dg < 0 ? "it flows in spontaneously" : "it must be pushed in");
}

void print_transport(const thermo_arguments& a) {
    const int z = valence(a.ion);
    const double t = kelvin(a.temperature);
    const double dg = thermo::delta_g_transport(a.n, z, conc(a.c_from), conc(a.c_to), mv(a.phi_from), mv(a.phi_to), t);
    const bool compare = !a.atp_supply.empty();
    const double supply = compare ? to_canonical(a.atp_supply, dims::molar_energy) : 0.0;
    if (a.json) {
        fmt::print("{{\"ion\": \"{}\", \"n\": {}, \"from_uM\": {}, \"to_uM\": {}, \"dG_kJ_per_mol\": {}", a.ion, a.n,
                   conc(a.c_from), conc(a.c_to), dg);
        if (compare) {
            fmt::print(", \"supply_kJ_per_mol\": {}, \"feasible\": {}", supply, dg <= std::abs(supply));
        }
        fmt::print("}}\n");
        return;
    }
    fmt::print("moving {} {} from {:.6g} uM ({:+.1f} mV) to {:.6g} uM ({:+.1f} mV): dG = {:+.2f} kJ/mol\n", a.n, a.ion,
               conc(a.c_from), mv(a.phi_from), conc(a.c_to), mv(a.phi_to), dg);
    if (compare) {
        fmt::print("an energy source of {:.2f} kJ/mol {} (margin {:+.2f} kJ/mol)\n", std::abs(supply),
                   dg <= std::abs(supply) ? "can drive it" : "cannot drive it", std::abs(supply) - dg);
    }
}

void print_atp(const thermo_arguments& a) {
    const double t = kelvin(a.temperature);
    const double dg = thermo::delta_g_atp(conc(a.atp), conc(a.adp), conc(a.pi), t);
    if (a.json) {
        fmt::print("{{\"atp_uM\": {}, \"adp_uM\": {}, \"pi_uM\": {}, \"temperature_K\": {}, \"dG_kJ_per_mol\": {}}}\n",
                   conc(a.atp), conc(a.adp), conc(a.pi), t, dg);
        return;
    }
    fmt::print("ATP hydrolysis: dG = {:+.2f} kJ/mol (dG0' = {} kJ/mol; ATP {:.6g} uM, ADP {:.6g} uM, Pi {:.6g} uM, {:.2f} K)\n",
               dg, thermo::atp_standard_delta_g, conc(a.atp), conc(a.adp), conc(a.pi), t);
}

void print_ncx(const thermo_arguments& a) {
    const double t = kelvin(a.temperature);
    const double e = thermo::exchanger_reversal(a.ratio, conc(a.na_in), conc(a.na_out), conc(a.c_in), conc(a.c_out), t);
    const double e_na = thermo::nernst(1, conc(a.na_in), conc(a.na_out), t);
    const double e_ca = thermo::nernst(2, conc(a.c_in), conc(a.c_out), t);
    if (a.json) {
        fmt::print("{{\"ratio\": {}, \"E_Na_mV\": {}, \"E_Ca_mV\": {}, \"E_NCX_mV\": {}}}\n", a.ratio, e_na, e_ca, e);
        return;
    }
    fmt::print("E_NCX = {:+.1f} mV for {}:1 (E_Na = {:+.1f} mV, E_Ca = {:+.1f} mV): Ca extrusion below, "
               "reverse mode (Ca entry) above\n",
               e, a.ratio, e_na, e_ca);
}

void print_ghk(const thermo_arguments& a) {
    const int z = valence(a.ion);
    const double t = kelvin(a.temperature);
    const double p = to_canonical(a.permeability, dims::permeability);
    const double j = thermo::ghk_flux(z, p, conc(a.c_in), conc(a.c_out), mv(a.v), t);
    const double i = thermo::current_density(z, j);
    const double area = a.area.empty() ? 0.0 : to_canonical(a.area, dims::area);
    if (a.json) {
        fmt::print("{{\"ion\": \"{}\", \"flux_density_zmol_per_um2_ms\": {}, \"current_density_pA_per_um2\": {}", a.ion,
                   j, i);
        if (area > 0) {
            fmt::print(", \"flux_amol_per_s\": {}, \"current_pA\": {}", j * area, i * area);
        }
        fmt::print("}}\n");
        return;
    }
    fmt::print("GHK: outward flux density {:.4g} zmol/(um^2 ms), current density {:.4g} pA/um^2 (outward positive)\n",
               j, i);
    if (area > 0) {
        fmt::print("over {} um^2: {:.4g} amol/s, {:.4g} pA\n", area, j * area, i * area);
    }
}

} // namespace

void add_thermo(CLI::App& app, int& status) {
    static thermo_arguments a;
    auto* thermo = app.add_subcommand("thermo", "Thermodynamics: Nernst, driving force, transport and ATP energy, "
                                                "NCX reversal, GHK flux (quantities with units)");
    thermo->require_subcommand(1);

    auto* nernst = thermo->add_subcommand("nernst", "Equilibrium potential E = RT/(zF) ln(out/in)");
    add_ion(nernst, a);
    nernst->add_option("--in", a.c_in, "Inside concentration, e.g. 100nM")->required();
    nernst->add_option("--out", a.c_out, "Outside concentration, e.g. 1.5mM")->required();
    add_temperature(nernst, a);
    nernst->callback([&status] {
        print_nernst(a);
        status = ok;
    });

    auto* drive = thermo->add_subcommand("drive", "Driving force V - E and the free energy of inward movement");
    add_ion(drive, a);
    drive->add_option("--in", a.c_in, "Inside concentration")->required();
    drive->add_option("--out", a.c_out, "Outside concentration")->required();
    drive->add_option("--v", a.v, "Membrane potential (inside - outside), e.g. -70mV")->required();
    add_temperature(drive, a);
    drive->callback([&status] {
        print_drive(a);
        status = ok;
    });

    auto* transport = thermo->add_subcommand("transport", "Free energy to move n ions from one side to the other");
    add_ion(transport, a);
    transport->add_option("--n", a.n, "Number of ions per cycle (SERCA: 2)")->capture_default_str();
    transport->add_option("--from", a.c_from, "Concentration where the ions come from")->required();
    transport->add_option("--to", a.c_to, "Concentration where they go")->required();
    transport->add_option("--phi-from", a.phi_from, "Electric potential of the 'from' side")->capture_default_str();
    transport->add_option("--phi-to", a.phi_to, "Electric potential of the 'to' side")->capture_default_str();
    transport->add_option("--supply", a.atp_supply, "Energy available per cycle to compare with, e.g. '50 kJ/mol'");
    add_temperature(transport, a);
    transport->callback([&status] {
        print_transport(a);
        status = ok;
    });

    auto* atp = thermo->add_subcommand("atp", "Free energy of ATP hydrolysis from [ATP], [ADP], [Pi]");
    atp->add_option("--atp", a.atp, "ATP concentration, e.g. 5mM")->required();
    atp->add_option("--adp", a.adp, "ADP concentration, e.g. 0.5mM")->required();
    atp->add_option("--pi", a.pi, "Phosphate concentration, e.g. 5mM")->required();
    add_temperature(atp, a);
    atp->callback([&status] {
        print_atp(a);
        status = ok;
    });

    auto* ncx = thermo->add_subcommand("ncx", "Reversal potential of the Na/Ca exchanger, E = 3 E_Na - 2 E_Ca");
    ncx->add_option("--na-in", a.na_in, "Inside Na, e.g. 10mM")->required();
    ncx->add_option("--na-out", a.na_out, "Outside Na, e.g. 145mM")->required();
    ncx->add_option("--ca-in", a.c_in, "Inside Ca, e.g. 100nM")->required();
    ncx->add_option("--ca-out", a.c_out, "Outside Ca, e.g. 1.5mM")->required();
    ncx->add_option("--ratio", a.ratio, "Na per Ca")->capture_default_str();
    add_temperature(ncx, a);
    ncx->callback([&status] {
        print_ncx(a);
        status = ok;
    });

    auto* ghk = thermo->add_subcommand("ghk", "Goldman-Hodgkin-Katz flux and current for a permeability");
    add_ion(ghk, a);
    ghk->add_option("--permeability", a.permeability, "Membrane permeability, e.g. '1e-6 cm/s'")->required();
    ghk->add_option("--in", a.c_in, "Inside concentration")->required();
    ghk->add_option("--out", a.c_out, "Outside concentration")->required();
    ghk->add_option("--v", a.v, "Membrane potential (inside - outside)")->required();
    ghk->add_option("--area", a.area, "Membrane area, e.g. '1000 um^2', to also print totals");
    add_temperature(ghk, a);
    ghk->callback([&status] {
        print_ghk(a);
        status = ok;
    });
}

} // namespace cadyn::cli
