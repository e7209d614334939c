#include <algorithm>
// The TOML model reader: parse_model() on inline documents. Units become canonical (uM, ms, um, um^2, um^3, K),
// per-volume parameter forms are converted with the documented formulas, and every problem comes back with its
// file, line and key.
#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/model.hpp>

namespace cadyn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double pi = std::numbers::pi;

// Relative comparison for values that went through unit scale factors.
void expect_close(double actual, double expected) {
    EXPECT_NEAR(actual, expected, 1e-12 * std::abs(expected)) << "expected " << expected;
}

// The problems parse_model reports for `text` (empty when it parses).
std::vector<diagnostic> problems_of(const std::string& text, const std::string& source = "doc.toml") {
    try {
        parse_model(text, source);
    }
    catch (const model_error& e) {
        return e.problems();
    }
    return {};
}

// The problem with exactly this key, or nullptr.
const diagnostic* find_key(const std::vector<diagnostic>& problems, const std::string& key) {
    for (const auto& p: problems) {
        if (p.key == key) {
            return &p;
        }
    }
    return nullptr;
}

std::string all_messages(const std::vector<diagnostic>& problems) {
    std::string out;
    for (const auto& p: problems) {
        out += p.to_string() + "\n";
    }
    return out;
}

const mechanism_spec& mechanism_named(const model_spec& m, const std::string& name) {
    for (const auto& mech: m.mechanisms) {
        if (mech.name == name) {
            return mech;
        }
    }
    throw std::runtime_error("no mechanism " + name);
}

// A bath, a spherical cytosol of radius 10 um (surface 4 pi r^2 = 1256.6 um^2) with its plasma membrane, and
// an ER with an explicit membrane area. Tests append their mechanisms.
const std::string cell = R"toml(format_version = 1
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "1.5 mM" }

[[compartments]]
name = "cyt"
radius = "10 um"
concentrations = { ca = "100 nM" }

[[compartments]]
name = "er"
volume = "0.4 pL"
concentrations = { ca = "500 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "cyt"
area = "2000 um^2"
)toml";

// Sphere of radius 10 um: V = 4/3 pi r^3, A = 4 pi r^2.
const double cyt_volume = 4.0 / 3.0 * pi * 1000.0;
const double cyt_surface = 4.0 * pi * 100.0;
const double er_volume = 400.0;  // 0.4 pL = 400 um^3
const double er_area = 2000.0;

TEST(model_file, default_model_parses) {
    // The built-in model (models/soma.toml compiled in) is valid and complete.
    const model_spec m = default_model();
    EXPECT_EQ(m.format_version, model_format_version);
    EXPECT_EQ(m.name, "soma");
    // A soma with extracellular space, cytosol, ER and mitochondria; PMCA, NCX, SERCA, leaks, MCU and NCLX, an
    // endogenous buffer, a dye and a train of Ca influx pulses (issues 2 and 3).
    for (const char* c: {"ext", "cyt", "er", "mito"}) {
        EXPECT_NE(m.find_compartment(c), nullptr) << c;
    }
    for (const char* type: {"pmca", "ncx", "serca", "leak", "ghk_leak", "mcu", "nclx", "buffer", "fluo4",
                            "pulse_train"}) {
        EXPECT_TRUE(std::any_of(m.mechanisms.begin(), m.mechanisms.end(),
                                [&](const mechanism_spec& x) { return x.type == type; }))
            << type;
    }
    EXPECT_EQ(m.run.start, start_from::steady_state);
    expect_close(m.run.t_end, 2000);  // "2 s" = 2000 ms
}

