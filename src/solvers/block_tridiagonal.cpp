// Block-tridiagonal direct linear solver for chains of voxels (see block_tridiagonal.hpp for what and why).
//
// Notation: the chain's blocks b = 0 .. B-1 (one per voxel, in chain order). M's diagonal block is D_b, its
// sub-diagonal block L_b = M[b, b-1] and its super-diagonal block U_b = M[b, b+1]. Block Gaussian elimination
// along the chain (block Thomas), run from both ends at once towards the middle block m = B/2 (a "twisted"
// factorisation, as for tridiagonal systems "burn at both ends"):
//
//   above m:  D'_0 = D_0,  D'_b = D_b - L_b C_{b-1},  C_b = D'_b^{-1} U_b         (b = 0 .. m-1)
//   below m:  D'_{B-1} = D_{B-1},  D'_b = D_b - U_b F_{b+1},  F_b = D'_b^{-1} L_b   (b = B-1 .. m+1)
//   middle:   D'_m = D_m - L_m C_{m-1} - U_m F_{m+1}
//   inward:   z_b = D'_b^{-1} (r_b - L_b z_{b-1}) above m,  z_b = D'_b^{-1} (r_b - U_b z_{b+1}) below,
//             x_m = D'_m^{-1} (r_m - L_m z_{m-1} - U_m z_{m+1})
//   outward:  x_b = z_b - C_b x_{b+1} above m,  x_b = z_b - F_b x_{b-1} below
//
// each D'_b factorised by dense LU with partial pivoting; C_b and F_b replace U_b and L_b. A solve is one LU
// substitution and two small products per block, and each sweep is a chain of dependent steps, one per block:
// two half-length chains, done a step of each per loop iteration, let the processor overlap them (on a matrix
// shaped like the 1000-voxel wave's, solved over and over: 28 us a solve, against 42 us from one end and 55 us
// with KLU; in the wave's run itself 28 us against KLU's ~41 us). Pivoting across blocks is not needed: the
// Newton matrix I - gamma J of a chain is dominated by its diagonal blocks (the diffusive coupling to a neighbour
// is at most the diffusive part of the voxel's own diagonal), which is what makes the elimination stable.
// (Forming D'_b^{-1} L_b as well, so that the LU substitution leaves the chain of dependences, lost two to three
// digits of backward error on random chains: not done.)
//
// Every block is stored as K x K, K the largest number of states of a voxel: a voxel with k < K states is padded
// with K - k unknowns of its own (identity in D_b, zero in L_b and U_b, always 0 in the solve), which changes
// nothing for the others. With one size for all blocks the kernels are compiled for K = 1 .. 8, fully unrolled,
// with the block's vector in registers; other sizes run the same code with K at run time, 2.5x slower. Blocks are
// dense and row-major; the three blocks of a voxel are stored together, in the order the sweeps read them.
#include "block_tridiagonal.hpp"
#include "direct_solver.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <memory>
#include <type_traits>

#include <fmt/format.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include <cadyn/error.hpp>
#include <cadyn/system.hpp>

namespace cadyn::detail {
namespace {

constexpr std::size_t none = static_cast<std::size_t>(-1);

// The states grouped into blocks, one block per voxel that holds states, the blocks in chain order and the
// states of a block in increasing index.
struct chain_layout {
    std::size_t states = 0;            // n: the unknowns in the chain (the budget channels follow them)
    std::size_t total = 0;             // n + budget channels
    std::vector<std::size_t> block;    // per state: its block
    std::vector<std::size_t> local;    // per state: its place in its block
    std::vector<std::size_t> start;    // per block: its first position in block order; start.back() = n
    std::vector<std::size_t> members;  // the states in block order

