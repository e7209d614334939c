// SBML import and export with libSBML (Debian's libsbml5-dev). docs/sbml.md describes the mapping, what is refused
// and why, and the SBML Test Suite results.
#include <cadyn/io/sbml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <deque>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <sbml/SBMLTypes.h>
#include <sbml/extension/SBasePlugin.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

#include "expr/expression.hpp"

// libSBML's names (Model, Species, ASTNode, ...): Debian builds it without a C++ namespace; other builds put them in
// namespace libsbml.
LIBSBML_CPP_NAMESPACE_USE

namespace cadyn {

namespace {



// The value of SBML Level 3's csymbol avogadro (the SBML L3V1 and L3V2 specifications: 6.02214179e23).
constexpr double sbml_avogadro = 6.02214179e23;

// A construct that cannot be imported faithfully: caught per element and reported as "SBML feature '...' is not
// supported".
struct unsupported_feature {
    std::string feature;
    std::string detail;
};

// A number in an expression: full precision, negative numbers in parentheses, infinities and NaN as arithmetic.
std::string number_text(double v) {
    if (std::isnan(v)) {
        return "(0/0)";
    }
    if (std::isinf(v)) {
        return v > 0 ? "(1/0)" : "(-1/0)";
    }
    auto s = fmt::format("{:.17g}", v);
    return v < 0 ? "(" + s + ")" : s;
}

// "x" scaled: "(x / f)" or "x" when f is 1.
std::string divided(const std::string& x, double f) {
    return f == 1.0 ? x : fmt::format("({} / {})", x, number_text(f));
}
std::string multiplied(double f, const std::string& x) {
    return f == 1.0 ? x : fmt::format("({} * {})", number_text(f), x);
}

// Names of muparser's and cadyn's built-ins, and cadyn's time: an SBML id equal to one of them is renamed.
const std::set<std::string>& reserved_names() {
    static const std::set<std::string> names = {
        "t",     "_pi",   "_e",    "sin",   "cos",   "tan",  "asin", "acos",  "atan",      "atan2",
        "sinh",  "cosh",  "tanh",  "asinh", "acosh", "atanh", "log2", "log10", "log",       "ln",
        "exp",   "sqrt",  "sign",  "rint",  "abs",   "sum",  "avg",  "min",   "max",       "pow",
        "hill",  "floor", "ceil",  "heaviside",
    };
    return names;
}

std::string ast_name(const ASTNode* n) {
    const char* name = n->getName();
    return name != nullptr ? std::string(name) : std::string();
}

// Translates libSBML math into a cadyn expression (docs/expressions.md). Function definitions are expanded inline;
// every SBML identifier goes through `symbol`, which decides what it stands for.
class translator {
public:
    explicit translator(const Model& model): model_(model) {}

    std::function<std::string(const std::string&)> symbol;
    std::string time = "t";
    bool used_time = false;

    std::string translate(const ASTNode* n) {
        if (n == nullptr) {
            throw unsupported_feature{"empty math", "an element has no math"};
        }
        switch (n->getType()) {
        case AST_INTEGER: return number_text(static_cast<double>(n->getInteger()));
        case AST_REAL:
        case AST_REAL_E:
        case AST_RATIONAL: return number_text(n->getReal());
        case AST_NAME: {
            const std::string name = ast_name(n);
            if (!scopes_.empty()) {
                const auto it = scopes_.back().find(name);
                if (it != scopes_.back().end()) {
                    return it->second;
                }
            }
            return symbol(name);
        }
        case AST_NAME_TIME: used_time = true; return time;
        case AST_NAME_AVOGADRO: return number_text(sbml_avogadro);
        case AST_CONSTANT_E: return "_e";
        case AST_CONSTANT_PI: return "_pi";
        case AST_CONSTANT_TRUE: return "1";
        case AST_CONSTANT_FALSE: return "0";
        case AST_PLUS: return nary(n, " + ", "0");
        case AST_TIMES: return nary(n, " * ", "1");
        case AST_MINUS:
            if (n->getNumChildren() == 1) {
                return "(-" + arg(n, 0) + ")";
            }
            expect_children(n, 2, "minus");
            return "(" + arg(n, 0) + " - " + arg(n, 1) + ")";
        case AST_DIVIDE:
            expect_children(n, 2, "divide");
            return "(" + arg(n, 0) + " / " + arg(n, 1) + ")";
        case AST_POWER:
        case AST_FUNCTION_POWER:
            expect_children(n, 2, "power");
            return "pow(" + arg(n, 0) + ", " + arg(n, 1) + ")";
        case AST_FUNCTION_ROOT:
            if (n->getNumChildren() == 1) {
                return "sqrt(" + arg(n, 0) + ")";
            }
            expect_children(n, 2, "root");
            return "pow(" + arg(n, 1) + ", 1 / " + arg(n, 0) + ")";
        case AST_FUNCTION_LOG:
            if (n->getNumChildren() == 1) {
                return "log10(" + arg(n, 0) + ")";
            }
            expect_children(n, 2, "log");
            return "(ln(" + arg(n, 1) + ") / ln(" + arg(n, 0) + "))";
        case AST_FUNCTION_LN: return call("ln", n, 1);
        case AST_FUNCTION_EXP: return call("exp", n, 1);
        case AST_FUNCTION_ABS: return call("abs", n, 1);
        case AST_FUNCTION_FLOOR: return call("floor", n, 1);
        case AST_FUNCTION_CEILING: return call("ceil", n, 1);
        case AST_FUNCTION_SIN: return call("sin", n, 1);
        case AST_FUNCTION_COS: return call("cos", n, 1);
        case AST_FUNCTION_TAN: return call("tan", n, 1);
        case AST_FUNCTION_SEC: return "(1 / " + call("cos", n, 1) + ")";
        case AST_FUNCTION_CSC: return "(1 / " + call("sin", n, 1) + ")";
        case AST_FUNCTION_COT: return "(1 / " + call("tan", n, 1) + ")";
        case AST_FUNCTION_SINH: return call("sinh", n, 1);
        case AST_FUNCTION_COSH: return call("cosh", n, 1);
        case AST_FUNCTION_TANH: return call("tanh", n, 1);
        case AST_FUNCTION_SECH: return "(1 / " + call("cosh", n, 1) + ")";
        case AST_FUNCTION_CSCH: return "(1 / " + call("sinh", n, 1) + ")";
        case AST_FUNCTION_COTH: return "(1 / " + call("tanh", n, 1) + ")";
        case AST_FUNCTION_ARCSIN: return call("asin", n, 1);
        case AST_FUNCTION_ARCCOS: return call("acos", n, 1);
        case AST_FUNCTION_ARCTAN: return call("atan", n, 1);
        case AST_FUNCTION_ARCSEC: return inverse_of("acos", n);
        case AST_FUNCTION_ARCCSC: return inverse_of("asin", n);
        case AST_FUNCTION_ARCCOT: return inverse_of("atan", n);
        case AST_FUNCTION_ARCSINH: return call("asinh", n, 1);
        case AST_FUNCTION_ARCCOSH: return call("acosh", n, 1);
        case AST_FUNCTION_ARCTANH: return call("atanh", n, 1);
        case AST_FUNCTION_ARCSECH: return inverse_of("acosh", n);
        case AST_FUNCTION_ARCCSCH: return inverse_of("asinh", n);
        case AST_FUNCTION_ARCCOTH: return inverse_of("atanh", n);
        case AST_FUNCTION_MAX:
        case AST_FUNCTION_MIN: {
            if (n->getNumChildren() == 0) {
                throw unsupported_feature{"empty min/max", "min or max without arguments"};
            }
            std::string out = n->getType() == AST_FUNCTION_MAX ? "max(" : "min(";
            for (unsigned int i = 0; i < n->getNumChildren(); ++i) {
                out += (i > 0 ? ", " : "") + arg(n, i);
            }
            return out + ")";
        }
        case AST_FUNCTION_QUOTIENT:
            expect_children(n, 2, "quotient");
            return truncated("(" + arg(n, 0) + " / " + arg(n, 1) + ")");
        case AST_FUNCTION_REM: {
            expect_children(n, 2, "rem");
            const auto a = arg(n, 0);
            const auto b = arg(n, 1);
            return "(" + a + " - " + b + " * " + truncated("(" + a + " / " + b + ")") + ")";
        }
        case AST_FUNCTION_PIECEWISE: return piecewise(n);
        case AST_LOGICAL_AND: return logical(n, " && ", "1");
        case AST_LOGICAL_OR: return logical(n, " || ", "0");
        case AST_LOGICAL_XOR: {
            if (n->getNumChildren() == 0) {
                return "0";
            }
            std::string out = "(" + arg(n, 0) + " != 0)";
            for (unsigned int i = 1; i < n->getNumChildren(); ++i) {
                out = "(" + out + " != (" + arg(n, i) + " != 0))";
            }
            return out;
        }
        case AST_LOGICAL_NOT: expect_children(n, 1, "not"); return "(" + arg(n, 0) + " == 0)";
        case AST_LOGICAL_IMPLIES:
            expect_children(n, 2, "implies");
            return "((" + arg(n, 0) + " == 0) || (" + arg(n, 1) + " != 0))";
        case AST_RELATIONAL_EQ: return relation(n, " == ");
        case AST_RELATIONAL_NEQ: return relation(n, " != ");
        case AST_RELATIONAL_GT: return relation(n, " > ");
        case AST_RELATIONAL_GEQ: return relation(n, " >= ");
        case AST_RELATIONAL_LT: return relation(n, " < ");
        case AST_RELATIONAL_LEQ: return relation(n, " <= ");
        case AST_FUNCTION: return user_function(n);
        case AST_FUNCTION_DELAY:
            throw unsupported_feature{"delay", "the csymbol delay (cadyn integrates ODEs, not delay equations)"};
        case AST_FUNCTION_RATE_OF:
            throw unsupported_feature{"rateOf", "the csymbol rateOf"};
        case AST_FUNCTION_FACTORIAL:
            throw unsupported_feature{"factorial", "the MathML function factorial"};
        default: break;
        }
        const std::string name = ast_name(n);
        throw unsupported_feature{
            "MathML", fmt::format("the MathML construct '{}' (libSBML AST type {})", name.empty() ? "?" : name,
                                  static_cast<int>(n->getType()))};
    }

private:
    const Model& model_;
    std::vector<std::map<std::string, std::string>> scopes_;  // arguments of the function definitions being expanded