TEST(model_file, default_model_text_is_the_soma_file) {
    // default_model_text() is models/soma.toml, and reading that file gives the same model.
    const model_spec from_file = read_model_file(std::filesystem::path(CADYN_SOURCE_DIR) / "models" / "soma.toml");
    const model_spec built_in = default_model();
    EXPECT_THAT(from_file.source, HasSubstr("soma.toml"));
    ASSERT_EQ(from_file.mechanisms.size(), built_in.mechanisms.size());
    for (std::size_t i = 0; i < built_in.mechanisms.size(); ++i) {
        EXPECT_EQ(from_file.mechanisms[i].name, built_in.mechanisms[i].name);
        EXPECT_EQ(from_file.mechanisms[i].parameters, built_in.mechanisms[i].parameters);
    }
}

TEST(model_file, units_are_converted_to_canonical) {
    // 1.5 mM = 1500 uM; 100 nM = 0.1 uM; 37 degC = 310.15 K; 1 nL = 1e6 um^3; 0.4 pL = 400 um^3; -70 mV.
    const model_spec m = parse_model(cell + R"toml(
[run]
t_end = "0.5 s"
max_step = "250 us"
atol = "1 pM"
)toml",
                                     "cell.toml");
    const auto* ext = m.find_compartment("ext");
    ASSERT_NE(ext, nullptr);
    expect_close(ext->initial.at("ca"), 1500);
    expect_close(ext->volume, 1e6);
    EXPECT_TRUE(ext->clamped);
    expect_close(m.find_compartment("cyt")->initial.at("ca"), 0.1);
    expect_close(m.find_compartment("er")->volume, er_volume);
    expect_close(m.run.t_end, 500);      // 0.5 s = 500 ms
    expect_close(m.run.max_step, 0.25);  // 250 us = 0.25 ms
    expect_close(m.run.atol, 1e-6);      // 1 pM = 1e-6 uM

    const model_spec warm = parse_model("format_version = 1\ntemperature = \"37 degC\"\n" + cell.substr(19), "t");
    expect_close(warm.temperature, 310.15);  // T [K] = T [degC] + 273.15
}

TEST(model_file, sphere_radius_gives_volume_and_default_membrane_area) {
    // radius r: V = 4/3 pi r^3 (r = 10 um: 4188.8 um^3), surface 4 pi r^2; a membrane whose inner compartment is
    // that sphere and that gives no area gets A = 4 pi r^2.
    const model_spec m = parse_model(cell, "cell.toml");
    const auto* cyt = m.find_compartment("cyt");
    ASSERT_NE(cyt, nullptr);
    expect_close(cyt->volume, cyt_volume);
    expect_close(cyt->surface, cyt_surface);
    expect_close(m.find_membrane("pm")->area, cyt_surface);
    expect_close(m.find_membrane("er_membrane")->area, er_area);  // given explicitly
}

TEST(model_file, cylinder_radius_and_length_give_volume_and_side_surface) {
    // radius r and length L: V = pi r^2 L, side surface 2 pi r L (no end caps).
    const model_spec m = parse_model(R"toml(format_version = 1
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "1 mM" }
[[compartments]]
name = "axon"
radius = "0.5 um"
length = "100 um"
[[membranes]]
name = "pm"
inner = "axon"
outer = "ext"
)toml",
                                     "axon.toml");
    expect_close(m.find_compartment("axon")->volume, pi * 0.25 * 100);
    expect_close(m.find_membrane("pm")->area, 2 * pi * 0.5 * 100);
}

TEST(model_file, flux_density_given_per_volume_is_converted_with_the_reference_volume) {
    // A flux density may be given as a concentration rate c' of the compartment the mechanism reads from:
    // J = c' V_ref / A [zmol/(um^2 ms)], with c' in uM/ms (100 uM/s = 0.1 uM/ms).
    // SERCA reads Ca on the outer side of the ER membrane, so V_ref = V_cyt, A = the ER membrane area.
    // PMCA reads the inner side of the plasma membrane: V_ref = V_cyt, A = the cyt surface.
    const model_spec m = parse_model(cell + R"toml(
[[mechanisms]]
type = "serca"
membrane = "er_membrane"
vmax = "100 uM/s"

[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "100 uM/s"
)toml",
                                     "cell.toml");
    expect_close(mechanism_named(m, "serca").parameters.at("vmax"), 100e-3 * cyt_volume / er_area);
    expect_close(mechanism_named(m, "pmca").parameters.at("vmax"), 100e-3 * cyt_volume / cyt_surface);
}