    std::size_t blocks() const { return start.size() - 1; }
    std::size_t size(std::size_t b) const { return start[b + 1] - start[b]; }
};

bool fail(std::string* why, std::string text) {
    if (why != nullptr) {
        *why = std::move(text);
    }
    return false;
}

// Check that the pattern is block tridiagonal in some chain order of the voxels and, if so, lay the states out
// in that order (when layout is non-null). The order is found, not assumed: a graph whose nodes are the voxels
// holding states and whose edges are the pattern's entries between two voxels' states must have no node of
// degree above 2 and no cycle; it is then a set of paths, each walked from one end (the lowest-numbered end
// first), which is the voxel index order on cable and shell grids.
bool lay_out(const std::vector<std::size_t>& state_voxels, const column_pattern& pattern, chain_layout* layout,
             std::string* why) {
    const std::size_t n = state_voxels.size();
    const std::size_t total = pattern.size();
    if (total < n) {
        return fail(why, fmt::format("the matrix has {} columns for {} states", total, n));
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (state_voxels[i] == none) {
            return fail(why, fmt::format("state {} belongs to no voxel", i));
        }
    }
    // Compact voxel numbers: 0 .. V-1 over the voxels that hold states, in increasing voxel index.
    std::vector<std::size_t> voxel_ids(state_voxels);
    std::sort(voxel_ids.begin(), voxel_ids.end());
    voxel_ids.erase(std::unique(voxel_ids.begin(), voxel_ids.end()), voxel_ids.end());
    const std::size_t voxel_count = voxel_ids.size();
    std::vector<std::size_t> node(n);
    for (std::size_t i = 0; i < n; ++i) {
        node[i] = static_cast<std::size_t>(std::lower_bound(voxel_ids.begin(), voxel_ids.end(), state_voxels[i]) -
                                           voxel_ids.begin());
    }
    // Each voxel's (at most two) neighbours.
    std::vector<std::array<std::size_t, 2>> neighbours(voxel_count, {none, none});
    std::string problem;
    const auto link = [&](std::size_t a, std::size_t b) {
        auto& nb = neighbours[a];
        if (nb[0] == b || nb[1] == b) {
            return true;
        }
        if (nb[0] == none) {
            nb[0] = b;
            return true;
        }
        if (nb[1] == none) {
            nb[1] = b;
            return true;
        }
        std::array<std::size_t, 3> three = {voxel_ids[nb[0]], voxel_ids[nb[1]], voxel_ids[b]};
        std::sort(three.begin(), three.end());
        problem = fmt::format("voxel {} is coupled to voxels {}, {} and {} (a 2-D or 3-D grid, or a branched "
                              "geometry): the voxels form no chain",
                              voxel_ids[a], three[0], three[1], three[2]);
        return false;
    };
    for (std::size_t c = 0; c < total; ++c) {
        for (const auto r: pattern[c]) {
            if (r >= total) {
                return fail(why, fmt::format("column {} has an entry in row {}, outside the {} x {} matrix", c, r,
                                             total, total));
            }
            if (c >= n) {
                if (r != c) {
                    return fail(why, fmt::format("budget channel {} (column {}) has an entry in row {}: something "
                                                 "depends on it",
                                                 c - n, c, r));
                }
                continue;
            }
            if (r >= n || node[r] == node[c]) {
                continue;  // a budget row (any column), or inside a voxel
            }
            if (!link(node[r], node[c]) || !link(node[c], node[r])) {
                return fail(why, problem);
            }
        }
    }
    // Walk every path from an end. Voxels left unvisited lie on rings, which have no end.
    std::vector<std::size_t> order;
    order.reserve(voxel_count);
    std::vector<char> visited(voxel_count, 0);
    for (std::size_t v = 0; v < voxel_count; ++v) {
        if (visited[v] != 0 || neighbours[v][1] != none) {
            continue;  // seen, or not an end
        }
        std::size_t previous = none;
        for (std::size_t at = v; at != none;) {
            visited[at] = 1;
            order.push_back(at);
            const auto& nb = neighbours[at];
            const std::size_t next = nb[0] != previous ? nb[0] : nb[1];
            previous = at;
            at = next;
        }
    }
    if (order.size() < voxel_count) {
        const auto first = static_cast<std::size_t>(std::find(visited.begin(), visited.end(), 0) - visited.begin());
        return fail(why, fmt::format("voxel {} lies on a ring of coupled voxels: they form no chain",
                                     voxel_ids[first]));
    }
    if (layout == nullptr) {
        return true;
    }
    // Blocks in chain order; states placed by a counting sort, so each block's states keep increasing index.
    std::vector<std::size_t> block_of_node(voxel_count);
    for (std::size_t b = 0; b < voxel_count; ++b) {
        block_of_node[order[b]] = b;
    }
    auto& l = *layout;
    l.states = n;
    l.total = total;
    l.block.assign(n, 0);
    l.local.assign(n, 0);
    l.start.assign(voxel_count + 1, 0);
    l.members.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        l.block[i] = block_of_node[node[i]];
        ++l.start[l.block[i] + 1];
    }
    for (std::size_t b = 0; b < voxel_count; ++b) {
        l.start[b + 1] += l.start[b];
    }
    std::vector<std::size_t> fill(l.start.begin(), l.start.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t b = l.block[i];
        l.local[i] = fill[b] - l.start[b];
        l.members[fill[b]++] = i;
    }
    return true;
}

// ---- dense kernels on K x K row-major blocks ----
//
// Each takes the block size twice: Fixed, a compile-time K (1 .. 8), or 0 and k, the size at run time. The inner
// loops of the solve's kernels carry "#pragma GCC unroll 8": unrolled before GCC's loop vectoriser sees them, they
// stay scalar. Vectorised, each 2- to 4-term dot product stored two scalars to the stack and loaded them back as
// one vector, a failed store-to-load forwarding in every step of the sweeps' chains (54 us a solve instead of 28).

template <std::size_t Fixed>
constexpr std::size_t block_size(std::size_t k) {
    return Fixed != 0 ? Fixed : k;
}

// In-place LU with partial pivoting of the k x k matrix m (largest magnitude in the column, whole rows swapped:
// piv[i] is the row swapped with row i at step i): unit-lower multipliers below the diagonal, U above it and the
// reciprocals of U's diagonal on it (the substitutions multiply instead of dividing). Returns the column of the
// first zero or non-finite pivot, or k when every pivot is usable.
template <std::size_t Fixed>
std::size_t factor(double* m, std::size_t kr, std::size_t* piv) {
    const std::size_t k = block_size<Fixed>(kr);
    for (std::size_t i = 0; i < k; ++i) {
        std::size_t p = i;
        for (std::size_t j = i + 1; j < k; ++j) {
            p = std::fabs(m[j * k + i]) > std::fabs(m[p * k + i]) ? j : p;
        }
        piv[i] = p;
        if (p != i) {
            std::swap_ranges(m + i * k, m + i * k + k, m + p * k);
        }
        const double d = m[i * k + i];
        if (d == 0.0 || !std::isfinite(d)) {
            return i;
        }
        const double inverse = 1.0 / d;
        m[i * k + i] = inverse;
        for (std::size_t j = i + 1; j < k; ++j) {
            double* row = m + j * k;
            const double f = row[i] * inverse;
            row[i] = f;
            const double* pivot_row = m + i * k;
            for (std::size_t c = i + 1; c < k; ++c) {
                row[c] -= f * pivot_row[c];
            }
        }
    }
    return k;
}

// X = A^{-1} X for the factors of factor() and a k x k row-major X (C_b = D'_b^{-1} U_b).
template <std::size_t Fixed>
void solve_matrix(const double* m, std::size_t kr, const std::size_t* piv, double* x) {
    const std::size_t k = block_size<Fixed>(kr);
    for (std::size_t i = 0; i < k; ++i) {
        if (piv[i] != i) {
            std::swap_ranges(x + i * k, x + i * k + k, x + piv[i] * k);
        }
    }
    for (std::size_t i = 1; i < k; ++i) {
        double* xi = x + i * k;
        for (std::size_t j = 0; j < i; ++j) {
            const double f = m[i * k + j];
            const double* xj = x + j * k;
            for (std::size_t c = 0; c < k; ++c) {
                xi[c] -= f * xj[c];
            }
        }
    }
    for (std::size_t i = k; i-- > 0;) {
        double* xi = x + i * k;
        for (std::size_t j = i + 1; j < k; ++j) {
            const double f = m[i * k + j];
            const double* xj = x + j * k;
            for (std::size_t c = 0; c < k; ++c) {
                xi[c] -= f * xj[c];
            }
        }
        const double inverse = m[i * k + i];
        for (std::size_t c = 0; c < k; ++c) {
            xi[c] *= inverse;
        }
    }
}

// C -= A B for k x k row-major A, B and C (D'_b = D_b - L_b C_{b-1}).
template <std::size_t Fixed>
void subtract_product(const double* a, const double* b, double* c, std::size_t kr) {
    const std::size_t k = block_size<Fixed>(kr);
    for (std::size_t i = 0; i < k; ++i) {
        double* ci = c + i * k;
        for (std::size_t j = 0; j < k; ++j) {
            const double f = a[i * k + j];
            const double* bj = b + j * k;
            for (std::size_t col = 0; col < k; ++col) {
                ci[col] -= f * bj[col];
            }
        }
    }
}

// y -= A x for a k x k row-major A, in two partial sums per row (a shorter chain of dependent additions).
template <std::size_t Fixed>
void subtract_matvec(const double* a, const double* x, double* y, std::size_t kr) {
    const std::size_t k = block_size<Fixed>(kr);
    for (std::size_t i = 0; i < k; ++i) {
        const double* ai = a + i * k;
        double s0 = 0;
        double s1 = 0;
        std::size_t j = 0;
#pragma GCC unroll 8
        for (; j + 1 < k; j += 2) {
            s0 += ai[j] * x[j];
            s1 += ai[j + 1] * x[j + 1];
        }
        if (j < k) {
            s0 += ai[j] * x[j];
        }
        y[i] -= s0 + s1;
    }
}

// x = A^{-1} x for the factors of factor(): perm[i] is the row of x that the row swaps bring to row i (P x is
// gathered at once rather than swapped step by step), then L y = P x (unit diagonal) and U x = y. A compile-time
// size keeps the vector in registers; at run time it goes through scratch (k values).
template <std::size_t Fixed>
void solve_vector(const double* m, std::size_t kr, const std::size_t* perm, double* x, double* scratch) {
    const std::size_t k = block_size<Fixed>(kr);
    double registers[Fixed != 0 ? Fixed : 1];
    double* t = Fixed != 0 ? registers : scratch;
    for (std::size_t i = 0; i < k; ++i) {
        t[i] = x[perm[i]];
    }
    for (std::size_t i = 1; i < k; ++i) {
        const double* row = m + i * k;
        double s = t[i];
#pragma GCC unroll 8
        for (std::size_t j = 0; j < i; ++j) {
            s -= row[j] * t[j];
        }
        t[i] = s;
    }
    for (std::size_t i = k; i-- > 0;) {
        const double* row = m + i * k;
        double s = t[i];
#pragma GCC unroll 8
        for (std::size_t j = i + 1; j < k; ++j) {
            s -= row[j] * t[j];
        }
        t[i] = s * row[i];
    }
    for (std::size_t i = 0; i < k; ++i) {
        x[i] = t[i];
    }
}

// ---- the SUNLinearSolver ----

struct block_content {
    std::size_t states = 0;  // n
    std::size_t total = 0;   // n + budget channels
    std::size_t blocks = 0;  // B
    std::size_t middle = 0;  // m = B / 2, where the eliminations from both ends meet
    std::size_t k = 0;       // K: every block is K x K
    std::vector<std::size_t> state_block;     // per state: its block
    std::vector<std::size_t> state_local;     // per state: its row in its block
    std::vector<std::size_t> state_position;  // per state: its position, block K + row
    std::vector<std::size_t> position_state;  // per position b K + i: the state there, or none (padding)
    std::vector<std::size_t> block_states;    // per block: its states (k_b <= K)
    // When every block has K states and block b's state l is strided[l] + b (each field laid out voxel after voxel,
    // in chain order: a cable's or shells' usual layout), the solve moves the right-hand side into block order and
    // the solution back by these strides instead of through state_position (no index array to read, and the
    // writes in order); empty otherwise.
    std::vector<std::size_t> strided;
    // Every value setup() gathers, in one array, so that each matrix entry has one slot to add into:
    //  - per block, 3 K^2 values from b 3 K^2: D_b (D'_b's LU once factorised), L_b (F_b below the middle once
    //    factorised), U_b (C_b above the middle);
    //  - from budget_at: the budget rows' entries over the states, compressed by row (row_start, row_column);
    //  - from diagonal_at: each budget channel's diagonal entry;
    //  - last: a slot for entries outside the chain structure (they must be 0; outside lists them).
    std::vector<double> slots;
    std::size_t budget_at = 0;
    std::size_t diagonal_at = 0;
    std::size_t trash_at = 0;
    std::vector<std::size_t> row_start;   // per channel, and one past the last: its entries from budget_at
    std::vector<std::size_t> row_column;  // per budget entry: its state
    // The structure of the last matrix set up (column pointers, row indices) and each entry's slot. CVODE hands
    // over the same structure every time (the Jacobian routine writes the pattern), so setup() compares it and
    // maps it again only when it differs. Sized for the pattern the solver was made for.
    std::vector<sunindextype> known_columns;
    std::vector<sunindextype> known_rows;
    sunindextype known_entries = -1;  // -1: none known yet
    std::vector<std::size_t> target;   // per entry: its slot
    std::vector<std::size_t> outside;  // entries outside the chain structure (capacity: every entry)
    std::size_t outside_count = 0;
    std::vector<std::size_t> row_fill;  // scratch of map_structure(): per channel
    std::vector<std::size_t> pivots;       // per position: factor()'s piv of its block
    std::vector<std::size_t> permutation;  // per position: solve_vector()'s perm of its block
    std::vector<double> work;              // the states' right-hand side by position (padding 0)
    std::vector<double> scratch;           // K values for the run-time-size kernels
    sunindextype last_flag = 0;

