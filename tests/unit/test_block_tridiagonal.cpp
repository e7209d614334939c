// The block-tridiagonal linear solver (src/solvers/block_tridiagonal.hpp) on its own: random Newton-like matrices
// M = I - gamma J of chains of voxels with budget rows, built and solved through SUNDIALS objects as the integrator
// uses them, against SUNDIALS' dense LU; the recoverable failure on a singular block; and the applicability test,
// which must say no wherever the matrix is not block tridiagonal in some chain order of the voxels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include <cadyn/error.hpp>

#include "run_helpers.hpp"
#include "sundials_handles.hpp"
#include "solvers/block_tridiagonal.hpp"

namespace {

using context = cadyn::testing::sun_context;
using matrix = cadyn::testing::sun_matrix;
using solver = cadyn::testing::sun_solver;
using vector = cadyn::testing::sun_vector;

vector make_vector(std::size_t n, SUNContext ctx) { return vector(N_VNew_Serial(static_cast<sunindextype>(n), ctx)); }

using cadyn::detail::block_tridiagonal_applies;
using cadyn::detail::column_pattern;
using cadyn::detail::make_block_tridiagonal_solver;

constexpr std::size_t no_voxel = static_cast<std::size_t>(-1);

// A random chain problem: voxels of 1..max_block states, the states of a voxel scattered through the state vector
// (as a spatial model lays them out field by field), the voxels numbered in a shuffled order (the solver must find
// the chain, not assume it), budget channels after the states.
struct chain_problem {
    std::vector<std::size_t> voxels;  // per state
    std::vector<std::size_t> place;   // per state: its voxel's place in the chain
    std::size_t n = 0;                // states
    std::size_t total = 0;            // states and budget channels
    column_pattern pattern;           // rows of each column, sorted
    std::vector<std::vector<double>> values;  // per column, in pattern order: M = I - gamma J
};

// With field_by_field (and min_block = max_block = K): voxels in chain order and the states laid out as a cable's
// are, K fields of `chain` values each (state l * chain + v is voxel v's l-th), which the solver moves by strides.
chain_problem random_chain(std::mt19937_64& rng, std::size_t chain, std::size_t max_block, std::size_t channels,
                           std::size_t min_block = 1, bool field_by_field = false) {
    std::uniform_int_distribution<std::size_t> block_size(min_block, max_block);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    chain_problem p;
    // Voxel ids: position i in the chain is voxel id[i].
    std::vector<std::size_t> id(chain);
    std::iota(id.begin(), id.end(), 0);
    std::vector<std::vector<std::size_t>> states_at(chain);  // per chain position
    if (field_by_field) {
        for (std::size_t l = 0; l < max_block; ++l) {
            for (std::size_t v = 0; v < chain; ++v) {
                p.voxels.push_back(v);
            }
        }
    }
    else {
        std::shuffle(id.begin(), id.end(), rng);
        for (std::size_t v = 0; v < chain; ++v) {
            const std::size_t k = block_size(rng);
            for (std::size_t i = 0; i < k; ++i) {
                p.voxels.push_back(id[v]);
            }
        }
        std::shuffle(p.voxels.begin(), p.voxels.end(), rng);
    }
    p.n = p.voxels.size();
    p.total = p.n + channels;
    std::vector<std::size_t> position(chain);
    for (std::size_t v = 0; v < chain; ++v) {
        position[id[v]] = v;
    }
    for (std::size_t i = 0; i < p.n; ++i) {
        states_at[position[p.voxels[i]]].push_back(i);
        p.place.push_back(position[p.voxels[i]]);
    }
    const double gamma = 0.1 + 2 * unit(rng);
    // J as kinetics make it: inside a voxel, dense random reactions of either sign, each state's own rate
    // negative, 1 to 1.5 times what its column gives the voxel's other states, plus a decay; between neighbours,
    // diffusion of some "species" (the s-th state of each voxel, for the s drawn as diffusing), which the
    // diagonals lose (diffusion conserves). Budget rows: random rates of some states. Every column of J is then
    // dominated by its diagonal, so M = I - gamma J is well conditioned, as a Newton matrix of a stable step is.
    // Then each voxel's rows are shuffled among themselves: the system is as well conditioned, still block
    // tridiagonal, and its diagonal entries are no longer the largest, so that partial pivoting swaps rows.
    std::vector<char> diffusing(max_block, 0);
    for (auto& d: diffusing) {
        d = unit(rng) < 0.6 ? 1 : 0;
    }
    diffusing[0] = 1;
    std::vector<std::vector<double>> j(p.total, std::vector<double>(p.total, 0.0));  // j[row][column]
    std::vector<std::vector<char>> present(p.total, std::vector<char>(p.total, 0));
    for (std::size_t v = 0; v < chain; ++v) {
        for (const auto c: states_at[v]) {
            double given = 0;
            for (const auto r: states_at[v]) {
                present[r][c] = 1;
                if (r != c) {
                    j[r][c] = 2 * unit(rng) - 1;
                    given += std::abs(j[r][c]);
                }
            }
            j[c][c] = -(1.0 + 0.5 * unit(rng)) * given - 0.1 * unit(rng);
        }
        for (std::size_t sp = 0; v + 1 < chain && sp < std::min(states_at[v].size(), states_at[v + 1].size()); ++sp) {
            if (diffusing[sp] != 0) {
                const auto r = states_at[v][sp];
                const auto c = states_at[v + 1][sp];
                const double d = 3 * unit(rng);
                j[r][c] = d;
                j[c][r] = d;
                j[r][r] -= d;
                j[c][c] -= d;
                present[r][c] = present[c][r] = 1;
            }
        }
    }
    for (std::size_t q = p.n; q < p.total; ++q) {
        for (std::size_t c = 0; c < p.n; ++c) {
            if (unit(rng) < 0.3) {
                j[q][c] = 2 * unit(rng) - 1;
                present[q][c] = 1;
            }
        }
        present[q][q] = 1;  // the channel's own column: its diagonal only (M_qq = 1)
    }
    std::vector<std::size_t> row_of(p.total);  // where row r of I - gamma J goes
    std::iota(row_of.begin(), row_of.end(), 0);
    for (const auto& states: states_at) {
        auto shuffled = states;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        for (std::size_t i = 0; i < states.size(); ++i) {
            row_of[states[i]] = shuffled[i];
        }
    }
    std::vector<std::vector<double>> m(p.total, std::vector<double>(p.total, 0.0));  // m[row][column]
    std::vector<std::vector<char>> stored(p.total, std::vector<char>(p.total, 0));
    for (std::size_t c = 0; c < p.total; ++c) {
        for (std::size_t r = 0; r < p.total; ++r) {
            if (present[r][c] != 0 || r == c) {
                m[row_of[r]][c] = (r == c ? 1.0 : 0.0) - gamma * j[r][c];
                stored[row_of[r]][c] = 1;
            }
        }
    }
    p.pattern.resize(p.total);
    p.values.resize(p.total);
    for (std::size_t c = 0; c < p.total; ++c) {
        for (std::size_t r = 0; r < p.total; ++r) {
            if (stored[r][c] != 0 || r == c) {
                p.pattern[c].push_back(r);
                p.values[c].push_back(m[r][c]);
            }
        }
    }
    return p;
}

// The CSC SUNSparseMatrix of a problem (as simulate.cpp's set_structure writes it), optionally without the
// entries keep() rejects.
template <class Keep>
matrix sparse_matrix(const chain_problem& p, SUNContext ctx, Keep keep) {
    std::size_t nnz = 0;
    for (const auto& c: p.pattern) {
        nnz += c.size();
    }
    const auto size = static_cast<sunindextype>(p.total);
    matrix m(SUNSparseMatrix(size, size, static_cast<sunindextype>(nnz), CSC_MAT, ctx));
    sunindextype* colptr = SUNSparseMatrix_IndexPointers(m.get());
    sunindextype* rows = SUNSparseMatrix_IndexValues(m.get());
    double* data = SUNSparseMatrix_Data(m.get());
    sunindextype k = 0;
    for (std::size_t c = 0; c < p.total; ++c) {
        colptr[c] = k;
        for (std::size_t e = 0; e < p.pattern[c].size(); ++e) {
            if (keep(p.pattern[c][e], c)) {
                rows[k] = static_cast<sunindextype>(p.pattern[c][e]);
                data[k] = p.values[c][e];
                ++k;
            }
        }
    }
    colptr[p.total] = k;
    return m;
}

matrix sparse_matrix(const chain_problem& p, SUNContext ctx) {
    return sparse_matrix(p, ctx, [](std::size_t, std::size_t) { return true; });
}

// x = M^{-1} b by SUNDIALS' own dense LU (partial pivoting over the whole matrix): the reference.
std::vector<double> dense_reference(const chain_problem& p, const std::vector<double>& b, SUNContext ctx) {
    const auto size = static_cast<sunindextype>(p.total);
    matrix a(SUNDenseMatrix(size, size, ctx));
    SUNMatZero(a.get());
    for (std::size_t c = 0; c < p.total; ++c) {
        double* column = SUNDenseMatrix_Column(a.get(), static_cast<sunindextype>(c));
        for (std::size_t e = 0; e < p.pattern[c].size(); ++e) {
            column[p.pattern[c][e]] = p.values[c][e];
        }
    }
    auto x = make_vector(p.total, ctx);
    auto rhs = make_vector(p.total, ctx);
    std::copy(b.begin(), b.end(), N_VGetArrayPointer(rhs.get()));
    solver dense(SUNLinSol_Dense(x.get(), a.get(), ctx));
    EXPECT_EQ(SUNLinSolInitialize(dense.get()), SUNLS_SUCCESS);
    EXPECT_EQ(SUNLinSolSetup(dense.get(), a.get()), SUNLS_SUCCESS);
    EXPECT_EQ(SUNLinSolSolve(dense.get(), a.get(), x.get(), rhs.get(), 0.0), SUNLS_SUCCESS);
    const double* xd = N_VGetArrayPointer(x.get());
    return {xd, xd + p.total};
}

// max |M x - b| / (||M|| max |x| + max |b|) (infinity norms): the normwise backward error of a solution, a small
// multiple of the unit round-off (1.1e-16) for a stable solver.
double relative_residual(const chain_problem& p, const std::vector<double>& x, const std::vector<double>& b) {
    std::vector<double> r(b.begin(), b.end());
    std::vector<double> row_sum(p.total, 0.0);
    for (std::size_t c = 0; c < p.total; ++c) {
        for (std::size_t e = 0; e < p.pattern[c].size(); ++e) {
            r[p.pattern[c][e]] -= p.values[c][e] * x[c];
            row_sum[p.pattern[c][e]] += std::abs(p.values[c][e]);
        }
    }
    const auto max_abs = [](const std::vector<double>& v) {
        double m = 0;
        for (const double e: v) {
            m = std::max(m, std::abs(e));
        }
        return m;
    };
    return max_abs(r) / (max_abs(row_sum) * max_abs(x) + max_abs(b));
}

double relative_difference(const std::vector<double>& x, const std::vector<double>& y) {
    double diff = 0;
    double size = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        diff = std::max(diff, std::abs(x[i] - y[i]));
        size = std::max(size, std::abs(y[i]));
    }
    return diff / size;
}

