// SBML import and export (src/io/sbml.cpp, docs/sbml.md). The SBML Test Suite itself runs as the ctest
// sbml_test_suite (tests/sbml/sbml_suite_runner.cpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/io/model_file.hpp>
#include <cadyn/io/sbml.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

#include <sbml/SBMLTypes.h>

LIBSBML_CPP_NAMESPACE_USE

namespace cadyn {
namespace {

using ::testing::HasSubstr;

// S1 -> S2 at k1 * S1 * C (amount per time), S1(0) = 1.5e-4 in a compartment of size 1: the SBML Test Suite's
// case 00001, with the units given in `units` (empty: none).
std::string decay_model(const std::string& units, const std::string& model_units) {
    return fmt::format(R"x(<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="decay" {}>
    {}
    <listOfCompartments>
      <compartment id="C" spatialDimensions="3" size="1" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S1" compartment="C" initialAmount="0.00015" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
      <species id="S2" compartment="C" initialAmount="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k1" value="1" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="R1" reversible="false">
        <listOfReactants><speciesReference species="S1" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="S2" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw>
          <math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><ci> k1 </ci><ci> S1 </ci><ci> C </ci></apply>
          </math>
        </kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
)x",
                       model_units, units);
}

const char* molar_units = R"x(<listOfUnitDefinitions>
      <unitDefinition id="per_second"><listOfUnits><unit kind="second" exponent="-1" scale="0" multiplier="1"/></listOfUnits></unitDefinition>
    </listOfUnitDefinitions>)x";

// Simulate an imported model and return the SBML value of `id` (amount or concentration) at each record.
std::vector<double> run_sbml(const sbml_model& imported, const std::string& id, bool amount, double duration,
                             double interval) {
    auto model = imported.model;
    model.run.t_end = duration * imported.time_factor;
    model.record.interval = interval * imported.time_factor;
    model.run.rtol = 1e-10;
    model.run.atol = 1e-14;
    auto sys = compile(model);
    memory_recorder rec;
    simulate(sys, rec);
    std::vector<double> out;
    for (const double v: rec.column(imported.symbols.at(id).observable)) {
        out.push_back(imported.to_sbml(id, v, amount));
    }
    return out;
}

TEST(sbml_import, model_units_map_to_canonical_units_and_back) {
    // mole, litre, second: 1 mol/L = 1e6 uM, 1 L = 1e15 um^3, 1 s = 1000 ms.
    const auto imported =
        import_sbml(decay_model(molar_units, R"x(substanceUnits="mole" volumeUnits="litre" timeUnits="second")x"), "m.xml");
    EXPECT_DOUBLE_EQ(imported.time_factor, 1000.0);
    ASSERT_EQ(imported.model.compartments.size(), 1U);
    EXPECT_DOUBLE_EQ(imported.model.compartments[0].volume, 1e15);
    EXPECT_NEAR(imported.model.compartments[0].initial.at("S1"), 150.0, 1e-9);  // 1.5e-4 M = 150 uM
    EXPECT_EQ(imported.symbols.at("S1").observable, "C.S1");
    // dS1/dt = -k1 S1 with k1 = 1/s: S1(t) = 1.5e-4 exp(-t) mol, in the model's own units.
    const auto s1 = run_sbml(imported, "S1", true, 5, 0.5);
    ASSERT_EQ(s1.size(), 11U);
    for (std::size_t k = 0; k < s1.size(); ++k) {
        EXPECT_NEAR(s1[k], 1.5e-4 * std::exp(-0.5 * static_cast<double>(k)), 1e-12) << k;
    }
}

TEST(sbml_import, undefined_units_are_read_as_canonical_numbers) {
    const auto imported = import_sbml(decay_model("", ""), "m.xml");
    EXPECT_DOUBLE_EQ(imported.time_factor, 1.0);
    EXPECT_DOUBLE_EQ(imported.model.compartments[0].volume, 1.0);
    EXPECT_DOUBLE_EQ(imported.model.compartments[0].initial.at("S1"), 1.5e-4);
    const auto s2 = run_sbml(imported, "S2", false, 2, 1);
    EXPECT_NEAR(s2.back(), 1.5e-4 * (1 - std::exp(-2.0)), 1e-13);
}