    static void expect_children(const ASTNode* n, unsigned int count, const char* what) {
        if (n->getNumChildren() != count) {
            throw unsupported_feature{"MathML", fmt::format("'{}' with {} arguments", what, n->getNumChildren())};
        }
    }
    std::string arg(const ASTNode* n, unsigned int i) { return translate(n->getChild(i)); }
    std::string call(const char* f, const ASTNode* n, unsigned int count) {
        expect_children(n, count, f);
        return std::string(f) + "(" + arg(n, 0) + ")";
    }
    std::string inverse_of(const char* f, const ASTNode* n) {
        expect_children(n, 1, f);
        return std::string(f) + "(1 / " + arg(n, 0) + ")";
    }
    static std::string truncated(const std::string& x) { return "(" + x + " < 0 ? ceil(" + x + ") : floor(" + x + "))"; }
    std::string nary(const ASTNode* n, const char* op, const char* empty) {
        if (n->getNumChildren() == 0) {
            return empty;
        }
        std::string out = "(";
        for (unsigned int i = 0; i < n->getNumChildren(); ++i) {
            out += (i > 0 ? op : "") + arg(n, i);
        }
        return out + ")";
    }
    std::string logical(const ASTNode* n, const char* op, const char* empty) {
        if (n->getNumChildren() == 0) {
            return empty;
        }
        std::string out = "(";
        for (unsigned int i = 0; i < n->getNumChildren(); ++i) {
            out += (i > 0 ? op : "") + std::string("(") + arg(n, i) + " != 0)";
        }
        return out + ")";
    }
    // SBML relations are n-ary: a < b < c is (a < b) && (b < c).
    std::string relation(const ASTNode* n, const char* op) {
        if (n->getNumChildren() < 2) {
            return "1";
        }
        std::vector<std::string> args;
        for (unsigned int i = 0; i < n->getNumChildren(); ++i) {
            args.push_back(arg(n, i));
        }
        std::string out;
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            out += (i > 0 ? " && " : "") + ("(" + args[i] + op + args[i + 1] + ")");
        }
        return "(" + out + ")";
    }
    // piecewise(v1, c1, v2, c2, ..., otherwise): c1 ? v1 : c2 ? v2 : ... : otherwise. Without an otherwise the
    // value is undefined where no condition holds (NaN).
    std::string piecewise(const ASTNode* n) {
        const unsigned int count = n->getNumChildren();
        std::string out;
        std::string closing;
        unsigned int i = 0;
        for (; i + 1 < count; i += 2) {
            out += "((" + arg(n, i + 1) + ") != 0 ? " + arg(n, i) + " : ";
            closing += ")";
        }
        out += i < count ? arg(n, i) : std::string("(0/0)");
        return out + closing;
    }
    std::string user_function(const ASTNode* n) {
        const std::string name = ast_name(n);
        const auto* fd = model_.getFunctionDefinition(name);
        if (fd == nullptr || fd->getBody() == nullptr) {
            throw unsupported_feature{"function", fmt::format("'{}' is not a function definition with a body", name)};
        }
        if (fd->getNumArguments() != n->getNumChildren()) {
            throw unsupported_feature{"function", fmt::format("'{}' called with {} arguments; it takes {}", name,
                                                              n->getNumChildren(), fd->getNumArguments())};
        }
        if (scopes_.size() > 64) {
            throw unsupported_feature{"function", fmt::format("'{}' nests function definitions too deeply", name)};
        }
        std::map<std::string, std::string> scope;
        for (unsigned int i = 0; i < fd->getNumArguments(); ++i) {
            scope[ast_name(fd->getArgument(i))] = "(" + arg(n, i) + ")";
        }
        scopes_.push_back(std::move(scope));
        std::string body;
        try {
            body = translate(fd->getBody());
        }
        catch (...) {
            scopes_.pop_back();
            throw;
        }
        scopes_.pop_back();
        return "(" + body + ")";
    }
};

// What one SBML unit is worth in cadyn's canonical unit of the same quantity.
enum class quantity { substance, volume, time };

std::optional<double> unit_factor(const Model& model, const std::string& unit, quantity what) {
    if (unit.empty()) {
        return std::nullopt;
    }
    std::vector<const Unit*> units;
    std::unique_ptr<Unit> base;
    if (const auto* ud = model.getUnitDefinition(unit)) {
        for (unsigned int i = 0; i < ud->getNumUnits(); ++i) {
            units.push_back(ud->getUnit(i));
        }
    }
    else if (UnitKind_isValidUnitKindString(unit.c_str(), model.getLevel(), model.getVersion()) != 0) {
        base = std::make_unique<Unit>(model.getLevel(), model.getVersion());
        base->setKind(UnitKind_forName(unit.c_str()));
        base->setExponent(1.0);
        base->setScale(0);
        base->setMultiplier(1.0);
        units.push_back(base.get());
    }
    else {
        return std::nullopt;
    }
    double mole = 0;
    double item = 0;
    double litre = 0;
    double metre = 0;
    double second = 0;
    double decades = 0;      // sum of scale x exponent
    double multiplier = 1;   // product of multiplier^exponent
    for (const auto* u: units) {
        const double e = u->getExponentAsDouble();
        decades += u->getScale() * e;
        multiplier *= std::pow(u->getMultiplier(), e);
        switch (u->getKind()) {
        case UNIT_KIND_MOLE: mole += e; break;
        case UNIT_KIND_ITEM: item += e; break;
        case UNIT_KIND_LITRE:
        case UNIT_KIND_LITER: litre += e; break;
        case UNIT_KIND_METRE:
        case UNIT_KIND_METER: metre += e; break;
        case UNIT_KIND_SECOND: second += e; break;
        case UNIT_KIND_DIMENSIONLESS: break;
        default: return std::nullopt;
        }
    }
    double per_item = 1;
    switch (what) {
    case quantity::substance:
        if (litre != 0 || metre != 0 || second != 0 || mole + item != 1 || (mole != 0 && item != 0)) {
            return std::nullopt;
        }
        decades += 21;  // 1 mol = 1e21 zmol
        per_item = item == 1 ? 1 / 6.02214076e23 : 1.0;
        break;
    case quantity::volume:
        if (mole != 0 || item != 0 || second != 0 || !((litre == 1 && metre == 0) || (litre == 0 && metre == 3))) {
            return std::nullopt;
        }
        decades += litre == 1 ? 15 : 18;  // 1 L = 1e15 um^3, 1 m^3 = 1e18 um^3
        break;
    case quantity::time:
        if (mole != 0 || item != 0 || litre != 0 || metre != 0 || second != 1) {
            return std::nullopt;
        }
        decades += 3;  // 1 s = 1000 ms
        break;
    }
    const double f = multiplier * std::pow(10.0, decades) * per_item;
    if (!(f > 0) || !std::isfinite(f)) {
        return std::nullopt;
    }
    return f;
}

class importer {
public:
    importer(const Model& model, std::string source): m_(model), source_(std::move(source)) {}

    sbml_model run();

private:
    const Model& m_;
    std::string source_;
    sbml_model out_;
    std::vector<diagnostic> refused_;

    std::map<std::string, const Rule*> assignment_rule_;
    std::map<std::string, const Rule*> rate_rule_;
    std::map<std::string, const InitialAssignment*> initial_;
    std::set<std::string> event_target_;
    std::map<std::string, const SpeciesReference*> species_ref_;
    std::set<std::string> taken_;     // every SBML id
    std::set<std::string> assigned_;  // cadyn names given out

    struct compartment_info {
        std::string name;   // cadyn name
        double factor = 1;  // cadyn volume per SBML size unit
        double size = 0;    // SBML
    };
    struct species_info {
        const Species* s = nullptr;
        std::string name;           // the cadyn species name: the SBML id
        std::string field;          // "comp.S": the cadyn observable
        std::string compartment;    // SBML id
        double fc = 1;              // cadyn concentration per SBML concentration
        double fn = 1;              // cadyn amount per SBML amount
        bool only_substance = false;
        bool fixed = false;         // boundary condition or constant: reactions do not change it
    };
    std::map<std::string, compartment_info> compartments_;
    std::map<std::string, species_info> species_;
    std::map<std::string, std::string> parameter_name_;  // SBML id -> cadyn name
    std::map<std::string, std::string> inlined_;         // constant parameters written as numbers (inf, NaN)
    double time_factor_ = 1;

    // Initial values (SBML units; species in the sense their symbol has in formulas).
    std::map<std::string, double> values_;
    std::set<std::string> evaluating_;
    std::map<std::string, double> t0_override_;  // set by events that fire at t = 0
    int inline_depth_ = 0;

    void refuse(const SBase* element, const std::string& key, const unsupported_feature& f) {
        source_location where{source_, 0, 0};
        if (element != nullptr) {
            where.line = static_cast<int>(element->getLine());
            where.column = static_cast<int>(element->getColumn());
        }
        refused_.push_back({where, key, fmt::format("SBML feature '{}' is not supported: {}", f.feature, f.detail)});
    }

    // cadyn names: an SBML id keeps its name unless it is a built-in's; new names (renamed ids, local parameters)
    // avoid every SBML id and every name given out.
    std::string claim(const std::string& id) {
        if (!reserved_names().contains(id)) {
            assigned_.insert(id);
            return id;
        }
        return claim_new(id);
    }
    std::string claim_new(const std::string& wanted) {
        std::string name = wanted;
        while (reserved_names().contains(name) || taken_.contains(name) || assigned_.contains(name)) {
            name += "_";
        }
        assigned_.insert(name);
        return name;
    }

    bool varies(const std::string& id) const;
    double value_of(const std::string& id);
    double evaluate(const ASTNode* math, const std::map<std::string, double>* locals = nullptr);
    std::string runtime(const ASTNode* math, const std::map<std::string, std::string>* locals = nullptr);
    std::string runtime_symbol(const std::string& id);
    // The SBML ids a formula reads (through function definitions) and whether it reads time.
    std::set<std::string> references(const ASTNode* math, bool& uses_time);
    bool constant_math(const ASTNode* math) {
        bool uses_time = false;
        const auto ids = references(math, uses_time);
        return !uses_time && std::none_of(ids.begin(), ids.end(), [&](const std::string& id) { return varies(id); });
    }
    double stoichiometry(const SpeciesReference& sr);
    double conversion_factor(const Species& s);