TEST(model_file, flux_density_given_as_whole_membrane_flux_is_divided_by_the_area) {
    // An amount per time for the whole membrane: J = F / A. 5 amol/s = 5000 zmol / 1000 ms = 5 zmol/ms.
    const model_spec m = parse_model(cell + R"toml(
[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "5 amol/s"
)toml",
                                     "cell.toml");
    expect_close(mechanism_named(m, "pmca").parameters.at("vmax"), 5.0 / cyt_surface);
}

TEST(model_file, flux_density_given_per_area_is_only_converted) {
    // 20 pmol/cm^2/s = 20e-12 mol * 1e21 zmol/mol / (1e8 um^2 * 1000 ms) = 0.2 zmol/(um^2 ms).
    const model_spec m = parse_model(cell + R"toml(
[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "20 pmol/cm^2/s"
)toml",
                                     "cell.toml");
    expect_close(mechanism_named(m, "pmca").parameters.at("vmax"), 0.2);
}

TEST(model_file, permeability_given_as_rate_is_converted_with_the_reference_volume) {
    // A permeability may be given as a rate k of the compartment it drains: P = k V_ref / A [um/ms], k in 1/ms
    // (1 s^-1 = 1e-3 ms^-1). A leak reads its inner side first, so V_ref is the inner compartment's volume.
    const model_spec m = parse_model(cell + R"toml(
[[mechanisms]]
name = "pm_leak"
type = "leak"
membrane = "pm"
permeability = "1 s^-1"

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "er_membrane"
permeability = "1 s^-1"

[[mechanisms]]
name = "plain_leak"
type = "leak"
membrane = "pm"
permeability = "1e-6 cm/s"
)toml",
                                     "cell.toml");
    expect_close(mechanism_named(m, "pm_leak").parameters.at("permeability"), 1e-3 * cyt_volume / cyt_surface);
    expect_close(mechanism_named(m, "er_leak").parameters.at("permeability"), 1e-3 * er_volume / er_area);
    // 1e-6 cm/s = 1e-2 um/s = 1e-5 um/ms: a true permeability is only converted.
    expect_close(mechanism_named(m, "plain_leak").parameters.at("permeability"), 1e-5);
}

TEST(model_file, defaults_fill_omitted_parameters) {
    // Omitted parameters take the catalogue default (cadyn mechanisms): PMCA kd 0.2 uM, hill 1,
    // vmax 20 pmol/cm^2/s = 0.2 zmol/(um^2 ms).
    const model_spec m = parse_model(cell + R"toml(
[[mechanisms]]
type = "pmca"
membrane = "pm"
kd = "0.5 uM"
)toml",
                                     "cell.toml");
    const auto& pmca = mechanism_named(m, "pmca");
    expect_close(pmca.parameters.at("kd"), 0.5);
    expect_close(pmca.parameters.at("hill"), 1);
    expect_close(pmca.parameters.at("vmax"), 0.2);
    // Every declared parameter is present, and each equals default_value() when not given.
    const auto& info = find_mechanism("pmca")->info();
    EXPECT_EQ(pmca.parameters.size(), info.parameters.size());
    for (const auto& field: info.parameters) {
        if (field.name != "kd") {
            expect_close(pmca.parameters.at(std::string(field.name)), default_value(field));
        }
    }
    // Only given parameters have a location.
    EXPECT_TRUE(pmca.parameter_where.contains("kd"));
    EXPECT_FALSE(pmca.parameter_where.contains("hill"));
}

