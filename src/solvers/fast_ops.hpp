// Compiled replacements for SUNDIALS' serial vector and matrix operations.
//
// Debian 12's SUNDIALS 6.4.1 (libsundials-dev 6.4.1+dfsg1-3) is built without optimisation: its
// nvector_serial and sunmatrix loops run at -O0 (every loop index kept in memory; about 20 instructions per
// element for a linear sum). SUNDIALS calls vector and matrix operations through function pointers in each
// object's ops table, which the N_Vector and SUNMatrix APIs let an application fill with its own functions.
// These functions do the same arithmetic as nvector_serial.c, sunmatrix_{dense,sparse}.c and the dense LU (same special
// cases, so elementwise results are identical to the bit); only the reductions (dot products, norms) add in
// four partial sums instead of one, which changes their last bits. Clones inherit the table, so every vector
// CVODE or KINSOL makes from ours uses them too. docs/performance.md has what they changed.
#pragma once

#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nvector.h>

namespace cadyn::detail {

// Replace the operations of a serial N_Vector (N_VNew_Serial) with compiled ones. On vectors of 256 values and
// more, an in-place sum x += y (CVODE's predictor) may be deferred to the next vector operation of the same thread
// (fast_ops.cpp says why and how); every operation, the data pointer included, does it first.
void use_fast_vector_ops(N_Vector v);

// Do the calling thread's deferred sums now. Called when CVode() or KINSol() returns, so that nothing is left
// pending between calls and the next call may come from another thread.
void finish_vector_ops() noexcept;

// Replace zero, copy, scale-add-identity and matvec of a dense or CSC sparse SUNMatrix with compiled ones. The
// sparse versions handle a matrix whose structure holds every diagonal entry and, for copy, the same structure
// as the destination; anything else goes to SUNDIALS' own function.
void use_fast_matrix_ops(SUNMatrix m);

// A dense direct linear solver for an n x n SUNDenseMatrix [A 0; B D] whose leading x leading block A is
// general and whose trailing block D is diagonal (the rows of quantities nothing in A depends on: integrated
// budget channels). Factorises A with partial pivoting (SUNDIALS' denseGETRF does the same over the whole
// matrix) and finds the trailing unknowns by substitution. leading = n is a plain dense LU.
SUNLinearSolver make_dense_solver(SUNContext context, sunindextype n, sunindextype leading);

} // namespace cadyn::detail