    void classify();
    void read_units();
    void read_compartments();
    void read_species();
    void read_parameters();
    void read_reactions();
    void read_rules();
    void read_events();
    void finish();
};

bool importer::varies(const std::string& id) const {
    if (rate_rule_.contains(id) || assignment_rule_.contains(id) || event_target_.contains(id)) {
        return true;
    }
    if (const auto it = species_.find(id); it != species_.end()) {
        if (it->second.fixed) {
            return false;
        }
        for (unsigned int r = 0; r < m_.getNumReactions(); ++r) {
            const auto* rx = m_.getReaction(r);
            for (unsigned int i = 0; i < rx->getNumReactants(); ++i) {
                if (rx->getReactant(i)->getSpecies() == id) {
                    return true;
                }
            }
            for (unsigned int i = 0; i < rx->getNumProducts(); ++i) {
                if (rx->getProduct(i)->getSpecies() == id) {
                    return true;
                }
            }
        }
        return false;
    }
    return m_.getReaction(id) != nullptr;  // a reaction's rate: conservatively, it varies
}

std::set<std::string> importer::references(const ASTNode* math, bool& uses_time) {
    std::set<std::string> ids;
    translator tr(m_);
    tr.symbol = [&ids](const std::string& id) {
        ids.insert(id);
        return std::string("x");
    };
    tr.translate(math);
    uses_time = tr.used_time;
    return ids;
}

// A formula's value now, from the initial values of what it reads (SBML units; time 0).
double importer::evaluate(const ASTNode* math, const std::map<std::string, double>* locals) {
    std::deque<double> store;
    std::vector<detail::expression::binding> bindings;
    translator tr(m_);
    tr.time = "0";
    tr.symbol = [&](const std::string& id) {
        if (locals != nullptr) {
            if (const auto it = locals->find(id); it != locals->end()) {
                return number_text(it->second);
            }
        }
        store.push_back(value_of(id));
        const std::string name = fmt::format("v{}", store.size());
        bindings.push_back({name, &store.back()});
        return name;
    };
    const std::string text = tr.translate(math);
    try {
        detail::expression e(text, bindings);
        return e.eval();
    }
    catch (const detail::expression_error& e) {
        throw internal_error(fmt::format("SBML import produced an expression muparser rejects: {}", e.what()));
    }
}

double importer::value_of(const std::string& id) {
    if (const auto it = values_.find(id); it != values_.end()) {
        return it->second;
    }
    if (evaluating_.contains(id)) {
        throw unsupported_feature{"initial values", fmt::format("the initial value of '{}' depends on itself", id)};
    }
    evaluating_.insert(id);
    double v = 0;
    if (const auto ia = initial_.find(id); ia != initial_.end()) {
        v = evaluate(ia->second->getMath());
    }
    else if (const auto ar = assignment_rule_.find(id); ar != assignment_rule_.end()) {
        v = evaluate(ar->second->getMath());
    }
    else if (const auto* c = m_.getCompartment(id)) {
        const bool point = c->getLevel() >= 3 ? c->isSetSpatialDimensions() && c->getSpatialDimensionsAsDouble() == 0
                                              : c->getSpatialDimensions() == 0;
        if (c->isSetSize()) {
            v = c->getSize();
        }
        else if (point) {
            v = 1;  // a 0-D compartment has no size: its species are amounts (concentration = amount / 1)
        }
        else {
            throw unsupported_feature{"compartment size", fmt::format("compartment '{}' has no size", id)};
        }
    }
    else if (const auto* s = m_.getSpecies(id)) {
        const bool only = s->getHasOnlySubstanceUnits();
        if (s->isSetInitialAmount()) {
            v = only ? s->getInitialAmount() : s->getInitialAmount() / value_of(s->getCompartment());
        }
        else if (s->isSetInitialConcentration()) {
            v = only ? s->getInitialConcentration() * value_of(s->getCompartment()) : s->getInitialConcentration();
        }
        else {
            throw unsupported_feature{"species initial value", fmt::format("species '{}' has no initial value", id)};
        }
    }
    else if (const auto* p = m_.getParameter(id)) {
        if (!p->isSetValue()) {
            throw unsupported_feature{"parameter value", fmt::format("parameter '{}' has no value", id)};
        }
        v = p->getValue();
    }
    else if (const auto sr = species_ref_.find(id); sr != species_ref_.end()) {
        v = stoichiometry(*sr->second);
    }
    else if (const auto* rx = m_.getReaction(id)) {
        const auto* kl = rx->getKineticLaw();
        if (kl == nullptr || kl->getMath() == nullptr) {
            throw unsupported_feature{"reaction without kinetic law", fmt::format("reaction '{}'", id)};
        }
        std::map<std::string, double> locals;
        for (unsigned int i = 0; i < kl->getNumLocalParameters(); ++i) {
            locals[kl->getLocalParameter(i)->getId()] = kl->getLocalParameter(i)->getValue();
        }
        for (unsigned int i = 0; i < kl->getNumParameters(); ++i) {
            locals[kl->getParameter(i)->getId()] = kl->getParameter(i)->getValue();
        }
        v = evaluate(kl->getMath(), &locals);
    }
    else {
        throw unsupported_feature{"symbol", fmt::format("'{}' names nothing in the model", id)};
    }
    evaluating_.erase(id);
    values_[id] = v;
    return v;
}

// What an SBML symbol is, in a cadyn expression evaluated during the run: its value in SBML units.
std::string importer::runtime_symbol(const std::string& id) {
    if (const auto it = compartments_.find(id); it != compartments_.end()) {
        return divided(it->second.name, it->second.factor);
    }
    if (const auto it = species_.find(id); it != species_.end()) {
        const auto& sp = it->second;
        if (sp.only_substance) {
            const auto& comp = compartments_.at(sp.compartment).name;
            return divided("(" + sp.field + " * " + comp + ")", sp.fn);
        }
        return divided(sp.field, sp.fc);
    }
    if (const auto it = inlined_.find(id); it != inlined_.end()) {
        return it->second;
    }
    if (const auto it = parameter_name_.find(id); it != parameter_name_.end()) {
        return it->second;
    }
    if (species_ref_.contains(id)) {
        return number_text(value_of(id));
    }
    if (const auto* rx = m_.getReaction(id)) {
        // A reaction's identifier in math is its rate: the kinetic law, inline.
        const auto* kl = rx->getKineticLaw();
        if (kl == nullptr || kl->getMath() == nullptr) {
            throw unsupported_feature{"reaction without kinetic law", fmt::format("reaction '{}'", id)};
        }
        struct depth_guard {
            int& depth;
            explicit depth_guard(int& d): depth(++d) {}
            ~depth_guard() { --depth; }
            depth_guard(const depth_guard&) = delete;
            depth_guard& operator=(const depth_guard&) = delete;
        } guard(inline_depth_);
        if (inline_depth_ > 32) {
            throw unsupported_feature{"reaction rates", "reaction rates refer to each other in a cycle"};
        }
        std::map<std::string, std::string> locals;
        for (unsigned int i = 0; i < kl->getNumLocalParameters(); ++i) {
            locals[kl->getLocalParameter(i)->getId()] = number_text(kl->getLocalParameter(i)->getValue());
        }
        for (unsigned int i = 0; i < kl->getNumParameters(); ++i) {
            locals[kl->getParameter(i)->getId()] = number_text(kl->getParameter(i)->getValue());
        }
        return "(" + runtime(kl->getMath(), &locals) + ")";
    }
    throw unsupported_feature{"symbol", fmt::format("'{}' names nothing this import knows", id)};
}

std::string importer::runtime(const ASTNode* math, const std::map<std::string, std::string>* locals) {
    translator tr(m_);
    tr.time = divided("t", time_factor_);
    tr.symbol = [&](const std::string& id) {
        if (locals != nullptr) {
            if (const auto it = locals->find(id); it != locals->end()) {
                return it->second;
            }
        }
        return runtime_symbol(id);
    };
    return tr.translate(math);
}

double importer::stoichiometry(const SpeciesReference& sr) {
    if (sr.getLevel() < 3 && sr.isSetStoichiometryMath()) {
        const auto* math = sr.getStoichiometryMath()->getMath();
        if (!constant_math(math)) {
            throw unsupported_feature{"stoichiometryMath", "a stoichiometry that changes during the run"};
        }
        return evaluate(math);
    }
    if (!sr.getId().empty() && initial_.contains(sr.getId()) && !evaluating_.contains(sr.getId())) {
        return value_of(sr.getId());
    }
    if (sr.getLevel() >= 3 && !sr.isSetStoichiometry()) {
        throw unsupported_feature{"stoichiometry",
                                  fmt::format("the stoichiometry of species '{}' is not set", sr.getSpecies())};
    }
    return sr.getStoichiometry() / (sr.getLevel() < 3 ? sr.getDenominator() : 1);
}

double importer::conversion_factor(const Species& s) {
    std::string id;
    if (s.getLevel() >= 3) {
        id = s.isSetConversionFactor() ? s.getConversionFactor() : m_.getConversionFactor();
    }
    if (id.empty()) {
        return 1;
    }
    if (varies(id)) {
        throw unsupported_feature{"conversionFactor",
                                  fmt::format("the conversion factor '{}' of species '{}' changes during the run", id,
                                              s.getId())};
    }
    return value_of(id);
}

void importer::classify() {
    for (unsigned int i = 0; i < m_.getNumCompartments(); ++i) {
        taken_.insert(m_.getCompartment(i)->getId());
    }
    for (unsigned int i = 0; i < m_.getNumSpecies(); ++i) {
        taken_.insert(m_.getSpecies(i)->getId());
    }
    for (unsigned int i = 0; i < m_.getNumParameters(); ++i) {
        taken_.insert(m_.getParameter(i)->getId());
    }
    for (unsigned int i = 0; i < m_.getNumReactions(); ++i) {
        const auto* rx = m_.getReaction(i);
        taken_.insert(rx->getId());
        for (const auto* list: {rx->getListOfReactants(), rx->getListOfProducts()}) {
            for (unsigned int k = 0; k < list->size(); ++k) {
                const auto* sr = static_cast<const SpeciesReference*>(list->get(k));
                if (!sr->getId().empty()) {
                    species_ref_[sr->getId()] = sr;
                    taken_.insert(sr->getId());
                }
            }
        }
    }
    for (unsigned int i = 0; i < m_.getNumFunctionDefinitions(); ++i) {
        taken_.insert(m_.getFunctionDefinition(i)->getId());
    }
    for (unsigned int i = 0; i < m_.getNumRules(); ++i) {
        const auto* r = m_.getRule(i);
        if (r->getMath() == nullptr) {
            out_.notes.push_back(fmt::format("the rule for '{}' has no math: ignored", r->getVariable()));
            continue;
        }
        if (r->isAlgebraic()) {
            refuse(r, "algebraic rule",
                   {"algebraic rules", "an algebraic rule (cadyn integrates ODEs; it does not solve DAEs)"});
        }
        else if (r->isAssignment()) {
            assignment_rule_[r->getVariable()] = r;
        }
        else if (r->isRate()) {
            rate_rule_[r->getVariable()] = r;
        }
    }
    for (unsigned int i = 0; i < m_.getNumInitialAssignments(); ++i) {
        if (m_.getInitialAssignment(i)->getMath() == nullptr) {
            continue;  // no math: no effect
        }
        initial_[m_.getInitialAssignment(i)->getSymbol()] = m_.getInitialAssignment(i);
    }
    for (unsigned int i = 0; i < m_.getNumEvents(); ++i) {
        const auto* e = m_.getEvent(i);
        for (unsigned int k = 0; k < e->getNumEventAssignments(); ++k) {
            if (e->getEventAssignment(k)->getMath() != nullptr) {
                event_target_.insert(e->getEventAssignment(k)->getVariable());
            }
        }
    }
    if (m_.getNumConstraints() > 0) {
        out_.notes.push_back(fmt::format("{} constraint(s) ignored: cadyn does not check SBML constraints",
                                         m_.getNumConstraints()));
    }
}

void importer::read_units() {
    const bool l3 = m_.getLevel() >= 3;
    const std::string time_unit = l3 ? m_.getTimeUnits() : std::string("time");
    if (const auto f = unit_factor(m_, time_unit, quantity::time)) {
        time_factor_ = *f;
    }
    else if (l3 && !time_unit.empty()) {
        out_.notes.push_back(fmt::format("time unit '{}' is not a time cadyn knows; model time read as ms", time_unit));
    }
    out_.time_factor = time_factor_;
}

void importer::read_compartments() {
    const bool l3 = m_.getLevel() >= 3;
    for (unsigned int i = 0; i < m_.getNumCompartments(); ++i) {
        const auto* c = m_.getCompartment(i);
        const std::string& id = c->getId();
        const std::string key = "compartment " + id;
        const double dims = l3 ? (c->isSetSpatialDimensions() ? c->getSpatialDimensionsAsDouble() : 3.0)
                               : static_cast<double>(c->getSpatialDimensions());
        if (rate_rule_.contains(id) || assignment_rule_.contains(id) || event_target_.contains(id)) {
            refuse(c, key, {"variable compartments",
                            fmt::format("the size of compartment '{}' changes during the run (a rule or an event "
                                        "sets it); cadyn's compartments have constant volumes",
                                        id)});
            continue;
        }
        compartment_info info;
        info.name = claim(id);
        if (dims == 3) {
            const std::string unit = c->isSetUnits() ? c->getUnits() : (l3 ? m_.getVolumeUnits() : "volume");
            if (const auto f = unit_factor(m_, unit, quantity::volume)) {
                info.factor = *f;
            }
            else if (!unit.empty() && unit != "volume") {
                out_.notes.push_back(fmt::format("compartment '{}': unit '{}' is not a volume cadyn knows; its size "
                                                 "is read as um^3",
                                                 id, unit));
            }
        }
        else {
            out_.notes.push_back(fmt::format("compartment '{}' has {} spatial dimensions: its size is used as its "
                                             "volume, in model units",
                                             id, dims));
        }
        compartments_[id] = info;
    }
}

void importer::read_species() {
    const bool l3 = m_.getLevel() >= 3;
    for (unsigned int i = 0; i < m_.getNumSpecies(); ++i) {
        const auto* s = m_.getSpecies(i);
        const std::string& id = s->getId();
        const auto comp = compartments_.find(s->getCompartment());
        if (comp == compartments_.end()) {
            refuse(s, "species " + id,
                   {"species compartment", fmt::format("species '{}' is in compartment '{}', which was not imported",
                                                       id, s->getCompartment())});
            continue;
        }
        species_info info;
        info.s = s;
        info.compartment = s->getCompartment();
        // The SBML id is the cadyn species name. (cadyn's own exports name a species held by several compartments
        // "<compartment>_<name>"; reading those back as <compartment>.<name> would give a transfer reaction two
        // budget channels of one name, which the engine's observables cannot tell apart.)
        info.name = id;
        info.field = comp->second.name + "." + info.name;
        info.only_substance = s->getHasOnlySubstanceUnits();
        info.fixed = s->getBoundaryCondition() || s->getConstant();
        const std::string unit = s->isSetSubstanceUnits() ? s->getSubstanceUnits()
                                                          : (l3 ? m_.getSubstanceUnits() : std::string("substance"));
        if (const auto f = unit_factor(m_, unit, quantity::substance)) {
            info.fn = *f;
        }
        else if (!unit.empty() && unit != "substance") {
            out_.notes.push_back(
                fmt::format("species '{}': unit '{}' is not an amount cadyn knows; read as zmol", id, unit));
        }
        info.fc = info.fn / comp->second.factor;
        species_[id] = info;
    }
}

void importer::read_parameters() {
    for (unsigned int i = 0; i < m_.getNumParameters(); ++i) {
        const auto* p = m_.getParameter(i);
        parameter_name_[p->getId()] = claim(p->getId());
    }
}

void importer::finish() {
    auto& model = out_.model;
    // Sizes first: species values depend on them.
    for (auto& [id, info]: compartments_) {
        const auto* c = m_.getCompartment(id);
        try {
            info.size = value_of(id);
            if (const auto o = t0_override_.find(id); o != t0_override_.end()) {
                info.size = o->second;
            }
            if (!(info.size > 0) || !std::isfinite(info.size)) {
                throw unsupported_feature{"compartment size",
                                          fmt::format("compartment '{}' has size {:g}; cadyn needs a positive volume",
                                                      id, info.size)};
            }
        }
        catch (const unsupported_feature& f) {
            refuse(c, "compartment " + id, f);
            info.size = 1;
        }
    }
    for (unsigned int i = 0; i < m_.getNumCompartments(); ++i) {
        const auto* c = m_.getCompartment(i);
        const auto it = compartments_.find(c->getId());
        if (it == compartments_.end()) {
            continue;
        }
        compartment_spec spec;
        spec.name = it->second.name;
        spec.volume = it->second.size * it->second.factor;
        spec.where = {source_, static_cast<int>(c->getLine()), static_cast<int>(c->getColumn())};
        model.compartments.push_back(spec);
        sbml_symbol sym;
        sym.type = sbml_symbol::kind::compartment;
        sym.value = it->second.size;
        out_.symbols[c->getId()] = sym;
    }
    for (unsigned int i = 0; i < m_.getNumSpecies(); ++i) {
        const auto* s = m_.getSpecies(i);
        const auto it = species_.find(s->getId());
        if (it == species_.end()) {
            continue;
        }
        const auto& sp = it->second;
        const auto& comp = compartments_.at(sp.compartment);
        sbml_symbol sym;
        sym.type = sbml_symbol::kind::species;
        sym.observable = sp.field;
        sym.concentration_factor = sp.fc;
        sym.amount_factor = sp.fn;
        sym.volume = comp.size * comp.factor;
        sym.only_substance = sp.only_substance;
        sym.compartment = sp.compartment;
        try {
            double v = value_of(s->getId());
            if (const auto o = t0_override_.find(s->getId()); o != t0_override_.end()) {
                v = o->second;
            }
            sym.value = v;
            if (!assignment_rule_.contains(s->getId())) {
                const double conc = sp.only_substance ? v / comp.size : v;
                const double c = sp.fc * conc;
                if (!(c >= 0) || !std::isfinite(c)) {
                    throw unsupported_feature{
                        "negative species",
                        fmt::format("species '{}' starts at {:g}; cadyn's concentrations cannot be negative",
                                    s->getId(), v)};
                }
                auto& spec = *std::find_if(model.compartments.begin(), model.compartments.end(),
                                           [&](const compartment_spec& cs) { return cs.name == comp.name; });
                spec.initial[sp.name] = c;
                if (model.find_species(sp.name) == nullptr) {
                    model.species.push_back(
                        {sp.name, 0, {source_, static_cast<int>(s->getLine()), static_cast<int>(s->getColumn())}});
                }
            }
        }
        catch (const unsupported_feature& f) {
            refuse(s, "species " + s->getId(), f);
        }
        out_.symbols[s->getId()] = sym;
    }
    for (unsigned int i = 0; i < m_.getNumParameters(); ++i) {
        const auto* p = m_.getParameter(i);
        const std::string& id = p->getId();
        const std::string& name = parameter_name_.at(id);
        sbml_symbol sym;
        sym.type = sbml_symbol::kind::parameter;
        try {
            sym.value = value_of(id);
            if (const auto o = t0_override_.find(id); o != t0_override_.end()) {
                sym.value = o->second;
            }
        }
        catch (const unsupported_feature& f) {
            if (!assignment_rule_.contains(id)) {
                refuse(p, "parameter " + id, f);
            }
        }
        if (assignment_rule_.contains(id) || rate_rule_.contains(id) || event_target_.contains(id)) {
            sym.observable = name;
        }
        if (!varies(id) && !std::isfinite(sym.value)) {
            // A constant that is infinite or NaN: written into the formulas as a number (cadyn's parameters are
            // finite).
            inlined_[id] = number_text(sym.value);
        }
        else if (!assignment_rule_.contains(id)) {
            model.parameters.push_back(
                {name, sym.value, {source_, static_cast<int>(p->getLine()), static_cast<int>(p->getColumn())}});
            if (event_target_.contains(id) && !rate_rule_.contains(id)) {
                // Set by events only: a state with a zero rate, so that it is recorded.
                model.rules.push_back({rule_spec::kind::rate, name, "0", model.parameters.back().where});
            }
        }
        out_.symbols[id] = sym;
    }
    for (const auto& [id, sr]: species_ref_) {
        sbml_symbol sym;
        sym.type = sbml_symbol::kind::species_reference;
        try {
            sym.value = value_of(id);
        }
        catch (const unsupported_feature&) {
            // Reported with its reaction.
        }
        out_.symbols[id] = sym;
    }
}

void importer::read_reactions() {
    auto& model = out_.model;
    for (unsigned int i = 0; i < m_.getNumReactions(); ++i) {
        const auto* rx = m_.getReaction(i);
        const std::string key = "reaction " + rx->getId();
        try {
            if (rx->isSetFast() && rx->getFast()) {
                throw unsupported_feature{"fast reactions",
                                          "a fast reaction (an algebraic equilibrium condition, not an ODE)"};
            }
            const auto* kl = rx->getKineticLaw();
            if (kl == nullptr || kl->getMath() == nullptr) {
                throw unsupported_feature{"reaction without kinetic law", "the reaction has no kinetic law"};
            }
            for (const auto& [sid, sr]: species_ref_) {
                if (sr->getParentSBMLObject() != nullptr && sr->getParentSBMLObject()->getParentSBMLObject() == rx &&
                    (rate_rule_.contains(sid) || assignment_rule_.contains(sid) || event_target_.contains(sid))) {
                    throw unsupported_feature{
                        "variable stoichiometry",
                        fmt::format("the stoichiometry '{}' changes during the run (a rule or an event sets it)", sid)};
                }
            }
            // Local parameters become global ones named reaction_parameter.
            std::map<std::string, std::string> locals;
            const auto add_local = [&](const std::string& pid, double value, const SBase* where) {
                const std::string name = claim_new(rx->getId() + "_" + pid);
                locals[pid] = name;
                model.parameters.push_back(
                    {name, value, {source_, static_cast<int>(where->getLine()), static_cast<int>(where->getColumn())}});
            };
            for (unsigned int k = 0; k < kl->getNumLocalParameters(); ++k) {
                add_local(kl->getLocalParameter(k)->getId(), kl->getLocalParameter(k)->getValue(),
                          kl->getLocalParameter(k));
            }
            if (kl->getNumLocalParameters() == 0) {
                for (unsigned int k = 0; k < kl->getNumParameters(); ++k) {
                    add_local(kl->getParameter(k)->getId(), kl->getParameter(k)->getValue(), kl->getParameter(k));
                }
            }
            const std::string law = runtime(kl->getMath(), &locals);

            reaction_spec spec;
            spec.name = rx->getId().empty() ? fmt::format("reaction{}", i + 1) : rx->getId();
            spec.rate_per_volume = false;
            spec.where = {source_, static_cast<int>(rx->getLine()), static_cast<int>(rx->getColumn())};
            double reference = 0;  // cadyn amount per SBML amount of the first participant
            const auto add = [&](const SpeciesReference& sr, double sign) {
                const auto it = species_.find(sr.getSpecies());
                if (it == species_.end()) {
                    throw unsupported_feature{"species", fmt::format("species '{}' was not imported", sr.getSpecies())};
                }
                const auto& sp = it->second;
                const double stoich = stoichiometry(sr);
                if (sp.fixed) {
                    return;  // boundary and constant species: reactions do not change them
                }
                if (rate_rule_.contains(sr.getSpecies()) || assignment_rule_.contains(sr.getSpecies())) {
                    throw unsupported_feature{"species set by rules and reactions",
                                              fmt::format("species '{}' is set by a rule and changed by a reaction",
                                                          sr.getSpecies())};
                }
                if (!std::isfinite(stoich)) {
                    throw unsupported_feature{"stoichiometry", "a stoichiometry that is not a finite number"};
                }
                if (reference == 0) {
                    reference = sp.fn;
                }
                const double effective = sign * stoich * conversion_factor(*sp.s) * sp.fn / reference;
                if (effective == 0) {
                    return;
                }
                const auto& comp = compartments_.at(sp.compartment).name;
                (effective < 0 ? spec.reactants : spec.products).push_back({comp, sp.name, std::abs(effective)});
            };
            for (unsigned int k = 0; k < rx->getNumReactants(); ++k) {
                add(*rx->getReactant(k), -1.0);
            }
            for (unsigned int k = 0; k < rx->getNumProducts(); ++k) {
                add(*rx->getProduct(k), +1.0);
            }
            if (spec.reactants.empty() && spec.products.empty()) {
                continue;  // it changes nothing (its rate may still be used in formulas)
            }
            spec.rate = multiplied(reference / time_factor_, law);
            model.reactions.push_back(std::move(spec));
        }
        catch (const unsupported_feature& f) {
            refuse(rx, key, f);
        }
    }
}

void importer::read_rules() {
    auto& model = out_.model;
    for (unsigned int i = 0; i < m_.getNumRules(); ++i) {
        const auto* r = m_.getRule(i);
        if (r->isAlgebraic() || r->getMath() == nullptr) {
            continue;
        }
        const std::string& var = r->getVariable();
        const std::string key = fmt::format("{} rule for {}", r->isRate() ? "rate" : "assignment", var);
        const source_location where{source_, static_cast<int>(r->getLine()), static_cast<int>(r->getColumn())};
        try {
            const std::string expr = runtime(r->getMath());
            if (const auto p = parameter_name_.find(var); p != parameter_name_.end()) {
                model.rules.push_back({r->isRate() ? rule_spec::kind::rate : rule_spec::kind::assignment, p->second,
                                       r->isRate() ? divided("(" + expr + ")", time_factor_) : expr, where});
            }
            else if (const auto s = species_.find(var); s != species_.end()) {
                const auto& sp = s->second;
                const auto& comp = compartments_.at(sp.compartment).name;
                const double f = r->isRate() ? 1 / time_factor_ : 1.0;
                // The rule gives the species' concentration, or its amount when it has only substance units.
                const std::string value =
                    sp.only_substance ? "(" + multiplied(sp.fn * f, "(" + expr + ")") + " / " + comp + ")"
                                      : multiplied(sp.fc * f, "(" + expr + ")");
                model.rules.push_back(
                    {r->isRate() ? rule_spec::kind::rate : rule_spec::kind::assignment, sp.field, value, where});
            }
            else if (compartments_.contains(var) || m_.getCompartment(var) != nullptr) {
                continue;  // refused with the compartment
            }
            else if (species_ref_.contains(var)) {
                continue;  // refused with the reaction
            }
            else {
                throw unsupported_feature{"rule", fmt::format("the rule sets '{}', which this import does not know",
                                                              var)};
            }
        }
        catch (const unsupported_feature& f) {
            refuse(r, key, f);
        }
    }
}

void importer::read_events() {
    auto& model = out_.model;
    // Each event that fires: when, with which priority, and what it sets (SBML units).
    struct firing {
        double time = 0;  // SBML time
        std::optional<double> priority;
        std::vector<std::pair<std::string, double>> set;
        std::string key;
        const Event* event = nullptr;
    };
    std::vector<firing> firings;
    for (unsigned int i = 0; i < m_.getNumEvents(); ++i) {
        const auto* e = m_.getEvent(i);
        const std::string key = "event " + (e->getId().empty() ? fmt::format("#{}", i + 1) : e->getId());
        try {
            const auto* trigger = e->getTrigger();
            if (trigger == nullptr || trigger->getMath() == nullptr) {
                out_.notes.push_back(fmt::format("{} has no trigger math: it never fires", key));
                continue;
            }
            // Only time >= c (or time > c, c <= time, c < time) with c constant: cadyn stops at known times; it
            // does not locate the roots of state-dependent triggers.
            const ASTNode* t = trigger->getMath();
            const ASTNode* c = nullptr;
            bool strict = false;
            if (t->getNumChildren() == 2) {
                const auto type = t->getType();
                const bool time_first = t->getChild(0)->getType() == AST_NAME_TIME;
                const bool time_second = t->getChild(1)->getType() == AST_NAME_TIME;
                if ((type == AST_RELATIONAL_GEQ || type == AST_RELATIONAL_GT) && time_first) {
                    c = t->getChild(1);
                    strict = type == AST_RELATIONAL_GT;
                }
                else if ((type == AST_RELATIONAL_LEQ || type == AST_RELATIONAL_LT) && time_second) {
                    c = t->getChild(0);
                    strict = type == AST_RELATIONAL_LT;
                }
            }
            if (c == nullptr || !constant_math(c)) {
                throw unsupported_feature{"event trigger",
                                          "a trigger other than 'time >= constant' (cadyn applies events at fixed "
                                          "times; it does not detect state-dependent triggers)"};
            }
            const double at = evaluate(c);
            double delay = 0;
            if (e->isSetDelay() && e->getDelay()->getMath() != nullptr) {
                if (!constant_math(e->getDelay()->getMath())) {
                    throw unsupported_feature{"event delay", "a delay that changes during the run"};
                }
                delay = evaluate(e->getDelay()->getMath());
                if (!(delay >= 0)) {
                    throw unsupported_feature{"event delay", "a negative delay"};
                }
            }
            firing f;
            f.key = key;
            f.event = e;
            if (e->isSetPriority() && e->getPriority()->getMath() != nullptr) {
                if (constant_math(e->getPriority()->getMath())) {
                    f.priority = evaluate(e->getPriority()->getMath());
                }
            }
            // Where the trigger already holds at t = 0: with initialValue true it never rises and the event never
            // fires; with initialValue false it fires at t = 0 (L3 only; in Level 2 triggers start true).
            const bool initially_true = strict ? at < 0 : at <= 0;
            const bool initial_value = m_.getLevel() < 3 || trigger->getInitialValue();
            if (initially_true && initial_value) {
                out_.notes.push_back(fmt::format("{}: its trigger holds from the start, so it never fires", key));
                continue;
            }
            if (!initially_true && strict && at == 0) {
                throw unsupported_feature{"event trigger", "a trigger 'time > 0' (fires just after the start)"};
            }
            f.time = (initially_true ? 0.0 : at) + delay;
            if (!std::isfinite(f.time)) {
                continue;  // never
            }
            for (unsigned int k = 0; k < e->getNumEventAssignments(); ++k) {
                const auto* ea = e->getEventAssignment(k);
                const std::string& var = ea->getVariable();
                if (ea->getMath() == nullptr) {
                    continue;  // no math: no effect
                }
                if (!constant_math(ea->getMath())) {
                    throw unsupported_feature{"event assignment",
                                              fmt::format("the value assigned to '{}' depends on the state of the "
                                                          "model or on time (cadyn's events set constant values)",
                                                          var)};
                }
                if (m_.getCompartment(var) != nullptr) {
                    continue;  // refused with the compartment
                }
                if (!parameter_name_.contains(var) && !species_.contains(var)) {
                    throw unsupported_feature{
                        "event assignment",
                        fmt::format("the event sets '{}' (only species and parameters can be set)", var)};
                }
                f.set.emplace_back(var, evaluate(ea->getMath()));
            }
            firings.push_back(std::move(f));
        }
        catch (const unsupported_feature& f) {
            refuse(e, key, f);
        }
    }
    // Events that fire at the same time execute in the order of their priorities (highest first); the last value
    // set wins. Where two of them set one variable to different values and no priority orders them, SBML leaves
    // the order (and so the result) open: refused.
    std::stable_sort(firings.begin(), firings.end(), [](const firing& a, const firing& b) {
        if (a.time != b.time) {
            return a.time < b.time;
        }
        return a.priority.value_or(-std::numeric_limits<double>::infinity()) > b.priority.value_or(-std::numeric_limits<double>::infinity());
    });
    for (std::size_t first = 0; first < firings.size();) {
        std::size_t last = first;
        while (last < firings.size() && firings[last].time == firings[first].time) {
            ++last;
        }
        std::map<std::string, double> value;
        std::map<std::string, std::size_t> setter;
        bool ok = true;
        for (std::size_t k = first; k < last && ok; ++k) {
            for (const auto& [var, v]: firings[k].set) {
                const auto prev = setter.find(var);
                if (prev != setter.end() && value.at(var) != v &&
                    (!firings[k].priority || !firings[prev->second].priority ||
                     *firings[k].priority == *firings[prev->second].priority)) {
                    refuse(firings[k].event, firings[k].key,
                           {"simultaneous events",
                            fmt::format("'{}' and '{}' fire at the same time and set '{}' to different values; "
                                        "without distinct priorities their order, and so the result, is undefined",
                                        firings[prev->second].key, firings[k].key, var)});
                    ok = false;
                    break;
                }
                value[var] = v;
                setter[var] = k;
            }
        }
        const double time = firings[first].time;
        first = last;
        if (!ok || value.empty()) {
            continue;
        }
        if (time == 0) {
            for (const auto& [var, v]: value) {
                t0_override_[var] = v;
            }
            continue;
        }
        event_spec spec;
        spec.time = time * time_factor_;
        const auto* e = firings[last - 1].event;
        spec.where = {source_, static_cast<int>(e->getLine()), static_cast<int>(e->getColumn())};
        for (const auto& [var, v]: value) {
            if (const auto p = parameter_name_.find(var); p != parameter_name_.end()) {
                spec.set.emplace_back(p->second, v);
                continue;
            }
            const auto& sp = species_.at(var);
            const auto& comp = compartments_.at(sp.compartment);
            const double conc = sp.only_substance ? sp.fn * v / (value_of(sp.compartment) * comp.factor) : sp.fc * v;
            if (!(conc >= 0)) {
                refuse(e, "event assignment to " + var,
                       {"negative species",
                        fmt::format("an event sets species '{}' to {:g}; cadyn's concentrations cannot be negative",
                                    var, v)});
                continue;
            }
            spec.set.emplace_back(sp.field, conc);
        }
        model.events.push_back(std::move(spec));
    }
}

sbml_model importer::run() {
    auto& model = out_.model;
    model.name = m_.isSetName() ? m_.getName() : m_.getId();
    model.description = "imported from SBML";
    model.source = source_;
    classify();
    read_units();
    read_compartments();
    read_species();
    read_parameters();
    // Events first: those firing at t = 0 change initial values.
    try {
        read_events();
    }
    catch (const unsupported_feature& f) {
        refuse(nullptr, "events", f);
    }
    try {
        finish();
        read_reactions();
        read_rules();
    }
    catch (const unsupported_feature& f) {
        refuse(nullptr, "model", f);
    }
    if (!refused_.empty()) {
        throw sbml_unsupported(std::move(refused_));
    }
    if (model.compartments.empty()) {
        // cadyn needs a compartment; an SBML model of parameters and rules alone has none.
        compartment_spec c;
        c.name = claim_new("default_compartment");
        c.volume = 1.0;
        model.compartments.push_back(c);
    }
    // The engine needs at least one state (CVODE with none crashes): a model of assignment rules alone gets a
    // parameter that stays 0.
    bool any_state = false;
    for (const auto& c: model.compartments) {
        any_state = any_state || !c.initial.empty();
    }
    for (const auto& r: model.rules) {
        any_state = any_state || r.type == rule_spec::kind::rate;
    }
    if (!any_state) {
        const auto name = claim_new("sbml_placeholder_state");
        model.parameters.push_back({name, 0.0, {source_, 0, 0}});
        model.rules.push_back({rule_spec::kind::rate, name, "0", {source_, 0, 0}});
    }
    // Tolerances: the smallest non-zero initial concentration sets the scale of atol (the defaults suit uM).
    double smallest = 1;
    for (const auto& c: model.compartments) {
        for (const auto& [s, v]: c.initial) {
            if (v > 0) {
                smallest = std::min(smallest, v);
            }
        }
    }
    model.run.atol = std::min(model.run.atol, 1e-6 * smallest);
    return std::move(out_);
}

} // namespace

