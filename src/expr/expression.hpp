#pragma once
// Compiled math expressions for generic reactions and rules (private to the engine).
//
// Backed by muparser's bytecode (Debian's libmuparser-dev). Expressions are written in canonical units: every
// variable they name holds a canonical-unit double (uM, ms, um^3, ...). Variable names may contain letters,
// digits, '_' and '.', so "cyt.ca" names calcium in compartment cyt.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <cadyn/error.hpp>

namespace cadyn::detail {

// A syntax error or an unknown name in an expression. position is the 0-based character offset muparser
// reports, or -1 when unknown.
class expression_error: public error {
public:
    expression_error(std::string message, int position): error(std::move(message)), position_(position) {}
    int position() const { return position_; }

private:
    int position_;
};

// The names an expression refers to (variables, not functions), in order of first appearance, without binding
// them. Throws expression_error on a syntax error. Used by model validation to report unknown names early.
std::vector<std::string> referenced_names(std::string_view text);

// A compiled expression. Variables are bound by address at construction; eval() reads the current values.
class expression {
public:
    struct binding {
        std::string name;
        double* address;
    };

    // Compile `text` with the given variables. Throws expression_error for a syntax error or a name that is
    // neither a bound variable nor a built-in function/constant.
    expression(std::string_view text, const std::vector<binding>& variables);
    ~expression();
    expression(expression&&) noexcept;
    expression& operator=(expression&&) noexcept;
    expression(const expression&) = delete;
    expression& operator=(const expression&) = delete;

    // Evaluate with the current values of the bound variables. Does not allocate.
    double eval() const;

    const std::string& text() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace cadyn::detail