// Set up and solve M x = b with the block-tridiagonal solver; x empty when setup failed.
std::vector<double> block_solve(SUNLinearSolver s, SUNMatrix m, const std::vector<double>& b, SUNContext ctx) {
    auto x = make_vector(b.size(), ctx);
    auto rhs = make_vector(b.size(), ctx);
    std::copy(b.begin(), b.end(), N_VGetArrayPointer(rhs.get()));
    if (SUNLinSolSetup(s, m) != SUNLS_SUCCESS) {
        return {};
    }
    EXPECT_EQ(SUNLinSolSolve(s, m, x.get(), rhs.get(), 0.0), SUNLS_SUCCESS);
    const double* xd = N_VGetArrayPointer(x.get());
    return {xd, xd + b.size()};
}

// Solve random chains of the given lengths and block sizes against the dense LU; the worst normwise backward error
// and the worst difference from the dense LU's solution, relative to its largest value.
std::pair<double, double> solve_random_chains(std::mt19937_64& rng, const std::vector<std::size_t>& lengths,
                                              std::size_t min_block, std::size_t max_block,
                                              bool field_by_field = false) {
    std::uniform_int_distribution<std::size_t> budget(0, 3);
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    context ctx;
    double worst_residual = 0;
    double worst_difference = 0;
    for (const auto length: lengths) {
        const auto p = random_chain(rng, length, max_block, budget(rng), min_block, field_by_field);
        EXPECT_TRUE(block_tridiagonal_applies(p.voxels, p.pattern));
        solver s(make_block_tridiagonal_solver(ctx, p.voxels, p.pattern));
        EXPECT_EQ(SUNLinSolInitialize(s.get()), SUNLS_SUCCESS);
        auto m = sparse_matrix(p, ctx);
        std::vector<double> b(p.total);
        for (auto& v: b) {
            v = unit(rng);
        }
        const auto x = block_solve(s.get(), m.get(), b, ctx);
        if (x.size() != p.total) {
            ADD_FAILURE() << "setup failed on a chain of " << length << " voxels";
            continue;
        }
        const auto reference = dense_reference(p, b, ctx);
        worst_residual = std::max(worst_residual, relative_residual(p, x, b));
        worst_difference = std::max(worst_difference, relative_difference(x, reference));
    }
    return {worst_residual, worst_difference};
}