TEST(model_file, buffers_and_stimuli_become_mechanisms) {
    // [[buffers]] -> a volume mechanism of type buffer; [[stimuli]] without a type -> pulse_train.
    // kon 100 uM^-1 s^-1 = 0.1 uM^-1 ms^-1; frequency 20 Hz = 0.02 ms^-1; amplitude 1.5 nA = 1500 pA.
    const model_spec m = parse_model(cell + R"toml(
[[buffers]]
name = "calbindin"
compartment = "cyt"
total = "40 uM"
kon = "100 uM^-1 s^-1"

[[stimuli]]
name = "spikes"
membrane = "pm"
amplitude = "1.5 nA"
frequency = "20 Hz"
count = 3
)toml",
                                     "cell.toml");
    const auto& buffer = mechanism_named(m, "calbindin");
    EXPECT_EQ(buffer.type, "buffer");
    EXPECT_EQ(buffer.location, "cyt");
    expect_close(buffer.parameters.at("total"), 40);
    expect_close(buffer.parameters.at("kon"), 0.1);
    expect_close(buffer.parameters.at("kd"), 1);  // default 1 uM
    const auto& spikes = mechanism_named(m, "spikes");
    EXPECT_EQ(spikes.type, "pulse_train");
    EXPECT_EQ(spikes.location, "pm");
    expect_close(spikes.parameters.at("amplitude"), 1500);
    expect_close(spikes.parameters.at("frequency"), 0.02);
    expect_close(spikes.parameters.at("count"), 3);
}

TEST(model_file, mechanism_name_defaults_to_its_type) {
    // A [[mechanisms]] entry without a name is named after its type.
    const model_spec m = parse_model(cell + "[[mechanisms]]\ntype = \"pmca\"\nmembrane = \"pm\"\n", "cell.toml");
    ASSERT_EQ(m.mechanisms.size(), 1U);
    EXPECT_EQ(m.mechanisms[0].name, "pmca");
}

const std::string reaction_cell = R"toml(format_version = 1
[species]
a = { charge = 0 }
b = { charge = 0 }
c = { charge = -1 }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "100 nM", a = "1 uM", b = "2 uM" }

[parameters]
k = "0.5 s^-1"
n = 2
)toml";

TEST(model_file, reactions_parse_with_stoichiometries) {
    // "2 cyt.a + cyt.b -> cyt.c": reactants a (2) and b (1), product c (1); a per-volume rate defaults its
    // compartment to the first reactant's.
    const model_spec m = parse_model(reaction_cell + R"toml(
[[reactions]]
name = "bind"
equation = "2 cyt.a + cyt.b -> cyt.c"
rate = "k * cyt.a^2 * cyt.b"

[[reactions]]
name = "decay"
equation = "cyt.c ->"
amount_rate = "k * cyt.c * cyt"
)toml",
                                     "rx.toml");
    ASSERT_EQ(m.reactions.size(), 2U);
    const auto& bind = m.reactions[0];
    EXPECT_EQ(bind.name, "bind");
    ASSERT_EQ(bind.reactants.size(), 2U);
    EXPECT_EQ(bind.reactants[0].compartment, "cyt");
    EXPECT_EQ(bind.reactants[0].species, "a");
    EXPECT_DOUBLE_EQ(bind.reactants[0].stoichiometry, 2);
    EXPECT_EQ(bind.reactants[1].species, "b");
    EXPECT_DOUBLE_EQ(bind.reactants[1].stoichiometry, 1);
    ASSERT_EQ(bind.products.size(), 1U);
    EXPECT_EQ(bind.products[0].species, "c");
    EXPECT_DOUBLE_EQ(bind.products[0].stoichiometry, 1);
    EXPECT_TRUE(bind.rate_per_volume);
    EXPECT_EQ(bind.compartment, "cyt");
    EXPECT_EQ(bind.rate, "k * cyt.a^2 * cyt.b");

    const auto& decay = m.reactions[1];
    EXPECT_EQ(decay.reactants.size(), 1U);
    EXPECT_TRUE(decay.products.empty());
    EXPECT_FALSE(decay.rate_per_volume);  // amount_rate: zmol/ms

    // Species declared in [species] keep their charge; parameters are canonical (0.5 s^-1 = 5e-4 ms^-1).
    EXPECT_EQ(m.find_species("c")->charge, -1);
    ASSERT_EQ(m.parameters.size(), 2U);
    EXPECT_EQ(m.parameters[0].name, "k");
    expect_close(m.parameters[0].value, 5e-4);
    expect_close(m.parameters[1].value, 2);
}

