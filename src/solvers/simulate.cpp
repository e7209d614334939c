// Time integration with CVODE and the resting state with KINSOL.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <fmt/format.h>

#include <cadyn/geometry.hpp>
#include <cadyn/simulate.hpp>

#include "solvers/block_tridiagonal.hpp"
#include "solvers/random_stream.hpp"
#include "solvers/sundials.hpp"

namespace cadyn {

using namespace detail;

namespace {

// Columns of the Jacobian grouped so that no two columns of a group share a row: perturbing a whole group at once
// gives every column of it from one rhs evaluation (Curtis, Powell & Reid 1974, greedy colouring). With the
// integrated budget, the channels' rows are resolved into flux sites (system::flux_site_channels) for the
// colouring and summed back into the channels' rows of the matrix.
struct jacobian_colouring {
    std::vector<std::vector<std::size_t>> pattern;  // rows of each column; rows >= n + nq are flux sites
    std::vector<std::vector<std::size_t>> matrix;   // rows of each column in the matrix (sites -> their channel)
    std::vector<std::vector<std::size_t>> slot;     // per pattern entry: its index in matrix[column]
    std::vector<std::vector<std::size_t>> groups;   // columns of each colour
    std::vector<double> atol;
    double rtol = 1e-6;
    std::size_t first_site = 0;                     // n + nq
    std::size_t sites = 0;
    mutable std::vector<double> site0, site1;       // flux sites at y and at the perturbed y

    jacobian_colouring(const system& sys, double relative, bool with_budget, const std::vector<double>& tolerances):
        pattern(sys.jacobian_pattern(with_budget)), atol(tolerances), rtol(relative) {
        const std::size_t n = pattern.size();
        first_site = n;
        const auto& site_channel = sys.flux_site_channels();
        sites = with_budget ? site_channel.size() : 0;
        site0.assign(sites, 0.0);
        site1.assign(sites, 0.0);
        matrix.resize(n);
        slot.resize(n);
        for (std::size_t c = 0; c < n; ++c) {
            auto& rows = matrix[c];
            for (const auto r: pattern[c]) {
                rows.push_back(r < first_site ? r : sys.size() + site_channel[r - first_site]);
            }
            std::sort(rows.begin(), rows.end());
            rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
            for (const auto r: pattern[c]) {
                const auto m = r < first_site ? r : sys.size() + site_channel[r - first_site];
                slot[c].push_back(static_cast<std::size_t>(std::lower_bound(rows.begin(), rows.end(), m) - rows.begin()));
            }
        }
        std::vector<std::vector<char>> used;  // used[colour][row]
        const std::size_t all_rows = n + sites;
        for (std::size_t c = 0; c < n; ++c) {
            std::size_t colour = 0;
            for (; colour < groups.size(); ++colour) {
                const bool clash = std::any_of(pattern[c].begin(), pattern[c].end(),
                                               [&](std::size_t r) { return used[colour][r] != 0; });
                if (!clash) {
                    break;
                }
            }
            if (colour == groups.size()) {
                groups.emplace_back();
                used.emplace_back(all_rows, 0);
            }
            groups[colour].push_back(c);
            for (const auto r: pattern[c]) {
                used[colour][r] = 1;
            }
        }
    }
};

// The linear solver a run uses for n unknowns (run.linear; automatic: dense LU up to 200 unknowns, GMRES for 3-D
// grids above 1000, where a sparse LU's fill-in grows as n^(4/3) and its factorisation as n^2 (a 20^3 box with two
// species: 324 s with KLU, 0.64 s with GMRES; a box with 8 point channels: 3.5x faster with GMRES at 800 states,
// 7.4x at 1152, 14.5x at 2048, docs/spatial.md), KLU otherwise: a direct solver keeps budgets and conservation exact
// to round-off, GMRES only to its linear tolerance). Where automatic says KLU, the integrator takes the
// block-tridiagonal solver instead when the Newton matrix's pattern is a chain of voxels (choose_direct_solver).
enum class solver_kind { dense, klu, gmres, block_tridiagonal };

solver_kind choose_solver(const system& sys, std::size_t n) {
    switch (sys.model().run.linear) {
    case linear_solver::dense: return solver_kind::dense;
    case linear_solver::klu: return solver_kind::klu;
    case linear_solver::gmres: return solver_kind::gmres;
    case linear_solver::block_tridiagonal: return solver_kind::block_tridiagonal;
    case linear_solver::automatic: break;
    }
    if (n <= 200) {
        return solver_kind::dense;
    }
    const auto* g = sys.mesh();
    return g != nullptr && g->dimensions == 3 && n > 1000 ? solver_kind::gmres : solver_kind::klu;
}

// The sparse direct solver for the integrator's Newton matrix with this pattern (kind: choose_solver's klu or
// block_tridiagonal). A cable or shells grid makes the matrix block tridiagonal in voxel order, and a direct
// elimination along the chain of voxels beats KLU's general sparse LU there (the 1000-voxel wave spent 44 % of its
// time in KLU's triangular solves; docs/spatial.md): automatic takes it wherever it applies and its blocks are of a
// size its kernels are compiled for (block_tridiagonal.hpp). Asking for it where it does not apply is an error
// that says why, not a quiet switch to KLU.
solver_kind choose_direct_solver(const system& sys, solver_kind kind,
                                 const std::vector<std::vector<std::size_t>>& matrix) {
    std::string why;
    const bool chain = block_tridiagonal_applies(sys, matrix, &why);
    if (kind == solver_kind::block_tridiagonal && !chain) {
        const auto geometry = sys.model().geometry.type;
        throw error(fmt::format("run.linear_solver = \"block_tridiagonal\" needs a model whose Newton matrix is "
                                "block tridiagonal along a chain of voxels (a cable or shells geometry, every state "
                                "in a voxel), but this {} model's is not: {}. Use \"klu\" or \"automatic\"",
                                geometry == geometry_spec::kind::none ? "point" : geometry_name(geometry), why));
    }
    if (kind == solver_kind::klu && sys.model().run.linear == linear_solver::automatic && chain &&
        block_tridiagonal_block_size(sys.state_voxels()) <= block_tridiagonal_compiled_size) {
        return solver_kind::block_tridiagonal;
    }
    return kind;
}

// Block-Jacobi preconditioner for GMRES: P = I - gamma J restricted to the states of each voxel (its reactions,
// the diagonal of its diffusion), each block factorised densely (LU with partial pivoting). States of no voxel
// form one block; each integrated budget channel is its own block (P = 1 there).
class block_preconditioner {
public:
    block_preconditioner(const system& sys, std::size_t total) {
        const auto voxels = sys.state_voxels();
        std::map<std::size_t, std::size_t> block_of_voxel;
        block_.assign(total, 0);
        for (std::size_t i = 0; i < total; ++i) {
            const std::size_t v = i < voxels.size() ? voxels[i] : static_cast<std::size_t>(-2) - i;  // channels alone
            const auto [it, fresh] = block_of_voxel.try_emplace(v, members_.size());
            if (fresh) {
                members_.emplace_back();
            }
            block_[i] = it->second;
            index_.push_back(members_[it->second].size());
            members_[it->second].push_back(i);
        }
        std::size_t off = 0;
        std::size_t poff = 0;
        for (const auto& m: members_) {
            offset_.push_back(off);
            pivot_offset_.push_back(poff);
            off += m.size() * m.size();
            poff += m.size();
        }
        lu_.assign(off, 0.0);
        pivot_.assign(total, 0);
        work_.assign(total, 0.0);
    }

    // M_b = I - gamma J[b, b] from the sparse Jacobian jac, factorised in place.
    void setup(SUNMatrix jac, double gamma) {
        std::fill(lu_.begin(), lu_.end(), 0.0);
        const sunindextype* colptr = SUNSparseMatrix_IndexPointers(jac);
        const sunindextype* rows = SUNSparseMatrix_IndexValues(jac);
        const double* data = SUNSparseMatrix_Data(jac);
        const std::size_t n = block_.size();
        for (std::size_t c = 0; c < n; ++c) {
            const std::size_t b = block_[c];
            const std::size_t k = members_[b].size();
            double* m = lu_.data() + offset_[b];
            m[index_[c] * k + index_[c]] += 1.0;
            for (auto e = colptr[c]; e < colptr[c + 1]; ++e) {
                const auto r = static_cast<std::size_t>(rows[e]);
                if (block_[r] == b) {
                    m[index_[r] * k + index_[c]] -= gamma * data[e];  // row-major
                }
            }
        }
        for (std::size_t b = 0; b < members_.size(); ++b) {
            factor(lu_.data() + offset_[b], members_[b].size(), pivot_.data() + pivot_offset_[b]);
        }
    }