TEST(block_tridiagonal, random_chains_match_a_dense_lu) {
    // 200 chains of 1..50 voxels (each length 4 times: 1, 2 and 3 voxels test the meeting of the two eliminations)
    // with 1..6 states per voxel (padded to the largest) and 0..3 budget channels. A stable direct solve: normwise
    // backward error within a few dozen units of round-off (5e-14); the solution equal to the dense LU's to 1e-11
    // relative: both are exact up to round-off times the condition number, up to ~1e3 here in the max norm. With
    // this seed: 1.4e-15 and 3.5e-13; the worst of 13 seeds: 1.1e-14 and 3.3e-12 (the dense LU's own backward
    // error: 2e-17). Thousands of row swaps happen in the blocks' partial pivoting.
    std::mt19937_64 rng(20240611);
    std::vector<std::size_t> lengths;
    for (std::size_t trial = 0; trial < 200; ++trial) {
        lengths.push_back(1 + trial % 50);
    }
    const auto [residual, difference] = solve_random_chains(rng, lengths, 1, 6);
    std::printf("[ block_tridiagonal ] 200 random chains: backward error %.2g, vs dense LU %.2g\n", residual,
                difference);
    EXPECT_LT(residual, 5e-14);
    EXPECT_LT(difference, 1e-11);
}