// A model with one extra element spliced into the decay model.
std::string with(const std::string& before, const std::string& insert) {
    auto text = decay_model("", "");
    const auto at = text.find(before);
    EXPECT_NE(at, std::string::npos);
    return text.insert(at, insert);
}

std::string refusal(const std::string& text) {
    try {
        import_sbml(text, "m.xml");
    }
    catch (const sbml_unsupported& e) {
        std::string all;
        for (const auto& p: e.problems()) {
            all += p.key + ": " + p.message + "\n";
        }
        return all;
    }
    return "accepted";
}

TEST(sbml_import, refuses_what_it_cannot_honour_naming_the_element) {
    EXPECT_THAT(refusal(with("  </model>", R"x(<listOfRules><algebraicRule>
        <math xmlns="http://www.w3.org/1998/Math/MathML"><apply><minus/><ci>k1</ci><cn>1</cn></apply></math>
      </algebraicRule></listOfRules>)x")),
                HasSubstr("SBML feature 'algebraic rules' is not supported"));
    // A trigger that depends on the state: cadyn applies events only at fixed times.
    const auto state_event = refusal(with("  </model>", R"x(<listOfEvents><event id="low" useValuesFromTriggerTime="true">
        <trigger initialValue="true" persistent="true"><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><lt/><ci>S1</ci><cn>0.0001</cn></apply></math></trigger>
        <listOfEventAssignments><eventAssignment variable="S1"><math xmlns="http://www.w3.org/1998/Math/MathML">
          <cn>1</cn></math></eventAssignment></listOfEventAssignments>
      </event></listOfEvents>)x"));
    EXPECT_THAT(state_event, HasSubstr("event low: SBML feature 'event trigger' is not supported"));
    // A delay differential equation.
    EXPECT_THAT(refusal(with("    <listOfReactions>", R"x(<listOfRules><assignmentRule variable="k1">
        <math xmlns="http://www.w3.org/1998/Math/MathML"><apply>
          <csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol>
          <ci>S1</ci><cn>1</cn></apply></math></assignmentRule></listOfRules>)x")),
                HasSubstr("SBML feature 'delay' is not supported"));
    // A compartment whose size changes.
    EXPECT_THAT(refusal(with("    <listOfReactions>", R"x(<listOfRules><rateRule variable="C">
        <math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></rateRule></listOfRules>)x")),
                HasSubstr("compartment C: SBML feature 'variable compartments' is not supported"));
}

TEST(sbml_import, time_events_with_constant_values_become_cadyn_events) {
    const auto imported = import_sbml(with("  </model>", R"x(<listOfEvents><event id="bolus" useValuesFromTriggerTime="true">
        <trigger initialValue="true" persistent="true"><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><geq/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>
          <cn>1.5</cn></apply></math></trigger>
        <listOfEventAssignments><eventAssignment variable="S1"><math xmlns="http://www.w3.org/1998/Math/MathML">
          <cn>0.001</cn></math></eventAssignment></listOfEventAssignments>
      </event></listOfEvents>)x"),
                                      "m.xml");
    ASSERT_EQ(imported.model.events.size(), 1U);
    EXPECT_DOUBLE_EQ(imported.model.events[0].time, 1.5);
    ASSERT_EQ(imported.model.events[0].set.size(), 1U);
    EXPECT_EQ(imported.model.events[0].set[0].first, "C.S1");
    const auto s1 = run_sbml(imported, "S1", false, 2, 0.5);
    EXPECT_NEAR(s1[4], 0.001 * std::exp(-0.5), 1e-12);  // set to 1e-3 at 1.5, decayed for 0.5
}

TEST(sbml_import, model_files_named_xml_or_sbml_are_read_as_sbml) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("cadyn_sbml_{}", ::getpid());
    std::filesystem::create_directories(dir);
    for (const char* name: {"decay.xml", "decay.SBML"}) {
        std::ofstream(dir / name) << decay_model("", "");
        const auto m = read_model_file(dir / name);
        EXPECT_EQ(m.compartments.size(), 1U) << name;
        EXPECT_EQ(m.reactions.size(), 1U) << name;
    }
    // cadyn check accepts it too.
    std::ofstream(dir / "decay.xml") << decay_model("", "");
    const std::string command = fmt::format("{} check {} > {} 2>&1", CADYN_BINARY, (dir / "decay.xml").string(),
                                            (dir / "out.txt").string());
    EXPECT_EQ(std::system(command.c_str()), 0);
    std::stringstream out;
    out << std::ifstream(dir / "out.txt").rdbuf();
    EXPECT_THAT(out.str(), HasSubstr(": ok (1 compartment"));
    std::filesystem::remove_all(dir);
}

TEST(sbml_export, cadyn_export_sbml_writes_a_file_that_cadyn_runs) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("cadyn_sbml_cli_{}", ::getpid());
    std::filesystem::create_directories(dir);
    const std::string models = std::string(CADYN_SOURCE_DIR) + "/models/";
    const auto sh = [&](const std::string& args) {
        const std::string command =
            fmt::format("{} {} > {} 2>&1", CADYN_BINARY, args, (dir / "out.txt").string());
        const int rc = std::system(command.c_str());
        std::stringstream out;
        out << std::ifstream(dir / "out.txt").rdbuf();
        return std::make_pair(WEXITSTATUS(rc), out.str());
    };
    const auto exported = sh(fmt::format("export-sbml {}li_rinzel.toml -o {}", models, (dir / "lr.xml").string()));
    EXPECT_EQ(exported.first, 0) << exported.second;
    const auto run = sh(fmt::format("run {} --t-end '2 s' --no-plot --out {}", (dir / "lr.xml").string(),
                                    (dir / "run").string()));
    EXPECT_EQ(run.first, 0) << run.second;
    EXPECT_TRUE(std::filesystem::exists(dir / "run" / "traces.csv"));
    // A spatial model cannot be exported: exit 2 and the reason.
    const auto refused = sh(fmt::format("export-sbml {}nanodomain.toml", models));
    EXPECT_EQ(refused.first, 2);
    EXPECT_THAT(refused.second, HasSubstr("the model is spatial"));
    std::filesystem::remove_all(dir);
}

TEST(sbml_import, invalid_sbml_is_a_model_error_with_a_line) {
    try {
        import_sbml("<sbml level=\"3\" version=\"2\"><model></sbml>", "bad.xml");
        FAIL() << "accepted";
    }
    catch (const model_error& e) {
        ASSERT_FALSE(e.problems().empty());
        EXPECT_EQ(e.problems()[0].where.file, "bad.xml");
    }
}

// libSBML's consistency checks on a document (units checks off: cadyn leaves parameters without units): every
// message, warnings included.
std::vector<std::string> consistency_messages(const std::string& text) {
    std::unique_ptr<SBMLDocument> doc(readSBMLFromString(text.c_str()));
    doc->setConsistencyChecks(LIBSBML_CAT_UNITS_CONSISTENCY, false);
    const unsigned int n = doc->checkConsistency();
    std::vector<std::string> out;
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(doc->getError(i)->getSeverityAsString() + ": " + doc->getError(i)->getMessage());
    }
    return out;
}

// Runs a model from its initial state and keeps every record.
memory_recorder run_model(model_spec model, double t_end, double interval) {
    model.run.t_end = t_end;
    model.run.start = start_from::initial;
    model.record.interval = interval;
    model.record.observables.clear();
    model.run.rtol = 1e-9;
    model.run.atol = std::min(model.run.atol, 1e-12);
    auto sys = compile(model);
    memory_recorder rec;
    simulate(sys, rec);
    return rec;
}

// Export, import again, run both, and compare every species (and mechanism state) the export carries. Returns
// the number of traces compared; `worst` is the largest difference relative to the trace's largest value.
int expect_round_trip(const model_spec& model, double t_end, double interval, const std::string& label,
                      double* worst = nullptr) {
    const auto exported = export_sbml(model);
    EXPECT_THAT(consistency_messages(exported.text), ::testing::IsEmpty()) << label;
    const auto imported = import_sbml(exported.text, label + ".xml");
    const auto a = run_model(model, t_end, interval);
    const auto b = run_model(imported.model, t_end, interval);
    EXPECT_EQ(a.times().size(), b.times().size()) << label;
    int compared = 0;
    for (const auto& o: a.observables()) {
        const auto id = exported.ids.find(o.name);
        if (id == exported.ids.end() || o.name.find('.') == std::string::npos) {
            continue;  // fluxes, potentials: not carried by the export
        }
        const auto& sym = imported.symbols.at(id->second);
        if (sym.observable.empty()) {
            continue;  // held constant (a bath)
        }
        const auto& x = a.column(o.name);
        const auto& y = b.column(sym.observable);
        double scale = 0;
        for (const double v: x) {
            scale = std::max(scale, std::abs(v));
        }
        for (std::size_t k = 0; k < std::min(x.size(), y.size()); ++k) {
            const double got = imported.to_sbml(id->second, y[k], false);
            if (worst != nullptr && scale > 0) {
                *worst = std::max(*worst, std::abs(got - x[k]) / scale);
            }
            EXPECT_NEAR(got, x[k], 1e-6 * scale + 1e-12) << label << ": " << o.name << " at t = " << a.times()[k];
            if (std::abs(got - x[k]) > 1e-6 * scale + 1e-12) {
                break;  // one message per trace
            }
        }
        ++compared;
    }
    return compared;
}

TEST(sbml_export, expression_models_round_trip) {
    const auto model = parse_model(R"x(
format_version = 1
name = "ip3 metabolism"
[species]
x = { charge = 0 }
[[compartments]]
name = "cyt"
volume = "1000 um^3"
concentrations = { ip3 = "0.1 uM", x = "0 uM" }
[[compartments]]
name = "ext"
volume = "1 pL"
clamped = true
concentrations = { ca = "2 mM" }
[parameters]
k_deg = "2 s^-1"
v_prod = "0.5 uM/s"
[[reactions]]
name = "degradation"
equation = "cyt.ip3 -> cyt.x"
rate = "k_deg * cyt.ip3"
[[reactions]]
name = "production"
equation = "-> cyt.ip3"
rate = "t >= 200 && t < 400 ? v_prod * hill(ext.ca, 1000, 2) : 0"
compartment = "cyt"
[[rules]]
variable = "drive"
value = "pow(cyt.x, 2) + sign(cyt.ip3 - 0.1) + min(1, cyt.ip3)"
[[rules]]
variable = "cyt.x"
rate = "-1e-4 * cyt.x"
[[events]]
time = "300 ms"
set = { k_deg = "4 s^-1" }
)x",
                                   "expr.toml");
    EXPECT_EQ(expect_round_trip(model, 1000, 10, "expressions"), 2);
}