    std::size_t block_values() const { return 3 * k * k; }
    double* diagonal(std::size_t b) { return slots.data() + b * block_values(); }
    double* lower(std::size_t b) { return diagonal(b) + k * k; }
    double* upper(std::size_t b) { return diagonal(b) + 2 * k * k; }
    const double* diagonal(std::size_t b) const { return slots.data() + b * block_values(); }
    const double* lower(std::size_t b) const { return diagonal(b) + k * k; }
    const double* upper(std::size_t b) const { return diagonal(b) + 2 * k * k; }
    std::size_t budget_capacity() const { return row_column.size(); }
};

block_content& content_of(SUNLinearSolver s) { return solver_content<block_content>(s); }

int block_space(SUNLinearSolver s, long* real_words, long* integer_words) {
    const auto& c = content_of(s);
    *real_words = static_cast<long>(c.slots.size() + c.work.size() + c.scratch.size());
    *integer_words = static_cast<long>(
        c.strided.size() + c.state_block.size() + c.state_local.size() + c.state_position.size() +
        c.position_state.size() + c.block_states.size() + c.row_start.size() + c.row_column.size() +
        c.known_columns.size() + c.known_rows.size() + c.target.size() + c.outside.size() + c.row_fill.size() +
        c.pivots.size() + c.permutation.size());
    return SUNLS_SUCCESS;
}

// The block Thomas factorisation from both ends at once (see the top of this file): blocks 0 .. m-1 from the top
// (D'_b = D_b - L_b C_{b-1}, then C_b = D'_b^{-1} U_b in U_b's place), blocks B-1 .. m+1 from the bottom
// (D'_b = D_b - U_b F_{b+1}, then F_b = D'_b^{-1} L_b in L_b's place), the middle block m from both sides. The two
// eliminations are independent until they meet, and one loop does a step of each, so that the processor overlaps
// them. Returns the position of the first unusable pivot, or none.
template <std::size_t Fixed>
std::size_t factorise(block_content& c) {
    const std::size_t k = block_size<Fixed>(c.k);
    const std::size_t blocks = c.blocks;
    const std::size_t m = c.middle;
    // Factorise D'_b (in place) and record the gathered form of its row swaps; the position of a bad pivot or none.
    const auto factor_block = [&](std::size_t b) {
        std::size_t* piv = c.pivots.data() + b * k;
        const std::size_t bad = factor<Fixed>(c.diagonal(b), k, piv);
        if (bad < k) {
            return b * k + bad;
        }
        std::size_t* perm = c.permutation.data() + b * k;
        for (std::size_t i = 0; i < k; ++i) {
            perm[i] = i;
        }
        for (std::size_t i = 0; i < k; ++i) {
            std::swap(perm[i], perm[piv[i]]);
        }
        return none;
    };
    const auto from_top = [&](std::size_t b) {
        if (b > 0) {
            subtract_product<Fixed>(c.lower(b), c.upper(b - 1), c.diagonal(b), k);
        }
        const std::size_t bad = factor_block(b);
        if (bad == none) {
            solve_matrix<Fixed>(c.diagonal(b), k, c.pivots.data() + b * k, c.upper(b));
        }
        return bad;
    };
    const auto from_bottom = [&](std::size_t b) {
        if (b + 1 < blocks) {
            subtract_product<Fixed>(c.upper(b), c.lower(b + 1), c.diagonal(b), k);
        }
        const std::size_t bad = factor_block(b);
        if (bad == none) {
            solve_matrix<Fixed>(c.diagonal(b), k, c.pivots.data() + b * k, c.lower(b));
        }
        return bad;
    };
    const std::size_t top = m;                  // blocks 0 .. m-1
    const std::size_t bottom = blocks - 1 - m;  // blocks B-1 .. m+1; top - bottom is 0 or 1
    for (std::size_t i = 0; i < top; ++i) {
        const std::size_t bad = from_top(i);
        if (bad != none) {
            return bad;
        }
        if (i < bottom) {
            const std::size_t bad_bottom = from_bottom(blocks - 1 - i);
            if (bad_bottom != none) {
                return bad_bottom;
            }
        }
    }
    if (m > 0) {
        subtract_product<Fixed>(c.lower(m), c.upper(m - 1), c.diagonal(m), k);
    }
    if (m + 1 < blocks) {
        subtract_product<Fixed>(c.upper(m), c.lower(m + 1), c.diagonal(m), k);
    }
    return factor_block(m);
}

// The sweeps over w (the right-hand side by position, overwritten by the solution), from both ends at once:
// inward, z_b = D'_b^{-1} (r_b - L_b z_{b-1}) from the top and z_b = D'_b^{-1} (r_b - U_b z_{b+1}) from the
// bottom, the middle block from both; then outward, x_b = z_b - C_b x_{b+1} above it and x_b = z_b - F_b x_{b-1}
// below it.
template <std::size_t Fixed>
void sweep(const block_content& c, double* w, double* scratch) {
    const std::size_t k = block_size<Fixed>(c.k);
    const std::size_t blocks = c.blocks;
    const std::size_t m = c.middle;
    const std::size_t top = m;
    const std::size_t bottom = blocks - 1 - m;
    const std::size_t* perm = c.permutation.data();
    for (std::size_t i = 0; i < top; ++i) {
        double* z = w + i * k;
        if (i > 0) {
            subtract_matvec<Fixed>(c.lower(i), z - k, z, k);
        }
        solve_vector<Fixed>(c.diagonal(i), k, perm + i * k, z, scratch);
        if (i < bottom) {
            const std::size_t b = blocks - 1 - i;
            double* y = w + b * k;
            if (i > 0) {
                subtract_matvec<Fixed>(c.upper(b), y + k, y, k);
            }
            solve_vector<Fixed>(c.diagonal(b), k, perm + b * k, y, scratch);
        }
    }
    double* middle = w + m * k;
    if (m > 0) {
        subtract_matvec<Fixed>(c.lower(m), middle - k, middle, k);
    }
    if (m + 1 < blocks) {
        subtract_matvec<Fixed>(c.upper(m), middle + k, middle, k);
    }
    solve_vector<Fixed>(c.diagonal(m), k, perm + m * k, middle, scratch);
    for (std::size_t i = 1; i <= top; ++i) {
        const std::size_t b = m - i;
        subtract_matvec<Fixed>(c.upper(b), w + (b + 1) * k, w + b * k, k);
        if (i <= bottom) {
            const std::size_t d = m + i;
            subtract_matvec<Fixed>(c.lower(d), w + (d - 1) * k, w + d * k, k);
        }
    }
}

// f(std::integral_constant<std::size_t, K>) for the block size K: the kernels compiled for K = 1 .. 8, the
// run-time ones (K = 0) for any other size.
template <class F>
auto dispatch(std::size_t k, F f) {
    switch (k) {
    case 1: return f(std::integral_constant<std::size_t, 1>{});
    case 2: return f(std::integral_constant<std::size_t, 2>{});
    case 3: return f(std::integral_constant<std::size_t, 3>{});
    case 4: return f(std::integral_constant<std::size_t, 4>{});
    case 5: return f(std::integral_constant<std::size_t, 5>{});
    case 6: return f(std::integral_constant<std::size_t, 6>{});
    case 7: return f(std::integral_constant<std::size_t, 7>{});
    case 8: return f(std::integral_constant<std::size_t, 8>{});
    default: return f(std::integral_constant<std::size_t, 0>{});
    }
}

// Map the structure of the CSC matrix (column pointers, row indices) to slots: each entry's target, the budget
// rows' compressed layout, the entries outside the chain structure; then remember the structure. False when the
// structure does not fit: an index out of range, more entries (or budget entries) than the pattern the solver was
// made for.
bool map_structure(block_content& c, const sunindextype* colptr, const sunindextype* rowind) {
    const std::size_t n = c.states;
    const std::size_t total = c.total;
    const std::size_t k = c.k;
    const sunindextype entries = colptr[total];
    if (entries < 0 || static_cast<std::size_t>(entries) > c.target.size()) {
        return false;
    }
    std::fill(c.row_start.begin(), c.row_start.end(), 0);
    c.outside_count = 0;
    std::size_t budget_entries = 0;
    for (std::size_t col = 0; col < total; ++col) {
        if (colptr[col] < 0 || colptr[col] > colptr[col + 1]) {
            return false;
        }
        for (auto e = colptr[col]; e < colptr[col + 1]; ++e) {
            const auto at = static_cast<std::size_t>(e);
            if (rowind[e] < 0 || static_cast<std::size_t>(rowind[e]) >= total) {
                return false;
            }
            const auto r = static_cast<std::size_t>(rowind[e]);
            std::size_t slot = c.trash_at;
            if (col >= n) {  // a budget channel's column: its diagonal only
                slot = r == col ? c.diagonal_at + (r - n) : c.trash_at;
            }
            else if (r >= n) {  // a budget row: its slot once the rows' lengths are known
                if (++budget_entries > c.budget_capacity()) {
                    return false;
                }
                ++c.row_start[r - n + 1];
                slot = none;
            }
            else {
                const std::size_t br = c.state_block[r];
                const std::size_t bc = c.state_block[col];
                const std::size_t in_block = c.state_local[r] * k + c.state_local[col];
                if (br == bc) {
                    slot = static_cast<std::size_t>(c.diagonal(br) - c.slots.data()) + in_block;
                }
                else if (br == bc + 1) {
                    slot = static_cast<std::size_t>(c.lower(br) - c.slots.data()) + in_block;
                }
                else if (bc == br + 1) {
                    slot = static_cast<std::size_t>(c.upper(br) - c.slots.data()) + in_block;
                }
            }
            if (slot == c.trash_at) {
                c.outside[c.outside_count++] = at;
            }
            c.target[at] = slot;
        }
    }
    // The budget rows compressed: row q's entries from row_start[q], in increasing column.
    for (std::size_t q = 0; q + 1 < c.row_start.size(); ++q) {
        c.row_start[q + 1] += c.row_start[q];
    }
    std::copy(c.row_start.begin(), c.row_start.end() - 1, c.row_fill.begin());
    for (std::size_t col = 0; col < n; ++col) {
        for (auto e = colptr[col]; e < colptr[col + 1]; ++e) {
            const auto r = static_cast<std::size_t>(rowind[e]);
            if (r >= n) {
                const std::size_t place = c.row_fill[r - n]++;
                c.row_column[place] = col;
                c.target[static_cast<std::size_t>(e)] = c.budget_at + place;
            }
        }
    }
    std::copy(colptr, colptr + total + 1, c.known_columns.begin());
    std::copy(rowind, rowind + entries, c.known_rows.begin());
    c.known_entries = entries;
    return true;
}

// Gather the blocks of the CSC matrix a (read through its index pointers; its structure is mapped again whenever
// it differs from the last one) and factorise them along the chain.
int block_setup(SUNLinearSolver s, SUNMatrix a) {
    auto& c = content_of(s);
    const std::size_t n = c.states;
    const std::size_t total = c.total;
    const std::size_t k = c.k;
    const auto ill = [&] {
        c.known_entries = -1;
        c.last_flag = SUNLS_ILL_INPUT;
        return SUNLS_ILL_INPUT;
    };
    if (SUNMatGetID(a) != SUNMATRIX_SPARSE || SUNSparseMatrix_SparseType(a) != CSC_MAT ||
        SUNSparseMatrix_Rows(a) != static_cast<sunindextype>(total) ||
        SUNSparseMatrix_Columns(a) != static_cast<sunindextype>(total)) {
        return ill();
    }
    const sunindextype* colptr = SUNSparseMatrix_IndexPointers(a);
    const sunindextype* rowind = SUNSparseMatrix_IndexValues(a);
    const double* data = SUNSparseMatrix_Data(a);
    const bool known = c.known_entries == colptr[total] &&
                       std::equal(colptr, colptr + total + 1, c.known_columns.begin()) &&
                       std::equal(rowind, rowind + c.known_entries, c.known_rows.begin());
    if (!known && !map_structure(c, colptr, rowind)) {
        return ill();
    }
    std::fill(c.slots.begin(), c.slots.end(), 0.0);
    for (std::size_t b = 0; b < c.blocks; ++b) {  // the padding: identity in D_b
        double* d = c.diagonal(b);
        for (std::size_t i = c.block_states[b]; i < k; ++i) {
            d[i * k + i] = 1.0;
        }
    }
    double* slots = c.slots.data();
    const std::size_t* target = c.target.data();
    const auto entries = static_cast<std::size_t>(c.known_entries);
    for (std::size_t e = 0; e < entries; ++e) {
        slots[target[e]] += data[e];
    }
    for (std::size_t i = 0; i < c.outside_count; ++i) {
        if (data[c.outside[i]] != 0.0) {
            return ill();  // couples voxels that are not neighbours in the chain, or a state to a budget channel
        }
    }
    const std::size_t bad =
        c.blocks == 0 ? none : dispatch(k, [&](auto fixed) { return factorise<decltype(fixed)::value>(c); });
    if (bad != none) {
        // A padded pivot fails only when a NaN spread into it: name the block's first state then.
        const std::size_t state = c.position_state[bad] != none ? c.position_state[bad]
                                                                : c.position_state[bad - bad % k];
        c.last_flag = static_cast<sunindextype>(state + 1);
        return SUNLS_LUFACT_FAIL;
    }
    for (std::size_t q = 0; q < total - n; ++q) {
        const double d = slots[c.diagonal_at + q];
        if (d == 0.0 || !std::isfinite(d)) {
            c.last_flag = static_cast<sunindextype>(n + q + 1);
            return SUNLS_LUFACT_FAIL;
        }
    }
    c.last_flag = 0;
    return SUNLS_SUCCESS;
}

// x = M^{-1} b with the factors of block_setup (x may be b): the states along the chain, then the channels.
int block_solve(SUNLinearSolver s, SUNMatrix, N_Vector x, N_Vector b, double) {
    auto& c = content_of(s);
    const std::size_t n = c.states;
    const double* bd = N_VGetArrayPointer(b);
    double* xd = N_VGetArrayPointer(x);
    double* w = c.work.data();
    if (c.work.size() > n) {
        std::fill(c.work.begin(), c.work.end(), 0.0);  // the padding (a NaN in it would reach every block)
    }
    if (!c.strided.empty()) {
        dispatch(c.k, [&](auto fixed) {
            constexpr std::size_t Fixed = decltype(fixed)::value;
            const std::size_t k = block_size<Fixed>(c.k);
            const std::size_t* base = c.strided.data();
            for (std::size_t v = 0; v < c.blocks; ++v) {
                for (std::size_t l = 0; l < k; ++l) {
                    w[v * k + l] = bd[base[l] + v];
                }
            }
            sweep<Fixed>(c, w, c.scratch.data());
            for (std::size_t v = 0; v < c.blocks; ++v) {
                for (std::size_t l = 0; l < k; ++l) {
                    xd[base[l] + v] = w[v * k + l];
                }
            }
        });
    }
    else {
        const std::size_t* position = c.state_position.data();
        for (std::size_t i = 0; i < n; ++i) {
            w[position[i]] = bd[i];
        }
        if (c.blocks > 0) {
            dispatch(c.k, [&](auto fixed) { sweep<decltype(fixed)::value>(c, w, c.scratch.data()); });
        }
        for (std::size_t i = 0; i < n; ++i) {
            xd[i] = w[position[i]];
        }
    }
    // The budget channels: M_qq x_q = b_q - sum_j M_qj x_j over the states j (a channel's row spans the whole
    // chain: four partial sums, so that the additions do not wait for each other).
    const double* value = c.slots.data() + c.budget_at;
    const double* diagonal = c.slots.data() + c.diagonal_at;
    const std::size_t* column = c.row_column.data();
    for (std::size_t q = 0; q + 1 < c.row_start.size(); ++q) {
        double partial[4] = {bd[n + q], 0.0, 0.0, 0.0};
        const std::size_t end = c.row_start[q + 1];
        std::size_t e = c.row_start[q];
        for (; e + 4 <= end; e += 4) {
            partial[0] -= value[e] * xd[column[e]];
            partial[1] -= value[e + 1] * xd[column[e + 1]];
            partial[2] -= value[e + 2] * xd[column[e + 2]];
            partial[3] -= value[e + 3] * xd[column[e + 3]];
        }
        for (; e < end; ++e) {
            partial[0] -= value[e] * xd[column[e]];
        }
        xd[n + q] = ((partial[0] + partial[1]) + (partial[2] + partial[3])) / diagonal[q];
    }
    c.last_flag = SUNLS_SUCCESS;
    return SUNLS_SUCCESS;
}

} // namespace