TEST(block_tridiagonal, every_compiled_block_size_and_the_run_time_one) {
    // Voxels of one size K: the kernels compiled for K = 1 .. 8 and the run-time path (9, 10), each on chains of
    // 1, 2, 3, 8 and 41 voxels. Same bounds as above, for the same reasons.
    std::mt19937_64 rng(99);
    for (std::size_t k = 1; k <= 10; ++k) {
        const auto [residual, difference] = solve_random_chains(rng, {1, 2, 3, 8, 41}, k, k);
        EXPECT_LT(residual, 5e-14) << k << " states per voxel";
        EXPECT_LT(difference, 1e-11) << k << " states per voxel";
    }
}

TEST(block_tridiagonal, states_laid_out_field_by_field_as_on_a_cable) {
    // Every voxel with K states and state l * chain + v the l-th of voxel v (a cable's layout: the solver moves the
    // right-hand side and the solution by strides instead of through its index array): the compiled sizes and the
    // run-time one, chains of 1, 2, 3, 8 and 41 voxels, 0..3 budget channels. Same bounds as above.
    std::mt19937_64 rng(31);
    for (std::size_t k = 1; k <= 10; ++k) {
        const auto [residual, difference] = solve_random_chains(rng, {1, 2, 3, 8, 41}, k, k, true);
        EXPECT_LT(residual, 5e-14) << k << " states per voxel";
        EXPECT_LT(difference, 1e-11) << k << " states per voxel";
    }
}

TEST(block_tridiagonal, a_solve_in_place_gives_the_same_solution) {
    // SUNLinSolSolve may be given the right-hand side as the solution vector (x = b): the sweeps read every block of
    // b before they write any of x. Chains of 1, 2, 3 and 17 voxels with 1..5 states (padding) and 2 channels:
    // bit for bit the solution of a solve into a separate vector.
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    context ctx;
    for (const std::size_t length: {1, 2, 3, 17}) {
        const auto p = random_chain(rng, length, 5, 2);
        solver s(make_block_tridiagonal_solver(ctx, p.voxels, p.pattern));
        ASSERT_EQ(SUNLinSolInitialize(s.get()), SUNLS_SUCCESS);
        auto m = sparse_matrix(p, ctx);
        std::vector<double> b(p.total);
        for (auto& v: b) {
            v = unit(rng);
        }
        const auto separate = block_solve(s.get(), m.get(), b, ctx);
        ASSERT_EQ(separate.size(), p.total);
        auto v = make_vector(p.total, ctx);
        std::copy(b.begin(), b.end(), N_VGetArrayPointer(v.get()));
        ASSERT_EQ(SUNLinSolSolve(s.get(), m.get(), v.get(), v.get(), 0.0), SUNLS_SUCCESS);
        const double* in_place = N_VGetArrayPointer(v.get());
        for (std::size_t i = 0; i < p.total; ++i) {
            EXPECT_EQ(in_place[i], separate[i]) << length << " voxels, unknown " << i;
        }
    }
}