TEST(model_file, rules_parse) {
    // value = assignment rule; rate = rate rule d(variable)/dt.
    const model_spec m = parse_model(reaction_cell + R"toml(
[[rules]]
variable = "total"
value = "cyt.a + n * cyt.b"

[[rules]]
variable = "cyt.a"
rate = "-k * cyt.a"
)toml",
                                     "rules.toml");
    ASSERT_EQ(m.rules.size(), 2U);
    EXPECT_EQ(m.rules[0].type, rule_spec::kind::assignment);
    EXPECT_EQ(m.rules[0].variable, "total");
    EXPECT_EQ(m.rules[0].expression, "cyt.a + n * cyt.b");
    EXPECT_EQ(m.rules[1].type, rule_spec::kind::rate);
    EXPECT_EQ(m.rules[1].variable, "cyt.a");
    EXPECT_EQ(m.rules[0].where.line, 16);  // the [[rules]] header: reaction_cell has 14 lines, then a blank one
}

TEST(model_file, run_and_record_sections_parse) {
    // run.start selects the starting state; record lists observables; times are canonical ms.
    const model_spec m = parse_model(cell + R"toml(
[run]
start = "steady_state"
report = "cyt"

[record]
interval = "0.5 ms"
observables = ["cyt.ca", "er.ca"]
)toml",
                                     "cell.toml");
    EXPECT_EQ(m.run.start, start_from::steady_state);
    EXPECT_EQ(m.run.report_compartment, "cyt");
    expect_close(m.record.interval, 0.5);
    EXPECT_EQ(m.record.observables, (std::vector<std::string>{"cyt.ca", "er.ca"}));
}

// A document with one problem per block; the line numbers below are those of this text.
const std::string located = R"toml(format_version = 1
colour = "blue"

[[compartments]]
name = "cyt"
volume = 5
concentrations = { ca = "1 uMM", calcium = "1 uM" }

[[compartments]]
name = "er"
volum = "0.4 pL"

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "lumen"
area = "3 mV"

[[mechanisms]]
type = "serca"
membrane = "er_membrane"
vmaxx = "1 uM/s"
hill = 0

[run]
start = "rest"
t_end = "-1 s"
)toml";

TEST(model_file, every_problem_carries_file_line_and_key) {
    // Every problem is reported in one pass, each at the line where it was written and with its dotted key.
    const auto problems = problems_of(located, "located.toml");
    struct expected {
        std::string key;
        int line;
        std::string message;
    };
    const std::vector<expected> wanted = {
        {"colour", 2, "unknown key 'colour'"},
        {"compartments[0].volume", 6, "a bare number has no unit"},
        {"compartments[0].concentrations.ca", 7, "unknown unit 'uMM'"},
        {"compartments[0].concentrations.calcium", 7, "unknown species 'calcium'"},
        {"compartments[1].volum", 11, "unknown key 'volum'"},
        {"compartments[1].volume", 9, "missing"},  // a missing key: the line of its table
        {"membranes[0].outer", 16, "no compartment named 'lumen'"},
        {"membranes[0].area", 17, "expected an area"},
        {"mechanisms.serca.vmaxx", 22, "'serca' has no parameter 'vmaxx'"},
        {"mechanisms.serca.hill", 23, "out of range"},
        {"run.start", 26, "expected \"initial\" or \"steady_state\""},
        {"run.t_end", 25, "expected a positive duration"},  // found by validate(): the line of [run]
    };
    for (const auto& w: wanted) {
        const auto* p = find_key(problems, w.key);
        ASSERT_NE(p, nullptr) << "no problem with key " << w.key << " in:\n" << all_messages(problems);
        EXPECT_EQ(p->where.file, "located.toml") << w.key;
        EXPECT_EQ(p->where.line, w.line) << w.key;
        EXPECT_GT(p->where.column, 0) << w.key;
        EXPECT_THAT(p->message, HasSubstr(w.message)) << w.key;
    }
    EXPECT_EQ(problems.size(), wanted.size()) << all_messages(problems);
}

