#include "expr/expression.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>
#include <utility>

#include <fmt/format.h>
#include <muParser.h>

namespace cadyn::detail {

namespace {

// Names may contain '.', so "cyt.ca" is one name. Numbers still parse as numbers: muparser tries a value before
// a variable, and a name may not start with a digit.
constexpr const char* name_chars = "0123456789_.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

double hill(double x, double k, double n) {
    const double xn = std::pow(x, n);
    return xn / (std::pow(k, n) + xn);
}

double heaviside(double x) {
    return x >= 0.0 ? 1.0 : 0.0;
}

double power(double x, double y) {
    return std::pow(x, y);
}

double floor_of(double x) {
    return std::floor(x);
}

double ceil_of(double x) {
    return std::ceil(x);
}

// Functions muparser 2.3.3 lacks. It already has sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh
// atanh log2 log10 log ln exp sqrt sign rint abs sum avg min max, and the constants _pi and _e. Built with GCC
// its _pi is cut to 3.141592653589, so both constants are redefined at full double precision.
void configure(mu::Parser& parser) {
    parser.DefineNameChars(name_chars);
    parser.DefineConst("_pi", std::numbers::pi);
    parser.DefineConst("_e", std::numbers::e);
    parser.DefineFun("pow", power);
    parser.DefineFun("hill", hill);
    parser.DefineFun("heaviside", heaviside);
    parser.DefineFun("floor", floor_of);
    parser.DefineFun("ceil", ceil_of);
}

// Stands in for every name the parser does not know, recording each once in order of first appearance (the
// parser defines a name on its first use, so later uses do not reach the factory again).
struct name_collector {
    std::vector<std::string> names;
    double dummy = 0.0;
};

double* collect_name(const char* name, void* user_data) {
    auto* collector = static_cast<name_collector*>(user_data);
    collector->names.emplace_back(name);
    return &collector->dummy;
}

// 0-based offset of `name` as a whole name in `text`, or -1.
int find_name(std::string_view text, std::string_view name) {
    for (auto pos = text.find(name); pos != std::string_view::npos; pos = text.find(name, pos + 1)) {
        const auto end = pos + name.size();
        if ((pos == 0 || !is_name_char(text[pos - 1])) && (end == text.size() || !is_name_char(text[end]))) {
            return static_cast<int>(pos);
        }
    }
    return -1;
}

// The name written just before offset `pos` (spaces skipped), or "".
std::string_view name_before(std::string_view text, std::size_t pos) {
    auto end = std::min(pos, text.size());
    while (end > 0 && text[end - 1] == ' ') {
        --end;
    }
    auto begin = end;
    while (begin > 0 && is_name_char(text[begin - 1])) {
        --begin;
    }
    return text.substr(begin, end - begin);
}

// A name starts with a letter or '_'. Anything else muparser could not read as a number either ("1e", ".x").
bool is_valid_name(std::string_view name) {
    return !name.empty() && (std::isalpha(static_cast<unsigned char>(name.front())) != 0 || name.front() == '_');
}

// Throws for a name that is malformed or is a function used without its argument list.
void check_name(std::string_view text, const std::string& name, const mu::Parser& parser) {
    if (!is_valid_name(name)) {
        throw expression_error(fmt::format("malformed number or name '{}' in expression '{}'", name, text),
                               find_name(text, name));
    }
    if (parser.GetFunDef().count(name) != 0) {
        throw expression_error(
            fmt::format("function '{}' used without arguments in expression '{}'", name, text), find_name(text, name));
    }
}

// Turns a muparser error into ours. "foo(x)" with foo unknown reads to muparser as a variable followed by a
// parenthesis; report that as an unknown function rather than a misplaced parenthesis.
expression_error parse_error(std::string_view text, const mu::Parser::exception_type& e,
                             const std::vector<std::string>& unknown) {
    const int pos = e.GetPos();
    if (e.GetCode() == mu::ecUNEXPECTED_PARENS && pos >= 0 && static_cast<std::size_t>(pos) < text.size() &&
        text[static_cast<std::size_t>(pos)] == '(') {
        const auto name = name_before(text, static_cast<std::size_t>(pos));
        for (const auto& u: unknown) {
            if (u == name) {
                return expression_error(fmt::format("unknown function '{}' in expression '{}'", name, text),
                                        find_name(text, name));
            }
        }
    }
    // muparser reads the text with a space appended, so an error at the end may sit one past it.
    const int where = pos < 0 ? -1 : std::min(pos, static_cast<int>(text.size()));
    return expression_error(fmt::format("syntax error in expression '{}': {}", text, e.GetMsg()), where);
}

bool assigns(const mu::ParserByteCode& code) {
    const mu::SToken* tokens = code.GetBase();
    for (std::size_t i = 0; i < code.GetSize(); ++i) {
        if (tokens[i].Cmd == mu::cmASSIGN) {
            return true;
        }
    }
    return false;
}

} // namespace

std::vector<std::string> referenced_names(std::string_view text) {
    name_collector collector;
    mu::Parser parser;
    try {
        configure(parser);
        parser.SetVarFactory(collect_name, &collector);
        parser.SetExpr(std::string(text));
        parser.GetUsedVar();
    } catch (const mu::Parser::exception_type& e) {
        throw parse_error(text, e, collector.names);
    }
    for (const auto& name: collector.names) {
        check_name(text, name, parser);
    }
    return std::move(collector.names);
}

// The parser lives on the heap with the collector it points to, so moving an expression moves only the pointer
// and every address muparser holds stays valid.
struct expression::impl {
    std::string text;
    name_collector unknown;
    mu::Parser parser;
};

expression::expression(std::string_view text, const std::vector<binding>& variables):
    impl_(std::make_unique<impl>()) {
    impl_->text = std::string(text);
    auto& parser = impl_->parser;
    configure(parser);
    for (const auto& v: variables) {
        if (v.address == nullptr) {
            throw internal_error(fmt::format("name '{}' bound to a null address in expression '{}'", v.name, text));
        }
        if (!is_valid_name(v.name)) {
            throw expression_error(fmt::format("invalid name '{}' bound in expression '{}'", v.name, text), -1);
        }
        if (parser.GetFunDef().count(v.name) != 0 || parser.GetConst().count(v.name) != 0) {
            throw expression_error(
                fmt::format("name '{}' in expression '{}' is a built-in function or constant", v.name, text), -1);
        }
        try {
            parser.DefineVar(v.name, v.address);
        } catch (const mu::Parser::exception_type& e) {
            throw expression_error(
                fmt::format("invalid name '{}' in expression '{}': {}", v.name, text, e.GetMsg()), -1);
        }
    }

    // Compile without evaluating: unknown names go to the collector instead of failing on the first one.
    parser.SetVarFactory(collect_name, &impl_->unknown);
    try {
        parser.SetExpr(impl_->text);
        parser.GetUsedVar();
    } catch (const mu::Parser::exception_type& e) {
        throw parse_error(text, e, impl_->unknown.names);
    }
    if (!impl_->unknown.names.empty()) {
        const auto& name = impl_->unknown.names.front();
        check_name(text, name, parser);
        throw expression_error(fmt::format("unknown name '{}' in expression '{}'", name, text), find_name(text, name));
    }
    if (parser.GetNumResults() != 1) {
        throw expression_error(
            fmt::format("expression '{}' has {} comma-separated values; expected one", text, parser.GetNumResults()),
            -1);
    }
    if (assigns(parser.GetByteCode())) {
        throw expression_error(
            fmt::format("expression '{}' contains an assignment '='; use '==' to compare", text), -1);
    }

    // The first Eval builds the bytecode and switches the parser to it; every later Eval only runs the bytecode.
    try {
        parser.Eval();
    } catch (const mu::Parser::exception_type& e) {
        throw parse_error(text, e, impl_->unknown.names);
    }
}

expression::~expression() = default;
expression::expression(expression&&) noexcept = default;
expression& expression::operator=(expression&&) noexcept = default;

double expression::eval() const {
    return impl_->parser.Eval();
}

const std::string& expression::text() const {
    return impl_->text;
}

} // namespace cadyn::detail