TEST(block_tridiagonal, setup_reads_the_structure_it_is_given_each_time) {
    // CVODE hands setup() a matrix whose structure the Jacobian routine rewrites every time; a later matrix may
    // store fewer entries (here: every coupling between voxels dropped, then all of them back), or the same ones
    // with other values. Each solve must be that matrix's, to round-off (1e-11 relative to the dense LU, as above).
    std::mt19937_64 rng(7);
    context ctx;
    const auto p = random_chain(rng, 30, 5, 3);
    solver s(make_block_tridiagonal_solver(ctx, p.voxels, p.pattern));
    ASSERT_EQ(SUNLinSolInitialize(s.get()), SUNLS_SUCCESS);
    std::vector<double> b(p.total, 1.0);
    auto local = p;  // the same matrix without the couplings between voxels
    for (std::size_t c = 0; c < p.n; ++c) {
        for (std::size_t e = 0; e < local.pattern[c].size(); ++e) {
            const auto r = local.pattern[c][e];
            if (r < p.n && p.voxels[r] != p.voxels[c]) {
                local.values[c][e] = 0.0;
            }
        }
    }
    auto sparse = sparse_matrix(p, ctx, [&](std::size_t r, std::size_t c) {
        return r >= p.n || c >= p.n || p.voxels[r] == p.voxels[c];
    });
    auto full = sparse_matrix(p, ctx);
    const auto x_full = block_solve(s.get(), full.get(), b, ctx);
    const auto x_sparse = block_solve(s.get(), sparse.get(), b, ctx);
    const auto x_again = block_solve(s.get(), full.get(), b, ctx);
    ASSERT_EQ(x_sparse.size(), p.total);
    EXPECT_LT(relative_difference(x_full, dense_reference(p, b, ctx)), 1e-11);
    EXPECT_LT(relative_difference(x_sparse, dense_reference(local, b, ctx)), 1e-11);
    EXPECT_EQ(x_again, x_full);
    // The same structure with other values (setup reuses what it mapped): that matrix's solution.
    auto other = p;
    for (auto& column: other.values) {
        for (auto& v: column) {
            v *= 1.5 + 0.25 * std::sin(v);
        }
    }
    auto changed = sparse_matrix(other, ctx);
    const auto x_other = block_solve(s.get(), changed.get(), b, ctx);
    ASSERT_EQ(x_other.size(), p.total);
    EXPECT_LT(relative_difference(x_other, dense_reference(other, b, ctx)), 1e-11);
}

