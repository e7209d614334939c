// Owners of SUNDIALS objects for tests that drive solvers directly (src/solvers/sundials.hpp has the library's
// own; it also pulls in KLU's headers, which are not on the tests' include path).
#pragma once

#include <memory>

#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nvector.h>

namespace cadyn::testing {

class sun_context {
public:
    sun_context() { SUNContext_Create(nullptr, &ctx_); }
    ~sun_context() { SUNContext_Free(&ctx_); }
    sun_context(const sun_context&) = delete;
    sun_context& operator=(const sun_context&) = delete;
    operator SUNContext() const { return ctx_; }

private:
    SUNContext ctx_ = nullptr;
};

struct matrix_deleter {
    void operator()(_generic_SUNMatrix* m) const { SUNMatDestroy(m); }
};
using sun_matrix = std::unique_ptr<_generic_SUNMatrix, matrix_deleter>;

struct solver_deleter {
    void operator()(_generic_SUNLinearSolver* s) const { SUNLinSolFree(s); }
};
using sun_solver = std::unique_ptr<_generic_SUNLinearSolver, solver_deleter>;

struct vector_deleter {
    void operator()(_generic_N_Vector* v) const { N_VDestroy(v); }
};
using sun_vector = std::unique_ptr<_generic_N_Vector, vector_deleter>;

} // namespace cadyn::testing