    // z = P^{-1} r
    void solve(const double* r, double* z) {
        for (std::size_t b = 0; b < members_.size(); ++b) {
            const auto& idx = members_[b];
            const std::size_t k = idx.size();
            double* x = work_.data();
            for (std::size_t i = 0; i < k; ++i) {
                x[i] = r[idx[i]];
            }
            const double* m = lu_.data() + offset_[b];
            const std::size_t* piv = pivot_.data() + pivot_offset_[b];
            // The row swaps first (factor() swapped whole rows, multipliers included), then L y = P r, U x = y.
            for (std::size_t i = 0; i < k; ++i) {
                std::swap(x[i], x[piv[i]]);
            }
            for (std::size_t i = 0; i < k; ++i) {
                for (std::size_t j = i + 1; j < k; ++j) {
                    x[j] -= m[j * k + i] * x[i];
                }
            }
            for (std::size_t i = k; i-- > 0;) {
                for (std::size_t j = i + 1; j < k; ++j) {
                    x[i] -= m[i * k + j] * x[j];
                }
                x[i] /= m[i * k + i];
            }
            for (std::size_t i = 0; i < k; ++i) {
                z[idx[i]] = x[i];
            }
        }
    }

private:
    // In-place LU with partial pivoting of a k x k row-major matrix; piv[i] the row swapped with row i.
    static void factor(double* m, std::size_t k, std::size_t* piv) {
        for (std::size_t i = 0; i < k; ++i) {
            std::size_t p = i;
            for (std::size_t j = i + 1; j < k; ++j) {
                p = std::abs(m[j * k + i]) > std::abs(m[p * k + i]) ? j : p;
            }
            piv[i] = p;
            if (p != i) {
                for (std::size_t j = 0; j < k; ++j) {
                    std::swap(m[i * k + j], m[p * k + j]);
                }
            }
            const double d = m[i * k + i] != 0 ? m[i * k + i] : 1e-300;
            m[i * k + i] = d;
            for (std::size_t j = i + 1; j < k; ++j) {
                m[j * k + i] /= d;
                for (std::size_t c = i + 1; c < k; ++c) {
                    m[j * k + c] -= m[j * k + i] * m[i * k + c];
                }
            }
        }
    }

    std::vector<std::size_t> block_;   // per state
    std::vector<std::size_t> index_;   // per state: its place in its block
    std::vector<std::vector<std::size_t>> members_;
    std::vector<std::size_t> offset_;  // into lu_
    std::vector<double> lu_;
    std::vector<std::size_t> pivot_;   // per block, at pivot_offset_[block]
    std::vector<std::size_t> pivot_offset_;
    std::vector<double> work_;
};

// A compressed-sparse-column matrix with the structure of a pattern (rows of each column, sorted): set its
// structure, then write column j's entries in the order of pattern[j].
void set_structure(SUNMatrix m, const std::vector<std::vector<std::size_t>>& pattern) {
    sunindextype* colptr = SUNSparseMatrix_IndexPointers(m);
    sunindextype* rows = SUNSparseMatrix_IndexValues(m);
    sunindextype k = 0;
    for (std::size_t j = 0; j < pattern.size(); ++j) {
        colptr[j] = k;
        for (const auto r: pattern[j]) {
            rows[k++] = static_cast<sunindextype>(r);
        }
    }
    colptr[pattern.size()] = k;
}

std::size_t nonzeros(const std::vector<std::vector<std::size_t>>& pattern) {
    std::size_t nnz = 0;
    for (const auto& c: pattern) {
        nnz += c.size();
    }
    return nnz;
}

// The last non-finite derivative the right-hand side produced: CVODE treats it as recoverable and retries with
// a smaller step, so it only becomes an error when it persists; then the message names it.
struct nonfinite_record {
    long index = -1;          // into y (states, then budget channels); -1: none seen
    double t = 0;
    double value = 0;
    std::vector<double> y;    // the state that produced it (sized once, so the callback does not allocate)
};

struct rhs_data {
    system* sys;
    bool stimuli;
    callback_guard guard;
    const jacobian_colouring* colouring = nullptr;
    bool budget = false;  // y carries the integrated budget channels after the model's states
    nonfinite_record nonfinite;
    std::string last_message;  // CVODE's own text for its last error
    // The discontinuity CVODE is integrating up to (its stop time). BDF evaluates the right-hand side at the end
    // of each step, so the step that lands on a stimulus edge would see the stimulus of the next interval (a
    // pulse already on at its onset, or off at its end) and deliver a wrong amount that depends on that step's
    // size. Evaluating at the last double before the stop time gives the left limit: each interval between
    // discontinuities is integrated as the smooth problem it is.
    double t_limit = std::numeric_limits<double>::infinity();

    double eval_time(double t) const {
        return t < t_limit ? t : std::nextafter(t_limit, -std::numeric_limits<double>::infinity());
    }
    // CVODE's "t + h = t" warnings in the current output step: steps below the resolution of t no longer advance
    // it. CVODE would go on until run.max_steps (a million steps of nothing); after underflow_limit of them the
    // right-hand side refuses to go on (stalled) and the run stops with "step size underflow".
    long underflow_warnings = 0;
    static constexpr long underflow_limit = 10;
    bool stalled = false;
    // GMRES: the preconditioner, the Jacobian it is built from, and scratch vectors for the difference quotients.
    block_preconditioner* preconditioner = nullptr;
    SUNMatrix precondition_jacobian = nullptr;
    N_Vector scratch1 = nullptr;
    N_Vector scratch2 = nullptr;
    // Error weights 1/(rtol |y_i| + atol_i), computed in one pass (error_weights) instead of CVODE's four.
    double rtol = 0;
    const double* atol = nullptr;
    // Hybrid stochastic engine: the y index of each stochastic instance's clock and the threshold it fires at.
    const std::vector<std::size_t>* clocks = nullptr;
    const std::vector<double>* thresholds = nullptr;
};

// One root per stochastic instance: its clock (the integral of its total propensity since its last transition)
// minus its threshold, an exponentially distributed number; the root is the time of its next transition.
int clock_roots(sunrealtype, N_Vector y, sunrealtype* g, void* user) noexcept {
    const auto* d = static_cast<const rhs_data*>(user);
    const double* yv = N_VGetArrayPointer(y);
    const auto& clocks = *d->clocks;
    const auto& thresholds = *d->thresholds;
    for (std::size_t k = 0; k < clocks.size(); ++k) {
        g[k] = yv[clocks[k]] - thresholds[k];
    }
    return 0;
}

// CVODE's error weights (CVodeWFtolerances): the same values as CVodeSVtolerances gives; -1 (CVODE stops) when a
// tolerance is not positive. Two loops: the divisions alone, which vectorise (5 % of the 4000-voxel wave, now two
// at a time; with a running minimum beside them, or in GCC 12 a count, they do not), then the check on the weights.
// A tolerance of +0 gives a weight of +inf, one below 0 a negative weight (so does -0); a positive one below
// 1/DBL_MAX (5.6e-309) also gives +inf and is refused too. A NaN passes, as before.
int error_weights(N_Vector y, N_Vector ewt, void* user) noexcept {
    const auto* d = static_cast<const rhs_data*>(user);
    const sunindextype n = N_VGetLength(y);
    const double* yv = N_VGetArrayPointer(y);
    double* w = N_VGetArrayPointer(ewt);
    const double rtol = d->rtol;
    const double* atol = d->atol;
    for (sunindextype i = 0; i < n; ++i) {
        w[i] = 1.0 / (rtol * std::fabs(yv[i]) + atol[i]);
    }
    constexpr double infinity = std::numeric_limits<double>::infinity();
    for (sunindextype i = 0; i < n; ++i) {
        if (w[i] <= 0.0 || w[i] == infinity) {
            return -1;
        }
    }
    return 0;
}

int cvode_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void* user) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    if (d->underflow_warnings >= rhs_data::underflow_limit) {
        d->stalled = true;
        return -1;
    }
    try {
        const double te = d->eval_time(t);
        if (d->budget) {
            d->sys->rhs(te, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot),
                        N_VGetArrayPointer(ydot) + d->sys->size(), d->stimuli);
        }
        else {
            d->sys->rhs(te, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot), d->stimuli);
        }
        // A non-finite derivative is recoverable: CVODE retries with a smaller step. Remember it, in case it
        // persists and the run fails.
        const double* f = N_VGetArrayPointer(ydot);
        const sunindextype n = N_VGetLength(ydot);
        for (sunindextype i = 0; i < n; ++i) {
            if (!std::isfinite(f[i])) {
                auto& bad = d->nonfinite;
                bad.index = static_cast<long>(i);
                bad.t = t;
                bad.value = f[i];
                if (bad.y.size() == static_cast<std::size_t>(n)) {
                    std::copy(N_VGetArrayPointer(y), N_VGetArrayPointer(y) + n, bad.y.begin());
                }
                return 1;
            }
        }
        return 0;
    }
    catch (...) {
        d->guard.pending = std::current_exception();
        return -1;
    }
}