// ---------------------------------------------------------------------------------------------------------------
// Export.

namespace {

// A problem with the document as a whole (no line to point at). Built member by member: GCC 12 at -O3 warns,
// wrongly, that a brace-initialised diagnostic thrown from here may be used uninitialised.
diagnostic document_problem(const std::string& source, const std::string& key, const std::string& message) {
    diagnostic d;
    d.where.file = source;
    d.key = key;
    d.message = message;
    return d;
}

[[noreturn]] void throw_document_error(const std::string& source, const std::string& key, const std::string& message) {
    throw model_error({document_problem(source, key, message)});
}

using ast_ptr = std::unique_ptr<ASTNode>;

ast_ptr make_node(ASTNodeType_t type) { return std::make_unique<ASTNode>(type); }

ast_ptr number_node(double v) {
    auto n = make_node(AST_REAL);
    n->setValue(v);
    return n;
}

ast_ptr name_node(const std::string& id) {
    auto n = make_node(AST_NAME);
    n->setName(id.c_str());
    return n;
}

ast_ptr apply_node(ASTNodeType_t type, std::vector<ast_ptr> children) {
    auto n = make_node(type);
    for (auto& c: children) {
        n->addChild(c.release());
    }
    return n;
}

template <typename... A>
ast_ptr apply_of(ASTNodeType_t type, A... children) {
    std::vector<ast_ptr> list;
    (list.push_back(std::move(children)), ...);
    return apply_node(type, std::move(list));
}

ast_ptr copy_of(const ast_ptr& n) { return ast_ptr(n->deepCopy()); }

// A subtree and whether it is a truth value (SBML keeps booleans and numbers apart; muparser does not).
struct typed_ast {
    ast_ptr node;
    bool boolean = false;
};

ast_ptr as_number(typed_ast t) {
    if (!t.boolean) {
        return std::move(t.node);
    }
    return apply_of(AST_FUNCTION_PIECEWISE, number_node(1), std::move(t.node), number_node(0));
}

ast_ptr as_boolean(typed_ast t) {
    if (t.boolean) {
        return std::move(t.node);
    }
    return apply_of(AST_RELATIONAL_NEQ, std::move(t.node), number_node(0));
}

// Parses a cadyn expression (docs/expressions.md, muparser's grammar and precedence) into SBML math. Names go
// through `name`, which returns the SBML id or throws cadyn::error.
class expression_to_sbml {
public:
    expression_to_sbml(std::string_view text, std::function<std::string(const std::string&)> name):
        text_(text), name_(std::move(name)) {}