bool block_tridiagonal_applies(const std::vector<std::size_t>& state_voxels, const column_pattern& pattern,
                               std::string* why) {
    return lay_out(state_voxels, pattern, nullptr, why);
}

bool block_tridiagonal_applies(const system& sys, const column_pattern& pattern, std::string* why) {
    if (sys.mesh() == nullptr) {
        return fail(why, "a point model has no voxels");
    }
    const auto voxels = sys.state_voxels();
    for (std::size_t i = 0; i < voxels.size(); ++i) {
        if (voxels[i] == none) {
            return fail(why, fmt::format("state {} belongs to no voxel", sys.state_names()[i]));
        }
    }
    return lay_out(voxels, pattern, nullptr, why);
}

std::size_t block_tridiagonal_block_size(const std::vector<std::size_t>& state_voxels) {
    std::vector<std::size_t> voxels;
    voxels.reserve(state_voxels.size());
    std::copy_if(state_voxels.begin(), state_voxels.end(), std::back_inserter(voxels),
                 [](std::size_t v) { return v != none; });
    std::sort(voxels.begin(), voxels.end());
    std::size_t largest = 0;
    for (auto first = voxels.begin(); first != voxels.end();) {
        const auto last = std::upper_bound(first, voxels.end(), *first);
        largest = std::max(largest, static_cast<std::size_t>(last - first));
        first = last;
    }
    return largest;
}