// Coloured difference-quotient Jacobian: J[:, j] = (f(y + d_j e_j) - f(y)) / d_j for all columns j of a colour at
// once, with d_j = sqrt(eps) max(|y_j|, atol_j / rtol).
int cvode_jacobian(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix jac, void* user, N_Vector tmp1, N_Vector tmp2,
                   N_Vector) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    try {
        const auto& col = *d->colouring;
        const double srur = std::sqrt(std::numeric_limits<double>::epsilon());
        const double* y0 = N_VGetArrayPointer(y);
        const double* f0 = N_VGetArrayPointer(fy);
        double* yp = N_VGetArrayPointer(tmp1);
        double* fp = N_VGetArrayPointer(tmp2);
        const auto n = static_cast<std::size_t>(N_VGetLength(y));
        SUNMatZero(jac);
        const bool sparse = SUNMatGetID(jac) == SUNMATRIX_SPARSE;
        if (sparse) {
            set_structure(jac, col.matrix);
        }
        double* s0 = col.site0.data();
        double* s1 = col.site1.data();
        if (d->budget) {
            // The flux sites at y (CVODE's fy has the channels' sums only).
            d->sys->rhs(d->eval_time(t), y0, N_VGetArrayPointer(tmp2), N_VGetArrayPointer(tmp2) + d->sys->size(), s0,
                        d->stimuli);
        }
        std::copy(y0, y0 + n, yp);
        for (const auto& group: col.groups) {
            for (const auto j: group) {
                yp[j] = y0[j] + srur * std::max(std::abs(y0[j]), col.atol[j] / col.rtol);
            }
            if (d->budget) {
                d->sys->rhs(d->eval_time(t), yp, fp, fp + d->sys->size(), s1, d->stimuli);
            }
            else {
                d->sys->rhs(d->eval_time(t), yp, fp, d->stimuli);
            }
            const std::size_t first = col.first_site;
            for (const auto j: group) {
                const double inc = yp[j] - y0[j];  // the increment actually represented
                const auto& rows = col.pattern[j];
                const auto& slots = col.slot[j];
                double* column = sparse ? SUNSparseMatrix_Data(jac) + SUNSparseMatrix_IndexPointers(jac)[j]
                                        : SUNDenseMatrix_Column(jac, static_cast<sunindextype>(j));
                for (std::size_t e = 0; e < rows.size(); ++e) {
                    const auto r = rows[e];
                    const double v = r < first ? (fp[r] - f0[r]) / inc : (s1[r - first] - s0[r - first]) / inc;
                    // Several flux sites of one channel add up in the channel's row.
                    column[sparse ? slots[e] : col.matrix[j][slots[e]]] += v;
                }
                yp[j] = y0[j];
            }
        }
        return 0;
    }
    catch (...) {
        d->guard.pending = std::current_exception();
        return -1;
    }
}

// GMRES preconditioner: the Jacobian by coloured difference quotients (only when CVODE says it is out of date),
// then the voxel blocks of I - gamma J factorised.
int precondition_setup(sunrealtype t, N_Vector y, N_Vector fy, sunbooleantype jok, sunbooleantype* jcur,
                       sunrealtype gamma, void* user) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    try {
        if (!jok) {
            const int flag = cvode_jacobian(t, y, fy, d->precondition_jacobian, user, d->scratch1, d->scratch2, nullptr);
            if (flag != 0) {
                return flag;
            }
            *jcur = SUNTRUE;
        }
        else {
            *jcur = SUNFALSE;
        }
        d->preconditioner->setup(d->precondition_jacobian, gamma);
        return 0;
    }
    catch (...) {
        d->guard.pending = std::current_exception();
        return -1;
    }
}

int precondition_solve(sunrealtype, N_Vector, N_Vector, N_Vector r, N_Vector z, sunrealtype, sunrealtype, int,
                       void* user) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    d->preconditioner->solve(N_VGetArrayPointer(r), N_VGetArrayPointer(z));
    return 0;
}