TEST(block_tridiagonal, a_matrix_outside_the_chain_structure_is_refused) {
    // An entry coupling voxels two apart in the chain (in place of one inside a voxel, so that the matrix holds
    // as many entries as the pattern): refused with SUNLS_ILL_INPUT (negative: CVODE stops) when it is not zero,
    // harmless when it is; and a matrix with more entries than the pattern is refused.
    std::mt19937_64 rng(13);
    context ctx;
    const auto p = random_chain(rng, 6, 3, 1, 2);
    solver s(make_block_tridiagonal_solver(ctx, p.voxels, p.pattern));
    ASSERT_EQ(SUNLinSolInitialize(s.get()), SUNLS_SUCCESS);
    std::size_t column = 0;
    while (p.place[column] != 0) {
        ++column;
    }
    std::size_t far = 0;
    while (p.place[far] != 2) {
        ++far;
    }
    auto moved = p;
    auto& rows = moved.pattern[column];
    const auto inside = static_cast<std::size_t>(
        std::find_if(rows.begin(), rows.end(), [&](std::size_t r) { return r != column && r < p.n; }) - rows.begin());
    ASSERT_LT(inside, rows.size());
    rows.erase(rows.begin() + static_cast<long>(inside));
    moved.values[column].erase(moved.values[column].begin() + static_cast<long>(inside));
    const auto at = static_cast<long>(std::lower_bound(rows.begin(), rows.end(), far) - rows.begin());
    rows.insert(rows.begin() + at, far);
    moved.values[column].insert(moved.values[column].begin() + at, 0.5);
    auto coupled = sparse_matrix(moved, ctx);
    EXPECT_EQ(SUNLinSolSetup(s.get(), coupled.get()), SUNLS_ILL_INPUT);
    moved.values[column][static_cast<std::size_t>(at)] = 0.0;
    auto harmless = sparse_matrix(moved, ctx);
    std::vector<double> b(p.total, 1.0);
    const auto x = block_solve(s.get(), harmless.get(), b, ctx);
    ASSERT_EQ(x.size(), p.total);
    EXPECT_LT(relative_difference(x, dense_reference(moved, b, ctx)), 1e-11);
    auto larger = p;
    larger.pattern[column].push_back(far);  // order does not matter for the count
    larger.values[column].push_back(0.0);
    auto too_many = sparse_matrix(larger, ctx);
    EXPECT_EQ(SUNLinSolSetup(s.get(), too_many.get()), SUNLS_ILL_INPUT);
}

TEST(block_tridiagonal, a_singular_block_is_a_recoverable_failure) {
    // A voxel whose rows are all zero makes M singular; a NaN entry and a zero budget diagonal make it unusable.
    // Each must fail setup with SUNLS_LUFACT_FAIL (positive: CVODE retries with a smaller step), and the last
    // flag must name a column (1-based) of the failed pivot.
    std::mt19937_64 rng(11);
    context ctx;
    const auto p = random_chain(rng, 12, 4, 2);
    solver s(make_block_tridiagonal_solver(ctx, p.voxels, p.pattern));
    ASSERT_EQ(SUNLinSolInitialize(s.get()), SUNLS_SUCCESS);
    const std::size_t dead = p.voxels[0];
    {
        auto singular = p;
        for (std::size_t c = 0; c < p.total; ++c) {
            for (std::size_t e = 0; e < singular.pattern[c].size(); ++e) {
                const auto r = singular.pattern[c][e];
                if (r < p.n && p.voxels[r] == dead) {
                    singular.values[c][e] = 0.0;
                }
            }
        }
        auto m = sparse_matrix(singular, ctx);
        EXPECT_EQ(SUNLinSolSetup(s.get(), m.get()), SUNLS_LUFACT_FAIL);
        EXPECT_GT(SUNLinSolLastFlag(s.get()), 0);
        EXPECT_LE(SUNLinSolLastFlag(s.get()), static_cast<sunindextype>(p.n));
    }
    {
        auto poisoned = p;
        poisoned.values[p.n / 2][0] = std::nan("");
        auto m = sparse_matrix(poisoned, ctx);
        EXPECT_EQ(SUNLinSolSetup(s.get(), m.get()), SUNLS_LUFACT_FAIL);
    }
    {
        auto no_channel = p;
        no_channel.values[p.total - 1][0] = 0.0;  // the last channel's column holds only its diagonal
        auto m = sparse_matrix(no_channel, ctx);
        EXPECT_EQ(SUNLinSolSetup(s.get(), m.get()), SUNLS_LUFACT_FAIL);
        EXPECT_EQ(SUNLinSolLastFlag(s.get()), static_cast<sunindextype>(p.total));
    }
    // And the solver recovers: the good matrix again solves.
    auto good = sparse_matrix(p, ctx);
    std::vector<double> b(p.total, 1.0);
    const auto x = block_solve(s.get(), good.get(), b, ctx);
    ASSERT_EQ(x.size(), p.total);
    EXPECT_LT(relative_difference(x, dense_reference(p, b, ctx)), 1e-11);
}

// The pattern of one state per voxel on an nx x ny grid with 5-point coupling (voxel = i + nx j), and budget
// columns after it.
column_pattern grid_pattern(std::size_t nx, std::size_t ny) {
    column_pattern pattern(nx * ny);
    for (std::size_t j = 0; j < ny; ++j) {
        for (std::size_t i = 0; i < nx; ++i) {
            auto& rows = pattern[i + nx * j];
            if (j > 0) {
                rows.push_back(i + nx * (j - 1));
            }
            if (i > 0) {
                rows.push_back(i - 1 + nx * j);
            }
            rows.push_back(i + nx * j);
            if (i + 1 < nx) {
                rows.push_back(i + 1 + nx * j);
            }
            if (j + 1 < ny) {
                rows.push_back(i + nx * (j + 1));
            }
        }
    }
    return pattern;
}