TEST(model_file, diagnostic_text_is_file_line_column_key_message) {
    // to_string(): "file:line:col: 'key': message".
    const auto problems = problems_of("format_version = 1\n\ncolour = 1\n", "small.toml");
    ASSERT_FALSE(problems.empty());
    const auto* p = find_key(problems, "colour");
    ASSERT_NE(p, nullptr);
    EXPECT_THAT(p->to_string(), HasSubstr("small.toml:3:10: 'colour': unknown key 'colour'; expected one of:"));
}

TEST(model_file, a_rejected_value_is_reported_once) {
    // When the reader rejects a value, validate() must not add a second, less helpful message about the same
    // key (such as "expected a positive volume, got 0").
    for (const std::string volume: {"5", "\"3 mV\"", "\"-1 pL\"", "\"1 uMM\""}) {
        const auto problems =
            problems_of("format_version = 1\n[[compartments]]\nname = \"cyt\"\nvolume = " + volume + "\n", "v.toml");
        ASSERT_EQ(problems.size(), 1U) << volume << ":\n" << all_messages(problems);
        EXPECT_EQ(problems[0].key, "compartments[0].volume");
        EXPECT_EQ(problems[0].where.line, 4);
    }
}

TEST(model_file, wrong_dimension_names_both_dimensions) {
    // A quantity of another dimension: the message says what was given and what was expected.
    const auto problems = problems_of("format_version = 1\n[[compartments]]\nname = \"cyt\"\nvolume = \"3 mV\"\n");
    ASSERT_EQ(problems.size(), 1U) << all_messages(problems);
    EXPECT_THAT(problems[0].message, HasSubstr("electric potential"));
    EXPECT_THAT(problems[0].message, HasSubstr("expected a volume"));
}

TEST(model_file, out_of_range_message_prints_no_unit_for_dimensionless_values) {
    // "hill = 0" is reported as "0 is out of range: expected a value in [0.1, 10]", not as "0 1 ... 1".
    const auto problems = problems_of(cell + "[[mechanisms]]\ntype = \"pmca\"\nmembrane = \"pm\"\nhill = 0\n");
    const auto* p = find_key(problems, "mechanisms.pmca.hill");
    ASSERT_NE(p, nullptr) << all_messages(problems);
    EXPECT_THAT(p->message, HasSubstr("0 is out of range: expected a value in [0.1, 10]"));
    EXPECT_THAT(p->message, Not(HasSubstr("0 1 ")));
    EXPECT_THAT(p->message, Not(HasSubstr("] 1")));
    EXPECT_EQ(p->where.line, 31);  // hill is on the fourth line after the 27 lines of `cell`
}

TEST(model_file, format_version_is_required_and_checked) {
    // format_version must be present and equal to model_format_version.
    const std::string body = "[[compartments]]\nname = \"cyt\"\nvolume = \"1 pL\"\n";
    const auto missing = problems_of(body);
    ASSERT_EQ(missing.size(), 1U) << all_messages(missing);
    EXPECT_EQ(missing[0].key, "format_version");
    EXPECT_THAT(missing[0].message, HasSubstr("format_version = 1"));

    const auto wrong = problems_of("format_version = 2\n" + body);
    ASSERT_EQ(wrong.size(), 1U) << all_messages(wrong);
    EXPECT_EQ(wrong[0].key, "format_version");
    EXPECT_EQ(wrong[0].where.line, 1);
    EXPECT_THAT(wrong[0].message, HasSubstr("the file has 2"));
}