// One CVODE integrator over a system. With budget = true the state vector is extended by one integrated budget
// channel per flux channel (dq_c/dt = rate of channel c). Because the channels are computed in the same
// evaluation as dy/dt, every balance "change of total = sum of channels" is a linear invariant of the extended
// system, which BDF with Newton preserves to round-off: budgets close exactly, not only to the tolerance.
// y0 holds the states, optionally followed by the budget channels' values (a continued run); without them the
// channels start at 0.
class integrator {
public:
    integrator(system& sys, const std::vector<double>& y0, double t0, bool stimuli, bool budget):
        data_{&sys, stimuli, {}, nullptr, budget, {}, {}, 0},
        n_(static_cast<sunindextype>(sys.size())),
        nq_(budget ? static_cast<sunindextype>(sys.flux_channels().size()) : 0),
        y_(make_vector(n_ + nq_, ctx_)),
        atol_(make_vector(n_ + nq_, ctx_)) {
        const auto& run = sys.model().run;
        double* y = N_VGetArrayPointer(y_.get());
        std::fill(y, y + n_ + nq_, 0.0);
        if (y0.size() != static_cast<std::size_t>(n_) && y0.size() != static_cast<std::size_t>(n_ + nq_)) {
            throw internal_error(fmt::format("integrator: {} start values for {} states and {} budget channels",
                                             y0.size(), n_, nq_));
        }
        std::copy(y0.begin(), y0.end(), y);
        data_.nonfinite.y.assign(static_cast<std::size_t>(n_ + nq_), 0.0);
        auto tol = sys.abs_tolerances();
        // The budget channels follow from the states; they take no part in step-size or Newton control.
        tol.resize(static_cast<std::size_t>(n_ + nq_), 1e100);
        std::copy(tol.begin(), tol.end(), N_VGetArrayPointer(atol_.get()));

        mem_.reset(CVodeCreate(CV_BDF, ctx_));
        if (!mem_) {
            throw internal_error("CVodeCreate failed");
        }
        void* m = mem_.get();
        check_cvode(CVodeInit(m, cvode_rhs, t0, y_.get()), "CVodeInit");
        data_.rtol = run.rtol;
        data_.atol = N_VGetArrayPointer(atol_.get());
        check_cvode(CVodeWFtolerances(m, error_weights), "CVodeWFtolerances");
        check_cvode(CVodeSetUserData(m, &data_), "CVodeSetUserData");
        // CVODE would print its errors on stderr; keep the text for our own message, which says more.
        check_cvode(CVodeSetErrHandlerFn(m, cvode_messages, &data_), "CVodeSetErrHandlerFn");
        check_cvode(CVodeSetMaxHnilWarns(m, std::numeric_limits<int>::max()), "CVodeSetMaxHnilWarns");
        auto kind = choose_solver(sys, static_cast<std::size_t>(n_ + nq_));
        if (kind == solver_kind::klu || kind == solver_kind::block_tridiagonal) {
            colouring_ = std::make_unique<jacobian_colouring>(sys, run.rtol, budget, tol);
            data_.colouring = colouring_.get();
            kind = choose_direct_solver(sys, kind, colouring_->matrix);
        }
        if (kind == solver_kind::gmres) {
            // GMRES (matrix-free: CVODE's difference-quotient Jacobian-vector products), left-preconditioned by the
            // exact Jacobian of each voxel.
            colouring_ = std::make_unique<jacobian_colouring>(sys, run.rtol, budget, tol);
            data_.colouring = colouring_.get();
            const auto nnz = static_cast<sunindextype>(nonzeros(colouring_->matrix));
            matrix_.reset(SUNSparseMatrix(n_ + nq_, n_ + nq_, nnz, CSC_MAT, ctx_));
            use_fast_matrix_ops(matrix_.get());
            set_structure(matrix_.get(), colouring_->matrix);
            preconditioner_ = std::make_unique<block_preconditioner>(sys, static_cast<std::size_t>(n_ + nq_));
            scratch1_ = make_vector(n_ + nq_, ctx_);
            scratch2_ = make_vector(n_ + nq_, ctx_);
            data_.preconditioner = preconditioner_.get();
            data_.precondition_jacobian = matrix_.get();
            data_.scratch1 = scratch1_.get();
            data_.scratch2 = scratch2_.get();
            solver_.reset(SUNLinSol_SPGMR(y_.get(), SUN_PREC_LEFT, 30, ctx_));
            check_cvode(CVodeSetLinearSolver(m, solver_.get(), nullptr), "CVodeSetLinearSolver");
            check_cvode(CVodeSetPreconditioner(m, precondition_setup, precondition_solve), "CVodeSetPreconditioner");
        }
        else if (kind == solver_kind::block_tridiagonal) {
            // Elimination along the chain of voxels (block_tridiagonal.hpp) on the same sparse matrix as KLU's: the
            // Jacobian's structure from the model, its values by coloured difference quotients.
            const auto nnz = static_cast<sunindextype>(nonzeros(colouring_->matrix));
            matrix_.reset(SUNSparseMatrix(n_ + nq_, n_ + nq_, nnz, CSC_MAT, ctx_));
            use_fast_matrix_ops(matrix_.get());
            set_structure(matrix_.get(), colouring_->matrix);
            solver_.reset(make_block_tridiagonal_solver(ctx_, sys, colouring_->matrix));
            check_cvode(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
            check_cvode(CVodeSetJacFn(m, cvode_jacobian), "CVodeSetJacFn");
        }
        else if (kind == solver_kind::klu) {
            // Sparse LU: the Jacobian's structure from the model, its values by coloured difference quotients.
            const auto nnz = static_cast<sunindextype>(nonzeros(colouring_->matrix));
            matrix_.reset(SUNSparseMatrix(n_ + nq_, n_ + nq_, nnz, CSC_MAT, ctx_));
            use_fast_matrix_ops(matrix_.get());
            set_structure(matrix_.get(), colouring_->matrix);
            solver_.reset(SUNLinSol_KLU(y_.get(), matrix_.get(), ctx_));
            // AMD ordering: 2-2.4x less fill than SUNDIALS' default COLAMD on 2-D and 3-D grids.
            SUNLinSol_KLUSetOrdering(solver_.get(), 0);
            // No block triangular form: each budget channel would be a 1 x 1 block of its own, and the blocks'
            // bookkeeping cost the 1000-voxel wave 13 % of its time in KLU's solves (docs/performance.md).
            SUNLinSol_KLUGetCommon(solver_.get())->btf = 0;
            check_cvode(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
            check_cvode(CVodeSetJacFn(m, cvode_jacobian), "CVodeSetJacFn");
        }
        else {
            matrix_.reset(SUNDenseMatrix(n_ + nq_, n_ + nq_, ctx_));
            use_fast_matrix_ops(matrix_.get());
            // The budget channels' columns are zero (nothing depends on them): only the states' block is factorised.
            solver_.reset(make_dense_solver(ctx_, n_ + nq_, n_));
            check_cvode(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
        }
        if (run.jacobian == jacobian_method::coloured && !colouring_ && kind == solver_kind::dense) {
            colouring_ = std::make_unique<jacobian_colouring>(sys, run.rtol, budget, tol);
            data_.colouring = colouring_.get();
            check_cvode(CVodeSetJacFn(m, cvode_jacobian), "CVodeSetJacFn");
        }
        check_cvode(CVodeSetMaxNumSteps(m, run.max_steps), "CVodeSetMaxNumSteps");
        if (run.max_step > 0) {
            check_cvode(CVodeSetMaxStep(m, run.max_step), "CVodeSetMaxStep");
        }
    }

    // Advance to tout without stepping past t_stop. Returns the time reached.
    double advance(double tout, double t_stop) {
        void* m = mem_.get();
        check_cvode(CVodeSetStopTime(m, t_stop), "CVodeSetStopTime");
        data_.t_limit = t_stop;
        double reached = 0;
        data_.nonfinite.index = -1;
        data_.underflow_warnings = 0;
        data_.stalled = false;
        const int flag = CVode(m, tout, y_.get(), &reached, CV_NORMAL);
        detail::finish_vector_ops();
        data_.guard.rethrow();
        if (flag < 0) {
            throw solver_error(diagnose(flag, reached));
        }
        rooted_ = flag == CV_ROOT_RETURN;
        return reached;
    }

    // Stop where a stochastic instance's clock reaches its threshold (advance() returns there; rooted() is then
    // true and fired() says which). Both vectors must outlive the integrator.
    void watch_clocks(const std::vector<std::size_t>& clocks, const std::vector<double>& thresholds) {
        data_.clocks = &clocks;
        data_.thresholds = &thresholds;
        void* m = mem_.get();
        const int n = static_cast<int>(clocks.size());
        check_cvode(CVodeRootInit(m, n, clock_roots), "CVodeRootInit");
        std::vector<int> rising(clocks.size(), 1);  // clocks only grow
        check_cvode(CVodeSetRootDirection(m, rising.data()), "CVodeSetRootDirection");
        check_cvode(CVodeSetNoInactiveRootWarn(m), "CVodeSetNoInactiveRootWarn");
        roots_.assign(clocks.size(), 0);
    }
    bool rooted() const { return rooted_; }
    // Flags (nonzero) of the instances whose clocks reached their thresholds at the last advance().
    const std::vector<int>& fired() {
        check_cvode(CVodeGetRootInfo(mem_.get(), roots_.data()), "CVodeGetRootInfo");
        return roots_;
    }
    double* y_mutable() { return N_VGetArrayPointer(y_.get()); }

    // The model's events at time t, which may change the state (the budget is kept).
    void apply_events(double t) { data_.sys->apply_events(t, N_VGetArrayPointer(y_.get())); }

    // Restart the multistep history at a discontinuity, keeping the state and the budget. CVodeReInit zeroes
    // CVODE's counters: keep what they counted so far.
    void restart(double t) {
        solver_statistics so_far;
        add_statistics(so_far);
        counted_ = so_far;
        check_cvode(CVodeReInit(mem_.get(), t, y_.get()), "CVodeReInit");
    }

    const double* y() const { return N_VGetArrayPointer(y_.get()); }
    std::vector<double> state() const { return {y(), y() + n_}; }
    std::vector<double> budget() const { return {y() + n_, y() + n_ + nq_}; }

    void add_statistics(solver_statistics& s) const {
        void* m = mem_.get();
        s.steps += counted_.steps;
        s.rhs_evaluations += counted_.rhs_evaluations;
        s.jacobian_evaluations += counted_.jacobian_evaluations;
        s.error_test_failures += counted_.error_test_failures;
        s.nonlinear_failures += counted_.nonlinear_failures;
        long v = 0;
        CVodeGetNumSteps(m, &v);
        s.steps += v;
        CVodeGetNumRhsEvals(m, &v);
        s.rhs_evaluations += v;
        CVodeGetNumJacEvals(m, &v);
        s.jacobian_evaluations += v;
        CVodeGetNumErrTestFails(m, &v);
        s.error_test_failures += v;
        CVodeGetNumNonlinSolvConvFails(m, &v);
        s.nonlinear_failures += v;
    }

private:
    static void cvode_messages(int code, const char*, const char*, char* message, void* user) {
        auto* d = static_cast<rhs_data*>(user);
        if (code == CV_WARNING) {
            ++d->underflow_warnings;  // CVODE's only warnings: "t + h = t on the next step"
            return;
        }
        d->last_message = message != nullptr ? message : "";
    }

    // The solver_error text for a failed CVode call: when, what went wrong in words, which variable, what to try.
    std::string diagnose(int flag, double reached) const;

    sun_context ctx_;
    rhs_data data_;
    solver_statistics counted_;  // before the last CVodeReInit
    bool rooted_ = false;
    std::vector<int> roots_;
    std::unique_ptr<jacobian_colouring> colouring_;
    std::unique_ptr<block_preconditioner> preconditioner_;
    sunindextype n_;
    sunindextype nq_;
    nvector y_;
    nvector atol_;
    nvector scratch1_;
    nvector scratch2_;
    // Destroyed in reverse order: the integrator before the linear solver and matrix it uses.
    sun_matrix matrix_;
    sun_linear_solver solver_;
    cvode_memory mem_;
};

// The budget channel moving the most of state `name` ("cyt.ca") into (direction > 0), out of (direction < 0) or
// either way (0) its compartment at (t, y): "mechanism (type), R amol/s into|out of cyt", or empty when no channel
// moves it. Names the mechanism behind a variable in trouble.
std::string largest_channel(system& sys, double t, const double* y, bool stimuli, const std::string& name,
                            int direction) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) {
        return {};
    }
    const std::string where = name.substr(0, dot);
    const std::string species = name.substr(dot + 1);
    std::vector<double> rates(sys.flux_channels().size());
    try {
        sys.fluxes(t, y, rates.data(), stimuli);
    }
    catch (const std::exception&) {
        return {};
    }
    double most = 0;
    std::string text;
    for (std::size_t k = 0; k < rates.size(); ++k) {
        const auto& c = sys.flux_channels()[k];
        if (c.species != species) {
            continue;
        }
        double into = 0;  // [zmol/ms] = [amol/s] into `where`
        if (c.role == flux_channel::kind::transfer) {
            into = c.to == where ? rates[k] : c.from == where ? -rates[k] : 0.0;
        }
        else if (c.to == where) {
            into = c.role == flux_channel::kind::source ? rates[k] : -rates[k];  // binding takes free species
        }
        const double size = direction > 0 ? into : direction < 0 ? -into : std::abs(into);
        if (size > most || (!std::isfinite(into) && most == 0)) {
            most = size;
            text = fmt::format("{} ({}), {:.4g} amol/s {} {}", c.mechanism, c.type, std::abs(into),
                               into >= 0 ? "into" : "out of", where);
        }
    }
    return text;
}

// The name of entry i of an integrator's y: a state, or a budget channel after them.
std::string variable_name(const system& sys, std::size_t i) {
    if (i < sys.size()) {
        return sys.state_names()[i];
    }
    const auto& c = sys.flux_channels()[i - sys.size()];
    return fmt::format("the budget channel of {} ({})", c.mechanism, c.species);
}

std::string integrator::diagnose(int flag, double reached) const {
    void* m = mem_.get();
    system& sys = *data_.sys;
    const auto& run = sys.model().run;
    double h_last = 0;
    double h_next = 0;
    CVodeGetLastStep(m, &h_last);
    CVodeGetCurrentStep(m, &h_next);

    // The state with the largest weighted local error estimate |e_i| / (rtol |y_i| + atol_i): the one that
    // limits the step size (budget channels take no part: their tolerance is huge).
    std::string culprit;
    {
        sun_context ctx;
        auto weights = make_vector(n_ + nq_, ctx);
        auto errors = make_vector(n_ + nq_, ctx);
        if (CVodeGetErrWeights(m, weights.get()) == CV_SUCCESS &&
            CVodeGetEstLocalErrors(m, errors.get()) == CV_SUCCESS) {
            const double* w = N_VGetArrayPointer(weights.get());
            const double* e = N_VGetArrayPointer(errors.get());
            double worst = -1;
            long at = -1;
            for (sunindextype i = 0; i < n_; ++i) {
                const double v = std::abs(w[i] * e[i]);
                if (std::isfinite(v) && v > worst) {
                    worst = v;
                    at = static_cast<long>(i);
                }
            }
            if (at >= 0 && worst > 0) {
                culprit = fmt::format("{} (= {:.6g}, local error estimate {:.3g} times its tolerance)",
                                      sys.state_names()[static_cast<std::size_t>(at)], y()[at], worst);
            }
        }
    }

    // The state changing fastest relative to its tolerance, |dy_i/dt| / (rtol |y_i| + atol_i): the one to blame
    // when the error estimates say nothing (steps too small for any error to show).
    const auto fastest = [&]() -> std::string {
        std::vector<double> f(static_cast<std::size_t>(n_));
        try {
            sys.rhs(data_.eval_time(reached), y(), f.data(), data_.stimuli);
        }
        catch (const std::exception&) {
            return {};
        }
        const auto atol = sys.abs_tolerances();
        double worst = -1;
        std::size_t at = 0;
        for (std::size_t i = 0; i < f.size(); ++i) {
            const double rate = std::isfinite(f[i]) ? std::abs(f[i]) / (run.rtol * std::abs(y()[i]) + atol[i])
                                                    : std::numeric_limits<double>::infinity();
            if (rate > worst) {
                worst = rate;
                at = i;
            }
        }
        if (worst <= 0) {
            return {};
        }
        std::string text =
            fmt::format("{} (= {:.6g}, changing at {:.3g} per ms", sys.state_names()[at], y()[at], f[at]);
        const auto writer =
            largest_channel(sys, data_.eval_time(reached), y(), data_.stimuli, sys.state_names()[at], 0);
        if (!writer.empty()) {
            text += ", mostly by " + writer;
        }
        return text + ")";
    };
    if (data_.stalled || culprit.empty()) {
        culprit = fastest();
    }

    std::string what;
    std::string advice;
    const auto& bad = data_.nonfinite;
    const bool rhs_failure = flag == CV_FIRST_RHSFUNC_ERR || flag == CV_REPTD_RHSFUNC_ERR ||
                             flag == CV_UNREC_RHSFUNC_ERR || flag == CV_RHSFUNC_FAIL;
    if (data_.stalled) {
        what = fmt::format("step size underflow: steps of {:.3g} ms no longer advance t in double precision "
                           "(t + h = t)",
                           std::abs(h_last));
        advice = "the named variable changes faster and faster (a rate law with a singularity, such as a "
                 "denominator that reaches zero, or a runaway positive feedback): check its mechanisms' rate "
                 "laws and the units of their parameters";
        if (bad.index >= 0) {
            what += fmt::format("; the derivative of {} was {} there",
                                variable_name(sys, static_cast<std::size_t>(bad.index)),
                                std::isnan(bad.value) ? "NaN" : "infinite");
        }
    }
    else if (bad.index >= 0 && (rhs_failure || flag == CV_CONV_FAILURE || flag == CV_ERR_FAILURE)) {
        // A non-finite derivative that would not go away with smaller steps.
        const auto i = static_cast<std::size_t>(bad.index);
        what = fmt::format("the derivative of {} is {}", variable_name(sys, i),
                           std::isnan(bad.value) ? "NaN" : "infinite");
        if (std::abs(bad.t - reached) > 1e-9 * std::max(1.0, std::abs(reached))) {
            what += fmt::format(" (evaluated at t = {:.10g} ms)", bad.t);
        }
        // Which mechanism wrote it: the budget channels whose rate is not finite in the same state.
        std::vector<double> rates(sys.flux_channels().size());
        std::vector<double> y_bad(bad.y.begin(), bad.y.begin() + n_);
        std::string writers;
        try {
            sys.fluxes(data_.eval_time(bad.t), y_bad.data(), rates.data(), data_.stimuli);
            for (std::size_t k = 0; k < rates.size(); ++k) {
                if (!std::isfinite(rates[k])) {
                    const auto& c = sys.flux_channels()[k];
                    const std::string name = fmt::format("{} ({})", c.mechanism, c.type);
                    if (writers.find(name) == std::string::npos) {
                        writers += (writers.empty() ? "" : ", ") + name;
                    }
                }
            }
        }
        catch (const std::exception&) {
            // Naming the mechanism is a courtesy; the message stands without it.
        }
        if (!writers.empty()) {
            what += fmt::format(", written by {}", writers);
        }
        culprit = fmt::format("{} (= {:.6g} at the last accepted step)", variable_name(sys, i), y()[i]);
        advice = "a rate law divides by zero, takes the logarithm or root of a negative number, or overflows "
                 "there: check the expression (and the units) of the mechanism or rule that writes it, and guard "
                 "it (e.g. max(x, 0), or a denominator that cannot reach zero)";
    }
    else {
        switch (flag) {
        case CV_TOO_MUCH_WORK:
            what = fmt::format("more than run.max_steps = {} internal steps were needed before the next output "
                               "time (last step {:.3g} ms)",
                               run.max_steps, h_last);
            advice = "raise run.max_steps, or record more often; if the steps are tiny, the named variable changes "
                     "very fast (a stiff or oscillating mechanism): check the units of its mechanisms' parameters";
            break;
        case CV_TOO_MUCH_ACC:
            what = "the requested accuracy is beyond double precision here";
            advice = "loosen run.rtol (e.g. 1e-6) or raise run.atol";
            break;
        case CV_ERR_FAILURE:
            what = fmt::format("the error test failed repeatedly: the step size shrank to {:.3g} ms without meeting "
                               "the tolerance (step size underflow{})",
                               std::abs(h_next),
                               data_.underflow_warnings > 0 ? "; t + h = t in double precision" : "");
            advice = "the named variable changes faster than any step can follow (a rate that blows up, or a "
                     "discontinuity the model does not declare): check its mechanisms' rate laws and units; a "
                     "looser run.atol on tiny concentrations, or a run.max_step, can help";
            break;
        case CV_CONV_FAILURE:
            what = fmt::format("the Newton iteration failed to converge repeatedly, the step size shrank to {:.3g} "
                               "ms",
                               std::abs(h_next));
            advice = "a rate is discontinuous or very steep in the named variable: smooth it, declare the "
                     "discontinuity as an event, set a smaller run.max_step, or check the units of its mechanisms";
            break;
        case CV_LSETUP_FAIL:
        case CV_LSOLVE_FAIL:
            what = "the Newton matrix is singular (the linear solver failed)";
            advice = "check for a state nothing depends on in a degenerate way, or try run.jacobian = \"dense\"";
            break;
        case CV_TOO_CLOSE:
            what = "the next output time is too close to the current time";
            advice = "use a longer record.interval";
            break;
        default: {
            char* name = CVodeGetReturnFlagName(flag);
            what = name != nullptr ? name : "unknown failure";
            free(name);
            advice = "try a smaller run.max_step, a tighter or looser run.atol, and check the units of the named "
                     "variable's mechanisms";
        }
        }
    }
    std::string text = fmt::format("at t = {:.10g} ms: {}", reached, what);
    if (!culprit.empty()) {
        text += fmt::format("; variable: {}", culprit);
    }
    text += fmt::format(". Try: {}", advice);
    if (!data_.last_message.empty() && !data_.stalled) {
        text += fmt::format(" (CVODE: {})", data_.last_message);
    }
    return text;
}

// KINSOL's residual: dy/dt of the resting cell, with the equation of each conservation law's pivot replaced by
// the law itself (total - total at the guess, divided by the pivot's volume so it reads as a concentration).
struct steady_data {
    rhs_data rhs;
    std::vector<double> totals;  // per conservation law [zmol]
    // Sparse Newton: the residual's pattern (the rhs pattern with each pivot row replaced by its law's weights),
    // a colouring of the rhs rows kept, and scratch vectors.
    std::vector<std::vector<std::size_t>> pattern;
    std::vector<std::vector<std::size_t>> groups;
    std::vector<std::vector<std::size_t>> rhs_rows;  // per column: rows of the rhs kept (not pivots)
    std::vector<double> f0, yp, fp;
};

int kinsol_residual(N_Vector u, N_Vector f, void* user) noexcept {
    auto* d = static_cast<steady_data*>(user);
    try {
        const double* y = N_VGetArrayPointer(u);
        double* r = N_VGetArrayPointer(f);
        d->rhs.sys->rhs(0.0, y, r, false);
        const auto& laws = d->rhs.sys->conservation_laws();
        for (std::size_t k = 0; k < laws.size(); ++k) {
            double total = 0;
            double pivot_weight = 1;
            for (const auto& [index, weight]: laws[k].weights) {
                total += weight * y[index];
                if (index == laws[k].pivot) {
                    pivot_weight = weight;
                }
            }
            r[laws[k].pivot] = (total - d->totals[k]) / pivot_weight;
        }
        return 0;
    }
    catch (...) {
        d->rhs.guard.pending = std::current_exception();
        return -1;
    }
}

// KINSOL's Jacobian for the sparse solver: rhs rows by coloured difference quotients, law rows exactly.
int kinsol_jacobian(N_Vector u, N_Vector, SUNMatrix jac, void* user, N_Vector, N_Vector) noexcept {
    auto* d = static_cast<steady_data*>(user);
    try {
        auto& sys = *d->rhs.sys;
        const double* y0 = N_VGetArrayPointer(u);
        const std::size_t n = sys.size();
        SUNMatZero(jac);
        set_structure(jac, d->pattern);
        sys.rhs(0.0, y0, d->f0.data(), false);
        std::copy(y0, y0 + n, d->yp.begin());
        const double srur = std::sqrt(std::numeric_limits<double>::epsilon());
        const auto atol = sys.abs_tolerances();
        const sunindextype* colptr = SUNSparseMatrix_IndexPointers(jac);
        const sunindextype* rows = SUNSparseMatrix_IndexValues(jac);
        double* data = SUNSparseMatrix_Data(jac);
        for (const auto& group: d->groups) {
            for (const auto j: group) {
                d->yp[j] = y0[j] + srur * std::max(std::abs(y0[j]), atol[j] * 1e6);
            }
            sys.rhs(0.0, d->yp.data(), d->fp.data(), false);
            for (const auto j: group) {
                const double inc = d->yp[j] - y0[j];
                // Rows of column j in CSC order; the rhs rows kept are a subset of them.
                auto k = colptr[j];
                for (const auto r: d->rhs_rows[j]) {
                    while (static_cast<std::size_t>(rows[k]) != r) {
                        ++k;
                    }
                    data[k] = (d->fp[r] - d->f0[r]) / inc;
                }
                d->yp[j] = y0[j];
            }
        }
        const auto& laws = sys.conservation_laws();
        for (const auto& law: laws) {
            double pivot_weight = 1;
            for (const auto& [index, weight]: law.weights) {
                pivot_weight = index == law.pivot ? weight : pivot_weight;
            }
            for (const auto& [index, weight]: law.weights) {
                for (auto k = colptr[index]; k < colptr[index + 1]; ++k) {
                    if (static_cast<std::size_t>(rows[k]) == law.pivot) {
                        data[k] = weight / pivot_weight;
                    }
                }
            }
        }
        return 0;
    }
    catch (...) {
        d->rhs.guard.pending = std::current_exception();
        return -1;
    }
}

// The residual's sparsity and a colouring of the rhs rows it keeps (see steady_data).
void prepare_sparse_newton(system& sys, steady_data& d) {
    const auto rhs_pattern = sys.jacobian_pattern(false);
    const std::size_t n = rhs_pattern.size();
    std::vector<char> pivot(n, 0);
    for (const auto& law: sys.conservation_laws()) {
        pivot[law.pivot] = 1;
    }
    d.rhs_rows.assign(n, {});
    d.pattern.assign(n, {});
    for (std::size_t j = 0; j < n; ++j) {
        for (const auto r: rhs_pattern[j]) {
            if (pivot[r] == 0) {
                d.rhs_rows[j].push_back(r);
            }
        }
        d.pattern[j] = d.rhs_rows[j];
    }
    for (const auto& law: sys.conservation_laws()) {
        for (const auto& [index, weight]: law.weights) {
            d.pattern[index].push_back(law.pivot);
        }
    }
    for (std::size_t j = 0; j < n; ++j) {
        auto& c = d.pattern[j];
        c.push_back(j);  // keep the diagonal, even where it is zero
        std::sort(c.begin(), c.end());
        c.erase(std::unique(c.begin(), c.end()), c.end());
    }
    // Greedy colouring of the columns by the rows kept.
    std::vector<std::vector<char>> used;
    for (std::size_t c = 0; c < n; ++c) {
        std::size_t colour = 0;
        for (; colour < d.groups.size(); ++colour) {
            if (std::none_of(d.rhs_rows[c].begin(), d.rhs_rows[c].end(),
                             [&](std::size_t r) { return used[colour][r] != 0; })) {
                break;
            }
        }
        if (colour == d.groups.size()) {
            d.groups.emplace_back();
            used.emplace_back(n, 0);
        }
        d.groups[colour].push_back(c);
        for (const auto r: d.rhs_rows[c]) {
            used[colour][r] = 1;
        }
    }
    d.f0.assign(n, 0.0);
    d.yp.assign(n, 0.0);
    d.fp.assign(n, 0.0);
}

// Scale of each state for convergence tests: its magnitude, but at least the absolute tolerance.
std::vector<double> state_scale(const system& sys, const std::vector<double>& y) {
    const auto atol = sys.abs_tolerances();
    std::vector<double> s(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        s[i] = std::max({std::abs(y[i]), atol[i] * 1e3, 1e-6});
    }
    return s;
}

// max_i |f_i| / scale_i [1/ms]
double scaled_residual(system& sys, const std::vector<double>& y) {
    std::vector<double> f(y.size());
    sys.rhs(0.0, y.data(), f.data(), false);
    const auto s = state_scale(sys, y);
    double r = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        r = std::max(r, std::abs(f[i]) / s[i]);
    }
    return r;
}