    ast_ptr parse() {
        auto t = ternary();
        skip_spaces();
        if (pos_ != text_.size()) {
            fail("unexpected text");
        }
        return as_number(std::move(t));
    }

private:
    std::string_view text_;
    std::function<std::string(const std::string&)> name_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw error(fmt::format("cannot export the expression '{}' to SBML: {} at character {}", text_, what, pos_ + 1));
    }
    void skip_spaces() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) {
            ++pos_;
        }
    }
    bool accept(std::string_view token) {
        skip_spaces();
        if (text_.substr(pos_, token.size()) == token) {
            pos_ += token.size();
            return true;
        }
        return false;
    }
    void expect(std::string_view token) {
        if (!accept(token)) {
            fail(fmt::format("expected '{}'", token));
        }
    }

    typed_ast ternary() {
        auto c = logical_or();
        if (accept("?")) {
            auto a = ternary();
            expect(":");
            auto b = ternary();
            return {apply_of(AST_FUNCTION_PIECEWISE, as_number(std::move(a)), as_boolean(std::move(c)),
                             as_number(std::move(b))),
                    false};
        }
        return c;
    }
    typed_ast logical_or() {
        auto a = logical_and();
        while (accept("||")) {
            auto b = logical_and();
            a = {apply_of(AST_LOGICAL_OR, as_boolean(std::move(a)), as_boolean(std::move(b))), true};
        }
        return a;
    }
    typed_ast logical_and() {
        auto a = comparison();
        while (accept("&&")) {
            auto b = comparison();
            a = {apply_of(AST_LOGICAL_AND, as_boolean(std::move(a)), as_boolean(std::move(b))), true};
        }
        return a;
    }
    typed_ast comparison() {
        auto a = additive();
        for (;;) {
            ASTNodeType_t type{};
            if (accept("==")) {
                type = AST_RELATIONAL_EQ;
            }
            else if (accept("!=")) {
                type = AST_RELATIONAL_NEQ;
            }
            else if (accept("<=")) {
                type = AST_RELATIONAL_LEQ;
            }
            else if (accept(">=")) {
                type = AST_RELATIONAL_GEQ;
            }
            else if (accept("<")) {
                type = AST_RELATIONAL_LT;
            }
            else if (accept(">")) {
                type = AST_RELATIONAL_GT;
            }
            else {
                return a;
            }
            auto b = additive();
            a = {apply_of(type, as_number(std::move(a)), as_number(std::move(b))), true};
        }
    }
    typed_ast additive() {
        auto a = multiplicative();
        for (;;) {
            skip_spaces();
            if (accept("+")) {
                auto b = multiplicative();
                a = {apply_of(AST_PLUS, as_number(std::move(a)), as_number(std::move(b))), false};
            }
            else if (pos_ < text_.size() && text_[pos_] == '-') {
                ++pos_;
                auto b = multiplicative();
                a = {apply_of(AST_MINUS, as_number(std::move(a)), as_number(std::move(b))), false};
            }
            else {
                return a;
            }
        }
    }
    typed_ast multiplicative() {
        auto a = unary();
        for (;;) {
            if (accept("*")) {
                auto b = unary();
                a = {apply_of(AST_TIMES, as_number(std::move(a)), as_number(std::move(b))), false};
            }
            else if (accept("/")) {
                auto b = unary();
                a = {apply_of(AST_DIVIDE, as_number(std::move(a)), as_number(std::move(b))), false};
            }
            else {
                return a;
            }
        }
    }
    // The sign binds more loosely than the power: -x^2 is -(x^2).
    typed_ast unary() {
        if (accept("-")) {
            return {apply_of(AST_MINUS, as_number(unary())), false};
        }
        if (accept("+")) {
            return {as_number(unary()), false};
        }
        return power();
    }
    typed_ast power() {
        auto base = primary();
        if (accept("^")) {
            auto exponent = unary();  // right-associative: 2^3^2 is 2^9
            return {apply_of(AST_POWER, as_number(std::move(base)), as_number(std::move(exponent))), false};
        }
        return base;
    }
    typed_ast primary() {
        skip_spaces();
        if (pos_ >= text_.size()) {
            fail("unexpected end");
        }
        const char c = text_[pos_];
        if (c == '(') {
            ++pos_;
            auto inner = ternary();
            expect(")");
            return inner;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.') {
            const std::string rest(text_.substr(pos_));
            char* end = nullptr;
            const double v = std::strtod(rest.c_str(), &end);
            if (end == rest.c_str()) {
                fail("malformed number");
            }
            pos_ += static_cast<std::size_t>(end - rest.c_str());
            return {number_node(v), false};
        }
        if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
            std::size_t end = pos_;
            while (end < text_.size() &&
                   (std::isalnum(static_cast<unsigned char>(text_[end])) != 0 || text_[end] == '_' || text_[end] == '.')) {
                ++end;
            }
            const std::string name(text_.substr(pos_, end - pos_));
            pos_ = end;
            if (accept("(")) {
                std::vector<ast_ptr> args;
                if (!accept(")")) {
                    do {
                        args.push_back(as_number(ternary()));
                    } while (accept(","));
                    expect(")");
                }
                return {function(name, std::move(args)), false};
            }
            if (name == "t") {
                auto n = make_node(AST_NAME_TIME);
                n->setName("t");
                return {std::move(n), false};
            }
            if (name == "_pi") {
                return {make_node(AST_CONSTANT_PI), false};
            }
            if (name == "_e") {
                return {make_node(AST_CONSTANT_E), false};
            }
            return {name_node(name_(name)), false};
        }
        fail(fmt::format("unexpected '{}'", c));
    }

    ast_ptr function(const std::string& f, std::vector<ast_ptr> args) {
        const auto want = [&](std::size_t n) {
            if (args.size() != n) {
                fail(fmt::format("'{}' takes {} argument(s)", f, n));
            }
        };
        static const std::map<std::string, ASTNodeType_t> unary = {
            {"sin", AST_FUNCTION_SIN},     {"cos", AST_FUNCTION_COS},       {"tan", AST_FUNCTION_TAN},
            {"asin", AST_FUNCTION_ARCSIN}, {"acos", AST_FUNCTION_ARCCOS},   {"atan", AST_FUNCTION_ARCTAN},
            {"sinh", AST_FUNCTION_SINH},   {"cosh", AST_FUNCTION_COSH},     {"tanh", AST_FUNCTION_TANH},
            {"asinh", AST_FUNCTION_ARCSINH}, {"acosh", AST_FUNCTION_ARCCOSH}, {"atanh", AST_FUNCTION_ARCTANH},
            {"exp", AST_FUNCTION_EXP},     {"ln", AST_FUNCTION_LN},         {"log", AST_FUNCTION_LN},
            {"abs", AST_FUNCTION_ABS},     {"floor", AST_FUNCTION_FLOOR},   {"ceil", AST_FUNCTION_CEILING},
            {"log10", AST_FUNCTION_LOG},   {"sqrt", AST_FUNCTION_ROOT},
        };
        if (const auto it = unary.find(f); it != unary.end()) {
            want(1);
            return apply_node(it->second, std::move(args));
        }
        if (f == "log2") {
            want(1);
            return apply_of(AST_DIVIDE, apply_node(AST_FUNCTION_LN, std::move(args)),
                            apply_of(AST_FUNCTION_LN, number_node(2)));
        }
        if (f == "pow") {
            want(2);
            return apply_node(AST_POWER, std::move(args));
        }
        if (f == "min" || f == "max") {
            if (args.empty()) {
                fail("min and max need arguments");
            }
            return apply_node(f == "min" ? AST_FUNCTION_MIN : AST_FUNCTION_MAX, std::move(args));
        }
        if (f == "sum" || f == "avg") {
            if (args.empty()) {
                fail("sum and avg need arguments");
            }
            const double n = static_cast<double>(args.size());
            auto total = apply_node(AST_PLUS, std::move(args));
            return f == "sum" ? std::move(total) : apply_of(AST_DIVIDE, std::move(total), number_node(n));
        }
        if (f == "sign") {
            want(1);
            return apply_of(AST_FUNCTION_PIECEWISE, number_node(-1), apply_of(AST_RELATIONAL_LT, copy_of(args[0]), number_node(0)),
                            number_node(1), apply_of(AST_RELATIONAL_GT, copy_of(args[0]), number_node(0)), number_node(0));
        }
        if (f == "rint") {
            want(1);
            return apply_of(AST_FUNCTION_FLOOR, apply_of(AST_PLUS, std::move(args[0]), number_node(0.5)));
        }
        if (f == "heaviside") {
            want(1);
            return apply_of(AST_FUNCTION_PIECEWISE, number_node(1), apply_of(AST_RELATIONAL_GEQ, std::move(args[0]), number_node(0)),
                            number_node(0));
        }
        if (f == "hill") {
            want(3);
            auto xn = apply_of(AST_POWER, copy_of(args[0]), copy_of(args[2]));
            auto xn2 = copy_of(xn);
            auto kn = apply_of(AST_POWER, std::move(args[1]), copy_of(args[2]));
            return apply_of(AST_DIVIDE, std::move(xn), apply_of(AST_PLUS, std::move(kn), std::move(xn2)));
        }
        if (f == "atan2") {
            want(2);
            const auto& y = args[0];
            const auto& x = args[1];
            auto ratio = [&] { return apply_of(AST_FUNCTION_ARCTAN, apply_of(AST_DIVIDE, copy_of(y), copy_of(x))); };
            auto cmp = [&](ASTNodeType_t type, const ast_ptr& v) { return apply_of(type, copy_of(v), number_node(0)); };
            std::vector<ast_ptr> pieces;
            pieces.push_back(ratio());
            pieces.push_back(cmp(AST_RELATIONAL_GT, x));
            pieces.push_back(apply_of(AST_PLUS, ratio(), make_node(AST_CONSTANT_PI)));
            pieces.push_back(apply_of(AST_LOGICAL_AND, cmp(AST_RELATIONAL_LT, x), cmp(AST_RELATIONAL_GEQ, y)));
            pieces.push_back(apply_of(AST_MINUS, ratio(), make_node(AST_CONSTANT_PI)));
            pieces.push_back(apply_of(AST_LOGICAL_AND, cmp(AST_RELATIONAL_LT, x), cmp(AST_RELATIONAL_LT, y)));
            pieces.push_back(apply_of(AST_DIVIDE, make_node(AST_CONSTANT_PI), number_node(2)));
            pieces.push_back(cmp(AST_RELATIONAL_GT, y));
            pieces.push_back(apply_of(AST_MINUS, apply_of(AST_DIVIDE, make_node(AST_CONSTANT_PI), number_node(2))));
            pieces.push_back(cmp(AST_RELATIONAL_LT, y));
            pieces.push_back(number_node(0));
            return apply_node(AST_FUNCTION_PIECEWISE, std::move(pieces));
        }
        fail(fmt::format("unknown function '{}'", f));
    }
};