TEST(model_file, toml_syntax_error_has_a_location) {
    // A TOML syntax error stops reading; it is reported with the line where the parser stopped.
    const auto problems = problems_of("format_version = 1\n[[compartments]]\nname = \"cyt\nvolume = \"1 pL\"\n",
                                      "syntax.toml");
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_EQ(problems[0].where.file, "syntax.toml");
    EXPECT_EQ(problems[0].where.line, 3);
    EXPECT_THAT(problems[0].message, HasSubstr("TOML syntax error"));
}

TEST(model_file, malformed_equation_is_reported_once) {
    // An equation without '->' is reported at its line; the empty reaction it leaves is not reported again.
    const auto problems = problems_of(reaction_cell + R"toml(
[[reactions]]
name = "bad"
equation = "cyt.a => cyt.b"
rate = "k * cyt.a"
)toml");
    ASSERT_EQ(problems.size(), 1U) << all_messages(problems);
    EXPECT_EQ(problems[0].key, "reactions[0].equation");
    EXPECT_EQ(problems[0].where.line, 18);  // reaction_cell has 14 lines, a blank one, then the reaction
    EXPECT_THAT(problems[0].message, HasSubstr("reactants -> products"));
}

TEST(model_file, unknown_names_in_expressions_are_reported) {
    // Expressions may use compartment.species, compartment volumes, parameters, rule variables and t.
    const auto problems = problems_of(reaction_cell + R"toml(
[[reactions]]
name = "decay"
equation = "cyt.a ->"
rate = "k_deg * cyt.a"
)toml");
    const auto* p = find_key(problems, "reactions.decay.rate");
    ASSERT_NE(p, nullptr) << all_messages(problems);
    EXPECT_THAT(p->message, HasSubstr("unknown name 'k_deg'"));
    EXPECT_EQ(p->where.line, 16);  // the [[reactions]] header
}

TEST(model_file, unknown_mechanism_type_lists_the_known_ones) {
    // An unknown type is reported at the type's line with the catalogue's names.
    const auto problems = problems_of(cell + "[[mechanisms]]\ntype = \"teleporter\"\nmembrane = \"pm\"\n");
    ASSERT_EQ(problems.size(), 1U) << all_messages(problems);
    EXPECT_EQ(problems[0].key, "mechanisms[0].type");
    EXPECT_EQ(problems[0].where.line, 29);  // `cell` has 27 lines; type is the second after them
    EXPECT_THAT(problems[0].message, HasSubstr("unknown mechanism type 'teleporter'; known types: pmca"));
}

TEST(model_file, duplicate_names_are_reported_at_the_second_use) {
    // Compartments, membranes, mechanisms and parameters share one namespace.
    const auto problems = problems_of(cell + "[[mechanisms]]\nname = \"cyt\"\ntype = \"pmca\"\nmembrane = \"pm\"\n");
    const auto* p = find_key(problems, "mechanisms.cyt");
    ASSERT_NE(p, nullptr) << all_messages(problems);
    EXPECT_THAT(p->message, HasSubstr("the name 'cyt' is used twice"));
    EXPECT_EQ(p->where.line, 28);  // the [[mechanisms]] header after the 27 lines of `cell`
}

TEST(model_file, missing_file_is_a_model_error) {
    // read_model_file on a path that does not exist: one problem naming the file.
    try {
        read_model_file("/nonexistent/cadyn/model.toml");
        FAIL() << "no model_error";
    }
    catch (const model_error& e) {
        ASSERT_EQ(e.problems().size(), 1U);
        EXPECT_EQ(e.problems()[0].where.file, "/nonexistent/cadyn/model.toml");
        EXPECT_THAT(e.problems()[0].message, HasSubstr("cannot open"));
    }
}

} // namespace
} // namespace cadyn