// Newton (KINSOL, line search, y >= 0). Returns true when it converged; y holds the result either way.
bool kinsol_solve(system& sys, std::vector<double>& y) {
    const auto n = static_cast<sunindextype>(y.size());
    sun_context ctx;
    steady_data data{{&sys, false, {}, nullptr, false, {}, {}, 0}, {}, {}, {}, {}, {}, {}, {}};
    for (const auto& law: sys.conservation_laws()) {
        double total = 0;
        for (const auto& [index, weight]: law.weights) {
            total += weight * y[index];
        }
        data.totals.push_back(total);
    }
    auto u = make_vector(n, ctx);
    auto u_scale = make_vector(n, ctx);
    auto f_scale = make_vector(n, ctx);
    auto constraints = make_vector(n, ctx);
    std::copy(y.begin(), y.end(), N_VGetArrayPointer(u.get()));
    const auto scale = state_scale(sys, y);
    for (sunindextype i = 0; i < n; ++i) {
        // Concentrations and mechanism states stay non-negative. Scale residuals like the states, per ms.
        N_VGetArrayPointer(u_scale.get())[i] = 1.0 / scale[static_cast<std::size_t>(i)];
        N_VGetArrayPointer(f_scale.get())[i] = 1.0 / scale[static_cast<std::size_t>(i)];
        N_VGetArrayPointer(constraints.get())[i] = sys.is_nonnegative(static_cast<std::size_t>(i)) ? 1.0 : 0.0;
    }
    kinsol_memory mem(KINCreate(ctx));
    if (!mem) {
        throw internal_error("KINCreate failed");
    }
    void* m = mem.get();
    check_kinsol(KINInit(m, kinsol_residual, u.get()), "KINInit");
    check_kinsol(KINSetUserData(m, &data), "KINSetUserData");
    check_kinsol(KINSetConstraints(m, constraints.get()), "KINSetConstraints");
    check_kinsol(KINSetFuncNormTol(m, 1e-13), "KINSetFuncNormTol");
    check_kinsol(KINSetScaledStepTol(m, 1e-15), "KINSetScaledStepTol");
    check_kinsol(KINSetNumMaxIters(m, 500), "KINSetNumMaxIters");
    check_kinsol(KINSetMaxSetupCalls(m, 1), "KINSetMaxSetupCalls");  // exact Newton
    sun_matrix jac;
    sun_linear_solver ls;
    const auto kind = choose_solver(sys, y.size());
    if (kind == solver_kind::gmres) {
        return false;  // large 3-D grids: pseudo-transient continuation with the GMRES integrator instead
    }
    // The Newton matrix here has the conservation laws' rows, which span every voxel: never a chain, so an asked-for
    // block-tridiagonal solver (which serves the time integration) leaves the resting state to KLU.
    if (kind == solver_kind::klu || kind == solver_kind::block_tridiagonal) {
        prepare_sparse_newton(sys, data);
        jac.reset(SUNSparseMatrix(n, n, static_cast<sunindextype>(nonzeros(data.pattern)), CSC_MAT, ctx));
        use_fast_matrix_ops(jac.get());
        set_structure(jac.get(), data.pattern);
        ls.reset(SUNLinSol_KLU(u.get(), jac.get(), ctx));
        SUNLinSol_KLUSetOrdering(ls.get(), 0);  // AMD
        check_kinsol(KINSetLinearSolver(m, ls.get(), jac.get()), "KINSetLinearSolver");
        check_kinsol(KINSetJacFn(m, kinsol_jacobian), "KINSetJacFn");
    }
    else {
        jac.reset(SUNDenseMatrix(n, n, ctx));
        use_fast_matrix_ops(jac.get());
        ls.reset(make_dense_solver(ctx, n, n));
        check_kinsol(KINSetLinearSolver(m, ls.get(), jac.get()), "KINSetLinearSolver");
    }
    KINSetErrHandlerFn(m, [](int, const char*, const char*, char*, void*) {}, nullptr);
    const int flag = KINSol(m, u.get(), KIN_LINESEARCH, u_scale.get(), f_scale.get());
    detail::finish_vector_ops();
    data.rhs.guard.rethrow();
    const double* r = N_VGetArrayPointer(u.get());
    std::vector<double> candidate(r, r + n);
    const bool finite = std::all_of(candidate.begin(), candidate.end(), [](double v) { return std::isfinite(v); });
    // KIN_LINESEARCH_NONCONV also ends a converged solve whose residual rounding keeps above KINSOL's tolerance (fine
    // voxels: D area / (distance volume) ~ 1e5 /ms); the callers judge the candidate by its scaled residual.
    if ((flag >= 0 || flag == KIN_LINESEARCH_NONCONV) && finite) {
        y = std::move(candidate);
        return true;
    }
    return false;
}

} // namespace