// An SBML identifier: letters, digits and '_', not starting with a digit.
std::string sbml_id(const std::string& name) {
    std::string id;
    for (const char c: name) {
        id += std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ? c : '_';
    }
    if (id.empty() || std::isdigit(static_cast<unsigned char>(id.front())) != 0) {
        id = "_" + id;
    }
    return id;
}

// Mirrors pulse_train's in_pulse (src/mechanisms/pulse_train.cpp): whether a pulse runs at time t.
double pulse_onset(double k, double start, double period) { return k > 0 ? start + k * period : start; }
bool pulse_on(double t, double start, double duration, double frequency, double count) {
    if (t < start || count < 1) {
        return false;
    }
    const double period = frequency > 0 ? 1.0 / frequency : std::numeric_limits<double>::infinity();
    double k = std::floor((t - start) / period);
    if (k > 0 && pulse_onset(k, start, period) > t) {
        k -= 1;
    }
    else if (pulse_onset(k + 1, start, period) <= t) {
        k += 1;
    }
    k = std::min(k, std::floor(count) - 1);
    const double onset = pulse_onset(k, start, period);
    return t >= onset && t < onset + duration;
}

// Catalogue mechanisms rewritten as reactions, species and rules with exactly the kernel's rate law (the files
// in src/mechanisms/ are the reference). Mechanism parameters become parameters named mechanism_parameter.
class lowering {
public:
    explicit lowering(const model_spec& model): in_(model), out_(model) {}

    model_spec run() {
        out_.mechanisms.clear();
        out_.membranes.clear();
        out_.record = {};
        out_.events.clear();
        std::vector<std::string> refused;
        if (in_.geometry.spatial()) {
            refused.push_back("the model is spatial ([geometry]): SBML core describes well-mixed compartments");
        }
        // The initial values of mechanism states, as cadyn computes them (buffers in equilibrium, gates at rest).
        std::vector<double> y0;
        std::vector<std::string> state_names;
        if (!in_.mechanisms.empty() && refused.empty()) {
            const system sys(in_);
            y0 = sys.initial_state();
            state_names = sys.state_names();
        }
        const auto initial_state = [&](const std::string& name) {
            for (std::size_t i = 0; i < state_names.size(); ++i) {
                if (state_names[i] == name) {
                    return y0[i];
                }
            }
            return std::numeric_limits<double>::quiet_NaN();  // (a spatial model: refused anyway)
        };
        for (const auto& mech: in_.mechanisms) {
            const std::string why = lower(mech, initial_state);
            if (!why.empty()) {
                refused.push_back(fmt::format("mechanism '{}' ({}): {}", mech.name, mech.type, why));
            }
        }
        // Membranes are not written: only mechanisms read their potentials, and those that do were written with
        // the (constant) potential as a number or refused above.
        if (!refused.empty()) {
            std::string text = "this model cannot be exported to SBML exactly:";
            for (const auto& r: refused) {
                text += "\n  " + r;
            }
            throw error(text);
        }
        // Events: mechanism parameters are now parameters; everything else keeps its name.
        for (auto e: in_.events) {
            for (auto& [target, value]: e.set) {
                const auto it = renamed_.find(target);
                if (it != renamed_.end()) {
                    target = it->second;
                }
            }
            out_.events.push_back(std::move(e));
        }
        for (auto& e: extra_events_) {
            out_.events.push_back(std::move(e));
        }
        std::stable_sort(out_.events.begin(), out_.events.end(),
                         [](const event_spec& a, const event_spec& b) { return a.time < b.time; });
        return std::move(out_);
    }

    // The name of mechanism `mech`'s state `state` in the exported model ("cyt.calbindin_bound" for a buffer's
    // bound form, a parameter for a gate).
    const std::map<std::string, std::string>& state_names() const { return state_name_; }

private:
    const model_spec& in_;
    model_spec out_;
    std::map<std::string, std::string> renamed_;      // "serca.vmax" -> "serca_vmax"
    std::map<std::string, std::string> state_name_;   // "calbindin.bound" -> "cyt.calbindin_bound"
    std::vector<event_spec> extra_events_;

    bool taken(const std::string& name) const {
        const auto named = [&](const auto& list) {
            return std::any_of(list.begin(), list.end(), [&](const auto& x) { return x.name == name; });
        };
        return named(out_.compartments) || named(out_.parameters) || named(out_.species) ||
               std::any_of(out_.rules.begin(), out_.rules.end(), [&](const rule_spec& r) { return r.variable == name; });
    }
    std::string fresh(const std::string& wanted) const {
        std::string name = sbml_id(wanted);
        while (taken(name)) {
            name += "_";
        }
        return name;
    }
    std::string parameter(const mechanism_spec& mech, const std::string& p) {
        const std::string key = mech.name + "." + p;
        if (const auto it = renamed_.find(key); it != renamed_.end()) {
            return it->second;
        }
        const std::string name = fresh(mech.name + "_" + p);
        out_.parameters.push_back({name, mech.parameters.at(p), mech.where});
        renamed_[key] = name;
        return name;
    }
    void transfer(const mechanism_spec& mech, const std::string& from, const std::string& to, const std::string& rate) {
        reaction_spec rx;
        rx.name = fresh(mech.name);
        if (!from.empty()) {
            rx.reactants.push_back({from, "ca", 1});
        }
        if (!to.empty()) {
            rx.products.push_back({to, "ca", 1});
        }
        rx.rate = rate;
        rx.rate_per_volume = false;
        rx.where = mech.where;
        out_.reactions.push_back(std::move(rx));
    }
    static std::string num(double v) { return number_text(v); }

