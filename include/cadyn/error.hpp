#pragma once
// Errors in cadyn have one root per audience (see docs/dev/architecture.md):
//
//  - cadyn::error (std::runtime_error): the user gave us something we cannot honour: a malformed quantity, a
//    model file with a wrong key, a solver that could not meet the requested tolerance. The message is meant to
//    be read by that user; the command line maps it to exit status 2 (input) or 3 (solver).
//  - cadyn::internal_error (std::logic_error): if one of these is thrown there is a bug in cadyn.

#include <stdexcept>
#include <string>
#include <vector>

namespace cadyn {

class error: public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A quantity string that cannot be parsed, or that has the wrong dimension.
class unit_error: public error {
public:
    using error::error;
};

// Where in a model file something was said. line == 0 means "no line known" (a model built in code).
struct source_location {
    std::string file;
    int line = 0;
    int column = 0;
};

// One problem found in a model description.
struct diagnostic {
    source_location where;
    std::string key;      // dotted path of the offending key, e.g. "compartments[1].volume"
    std::string message;  // what was wrong and what was expected

    // "file:line:col: key: message"
    std::string to_string() const;
};

// A model that cannot be accepted. Carries every problem found, not only the first.
class model_error: public error {
public:
    explicit model_error(std::vector<diagnostic> problems);
    const std::vector<diagnostic>& problems() const { return problems_; }

private:
    std::vector<diagnostic> problems_;
};

// The numerical solver could not continue (step size underflow, repeated Newton failures, ...).
class solver_error: public error {
public:
    using error::error;
};

class internal_error: public std::logic_error {
public:
    using std::logic_error::logic_error;
};

} // namespace cadyn