SUNLinearSolver make_block_tridiagonal_solver(SUNContext context, const std::vector<std::size_t>& state_voxels,
                                              const column_pattern& pattern) {
    chain_layout layout;
    std::string why;
    if (!lay_out(state_voxels, pattern, &layout, &why)) {
        throw error("the block-tridiagonal solver does not apply: " + why);
    }
    auto content = std::make_unique<block_content>();
    auto& c = *content;
    const std::size_t n = layout.states;
    c.states = n;
    c.total = layout.total;
    c.blocks = layout.blocks();
    c.middle = c.blocks / 2;
    for (std::size_t b = 0; b < c.blocks; ++b) {
        c.k = std::max(c.k, layout.size(b));
        c.block_states.push_back(layout.size(b));
    }
    c.state_block = layout.block;
    c.state_local = layout.local;
    c.position_state.assign(c.blocks * c.k, none);
    c.state_position.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        c.state_position[i] = c.state_block[i] * c.k + c.state_local[i];
        c.position_state[c.state_position[i]] = i;
    }
    // Strided: block b's state l is block 0's state l plus b, for every block (a padding position, none, never
    // matches: no padding then).
    const auto strided = [&] {
        for (std::size_t p = 0; p < c.position_state.size(); ++p) {
            if (c.position_state[p] != c.position_state[p % c.k] + p / c.k) {
                return false;
            }
        }
        return true;
    };
    if (c.blocks > 0 && strided()) {
        c.strided.assign(c.position_state.begin(), c.position_state.begin() + static_cast<std::ptrdiff_t>(c.k));
    }
    std::size_t entries = 0;
    std::size_t budget_entries = 0;
    for (std::size_t col = 0; col < c.total; ++col) {
        entries += pattern[col].size();
        if (col < n) {
            budget_entries += static_cast<std::size_t>(
                std::count_if(pattern[col].begin(), pattern[col].end(), [&](std::size_t r) { return r >= n; }));
        }
    }
    c.budget_at = c.blocks * c.block_values();
    c.diagonal_at = c.budget_at + budget_entries;
    c.trash_at = c.diagonal_at + (c.total - n);
    c.slots.assign(c.trash_at + 1, 0.0);
    c.row_start.assign(c.total - n + 1, 0);
    c.row_column.assign(budget_entries, 0);
    c.row_fill.assign(c.total - n, 0);
    c.known_columns.assign(c.total + 1, 0);
    c.known_rows.assign(entries, 0);
    c.target.assign(entries, 0);
    c.outside.assign(entries, 0);
    c.pivots.assign(c.blocks * c.k, 0);
    c.permutation.assign(c.blocks * c.k, 0);
    c.work.assign(c.blocks * c.k, 0.0);
    c.scratch.assign(c.k, 0.0);

    return make_direct_solver(context, std::move(content), block_setup, block_solve, block_space);
}

SUNLinearSolver make_block_tridiagonal_solver(SUNContext context, const system& sys, const column_pattern& pattern) {
    std::string why;
    if (!block_tridiagonal_applies(sys, pattern, &why)) {
        throw error("the block-tridiagonal solver does not apply: " + why);
    }
    return make_block_tridiagonal_solver(context, sys.state_voxels(), pattern);
}

} // namespace cadyn::detail