TEST(block_tridiagonal, applies_only_to_chains_of_voxels) {
    // A 2-D grid has voxels with four neighbours: no. A 1 x 6 grid is a chain: yes (found, not assumed).
    {
        std::vector<std::size_t> voxels(16);
        std::iota(voxels.begin(), voxels.end(), 0);
        std::string why;
        EXPECT_FALSE(block_tridiagonal_applies(voxels, grid_pattern(4, 4), &why));
        EXPECT_NE(why.find("form no chain"), std::string::npos) << why;
        EXPECT_THROW(make_block_tridiagonal_solver(context(), voxels, grid_pattern(4, 4)),
                     cadyn::error);
        std::vector<std::size_t> six(6);
        std::iota(six.begin(), six.end(), 0);
        EXPECT_TRUE(block_tridiagonal_applies(six, grid_pattern(1, 6)));
    }
    // A state of no voxel: no, and the reason says so.
    {
        std::mt19937_64 rng(3);
        auto p = random_chain(rng, 10, 3, 1);
        EXPECT_TRUE(block_tridiagonal_applies(p.voxels, p.pattern));
        p.voxels[p.n / 2] = no_voxel;
        std::string why;
        EXPECT_FALSE(block_tridiagonal_applies(p.voxels, p.pattern, &why));
        EXPECT_NE(why.find("no voxel"), std::string::npos) << why;
    }
    // A ring of voxels (each with two neighbours, but no end): no.
    {
        std::vector<std::size_t> voxels = {0, 1, 2, 3, 4};
        column_pattern ring(5);
        for (std::size_t v = 0; v < 5; ++v) {
            ring[v] = {(v + 4) % 5, v, (v + 1) % 5};
            std::sort(ring[v].begin(), ring[v].end());
        }
        std::string why;
        EXPECT_FALSE(block_tridiagonal_applies(voxels, ring, &why));
        EXPECT_NE(why.find("ring"), std::string::npos) << why;
    }
    // A budget channel that something depends on (an entry off the diagonal of its column): no.
    {
        std::mt19937_64 rng(5);
        auto p = random_chain(rng, 8, 3, 2);
        p.pattern[p.n].insert(p.pattern[p.n].begin(), 0);
        std::string why;
        EXPECT_FALSE(block_tridiagonal_applies(p.voxels, p.pattern, &why));
        EXPECT_NE(why.find("budget channel"), std::string::npos) << why;
    }
}

TEST(block_tridiagonal, applies_to_compiled_cables_and_shells_only) {
    // Compiled models, with their own Jacobian pattern: a cable and a shells grid with a mobile buffer (several
    // states per voxel) are chains; an axisymmetric grid and a point model are not, and the reason says why.
    const std::string body = R"(
[[compartments]]
name = "cyt"
diffusion = { ca = "220 um^2/s" }
concentrations = { ca = "0.1 uM" }

[[buffers]]
name = "b"
compartment = "cyt"
total = "50 uM"
kd = "0.2 uM"
kon = "0.4 uM^-1 ms^-1"
diffusion = "50 um^2/s"
)";
    const auto check = [&](const std::string& text, bool expected, const std::string& reason) {
        auto sys = cadyn::testing::compile_text(text);
        std::string why;
        EXPECT_EQ(block_tridiagonal_applies(sys, sys.jacobian_pattern(false), &why), expected) << text;
        EXPECT_NE(why.find(reason), std::string::npos) << why;
    };
    check("[geometry]\ntype = \"cable\"\nlength = \"20 um\"\ndiameter = \"1 um\"\nvoxels = 20\n" + body, true, "");
    check("[geometry]\ntype = \"shells\"\ninner_radius = \"1 um\"\nouter_radius = \"5 um\"\nvoxels = 10\n" + body,
          true, "");
    check("[geometry]\ntype = \"axisymmetric\"\nradius = \"2 um\"\ndepth = \"2 um\"\nvoxels = [4, 4]\n" + body,
          false, "form no chain");
    check(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }
)",
          false, "point model");
}

} // namespace