    template <typename F>
    std::string lower(const mechanism_spec& mech, F&& initial_state) {
        const membrane_spec* mb = nullptr;
        for (const auto& m: in_.membranes) {
            if (m.name == mech.location) {
                mb = &m;
            }
        }
        const auto area = [&] { return num(mb->area); };
        const std::string& type = mech.type;
        if (type == "leak" || type == "pmca" || type == "serca" || type == "ghk_leak") {
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const std::string in = mb->inner + ".ca";
            const std::string out = mb->outer + ".ca";
            if (type == "leak") {
                // J_in = P A (c_out - c_in)
                transfer(mech, mb->outer, mb->inner,
                         fmt::format("{} * {} * ({} - {})", parameter(mech, "permeability"), area(), out, in));
            }
            else if (type == "pmca") {
                // J_out = vmax A hill(max(c_in, 0), K, n)
                transfer(mech, mb->inner, mb->outer,
                         fmt::format("{} * {} * hill(max({}, 0), {}, {})", parameter(mech, "vmax"), area(), in,
                                     parameter(mech, "kd"), parameter(mech, "hill")));
            }
            else if (type == "serca") {
                // J_in = vmax A hill(max(c_out, 0), K, n): from the cytosol (outer) into the store (inner)
                transfer(mech, mb->outer, mb->inner,
                         fmt::format("{} * {} * hill(max({}, 0), {}, {})", parameter(mech, "vmax"), area(), out,
                                     parameter(mech, "kd"), parameter(mech, "hill")));
            }
            else {
                // GHK: J_in = P A (max(c_out, 0) B(u) - max(c_in, 0) B(-u)), u = 2 F V / (R T), B(u) = u / (e^u - 1)
                if (mb->protocol.type != potential_protocol::kind::constant) {
                    return fmt::format("its membrane '{}' has a potential protocol (only a constant potential is "
                                       "exported)",
                                       mb->name);
                }
                const double u = 2.0 * constants::faraday * mb->potential * 1e-3 / (constants::gas * in_.temperature);
                const auto bernoulli = [](double x) { return x == 0.0 ? 1.0 : x / std::expm1(x); };
                transfer(mech, mb->outer, mb->inner,
                         fmt::format("{} * {} * (max({}, 0) * {} - max({}, 0) * {})", parameter(mech, "permeability"),
                                     area(), out, num(bernoulli(u)), in, num(bernoulli(-u))));
            }
            return {};
        }
        if (type == "ncx") {
            // Luo & Rudy (src/mechanisms/ncx.cpp): J_Ca,in = vmax A D / S, J_Na,in = -3 J_Ca,in, v = V F / (R T)
            if (mb == nullptr) {
                return "not on a membrane";
            }
            if (mb->protocol.type != potential_protocol::kind::constant) {
                return fmt::format("its membrane '{}' has a potential protocol (only a constant potential is "
                                   "exported)",
                                   mb->name);
            }
            const double v = mb->potential * 1e-3 * constants::faraday / (constants::gas * in_.temperature);
            const std::string eta = parameter(mech, "eta");
            const std::string e_fwd = fmt::format("exp({} * {})", eta, num(v));
            const std::string e_rev = fmt::format("exp(({} - 1) * {})", eta, num(v));
            const auto conc = [](const std::string& c, const char* s) { return fmt::format("max({}.{}, 0)", c, s); };
            const std::string ca_i = conc(mb->inner, "ca");
            const std::string ca_o = conc(mb->outer, "ca");
            const std::string na_i = conc(mb->inner, "na");
            const std::string na_o = conc(mb->outer, "na");
            const std::string km_na = parameter(mech, "km_na");
            reaction_spec rx;
            rx.name = fresh(mech.name);
            rx.reactants = {{mb->outer, "ca", 1}, {mb->inner, "na", 3}};
            rx.products = {{mb->inner, "ca", 1}, {mb->outer, "na", 3}};
            rx.rate = fmt::format(
                "{} * {} * ({} * {} * {} * {} * {} - {} * {} * {} * {} * {}) / (({} * {} * {} + {} * {} * {}) * ({} + {}) "
                "* (1 + {} * {}))",
                parameter(mech, "vmax"), area(), e_fwd, na_i, na_i, na_i, ca_o, e_rev, na_o, na_o, na_o, ca_i, km_na,
                km_na, km_na, na_o, na_o, na_o, parameter(mech, "km_ca"), ca_o, parameter(mech, "k_sat"), e_rev);
            rx.rate_per_volume = false;
            rx.where = mech.where;
            out_.reactions.push_back(std::move(rx));
            return {};
        }
        if (type == "ip3r_li_rinzel") {
            // Li & Rinzel (src/mechanisms/ip3r.cpp): dh/dt = a2 (Q2 (1 - h) - c h), Q2 = d2 (p + d1) / (p + d3);
            // J_in = P A (m n h)^3 (c_cyt - c_er), m = p / (p + d1), n = c / (c + d5); c, p >= 0. Inner: the store.
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const std::string c = fmt::format("max({}.ca, 0)", mb->outer);
            const std::string ip3 = fmt::format("max({}.ip3, 0)", mb->outer);
            const std::string h = fresh(mech.name + "_h");
            out_.parameters.push_back({h, initial_state(mech.name + ".h"), mech.where});
            state_name_[mech.name + ".h"] = h;
            const std::string d1 = parameter(mech, "d1");
            const std::string q2 = fmt::format("{} * ({} + {}) / ({} + {})", parameter(mech, "d2"), ip3, d1, ip3,
                                               parameter(mech, "d3"));
            out_.rules.push_back({rule_spec::kind::rate, h,
                                  fmt::format("{} * (({}) * (1 - {}) - {} * {})", parameter(mech, "a2"), q2, h, c, h),
                                  mech.where});
            const std::string g = fmt::format("({} / ({} + {}) * ({} / ({} + {})) * {})", ip3, ip3, d1, c, c,
                                              parameter(mech, "d5"), h);
            transfer(mech, mb->outer, mb->inner,
                     fmt::format("{} * {} * ({} * {} * {}) * ({}.ca - {}.ca)", parameter(mech, "permeability"), area(),
                                 g, g, g, mb->outer, mb->inner));
            return {};
        }
        if (type == "pmca_cam") {
            // src/mechanisms/pmca_cam.cpp: da/dt = (hill(c, K_cam, m) - a) / tau_a,
            // J_out = vmax A (f_basal + (1 - f_basal) a) hill(c, K, n); c >= 0 in the Hill terms.
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const std::string c = fmt::format("max({}.ca, 0)", mb->inner);
            const std::string a = fresh(mech.name + "_a");
            out_.parameters.push_back({a, initial_state(mech.name + ".a"), mech.where});
            state_name_[mech.name + ".a"] = a;
            out_.rules.push_back({rule_spec::kind::rate, a,
                                  fmt::format("(hill({}, {}, {}) - {}) / {}", c, parameter(mech, "kd_cam"),
                                              parameter(mech, "hill_cam"), a, parameter(mech, "tau_a")),
                                  mech.where});
            const std::string f = parameter(mech, "f_basal");
            transfer(mech, mb->inner, mb->outer,
                     fmt::format("{} * {} * ({} + (1 - {}) * {}) * hill({}, {}, {})", parameter(mech, "vmax"), area(),
                                 f, f, a, c, parameter(mech, "kd"), parameter(mech, "hill")));
            return {};
        }
        if (type == "soce") {
            // src/mechanisms/soce.cpp: ds/dt = (K^n / (K^n + max(c_er, 0)^n) - s) / tau,
            // J_in = P A s (max(c_out, 0) B(u) - max(c_in, 0) B(-u)), u = 2 F V / (R T).
            if (mb == nullptr) {
                return "not on a membrane";
            }
            if (mb->protocol.type != potential_protocol::kind::constant) {
                return fmt::format("its membrane '{}' has a potential protocol (only a constant potential is "
                                   "exported)",
                                   mb->name);
            }
            const double u = 2.0 * constants::faraday / (constants::gas * in_.temperature) * 1e-3 * mb->potential;
            const auto bernoulli = [](double x) { return x == 0.0 ? 1.0 : x / std::expm1(x); };
            const std::string st = fresh(mech.name + "_s");
            out_.parameters.push_back({st, initial_state(mech.name + ".s"), mech.where});
            state_name_[mech.name + ".s"] = st;
            const std::string k = parameter(mech, "k_stim");
            const std::string n = parameter(mech, "hill");
            out_.rules.push_back({rule_spec::kind::rate, st,
                                  fmt::format("(pow({}, {}) / (pow({}, {}) + pow(max({}.ca, 0), {})) - {}) / {}", k, n,
                                              k, n, mech.store, n, st, parameter(mech, "tau")),
                                  mech.where});
            transfer(mech, mb->outer, mb->inner,
                     fmt::format("{} * {} * {} * (max({}.ca, 0) * {} - max({}.ca, 0) * {})",
                                 parameter(mech, "permeability"), area(), st, mb->outer, num(bernoulli(u)), mb->inner,
                                 num(bernoulli(-u))));
            return {};
        }
        if (type == "ip3r_dyk") {
            // De Young & Keizer (src/mechanisms/ip3r.cpp): seven subunit states x_ijk (x_000 = 1 - the others) with
            // the kernel's transitions; Po = max(x_110, 0)^3, J_in = P A Po (c_cyt - c_er). Inner: the store.
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const auto& info = find_mechanism(type)->info();
            const auto index = [](int i, int j, int k) { return static_cast<std::size_t>(4 * i + 2 * j + k); };
            std::array<std::string, 8> x;
            std::string others;
            for (std::size_t st = 1; st < 8; ++st) {
                const std::string state(info.states[st - 1].name);
                x[st] = fresh(mech.name + "_" + state);
                out_.parameters.push_back({x[st], initial_state(mech.name + "." + state), mech.where});
                state_name_[mech.name + "." + state] = x[st];
                others += (st > 1 ? " + " : "") + x[st];
            }
            x[0] = "(1 - (" + others + "))";
            const std::string c = fmt::format("max({}.ca, 0)", mb->outer);
            const std::string ip3 = fmt::format("max({}.ip3, 0)", mb->outer);
            const auto par = [&](const char* name) { return parameter(mech, name); };
            std::array<std::string, 8> rate;
            const auto transition = [&](std::size_t from, std::size_t to, const std::string& on, const std::string& off) {
                const std::string net = fmt::format("({} * {} - {} * {})", on, x[from], off, x[to]);
                rate[from] += " - " + net;
                rate[to] += " + " + net;
            };
            for (int a = 0; a < 2; ++a) {
                for (int b = 0; b < 2; ++b) {
                    const std::string ip3_on = par(b == 0 ? "a1" : "a3");
                    const std::string ip3_kd = par(b == 0 ? "d1" : "d3");
                    transition(index(0, a, b), index(1, a, b), ip3_on + " * " + ip3, ip3_on + " * " + ip3_kd);
                    transition(index(a, 0, b), index(a, 1, b), par("a5") + " * " + c, par("a5") + " * " + par("d5"));
                    const std::string inact_on = par(a == 0 ? "a4" : "a2");
                    const std::string inact_kd = par(a == 0 ? "d4" : "d2");
                    transition(index(a, b, 0), index(a, b, 1), inact_on + " * " + c, inact_on + " * " + inact_kd);
                }
            }
            for (std::size_t st = 1; st < 8; ++st) {
                out_.rules.push_back({rule_spec::kind::rate, x[st], "0" + rate[st], mech.where});
            }
            const std::string open = fmt::format("max({}, 0)", x[index(1, 1, 0)]);
            transfer(mech, mb->outer, mb->inner,
                     fmt::format("{} * {} * ({} * {} * {}) * ({}.ca - {}.ca)", par("permeability"), area(), open, open,
                                 open, mb->outer, mb->inner));
            return {};
        }
        if (type == "ryr") {
            // src/mechanisms/ryr.cpp: a = hill(c, K, n), L = K_lum > 0 ? hill(c_er, K_lum, m) : 1,
            // dh/dt = k_recover (1 - h) - k_adapt a h, J_in = P A a h L (c - c_er). Inner: the store.
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const std::string a = fmt::format("hill(max({}.ca, 0), {}, {})", mb->outer, parameter(mech, "kd"),
                                              parameter(mech, "hill"));
            const std::string k_lumen = parameter(mech, "kd_lumen");
            const std::string lumen = fmt::format("({} > 0 ? hill(max({}.ca, 0), {}, {}) : 1)", k_lumen, mb->inner,
                                                  k_lumen, parameter(mech, "hill_lumen"));
            const std::string h = fresh(mech.name + "_h");
            out_.parameters.push_back({h, initial_state(mech.name + ".h"), mech.where});
            state_name_[mech.name + ".h"] = h;
            out_.rules.push_back({rule_spec::kind::rate, h,
                                  fmt::format("{} * (1 - {}) - {} * {} * {}", parameter(mech, "k_recover"), h,
                                              parameter(mech, "k_adapt"), a, h),
                                  mech.where});
            transfer(mech, mb->outer, mb->inner,
                     fmt::format("{} * {} * {} * {} * {} * ({}.ca - {}.ca)", parameter(mech, "permeability"), area(), a,
                                 h, lumen, mb->outer, mb->inner));
            return {};
        }
        if (type == "mcu" || type == "nclx") {
            // src/mechanisms/mitochondria.cpp. Inner: the matrix.
            if (mb == nullptr) {
                return "not on a membrane";
            }
            if (mb->protocol.type != potential_protocol::kind::constant) {
                return fmt::format("its membrane '{}' has a potential protocol (only a constant potential is "
                                   "exported)",
                                   mb->name);
            }
            const double f_rt = constants::faraday / (constants::gas * in_.temperature) * 1e-3;  // [1/mV]
            if (type == "mcu") {
                // J_in = P A hill(c_out, K, n) (max(c_out, 0) B(u) - max(c_in, 0) B(-u)), u = 2 F V / (R T)
                const double u = 2.0 * f_rt * mb->potential;
                const auto bernoulli = [](double x) { return x == 0.0 ? 1.0 : x / std::expm1(x); };
                const std::string c_out = fmt::format("max({}.ca, 0)", mb->outer);
                transfer(mech, mb->outer, mb->inner,
                         fmt::format("{} * {} * hill({}, {}, {}) * ({} * {} - max({}.ca, 0) * {})",
                                     parameter(mech, "permeability"), area(), c_out, parameter(mech, "k_act"),
                                     parameter(mech, "hill"), c_out, num(bernoulli(u)), mb->inner, num(bernoulli(-u))));
            }
            else {
                // J_out = vmax A exp(-b F (V - V0) / (R T)) (na / (K_Na + na))^n ca / (K_Ca + ca), ca in the matrix,
                // na in the cytosol (both >= 0)
                const std::string ca = fmt::format("max({}.ca, 0)", mb->inner);
                const std::string na = fmt::format("max({}.na, 0)", mb->outer);
                transfer(mech, mb->inner, mb->outer,
                         fmt::format("{} * {} * exp(-{} * {} * ({} - {})) * pow({} / ({} + {}), {}) * {} / ({} + {})",
                                     parameter(mech, "vmax"), area(), parameter(mech, "b"), num(f_rt),
                                     num(mb->potential), parameter(mech, "v0"), na, parameter(mech, "k_na"), na,
                                     parameter(mech, "hill_na"), ca, parameter(mech, "k_ca"), ca));
            }
            return {};
        }
        if (type == "pulse_train") {
            if (mb == nullptr) {
                return "not on a membrane";
            }
            const auto& p = mech.parameters;
            for (const auto& e: in_.events) {
                for (const auto& [target, value]: e.set) {
                    if (target.rfind(mech.name + ".", 0) == 0 && target != mech.name + ".amplitude") {
                        return "an event changes its timing";
                    }
                }
            }
            const double start = p.at("start");
            const double duration = p.at("duration");
            const double frequency = p.at("frequency");
            const double count = std::floor(p.at("count"));
            const double period = frequency > 0 ? 1.0 / frequency : std::numeric_limits<double>::infinity();
            if (count > 5000) {
                return fmt::format("{:g} pulses (the export writes an event per pulse edge; at most 5000 pulses)",
                                   count);
            }
            // A parameter that is 1 while a pulse runs, switched by events at every edge.
            const std::string on = fresh(mech.name + "_on");
            out_.parameters.push_back({on, pulse_on(0, start, duration, frequency, count) ? 1.0 : 0.0, mech.where});
            std::vector<double> edges;
            for (double k = 0; k < count; ++k) {
                const double onset = pulse_onset(k, start, period);
                if (!std::isfinite(onset)) {
                    break;
                }
                for (const double edge: {onset, onset + duration}) {
                    if (edge > 0) {
                        edges.push_back(edge);
                    }
                }
            }
            std::sort(edges.begin(), edges.end());
            edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
            for (const double edge: edges) {
                event_spec e;
                e.time = edge;
                e.set.emplace_back(on, pulse_on(edge, start, duration, frequency, count) ? 1.0 : 0.0);
                e.where = mech.where;
                extra_events_.push_back(std::move(e));
            }
            // J_in = I / (z F) while on
            transfer(mech, "", mb->inner,
                     fmt::format("{} * {} * {}", parameter(mech, "amplitude"),
                                 num(constants::zmol_per_ms_per_pA / 2.0), on));
            return {};
        }
        if (type == "buffer" || type == "fluo4" || type == "ogb1" || type == "fura2") {
            // d[CaB]/dt = kon ([Ca] ([B]tot - [CaB]) - Kd [CaB]): a reaction Ca -> CaB in the compartment
            // (src/mechanisms/buffer.cpp; the dyes bind alike, src/mechanisms/dyes.cpp: their fluorescence is a
            // function of [CaD] that the export leaves out).
            const std::string comp = mech.location;
            const std::string species = fresh(mech.name + "_bound");
            out_.species.push_back({species, 0, mech.where});
            for (auto& c: out_.compartments) {
                if (c.name == comp) {
                    c.initial[species] = initial_state(mech.name + ".bound");
                }
            }
            state_name_[mech.name + ".bound"] = comp + "." + species;
            reaction_spec rx;
            rx.name = fresh(mech.name);
            rx.reactants.push_back({comp, "ca", 1});
            rx.products.push_back({comp, species, 1});
            rx.rate = fmt::format("{} * ({}.ca * ({} - {}.{}) - {} * {}.{})", parameter(mech, "kon"), comp,
                                  parameter(mech, "total"), comp, species, parameter(mech, "kd"), comp, species);
            rx.rate_per_volume = true;
            rx.compartment = comp;
            rx.where = mech.where;
            out_.reactions.push_back(std::move(rx));
            return {};
        }
        return "its rate law is compiled C++ that the SBML export does not rewrite (exported: leak, pmca, serca, "
               "pmca_cam, buffer, the dyes fluo4, ogb1 and fura2, pulse_train, ryr, ip3r_li_rinzel, ip3r_dyk, and ghk_leak, ncx, mcu, "
               "nclx and soce at a constant potential)";
    }
};

