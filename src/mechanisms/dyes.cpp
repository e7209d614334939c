// Fluorescent Ca indicators: Fluo-4 and Oregon Green BAPTA-1 (single wavelength) and Fura-2 (ratiometric).
//
// A dye is a Ca buffer like any other (Neher & Augustine 1992): it binds Ca 1:1 with explicit kinetics,
// Ca + D <-> CaD, so the Ca it holds counts in every total and budget and it slows and shrinks the Ca signal it
// reports. What sets it apart are its observables: the fluorescence of its free and Ca-bound forms.
//
// Single-wavelength dyes brighten on binding. Per dye molecule, F = (Fmin [D] + Fmax [CaD]) / [D]tot, so at
// equilibrium F(c) = Fmin + (Fmax - Fmin) c / (Kd + c) and F/F0 is F(c) / F(c0). Fura-2 shifts its excitation
// spectrum on binding; the ratio R of the emission excited at 340 and 380 nm gives the free Ca independently of
// dye concentration, path length and bleaching (Grynkiewicz, Poenie & Tsien 1985):
//   [Ca] = Kd (R - Rmin) / (Rmax - R) (Sf2 / Sb2),  Rmin = Sf1 / Sf2,  Rmax = Sb1 / Sb2.
#include <limits>
#include <utility>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// The binding parameters every dye shares, first in its table and in this order.
enum : std::size_t { p_total, p_kd, p_kon, p_diffusion, n_binding };

field_info total_field(std::string_view default_text) {
    return {"total", &dims::concentration, default_text, 0, inf, "total dye concentration [D]tot"};
}
field_info kd_field(std::string_view default_text) {
    return {"kd", &dims::concentration, default_text, 1e-12, inf, "dissociation constant Kd"};
}
field_info kon_field() {
    // ~5e8 /M/s: the order of the association rates of BAPTA-based indicators (1e8 - 1e9 /M/s).
    return {"kon",
            &dims::second_order_rate,
            "0.5 uM^-1 ms^-1",
            0,
            inf,
            "association rate constant (typical of BAPTA-based indicators, 1e8-1e9 /M/s)"};
}
field_info diffusion_field() {
    return {"diffusion",
            &dims::diffusivity,
            "100 um^2/s",
            0,
            inf,
            "diffusion coefficient of the dye (0: fixed; small indicators in cytoplasm ~90-200 um^2/s; used by "
            "spatial models)"};
}

// Mass-action binding d[CaD]/dt = kon ([Ca] ([D]tot - [CaD]) - Kd [CaD]); the free Ca loses what binds.
void binding_rates(const mechanism_pack& p) {
    const double* total = p.param[p_total];
    const double* kd = p.param[p_kd];
    const double* kon = p.param[p_kon];
    const double* c = p.conc[0];
    const double* bound = p.state[0];
    for (std::size_t i = 0; i < p.n; ++i) {
        const double j = kon[i] * (c[i] * (total[i] - bound[i]) - kd[i] * bound[i]);
        p.dstate[0][i] = j;
        p.out[0][i] = -j;
    }
}

// Start in equilibrium with the free Ca: [CaD] = [D]tot [Ca] / (Kd + [Ca]).
void equilibrium_init(const mechanism_pack& p, double* const* state) {
    for (std::size_t i = 0; i < p.n; ++i) {
        const double c = p.conc[0][i];
        state[0][i] = p.param[p_total][i] * c / (p.param[p_kd][i] + c);
    }
}

// Brightness per dye molecule of a mixture of free (coefficient s_free) and bound (s_bound) dye:
// (s_free [D] + s_bound [CaD]) / [D]tot. Without dye the signal is that of the free form (no 0/0).
double brightness(double s_free, double s_bound, double bound, double total) {
    if (!(total > 0)) {
        return s_free;
    }
    const double fraction = bound / total;
    return s_free * (1.0 - fraction) + s_bound * fraction;
}

// Parameters after the binding ones: Fmin and Fmax of a single-wavelength dye.
enum : std::size_t { p_f_min = n_binding, p_f_max };

class single_wavelength_dye final: public mechanism {
public:
    explicit single_wavelength_dye(mechanism_info info): info_(std::move(info)) {}

    const mechanism_info& info() const override { return info_; }

    void rates(const mechanism_pack& p) const override { binding_rates(p); }

    void init(const mechanism_pack& p, double* const* state) const override { equilibrium_init(p, state); }

    // F, and F again for F_F0 (the engine divides that one by its value at the start of the run).
    void observe(const mechanism_pack& p, double* const* out) const override {
        for (std::size_t i = 0; i < p.n; ++i) {
            const double f = brightness(p.param[p_f_min][i], p.param[p_f_max][i], p.state[0][i], p.param[p_total][i]);
            out[0][i] = f;
            out[1][i] = f;
        }
    }

private:
    mechanism_info info_;
};

