// A direct linear solver for the Newton matrix of a 1-D chain of voxels (a cable, spherical shells).
//
// On a chain every state couples only to states of its own voxel (reactions, membrane mechanisms) and of the two
// neighbouring voxels (diffusion through a face). Grouping the states by voxel and taking the voxels in chain
// order makes M = I - gamma J block tridiagonal: diagonal blocks D_v (a voxel's own states), sub- and
// super-diagonal blocks L_v = M[v, v-1] and U_v = M[v, v+1]. Block Gaussian elimination along the chain (the
// block Thomas algorithm; NEURON's Hines method is the scalar case on a tree) factorises it in O(voxels k^3) with
// no fill-in outside the blocks, and solves in O(voxels k^2), where k is the number of states of a voxel (a few):
// no ordering, no symbolic analysis, no indirection beyond one gather and one scatter per solve.
//
// The integrated budget channels (unknowns n.. of the integrator's vector, after the n states) fit around it:
// nothing depends on them, so their columns hold only the diagonal, while their rows may couple to any state.
// The states are solved first; each channel then follows by substitution, x_q = (b_q - sum_j M_qj x_j) / M_qq.
// Like a full LU the solve is exact up to round-off, so budgets still close to round-off.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>

namespace cadyn {
class system;
}

namespace cadyn::detail {

// The structure of a matrix: for each column, the rows of its entries (jacobian_colouring::matrix).
using column_pattern = std::vector<std::vector<std::size_t>>;

// Whether the matrix with this pattern is block tridiagonal in some chain order of the voxels. state_voxels[i]
// is the voxel of state i (system::state_voxels()); the states are the first state_voxels.size() unknowns, any
// further column of the pattern is a budget channel's. It applies when every state belongs to a voxel, every
// voxel is coupled (by an entry between their states, either way) to at most two others, and those couplings
// form no ring: then the voxels line up in one or more chains (a voxel coupled to none is a chain of its own).
// Budget rows may hold entries in any column; budget columns only their diagonal. When it does not apply and why
// is non-null, *why says what breaks it ("voxel 7 is coupled to voxels 6, 8 and 17").
bool block_tridiagonal_applies(const std::vector<std::size_t>& state_voxels, const column_pattern& pattern,
                               std::string* why = nullptr);

// The same for a compiled model: it also needs a spatial model (sys.mesh() non-null), and names the first state
// of no voxel when there is one.
bool block_tridiagonal_applies(const system& sys, const column_pattern& pattern, std::string* why = nullptr);

// The solver's block size for these states: the most states a voxel holds (state_voxels as above; states of no
// voxel are not counted). Its kernels are compiled, fully unrolled, for blocks of up to
// block_tridiagonal_compiled_size states; larger blocks run the same arithmetic in loops over sizes known only
// at run time, which cost 2.5 times as much (blocks of 4 run that way: 70 us a solve of a matrix shaped like the
// 1000-voxel wave's, against 28 us compiled and 55 us for KLU), so the automatic choice takes the solver only up
// to there.
inline constexpr std::size_t block_tridiagonal_compiled_size = 8;
std::size_t block_tridiagonal_block_size(const std::vector<std::size_t>& state_voxels);

// A SUNLinearSolver (direct, SUNDIALS' custom ID) for the CSC SUNSparseMatrix of size pattern.size() that
// simulate.cpp's set_structure() gives this pattern. setup() gathers the blocks from the matrix it is given (its
// structure, read through the index pointers, is compared with the last one and mapped again where it differs)
// and factorises them; solve() substitutes along the chain, then finds the budget channels. All storage is sized
// here: neither setup nor solve allocates. setup() returns SUNLS_LUFACT_FAIL (recoverable: CVODE retries with a
// smaller step) on a zero or non-finite pivot, SUNLS_ILL_INPUT for a matrix that is not sparse CSC of the right
// size, holds more entries (or budget-row entries) than the pattern, or a nonzero outside its chain structure.
// Throws cadyn::error with the reason when block_tridiagonal_applies() says no.
SUNLinearSolver make_block_tridiagonal_solver(SUNContext context, const std::vector<std::size_t>& state_voxels,
                                              const column_pattern& pattern);
SUNLinearSolver make_block_tridiagonal_solver(SUNContext context, const system& sys, const column_pattern& pattern);

} // namespace cadyn::detail