TEST(sbml_export, every_example_model_round_trips_or_is_refused_with_reasons) {
    std::vector<std::filesystem::path> files;
    for (const auto& e: std::filesystem::directory_iterator(std::string(CADYN_SOURCE_DIR) + "/models")) {
        if (e.path().extension() == ".toml") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    int exported = 0;
    for (const auto& f: files) {
        const auto model = read_model_file(f);
        std::string why;
        try {
            static_cast<void>(write_sbml(model));
        }
        catch (const error& e) {
            why = e.what();
        }
        if (!why.empty()) {
            std::cout << "[ not exported ] " << f.filename().string() << ": " << why << "\n";
            EXPECT_THAT(why, HasSubstr("cannot be exported to SBML exactly")) << f;
            continue;
        }
        // Each model's whole run, recorded at its own interval.
        double worst = 0;
        const int traces =
            expect_round_trip(model, model.run.t_end, model.record.interval, f.filename().string(), &worst);
        std::cout << fmt::format("[ round trip   ] {}: {} traces over {:g} s agree to {:.1e} of their range\n",
                                 f.filename().string(), traces, model.run.t_end / 1000, worst);
        EXPECT_GT(traces, 0) << f;
        ++exported;
    }
    // Every point model in models/ (10 when this was written); the spatial ones are refused.
    EXPECT_GE(exported, 10);
}

} // namespace
} // namespace cadyn