steady_state find_steady_state(system& sys, const std::vector<double>& guess) {
    if (sys.stochastic_instances() > 0) {
        throw error("no resting steady state for a model with stochastic channels (they never stop moving: "
                    "run.start = \"steady_state\" cannot be used); start from the initial state (run.start = "
                    "\"initial\")");
    }
    sys.reset_events();  // the resting cell of the model as written
    steady_state result;
    result.y = guess;
    if (sys.size() == 0) {
        result.converged = true;
        result.method = "trivial";
        return result;
    }
    constexpr double tolerance = 1e-10;  // [1/ms] scaled residual accepted as a steady state
    std::vector<double> y = guess;
    if (kinsol_solve(sys, y) && scaled_residual(sys, y) < tolerance) {
        result.y = y;
        result.converged = true;
        result.method = "KINSOL";
        result.residual = scaled_residual(sys, y);
        return result;
    }
    // Pseudo-transient continuation: integrate the resting cell (stimuli off) over growing horizons.
    integrator ode(sys, guess, 0.0, false, false);
    y = guess;
    for (double horizon = 1e2; horizon <= 1e10; horizon *= 10) {
        ode.advance(horizon, horizon);
        y = ode.state();
        if (scaled_residual(sys, y) < tolerance * 1e3) {
            break;
        }
    }
    std::vector<double> polished = y;
    if (kinsol_solve(sys, polished) && scaled_residual(sys, polished) < scaled_residual(sys, y)) {
        result.y = polished;
        result.method = "time integration + KINSOL";
    }
    else {
        result.y = y;
        result.method = "time integration";
    }
    result.residual = scaled_residual(sys, result.y);
    result.converged = result.residual < tolerance * 1e3;
    return result;
}