// Writes an expression-only model (compartments, species, parameters, reactions, rules, events) as SBML L3V2.
class sbml_writer {
public:
    explicit sbml_writer(const model_spec& model): m_(model), doc_(3, 2) {}

    std::string run();
    const std::map<std::string, std::string>& ids() const { return id_of_; }

private:
    const model_spec& m_;
    SBMLDocument doc_;
    Model* sm_ = nullptr;
    std::set<std::string> ids_;
    std::map<std::string, std::string> id_of_;  // cadyn name ("cyt", "cyt.ca", "k1") -> SBML id

    std::string claim(const std::string& wanted) {
        std::string id = sbml_id(wanted);
        while (ids_.contains(id)) {
            id += "_";
        }
        ids_.insert(id);
        return id;
    }
    ast_ptr math(const std::string& text) {
        return expression_to_sbml(text, [&](const std::string& name) {
                   const auto it = id_of_.find(name);
                   if (it == id_of_.end()) {
                       throw error(fmt::format("cannot export '{}' to SBML: '{}' is not in the model", text, name));
                   }
                   return it->second;
               }).parse();
    }
    void unit(const std::string& id, UnitKind_t kind, int scale) {
        auto* ud = sm_->createUnitDefinition();
        ud->setId(id);
        auto* u = ud->createUnit();
        u->setKind(kind);
        u->setExponent(1.0);
        u->setScale(scale);
        u->setMultiplier(1.0);
    }
};

std::string sbml_writer::run() {
    sm_ = doc_.createModel();
    sm_->setId(claim(m_.name.empty() ? "cadyn_model" : m_.name));
    if (!m_.name.empty()) {
        sm_->setName(m_.name);
    }
    // cadyn's canonical units: every number is written as cadyn holds it.
    unit("zmol", UNIT_KIND_MOLE, -21);
    unit("um3", UNIT_KIND_LITRE, -15);
    unit("ms", UNIT_KIND_SECOND, -3);
    for (const auto* id: {"zmol", "um3", "ms"}) {
        ids_.insert(id);
    }
    sm_->setSubstanceUnits("zmol");
    sm_->setVolumeUnits("um3");
    sm_->setTimeUnits("ms");
    sm_->setExtentUnits("zmol");

    // Which species each compartment holds: given a concentration, in a reaction, set by a rule or an event, or
    // named in an expression.
    std::set<std::pair<std::string, std::string>> present;
    for (const auto& c: m_.compartments) {
        for (const auto& [s, v]: c.initial) {
            present.insert({c.name, s});
        }
    }
    for (const auto& rx: m_.reactions) {
        for (const auto* list: {&rx.reactants, &rx.products}) {
            for (const auto& p: *list) {
                present.insert({p.compartment, p.species});
            }
        }
    }
    std::set<std::string> event_targets;
    for (const auto& e: m_.events) {
        for (const auto& [target, value]: e.set) {
            event_targets.insert(target);
        }
    }
    std::vector<std::string> texts;
    for (const auto& r: m_.rules) {
        texts.push_back(r.expression);
        texts.push_back(r.variable);
    }
    for (const auto& rx: m_.reactions) {
        texts.push_back(rx.rate);
    }
    for (const auto& t: texts) {
        for (const auto& name: detail::referenced_names(t)) {
            const auto dot = name.find('.');
            if (dot != std::string::npos && m_.find_compartment(name.substr(0, dot)) != nullptr) {
                present.insert({name.substr(0, dot), name.substr(dot + 1)});
            }
        }
    }
    for (const auto& target: event_targets) {
        const auto dot = target.find('.');
        if (dot != std::string::npos && m_.find_compartment(target.substr(0, dot)) != nullptr) {
            present.insert({target.substr(0, dot), target.substr(dot + 1)});
        }
    }
    std::map<std::string, int> holders;  // species -> number of compartments holding it
    for (const auto& [c, s]: present) {
        holders[s] += 1;
    }

    for (const auto& c: m_.compartments) {
        auto* sc = sm_->createCompartment();
        const auto id = claim(c.name);
        id_of_[c.name] = id;
        sc->setId(id);
        if (id != c.name) {
            sc->setName(c.name);
        }
        sc->setSpatialDimensions(3.0);
        sc->setSize(c.volume);
        sc->setUnits("um3");
        sc->setConstant(true);
    }
    for (const auto& c: m_.compartments) {
        for (const auto& s: m_.species) {
            if (!present.contains({c.name, s.name})) {
                continue;
            }
            const std::string field = c.name + "." + s.name;
            auto* ss = sm_->createSpecies();
            const auto id = claim(holders[s.name] == 1 ? s.name : c.name + "_" + s.name);
            id_of_[field] = id;
            ss->setId(id);
            ss->setName(s.name);
            ss->setCompartment(id_of_.at(c.name));
            const auto it = c.initial.find(s.name);
            ss->setInitialConcentration(it == c.initial.end() ? 0.0 : it->second);
            ss->setSubstanceUnits("zmol");
            ss->setHasOnlySubstanceUnits(false);
            // A clamped compartment holds its concentrations: boundary species, constant unless an event sets them.
            ss->setBoundaryCondition(c.clamped);
            ss->setConstant(c.clamped && !event_targets.contains(field));
        }
    }
    std::set<std::string> rate_ruled;
    std::set<std::string> assigned;
    for (const auto& r: m_.rules) {
        (r.type == rule_spec::kind::rate ? rate_ruled : assigned).insert(r.variable);
    }
    for (const auto& p: m_.parameters) {
        auto* sp = sm_->createParameter();
        const auto id = claim(p.name);
        id_of_[p.name] = id;
        sp->setId(id);
        if (!assigned.contains(p.name)) {
            sp->setValue(p.value);
        }
        sp->setConstant(!rate_ruled.contains(p.name) && !assigned.contains(p.name) && !event_targets.contains(p.name));
    }
    for (const auto& r: m_.rules) {
        if (r.type == rule_spec::kind::assignment && !id_of_.contains(r.variable)) {
            auto* sp = sm_->createParameter();
            const auto id = claim(r.variable);
            id_of_[r.variable] = id;
            sp->setId(id);
            sp->setConstant(false);
        }
    }
    // Species changed by reactions: SBML forbids a rate rule on them as well; such a rule is written as a reaction
    // that makes the species at the rule's rate (per volume).
    std::set<std::string> in_reactions;
    for (const auto& rx: m_.reactions) {
        for (const auto* list: {&rx.reactants, &rx.products}) {
            for (const auto& p: *list) {
                in_reactions.insert(p.compartment + "." + p.species);
            }
        }
    }
    std::vector<reaction_spec> reactions = m_.reactions;
    for (const auto& r: m_.rules) {
        const auto dot = r.variable.find('.');
        if (r.type == rule_spec::kind::assignment) {
            auto* ar = sm_->createAssignmentRule();
            ar->setVariable(id_of_.at(r.variable));
            ar->setMath(math(r.expression).get());
        }
        else if (dot != std::string::npos && in_reactions.contains(r.variable)) {
            reaction_spec rx;
            rx.name = "rule_" + r.variable;
            rx.products.push_back({r.variable.substr(0, dot), r.variable.substr(dot + 1), 1});
            rx.rate = r.expression;
            rx.rate_per_volume = true;
            rx.compartment = r.variable.substr(0, dot);
            reactions.push_back(std::move(rx));
        }
        else {
            auto* rr = sm_->createRateRule();
            rr->setVariable(id_of_.at(r.variable));
            rr->setMath(math(r.expression).get());
        }
    }
    for (const auto& rx: reactions) {
        auto* sr = sm_->createReaction();
        sr->setId(claim(rx.name));
        sr->setReversible(true);
        std::set<std::string> participants;
        for (const auto& p: rx.reactants) {
            auto* ref = sr->createReactant();
            ref->setSpecies(id_of_.at(p.compartment + "." + p.species));
            ref->setStoichiometry(p.stoichiometry);
            ref->setConstant(true);
            participants.insert(ref->getSpecies());
        }
        for (const auto& p: rx.products) {
            auto* ref = sr->createProduct();
            ref->setSpecies(id_of_.at(p.compartment + "." + p.species));
            ref->setStoichiometry(p.stoichiometry);
            ref->setConstant(true);
            participants.insert(ref->getSpecies());
        }
        for (const auto& name: detail::referenced_names(rx.rate)) {
            const auto it = id_of_.find(name);
            if (it != id_of_.end() && sm_->getSpecies(it->second) != nullptr && !participants.contains(it->second)) {
                sr->createModifier()->setSpecies(it->second);
                participants.insert(it->second);
            }
        }
        // A rate per volume [uM/ms] times the volume is SBML's amount per time.
        auto law = math(rx.rate);
        if (rx.rate_per_volume) {
            law = apply_of(AST_TIMES, std::move(law), name_node(id_of_.at(rx.compartment)));
        }
        sr->createKineticLaw()->setMath(law.get());
    }
    for (std::size_t k = 0; k < m_.events.size(); ++k) {
        const auto& e = m_.events[k];
        auto* se = sm_->createEvent();
        se->setId(claim(fmt::format("event{}", k + 1)));
        se->setUseValuesFromTriggerTime(true);
        auto* trigger = se->createTrigger();
        trigger->setInitialValue(true);
        trigger->setPersistent(true);
        auto time = make_node(AST_NAME_TIME);
        time->setName("t");
        trigger->setMath(apply_of(AST_RELATIONAL_GEQ, std::move(time), number_node(e.time)).get());
        for (const auto& [target, value]: e.set) {
            const auto it = id_of_.find(target);
            if (it == id_of_.end()) {
                throw error(fmt::format("cannot export event {} to SBML: '{}' is not a species or parameter of the "
                                        "exported model",
                                        k + 1, target));
            }
            auto* ea = se->createEventAssignment();
            ea->setVariable(it->second);
            ea->setMath(number_node(value).get());
        }
    }
    SBMLWriter writer;
    return writer.writeSBMLToStdString(&doc_);
}

sbml_export export_model(const model_spec& original) {
    model_spec model = original;
    auto problems = validate(model);
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
    lowering lower(model);
    const model_spec lowered = lower.run();
    sbml_writer writer(lowered);
    sbml_export out;
    out.text = writer.run();
    out.ids = writer.ids();
    // Mechanism states live on in the exported model under other names.
    for (const auto& [state, name]: lower.state_names()) {
        const auto it = out.ids.find(name);
        if (it != out.ids.end()) {
            out.ids[state] = it->second;
        }
    }
    return out;
}

} // namespace

double sbml_model::to_sbml(const std::string& id, double observed, bool amount) const {
    const auto it = symbols.find(id);
    if (it == symbols.end()) {
        throw error(fmt::format("'{}' is not a symbol of the imported SBML model", id));
    }
    const auto& s = it->second;
    if (s.type != sbml_symbol::kind::species) {
        return observed;
    }
    return amount ? observed * s.volume / s.amount_factor : observed / s.concentration_factor;
}

sbml_model import_sbml(std::string_view text, const std::string& source_name) {
    std::unique_ptr<SBMLDocument> doc(readSBMLFromString(std::string(text).c_str()));
    if (!doc) {
        throw_document_error(source_name, "", "libSBML could not read the document");
    }
    std::vector<diagnostic> problems;
    for (unsigned int i = 0; i < doc->getNumErrors(); ++i) {
        const auto* e = doc->getError(i);
        if (e->getSeverity() >= LIBSBML_SEV_ERROR) {
            problems.push_back({{source_name, static_cast<int>(e->getLine()), static_cast<int>(e->getColumn())},
                                "",
                                "invalid SBML: " + e->getMessage()});
        }
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
    if (doc->getLevel() < 2) {
        throw sbml_unsupported({document_problem(
            source_name, "sbml", "SBML feature 'Level 1' is not supported: convert the model to Level 2 or 3")});
    }
    for (unsigned int i = 0; i < doc->getNumPlugins(); ++i) {
        const std::string package = doc->getPlugin(i)->getPackageName();
        static const std::set<std::string> harmless = {"layout", "render", "groups", "l3v2extendedmath"};
        if (!harmless.contains(package) && doc->isPackageEnabled(package)) {
            problems.push_back(document_problem(
                source_name, "sbml",
                fmt::format("SBML feature 'package {}' is not supported: cadyn reads SBML core only (packages layout, "
                            "render and groups are ignored)",
                            package)));
        }
    }
    if (!problems.empty()) {
        throw sbml_unsupported(std::move(problems));
    }
    const auto* model = doc->getModel();
    if (model == nullptr) {
        throw_document_error(source_name, "sbml", "the SBML document has no model");
    }
    importer imp(*model, source_name);
    auto result = imp.run();
    auto invalid = validate(result.model);
    if (!invalid.empty()) {
        throw model_error(std::move(invalid));
    }
    return result;
}

model_spec parse_sbml(std::string_view text, const std::string& source_name) {
    return import_sbml(text, source_name).model;
}

model_spec read_sbml_file(const std::filesystem::path& path) { return parse_sbml(read_model_text(path), path.string()); }

bool is_sbml_path(const std::filesystem::path& path) {
    auto ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".xml" || ext == ".sbml";
}

sbml_export export_sbml(const model_spec& model) { return export_model(model); }

std::string write_sbml(const model_spec& model) { return export_model(model).text; }

} // namespace cadyn