// The table of a single-wavelength dye; only names, defaults and sources differ between them.
mechanism_info single_wavelength_info(std::string_view name, std::string_view summary, std::string_view citation,
                                      std::string_view kd, std::string_view f_max) {
    return {
        .name = name,
        .kind = mechanism_kind::volume,
        .summary = summary,
        .equations = "d[CaD]/dt = kon [Ca] ([D]tot - [CaD]) - koff [CaD],  koff = kon Kd;  d[Ca]/dt -= d[CaD]/dt\n"
                     "F = (Fmin ([D]tot - [CaD]) + Fmax [CaD]) / [D]tot    (per dye molecule, arbitrary units)\n"
                     "At equilibrium F(c) = Fmin + (Fmax - Fmin) c / (Kd + c);  F_F0 = F(t) / F(0)",
        .citation = citation,
        .parameters =
            {
                total_field("50 uM"),
                kd_field(kd),
                kon_field(),
                diffusion_field(),
                {"f_min", &dims::dimensionless, "1", 0, inf, "brightness Fmin of the Ca-free dye (arbitrary units)"},
                {"f_max", &dims::dimensionless, f_max, 0, inf,
                 "brightness Fmax of the Ca-bound dye (Fmax / Fmin: the dynamic range)"},
            },
        .reads = {{"ca", side::local}},
        .outputs = {"ca"},
        .states = {{"bound", &dims::concentration, "Ca-bound dye [CaD]", "ca", 1.0}},
        .observables =
            {
                {"F", "", "fluorescence per dye molecule, Fmin (free) to Fmax (bound)"},
                {"F_F0", "", "fluorescence relative to its value at the start of the run", true},
            },
    };
}

// Fura-2: the excitation coefficients at 340 and 380 nm of the free and bound forms.
enum : std::size_t { p_f340_free = n_binding, p_f340_bound, p_f380_free, p_f380_bound };

class fura2_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "fura2",
            .kind = mechanism_kind::volume,
            .summary = "Fura-2, ratiometric Ca indicator (Kd 224 nM): a mobile Ca buffer with F340, F380 and their "
                       "ratio",
            .equations =
                "d[CaD]/dt = kon [Ca] ([D]tot - [CaD]) - koff [CaD],  koff = kon Kd;  d[Ca]/dt -= d[CaD]/dt\n"
                "F340 = (Sf1 [D] + Sb1 [CaD]) / [D]tot,  F380 = (Sf2 [D] + Sb2 [CaD]) / [D]tot,  ratio R = F340 / "
                "F380\n"
                "At equilibrium: [Ca] = Kd (R - Rmin) / (Rmax - R) (Sf2 / Sb2),  Rmin = Sf1 / Sf2,  Rmax = Sb1 / Sb2",
            .citation = "Grynkiewicz, Poenie & Tsien (1985) J Biol Chem 260:3440-3450 (Kd 224 nM at 37 degC, the "
                        "ratio equation); binding as a buffer: Neher & Augustine (1992) J Physiol 450:273-301",
            .parameters =
                {
                    total_field("50 uM"),
                    kd_field("224 nM"),
                    kon_field(),
                    diffusion_field(),
                    // Spectral coefficients depend on the optics; these give Rmin = 0.5, Rmax = 15 and
                    // Sf2/Sb2 = 10, within the range of published in-cell calibrations. Calibrate them per setup.
                    {"f340_free", &dims::dimensionless, "0.5", 0, inf,
                     "Sf1: brightness of the free dye excited at 340 nm (arbitrary units; setup dependent)"},
                    {"f340_bound", &dims::dimensionless, "1.5", 0, inf,
                     "Sb1: brightness of the Ca-bound dye excited at 340 nm"},
                    {"f380_free", &dims::dimensionless, "1", 1e-12, inf,
                     "Sf2: brightness of the free dye excited at 380 nm"},
                    {"f380_bound", &dims::dimensionless, "0.1", 1e-12, inf,
                     "Sb2: brightness of the Ca-bound dye excited at 380 nm"},
                },
            .reads = {{"ca", side::local}},
            .outputs = {"ca"},
            .states = {{"bound", &dims::concentration, "Ca-bound dye [CaD]", "ca", 1.0}},
            .observables =
                {
                    {"F340", "", "fluorescence excited at 340 nm, per dye molecule (rises with Ca)"},
                    {"F380", "", "fluorescence excited at 380 nm, per dye molecule (falls with Ca)"},
                    {"ratio", "", "R = F340 / F380, from Rmin (no Ca) to Rmax (saturated)"},
                },
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override { binding_rates(p); }

    void init(const mechanism_pack& p, double* const* state) const override { equilibrium_init(p, state); }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto* const* par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double bound = p.state[0][i];
            const double total = par[p_total][i];
            const double f340 = brightness(par[p_f340_free][i], par[p_f340_bound][i], bound, total);
            const double f380 = brightness(par[p_f380_free][i], par[p_f380_bound][i], bound, total);
            out[0][i] = f340;
            out[1][i] = f380;
            out[2][i] = f340 / f380;
        }
    }
};

} // namespace

const mechanism& fluo4() {
    static const single_wavelength_dye m(single_wavelength_info(
        "fluo4",
        "Fluo-4, single-wavelength Ca indicator (Kd 345 nM, Fmax/Fmin ~100): a mobile Ca buffer with F and F/F0",
        "Gee, Brown, Chen, Bishop-Stewart, Gray & Johnson (2000) Cell Calcium 27:97-106 (Kd 345 nM, fluorescence "
        "increase ~100-fold); binding as a buffer: Neher & Augustine (1992) J Physiol 450:273-301",
        "345 nM", "100"));
    return m;
}

const mechanism& ogb1() {
    static const single_wavelength_dye m(single_wavelength_info(
        "ogb1",
        "Oregon Green BAPTA-1, single-wavelength Ca indicator (Kd 170 nM, Fmax/Fmin ~14): a mobile Ca buffer with F "
        "and F/F0",
        "Kd 170 nM and ~14-fold fluorescence increase: The Molecular Probes Handbook, 11th ed. (2010), Johnson & "
        "Spence (eds), Life Technologies, ch. 19; binding as a buffer: Neher & Augustine (1992) J Physiol "
        "450:273-301",
        "170 nM", "14"));
    return m;
}

const mechanism& fura2() {
    static const fura2_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