namespace {

// After an output step: a concentration or mechanism state below -limit x atol is an error. It cannot be
// negative; a small negative value within the tolerance is the integrator's noise, a large one means the model
// takes out more than is there (a constant-flux drain, a rate law without saturation).
void check_negative(system& sys, double t, const double* y, const std::vector<char>& nonnegative,
                    const std::vector<double>& atol, double limit) {
    if (!(limit > 0)) {
        return;
    }
    for (std::size_t i = 0; i < nonnegative.size(); ++i) {
        if (nonnegative[i] == 0 || !(y[i] < -limit * atol[i])) {
            continue;
        }
        const std::string& name = sys.state_names()[i];
        std::string unit;  // free concentrations are in uM; mechanism states carry their own units
        const auto dot = name.find('.');
        if (dot != std::string::npos &&
            sys.state_index(name.substr(0, dot), name.substr(dot + 1)) == static_cast<long>(i)) {
            unit = " uM";
        }
        // The largest drain of that species in that compartment at this moment, to point at a mechanism.
        std::string drain = largest_channel(sys, t, y, true, name, -1);
        if (!drain.empty()) {
            drain = "; the largest drain now is " + drain;
        }
        throw solver_error(fmt::format(
            "at t = {:.10g} ms: {} is negative, {:.6g}{} (below -{} x run.atol = {:.3g}{}){}. A concentration "
            "cannot be negative: the model removes more than is there. Try: check the mechanisms that remove it (a "
            "constant flux, or a rate law that does not vanish at zero, keeps draining an empty compartment) and "
            "their units; or run with --allow-negative to let it go on",
            t, name, y[i], unit, limit, -limit * atol[i], unit, drain));
    }
}

// Whole records of observables at multiples of the interval and at t_end: their number for a run to t_end.
double record_rows(double t_end, double interval) { return std::floor(t_end / interval) + 2; }

std::string bytes_text(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) {
        bytes /= 1024;
        ++u;
    }
    return fmt::format("{:.3g} {}", bytes, units[u]);
}

} // namespace

memory_estimate estimate_memory(const system& sys, double t_end, double bytes_per_record) {
    memory_estimate e;
    // The integrator's system: the states and one integrated budget channel per flux channel.
    const double n = static_cast<double>(sys.size() + sys.flux_channels().size());
    // CVODE's dense Newton matrix and the copy of the Jacobian it keeps between setups (8 n^2 bytes each), the
    // pivots, ~25 work vectors (Nordsieck history of BDF order 5, weights, corrections, temporaries), and at most
    // one byte per (colour, row) for the Jacobian colouring. KINSOL (the resting state) needs less, and earlier.
    e.solver = 2 * 8 * n * n + 8 * n + 25 * 8 * n + n * n;
    if (const auto kind = choose_solver(sys, static_cast<std::size_t>(n)); kind == solver_kind::gmres) {
        // Matrix-free GMRES: ~25 CVODE vectors plus the Krylov basis (30 vectors), the Jacobian's nonzeros for the
        // preconditioner and the pattern while it is built, the voxel blocks (a few states squared each).
        const auto* g = sys.mesh();
        const double dims = g != nullptr ? static_cast<double>(g->dimensions) : 1.0;
        const double nnz = n * (2 * dims + 4);
        e.solver = 16 * nnz + 48 * nnz + 10 * n + (25 + 32) * 8 * n + 8 * 16 * n;
    }
    else if (kind == solver_kind::block_tridiagonal) {
        // Block tridiagonal: the Jacobian's nonzeros (~6 per state on a chain) and the pattern while it is built, as
        // for KLU; the solver's copy of the structure with each entry's slot (24 bytes per nonzero) and three dense
        // k x k blocks per voxel of k states instead of KLU's factors.
        const auto* g = sys.mesh();
        const double voxels = g != nullptr ? std::max(static_cast<double>(g->size()), 1.0) : 1.0;
        const double nnz = n * 6;
        const double k = std::ceil(n / voxels);
        e.solver = 16 * nnz + 24 * nnz + 48 * nnz + 10 * n + 3 * 8 * k * n + 25 * 8 * n;
    }
    else if (kind == solver_kind::klu) {
        // Sparse: the Jacobian's nonzeros (about 2 d + 1 + a few per state on a d-dimensional grid) and KLU's
        // factors, whose fill-in grows with the grid's dimension (nested-dissection estimates: ~log n in 2-D,
        // ~n^(1/3) in 3-D), 16 bytes per nonzero (value and 64-bit index), plus the colouring (a byte per row per colour,
        // ~10 colours) and the pattern while it is built (~48 bytes per nonzero).
        const auto* g = sys.mesh();
        const double dims = g != nullptr ? static_cast<double>(g->dimensions) : 1.0;
        const double nnz = n * (2 * dims + 4);
        const double fill = dims <= 1 ? 3.0 : dims <= 2 ? 4.0 * std::log2(n) : 4.0 * std::cbrt(n);
        e.solver = 16 * nnz * (2 + fill) + 48 * nnz + 10 * n + 25 * 8 * n;
    }
    e.rows = record_rows(t_end, sys.model().record.interval);
    e.records = e.rows * bytes_per_record;
    return e;
}

double available_memory() {
    double available = -1;
    {
        std::ifstream meminfo("/proc/meminfo");
        std::string key;
        double kib = 0;
        std::string unit;
        while (meminfo >> key >> kib) {
            std::getline(meminfo, unit);
            if (key == "MemAvailable:") {
                available = kib * 1024;
                break;
            }
        }
    }
    if (available < 0) {
        available = static_cast<double>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
    }
    // A container's memory limit (cgroup v2) may be far below what the machine has.
    std::ifstream self("/proc/self/cgroup");
    for (std::string line; std::getline(self, line);) {
        if (line.rfind("0::", 0) != 0) {
            continue;
        }
        const std::string dir = "/sys/fs/cgroup" + line.substr(3);
        std::ifstream max_file(dir + "/memory.max");
        std::ifstream current_file(dir + "/memory.current");
        std::string max_text;
        double current = 0;
        if (max_file >> max_text && max_text != "max" && current_file >> current) {
            const double room = std::strtod(max_text.c_str(), nullptr) - current;
            available = std::min(available, std::max(room, 0.0));
        }
    }
    return available;
}

void check_memory(const system& sys, double t_end, double bytes_per_record) {
    const auto e = estimate_memory(sys, t_end, bytes_per_record);
    const double available = available_memory();
    if (e.total() > 0.8 * available) {
        throw error(fmt::format(
            "this run would need about {} of memory ({} for the solver of {} states and {} budget channels, {} for "
            "{:.4g} records kept in memory) but only {} is available; refused before starting. Record less often "
            "(record.interval {:.6g} ms), simulate less (t_end {:.6g} ms), or a smaller model",
            bytes_text(e.total()), bytes_text(e.solver), sys.size(), sys.flux_channels().size(),
            bytes_text(e.records), e.rows, bytes_text(available), sys.model().record.interval, t_end));
    }
}

