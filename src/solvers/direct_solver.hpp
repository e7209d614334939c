// A SUNDIALS direct linear solver whose content is an object of ours (fast_ops.cpp's dense solver,
// block_tridiagonal.cpp's chain solver): the SUNLinearSolver API's type, id, initialize, last-flag and free
// operations, which are the same for every such solver; each solver brings its setup, solve and space.
#pragma once

#include <memory>

#include <sundials/sundials_linearsolver.h>

#include <cadyn/error.hpp>

namespace cadyn::detail {

// The content of a solver made by make_direct_solver<Content>.
template <class Content>
Content& solver_content(SUNLinearSolver s) {
    return *static_cast<Content*>(s->content);
}

// A SUNLINEARSOLVER_DIRECT solver (SUNDIALS' custom ID) owning `content`, which has a `sunindextype last_flag`
// (0 after initialize; what lastflag reports). The SUNLinearSolver's free deletes the content.
template <class Content>
SUNLinearSolver make_direct_solver(SUNContext context, std::unique_ptr<Content> content,
                                   int (*setup)(SUNLinearSolver, SUNMatrix),
                                   int (*solve)(SUNLinearSolver, SUNMatrix, N_Vector, N_Vector, sunrealtype),
                                   int (*space)(SUNLinearSolver, long*, long*)) {
    SUNLinearSolver s = SUNLinSolNewEmpty(context);
    if (s == nullptr) {
        throw internal_error("SUNLinSolNewEmpty failed");
    }
    s->content = content.release();
    s->ops->gettype = [](SUNLinearSolver) { return SUNLINEARSOLVER_DIRECT; };
    s->ops->getid = [](SUNLinearSolver) { return SUNLINEARSOLVER_CUSTOM; };
    s->ops->initialize = [](SUNLinearSolver self) {
        solver_content<Content>(self).last_flag = 0;
        return int{SUNLS_SUCCESS};
    };
    s->ops->lastflag = [](SUNLinearSolver self) -> sunindextype { return solver_content<Content>(self).last_flag; };
    s->ops->setup = setup;
    s->ops->solve = solve;
    s->ops->space = space;
    s->ops->free = [](SUNLinearSolver self) {
        if (self != nullptr) {
            delete static_cast<Content*>(self->content);
            self->content = nullptr;
            SUNLinSolFreeEmpty(self);
        }
        return int{SUNLS_SUCCESS};
    };
    return s;
}

} // namespace cadyn::detail
