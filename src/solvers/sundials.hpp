#pragma once
// RAII owners for SUNDIALS handles and the one place that turns SUNDIALS return codes into exceptions.
// Target: SUNDIALS 6.4 (Debian 12).

#include <exception>
#include <memory>
#include <string>

#include <cvode/cvode.h>
#include <kinsol/kinsol.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_klu.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include <cadyn/error.hpp>

#include "fast_ops.hpp"

namespace cadyn::detail {

class sun_context {
public:
    sun_context() {
        if (SUNContext_Create(nullptr, &ctx_) != 0) {
            throw internal_error("SUNContext_Create failed");
        }
    }
    ~sun_context() { SUNContext_Free(&ctx_); }
    sun_context(const sun_context&) = delete;
    sun_context& operator=(const sun_context&) = delete;
    operator SUNContext() const { return ctx_; }

private:
    SUNContext ctx_ = nullptr;
};

struct nvector_deleter {
    void operator()(_generic_N_Vector* v) const { N_VDestroy(v); }
};
using nvector = std::unique_ptr<_generic_N_Vector, nvector_deleter>;

struct matrix_deleter {
    void operator()(_generic_SUNMatrix* m) const { SUNMatDestroy(m); }
};
using sun_matrix = std::unique_ptr<_generic_SUNMatrix, matrix_deleter>;

struct linsol_deleter {
    void operator()(_generic_SUNLinearSolver* s) const { SUNLinSolFree(s); }
};
using sun_linear_solver = std::unique_ptr<_generic_SUNLinearSolver, linsol_deleter>;

struct cvode_deleter {
    void operator()(void* mem) const { CVodeFree(&mem); }
};
using cvode_memory = std::unique_ptr<void, cvode_deleter>;

struct kinsol_deleter {
    void operator()(void* mem) const { KINFree(&mem); }
};
using kinsol_memory = std::unique_ptr<void, kinsol_deleter>;

inline nvector make_vector(sunindextype n, SUNContext ctx) {
    nvector v(N_VNew_Serial(n, ctx));
    if (!v) {
        throw internal_error("N_VNew_Serial failed");
    }
    use_fast_vector_ops(v.get());
    return v;
}

// Throw solver_error naming the call and CVODE's flag when flag < 0.
inline void check_cvode(int flag, const char* call) {
    if (flag < 0) {
        char* name = CVodeGetReturnFlagName(flag);
        std::string text = name != nullptr ? name : "unknown";
        free(name);
        throw solver_error(std::string(call) + " failed: " + text);
    }
}

inline void check_kinsol(int flag, const char* call) {
    if (flag < 0) {
        char* name = KINGetReturnFlagName(flag);
        std::string text = name != nullptr ? name : "unknown";
        free(name);
        throw solver_error(std::string(call) + " failed: " + text);
    }
}

// Exceptions must not unwind through SUNDIALS' C frames: callbacks catch, stash the exception here and return
// a negative (unrecoverable) flag; the caller rethrows once the SUNDIALS call has returned.
struct callback_guard {
    std::exception_ptr pending;
    void rethrow() {
        if (pending) {
            auto e = pending;
            pending = nullptr;
            std::rethrow_exception(e);
        }
    }
};

} // namespace cadyn::detail