simulation_result simulate(system& sys, recorder& out, const simulation_options& options) {
    const auto& model = sys.model();
    simulation_result result;
    const auto* resume = options.resume ? &*options.resume : nullptr;
    const double t_end = resume != nullptr ? resume->t_end : options.t_end.value_or(model.run.t_end);
    if (!(t_end > 0) || !std::isfinite(t_end)) {
        throw error(fmt::format("t_end must be a positive time, got {} ms", t_end));
    }
    result.t_end = t_end;
    check_memory(sys, t_end, out.bytes_per_record(sys.observables().size()));
    const std::size_t n_budget = sys.flux_channels().size();
    if (sys.size() + n_budget == 0) {
        // CVODE cannot integrate an empty system.
        throw error("nothing to simulate: this model has no free concentration, no mechanism state and no flux (every "
                    "compartment is clamped?)");
    }
    if (resume != nullptr) {
        if (resume->y0.size() != sys.size() || resume->y.size() != sys.size() + n_budget ||
            !(resume->t >= 0 && resume->t < t_end) || resume->next_record < 1) {
            throw error(fmt::format("the saved state does not fit this model ({} start values and {} values at t = "
                                    "{} ms for {} states and {} budget channels)",
                                    resume->y0.size(), resume->y.size(), resume->t, sys.size(), n_budget));
        }
        result.y0 = resume->y0;
        result.rest = resume->rest;
        result.stats = resume->stats;
    }
    else {
        result.y0 = sys.initial_state();
        if (options.start.value_or(model.run.start) == start_from::steady_state) {
            result.rest = find_steady_state(sys, result.y0);
            if (!result.rest->converged) {
                throw solver_error(fmt::format("no resting state found ({}; scaled residual {:.3g}/ms); start from "
                                               "the initial state instead (run.start = \"initial\")",
                                               result.rest->method, result.rest->residual));
            }
            result.y0 = result.rest->y;
        }
    }

    sys.reset_events();
    sys.set_reference(result.y0.data());
    const auto breaks = sys.breakpoints(t_end);
    const double interval = model.record.interval;
    std::size_t next_break = 0;
    std::size_t next_record = 1;
    std::size_t records = 0;
    double t = 0;
    if (resume != nullptr) {
        // The events already passed change parameters and clamped values inside the system: apply them again.
        // What they set in y is already in the saved state, so they write into a scratch copy.
        std::vector<double> scratch(resume->y.begin(), resume->y.begin() + static_cast<long>(sys.size()));
        next_break = std::min(resume->next_break, breaks.size());
        for (std::size_t k = 0; k < next_break; ++k) {
            sys.apply_events(breaks[k], scratch.data());
        }
        t = resume->t;
        next_record = resume->next_record;
        records = resume->records;
    }
    // Hybrid stochastic engine (docs/stochastic.md): each stochastic instance's clock integrates its total
    // propensity along with the ODEs, and fires one transition when it reaches an Exp(1) threshold. A continued
    // run starts every clock again with a fresh threshold (exact, since exponential waiting times have no memory),
    // drawing from its own stream (the number of records made so far) of the run's seed.
    std::vector<double> start_y = resume != nullptr ? resume->y : result.y0;
    const std::size_t n_stochastic = sys.stochastic_instances();
    std::vector<std::size_t> clocks(n_stochastic);
    std::vector<double> thresholds(n_stochastic);
    detail::random_stream random(model.run.seed, static_cast<std::uint32_t>(records));
    for (std::size_t k = 0; k < n_stochastic; ++k) {
        clocks[k] = sys.clock_index(k);
        start_y[clocks[k]] = 0;
        thresholds[k] = -std::log(random.uniform());
    }
    integrator ode(sys, start_y, t, true, true);
    if (n_stochastic > 0) {
        ode.watch_clocks(clocks, thresholds);
    }
    std::vector<double> values(sys.observables().size());
    const std::vector<char> wanted = out.wanted(sys.observables());
    if (wanted.size() != values.size()) {
        throw internal_error(fmt::format("recorder wants {} flags for {} observables", wanted.size(), values.size()));
    }
    std::vector<char> nonnegative(sys.size());
    for (std::size_t i = 0; i < sys.size(); ++i) {
        nonnegative[i] = sys.is_nonnegative(i) ? 1 : 0;
    }
    const auto atol = sys.abs_tolerances();
    if (resume != nullptr) {
        out.resume(sys.observables(), records);
    }
    else {
        out.begin(sys.observables());
        sys.observe(0.0, result.y0.data(), values.data(), wanted.data());
        out.record(0.0, values);
        out.record_state(0.0, result.y0.data());
        ++records;
        if (options.inspect) {
            options.inspect(0.0, result.y0.data());
        }
    }

    while (t < t_end) {
        const double t_stop = next_break < breaks.size() ? breaks[next_break] : t_end;
        const double t_record = std::min(static_cast<double>(next_record) * interval, t_end);
        const double target = std::min(t_record, t_stop);
        t = ode.advance(target, t_stop);
        check_negative(sys, t, ode.y(), nonnegative, atol, options.negative_limit);
        if (ode.rooted()) {
            const auto& fired = ode.fired();
            for (std::size_t k = 0; k < n_stochastic; ++k) {
                if (fired[k] != 0) {
                    sys.fire(k, t, ode.y_mutable(), random.uniform());
                    thresholds[k] = -std::log(random.uniform());
                    ++result.stats.stochastic_events;
                }
            }
            ode.restart(t);
        }
        // Whole records at multiples of the interval, and always the final time.
        const bool at_record = std::abs(t - t_record) <= 1e-12 * std::max(1.0, t_record);
        if (at_record) {
            sys.observe(t, ode.y(), values.data(), wanted.data());
            out.record(t, values);
            out.record_state(t, ode.y());
            ++records;
            if (options.inspect) {
                options.inspect(t, ode.y());
            }
            ++next_record;
            if (options.progress) {
                options.progress(t, t_end);
            }
        }
        if (next_break < breaks.size() && std::abs(t - t_stop) <= 1e-12 * std::max(1.0, t_stop)) {
            ode.apply_events(t);
            ode.restart(t);
            ++next_break;
            ++result.stats.restarts;
        }
        if (t < t_end && options.should_stop && options.should_stop()) {
            // Stop here, between two output steps, with everything needed to go on later.
            out.flush();
            ode.add_statistics(result.stats);
            result.interrupted = true;
            result.y_end = ode.state();
            result.budget = ode.budget();
            auto& s = result.state;
            s.t = t;
            s.t_end = t_end;
            s.y0 = result.y0;
            s.y.assign(ode.y(), ode.y() + sys.size() + n_budget);
            s.next_record = next_record;
            s.next_break = next_break;
            s.records = records;
            s.rest = result.rest;
            s.stats = result.stats;
            return result;
        }
    }
    out.end();
    result.y_end = ode.state();
    result.budget = ode.budget();
    ode.add_statistics(result.stats);
    return result;
}

void memory_recorder::begin(const std::vector<observable_info>& observables) {
    observables_.clear();
    source_.clear();
    for (std::size_t k = 0; k < observables.size(); ++k) {
        if (keep_.empty() || std::find(keep_.begin(), keep_.end(), observables[k].name) != keep_.end()) {
            observables_.push_back(observables[k]);
            source_.push_back(k);
        }
    }
    times_.clear();
    columns_.assign(observables_.size(), {});
}

std::vector<char> memory_recorder::wanted(const std::vector<observable_info>& observables) const {
    std::vector<char> flags(observables.size(), keep_.empty() ? 1 : 0);
    for (std::size_t k = 0; k < observables.size() && !keep_.empty(); ++k) {
        flags[k] = std::find(keep_.begin(), keep_.end(), observables[k].name) != keep_.end() ? 1 : 0;
    }
    return flags;
}

void memory_recorder::record(double t, std::span<const double> values) {
    times_.push_back(t);
    for (std::size_t k = 0; k < source_.size(); ++k) {
        columns_[k].push_back(values[source_[k]]);
    }
}

double memory_recorder::bytes_per_record(std::size_t columns) const {
    // 8 bytes per value and the time; x 2 for the spare capacity of vectors that grow by doubling.
    const std::size_t kept = keep_.empty() ? columns : std::min(columns, keep_.size());
    return 2.0 * 8.0 * static_cast<double>(kept + 1);
}

const std::vector<double>& memory_recorder::column(const std::string& name) const {
    for (std::size_t k = 0; k < observables_.size(); ++k) {
        if (observables_[k].name == name) {
            return columns_[k];
        }
    }
    throw error(fmt::format("no recorded observable named '{}'", name));
}

void tee_recorder::begin(const std::vector<observable_info>& observables) {
    for (auto* s: sinks_) {
        s->begin(observables);
    }
}

void tee_recorder::record(double t, std::span<const double> values) {
    for (auto* s: sinks_) {
        s->record(t, values);
    }
}

std::vector<char> tee_recorder::wanted(const std::vector<observable_info>& observables) const {
    std::vector<char> flags(observables.size(), 0);
    for (const auto* s: sinks_) {
        const auto w = s->wanted(observables);
        for (std::size_t k = 0; k < flags.size() && k < w.size(); ++k) {
            flags[k] = flags[k] != 0 || w[k] != 0 ? 1 : 0;
        }
    }
    return flags;
}

void tee_recorder::end() {
    for (auto* s: sinks_) {
        s->end();
    }
}

void tee_recorder::resume(const std::vector<observable_info>& observables, std::size_t rows) {
    for (auto* s: sinks_) {
        s->resume(observables, rows);
    }
}

void tee_recorder::flush() {
    for (auto* s: sinks_) {
        s->flush();
    }
}

void tee_recorder::record_state(double t, const double* y) {
    for (auto* s: sinks_) {
        s->record_state(t, y);
    }
}

double tee_recorder::bytes_per_record(std::size_t columns) const {
    double total = 0;
    for (const auto* s: sinks_) {
        total += s->bytes_per_record(columns);
    }
    return total;
}

} // namespace cadyn
