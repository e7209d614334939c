// Compiled serial vector and matrix operations for SUNDIALS (see fast_ops.hpp for why).
//
// Each function keeps the arithmetic of SUNDIALS 6.4.1's serial version, including every special case of the
// linear sum, so elementwise results do not change (tests/unit/test_fast_ops.cpp compares them bit for bit).
// Reductions use four partial sums so that the compiler can keep several additions in flight.
#include "fast_ops.hpp"
#include "direct_solver.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <nvector/nvector_serial.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

namespace cadyn::detail {
namespace {

using index = sunindextype;

index length(N_Vector v) { return NV_LENGTH_S(v); }

// ---- Deferred in-place sums ----
// CVODE's predictor (cvPredict in SUNDIALS 6.4.1) moves its Nordsieck history forward by Pascal's triangle in
// q(q+1)/2 separate calls zn[j-1] += zn[j] (N_VLinearSum(1, zn[j-1], 1, zn[j], zn[j-1])): 15 passes over three
// long vectors at order 5, 72 % of all linear sums and 18 % of all instructions of the 1000-voxel wave; on 4000
// voxels the history no longer fits in L2 and each pass streams it from L3. CVODE itself is Debian's -O0 build,
// but every vector operation comes through this file. So such an in-place unit sum on a long vector that owns its
// data is recorded instead of done, and the next operation of any kind first does all recorded sums in one pass:
// when they are the predictor's, with each element's history in registers (pascal()), else `block` elements at a
// time in the recorded order, so that the vectors are read once and stay in L1 meanwhile. Every element sees the
// same additions in the same order: results are identical to the bit (tests/unit/test_fast_ops.cpp). What makes
// this safe is that nothing reaches a vector's data but through its operations: use_fast_vector_ops() gives a
// long vector versions of all of them that first do the pending sums (settled<>), array_pointer() included, which
// is how right-hand sides, Jacobians and linear solvers get at the data; destroy() and set_array_pointer() do them
// too. Short vectors keep the plain operations (a point model pays nothing): pending sums are only ever on long
// vectors, which a short vector's operation does not touch. A vector made around someone else's memory
// (N_VMake_Serial) is never deferred, since that memory may go away without an operation. One list per thread;
// finish_vector_ops() empties it when CVode() or KINSol() returns.
struct pending_sum {
    double* z;        // z += y
    const double* y;
};
struct deferred_sums {
    static constexpr std::size_t capacity = 32;  // BDF's predictor needs 15
    std::array<pending_sum, capacity> sums{};
    std::size_t count = 0;
    index n = 0;  // the length of every pending sum's vectors
};
thread_local deferred_sums deferred;
constexpr index defer_from = 256;  // shorter vectors are summed at once (they sit in L1 anyway)
constexpr index block = 256;       // elements per vector per sweep step: 2 KiB, ~12 KiB for the whole history

// Element i (T = double) or elements i, i + 1 (T = a pair of doubles) of pascal() below.
template <int Q, class T>
void pascal_at(const std::array<double*, 6>& zn, index i) {
    T v[Q + 1];
#pragma GCC unroll 8
    for (int j = 0; j <= Q; ++j) {
        std::memcpy(&v[j], zn[static_cast<std::size_t>(j)] + i, sizeof(T));
    }
#pragma GCC unroll 8
    for (int k = 1; k <= Q; ++k) {
#pragma GCC unroll 8
        for (int j = Q; j >= k; --j) {
            v[j - 1] += v[j];
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < Q; ++j) {
        std::memcpy(zn[static_cast<std::size_t>(j)] + i, &v[j], sizeof(T));
    }
}

// The predictor's sums for order q, zn[j-1] += zn[j] for k = 1 .. q and j = q down to k, on each element with the
// history in registers (two elements at a time): q + 1 loads, q(q+1)/2 additions and q stores per element instead
// of a load, a load, an addition and a store per sum. The same additions in the same order.
template <int Q>
void pascal(const std::array<double*, 6>& zn, index n) {
    using pair = double __attribute__((vector_size(16)));
    index i = 0;
    for (; i + 2 <= n; i += 2) {
        pascal_at<Q, pair>(zn, i);
    }
    for (; i < n; ++i) {
        pascal_at<Q, double>(zn, i);
    }
}

// The order q when the pending sums are exactly the predictor's (above) on q + 1 distinct vectors, which go to zn;
// else 0.
int predictor_order(const deferred_sums& d, std::array<double*, 6>& zn) {
    int q = 0;
    while (q < 5 && static_cast<std::size_t>((q + 1) * (q + 2) / 2) <= d.count) {
        ++q;
    }
    if (q == 0 || static_cast<std::size_t>(q * (q + 1) / 2) != d.count) {
        return 0;
    }
    // The first q sums name the vectors: zn[q-1] += zn[q], zn[q-2] += zn[q-1], ..., zn[0] += zn[1].
    zn[static_cast<std::size_t>(q)] = const_cast<double*>(d.sums[0].y);
    for (int j = q; j >= 1; --j) {
        const auto& s = d.sums[static_cast<std::size_t>(q - j)];
        if (s.y != zn[static_cast<std::size_t>(j)]) {
            return 0;
        }
        zn[static_cast<std::size_t>(j - 1)] = s.z;
    }
    for (int a = 0; a <= q; ++a) {
        for (int b = a + 1; b <= q; ++b) {
            if (zn[static_cast<std::size_t>(a)] == zn[static_cast<std::size_t>(b)]) {
                return 0;
            }
        }
    }
    std::size_t e = 0;
    for (int k = 1; k <= q; ++k) {
        for (int j = q; j >= k; --j, ++e) {
            if (d.sums[e].z != zn[static_cast<std::size_t>(j - 1)] || d.sums[e].y != zn[static_cast<std::size_t>(j)]) {
                return 0;
            }
        }
    }
    return q;
}

[[gnu::noinline]] void run_deferred() noexcept {
    auto& d = deferred;
    std::array<double*, 6> zn{};
    switch (predictor_order(d, zn)) {
    case 1: pascal<1>(zn, d.n); break;
    case 2: pascal<2>(zn, d.n); break;
    case 3: pascal<3>(zn, d.n); break;
    case 4: pascal<4>(zn, d.n); break;
    case 5: pascal<5>(zn, d.n); break;
    default:
        for (index lo = 0; lo < d.n; lo += block) {
            const index hi = std::min(d.n, lo + block);
            for (std::size_t k = 0; k < d.count; ++k) {
                double* z = d.sums[k].z;
                const double* y = d.sums[k].y;
                for (index i = lo; i < hi; ++i) {
                    z[i] += y[i];
                }
            }
        }
    }
    d.count = 0;
}

void settle() noexcept {
    if (deferred.count != 0) {
        run_deferred();
    }
}

// z = x + y with z = x: record it when it may wait (see above); false when it must be done now.
bool defer_sum(N_Vector x, N_Vector y) noexcept {
    const index n = NV_LENGTH_S(x);
    if (n < defer_from || x == y || !NV_OWN_DATA_S(x) || !NV_OWN_DATA_S(y)) {
        return false;
    }
    auto& d = deferred;
    if (d.count == deferred_sums::capacity || (d.count != 0 && d.n != n)) {
        run_deferred();
    }
    d.n = n;
    d.sums[d.count++] = {NV_DATA_S(x), NV_DATA_S(y)};
    return true;
}

double* data(N_Vector v) { return NV_DATA_S(v); }
double* array_pointer(N_Vector v) { return NV_DATA_S(v); }
void destroy(N_Vector v) {
    settle();
    N_VDestroy_Serial(v);
}
void set_array_pointer(double* p, N_Vector v) {
    settle();
    N_VSetArrayPointer_Serial(p, v);
}
void print(N_Vector v) {
    settle();
    N_VPrint_Serial(v);
}
void print_file(N_Vector v, FILE* f) {
    settle();
    N_VPrintFile_Serial(v, f);
}
int buffer_pack(N_Vector v, void* buffer) {
    settle();
    return N_VBufPack_Serial(v, buffer);
}
int buffer_unpack(N_Vector v, void* buffer) {
    settle();
    return N_VBufUnpack_Serial(v, buffer);
}

// settled<f>: f after the pending sums.
template <auto F>
struct settling;
template <class R, class... A, R (*F)(A...)>
struct settling<F> {
    static R call(A... a) {
        settle();
        return F(a...);
    }
};
template <auto F>
constexpr auto settled = &settling<F>::call;
// The operation a vector gets: settled on a long vector (one that may have pending sums), plain on a short one.
template <bool Long, auto F>
constexpr decltype(F) pick = Long ? settled<F> : F;

// sum over i of f(i), in four partial sums.
template <class F>
double sum4(index n, F f) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    index i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += f(i);
        s1 += f(i + 1);
        s2 += f(i + 2);
        s3 += f(i + 3);
    }
    for (; i < n; ++i) {
        s0 += f(i);
    }
    return (s0 + s1) + (s2 + s3);
}

// z = a x + b y, case by case as N_VLinearSum_Serial (x + y, y - x, b y + x, ... are not always a x + b y to the
// bit: signed zeros differ, e.g. y - x = +0 where -1 (x - y) = -0).
void linear_sum(double a, N_Vector x, double b, N_Vector y, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    const double* yd = data(y);
    double* zd = data(z);
    // y += a x (as Vaxpy: a = 1 adds, a = -1 subtracts)
    const auto axpy = [n](double c, const double* u, double* v) {
        if (c == 1.0) {
            for (index i = 0; i < n; ++i) {
                v[i] += u[i];
            }
        }
        else if (c == -1.0) {
            for (index i = 0; i < n; ++i) {
                v[i] -= u[i];
            }
        }
        else {
            for (index i = 0; i < n; ++i) {
                v[i] += c * u[i];
            }
        }
    };
    if (b == 1.0 && z == y) {
        axpy(a, xd, zd);
        return;
    }
    if (a == 1.0 && z == x) {
        axpy(b, yd, zd);
        return;
    }
    if (a == 1.0 && b == 1.0) {
        for (index i = 0; i < n; ++i) {
            zd[i] = xd[i] + yd[i];
        }
        return;
    }
    if ((a == 1.0 && b == -1.0) || (a == -1.0 && b == 1.0)) {
        const double* u = a == 1.0 ? xd : yd;  // u - v
        const double* v = a == 1.0 ? yd : xd;
        for (index i = 0; i < n; ++i) {
            zd[i] = u[i] - v[i];
        }
        return;
    }
    if (a == 1.0 || b == 1.0) {  // c v + u with u the unit-coefficient vector
        const double c = a == 1.0 ? b : a;
        const double* v = a == 1.0 ? yd : xd;
        const double* u = a == 1.0 ? xd : yd;
        for (index i = 0; i < n; ++i) {
            zd[i] = c * v[i] + u[i];
        }
        return;
    }
    if (a == -1.0 || b == -1.0) {  // c v - u with u the vector of coefficient -1
        const double c = a == -1.0 ? b : a;
        const double* v = a == -1.0 ? yd : xd;
        const double* u = a == -1.0 ? xd : yd;
        for (index i = 0; i < n; ++i) {
            zd[i] = c * v[i] - u[i];
        }
        return;
    }
    if (a == b) {
        for (index i = 0; i < n; ++i) {
            zd[i] = a * (xd[i] + yd[i]);
        }
        return;
    }
    if (a == -b) {
        for (index i = 0; i < n; ++i) {
            zd[i] = a * (xd[i] - yd[i]);
        }
        return;
    }
    for (index i = 0; i < n; ++i) {
        zd[i] = a * xd[i] + b * yd[i];
    }
}

// A long vector's linear sum: an in-place unit sum is deferred (above); anything else first does the deferred sums.
void linear_sum_deferring(double a, N_Vector x, double b, N_Vector y, N_Vector z) {
    if (a == 1.0 && b == 1.0 && z == x && defer_sum(x, y)) {
        return;
    }
    settle();
    linear_sum(a, x, b, y, z);
}

void constant(double c, N_Vector z) { std::fill(data(z), data(z) + length(z), c); }

void product(N_Vector x, N_Vector y, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    const double* yd = data(y);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = xd[i] * yd[i];
    }
}

void divide(N_Vector x, N_Vector y, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    const double* yd = data(y);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = xd[i] / yd[i];
    }
}

void scale(double c, N_Vector x, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    if (c == 1.0) {
        if (x != z) {
            std::copy(xd, xd + n, zd);
        }
        return;
    }
    if (c == -1.0) {
        for (index i = 0; i < n; ++i) {
            zd[i] = -xd[i];
        }
        return;
    }
    for (index i = 0; i < n; ++i) {
        zd[i] = c * xd[i];
    }
}

void absolute(N_Vector x, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = std::fabs(xd[i]);
    }
}

void inverse(N_Vector x, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = 1.0 / xd[i];
    }
}

void add_constant(N_Vector x, double b, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = xd[i] + b;
    }
}

double dot(N_Vector x, N_Vector y) {
    const double* xd = data(x);
    const double* yd = data(y);
    return sum4(length(x), [=](index i) { return xd[i] * yd[i]; });
}

double max_norm(N_Vector x) {
    const index n = length(x);
    const double* xd = data(x);
    double m = 0;
    for (index i = 0; i < n; ++i) {
        m = std::max(m, std::fabs(xd[i]));
    }
    return m;
}

double weighted_square_sum(N_Vector x, N_Vector w) {
    const double* xd = data(x);
    const double* wd = data(w);
    return sum4(length(x), [=](index i) {
        const double p = xd[i] * wd[i];
        return p * p;
    });
}

double weighted_square_sum_mask(N_Vector x, N_Vector w, N_Vector id) {
    const double* xd = data(x);
    const double* wd = data(w);
    const double* idd = data(id);
    return sum4(length(x), [=](index i) {
        const double p = xd[i] * wd[i];
        return idd[i] > 0 ? p * p : 0.0;
    });
}

double wrms_norm(N_Vector x, N_Vector w) {
    return std::sqrt(weighted_square_sum(x, w) / static_cast<double>(length(x)));
}

double wrms_norm_mask(N_Vector x, N_Vector w, N_Vector id) {
    return std::sqrt(weighted_square_sum_mask(x, w, id) / static_cast<double>(length(x)));
}

double minimum(N_Vector x) {
    const index n = length(x);
    const double* xd = data(x);
    double m = xd[0];
    for (index i = 1; i < n; ++i) {
        if (xd[i] < m) {
            m = xd[i];
        }
    }
    return m;
}

double wl2_norm(N_Vector x, N_Vector w) { return std::sqrt(weighted_square_sum(x, w)); }

double l1_norm(N_Vector x) {
    const double* xd = data(x);
    return sum4(length(x), [=](index i) { return std::fabs(xd[i]); });
}

void compare(double c, N_Vector x, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    for (index i = 0; i < n; ++i) {
        zd[i] = std::fabs(xd[i]) >= c ? 1.0 : 0.0;
    }
}

sunbooleantype inverse_test(N_Vector x, N_Vector z) {
    const index n = length(x);
    const double* xd = data(x);
    double* zd = data(z);
    sunbooleantype no_zero = SUNTRUE;
    for (index i = 0; i < n; ++i) {
        if (xd[i] == 0.0) {
            no_zero = SUNFALSE;
        }
        else {
            zd[i] = 1.0 / xd[i];
        }
    }
    return no_zero;
}

sunbooleantype constraint_mask(N_Vector c, N_Vector x, N_Vector m) {
    const index n = length(x);
    const double* cd = data(c);
    const double* xd = data(x);
    double* md = data(m);
    bool violated = false;
    for (index i = 0; i < n; ++i) {
        md[i] = 0;
        if (cd[i] == 0.0) {
            continue;
        }
        const double a = std::fabs(cd[i]);
        if ((a > 1.5 && xd[i] * cd[i] <= 0.0) || (a > 0.5 && xd[i] * cd[i] < 0.0)) {
            md[i] = 1;
            violated = true;
        }
    }
    return violated ? SUNFALSE : SUNTRUE;
}

double min_quotient(N_Vector num, N_Vector denom) {
    const index n = length(num);
    const double* nd = data(num);
    const double* dd = data(denom);
    bool found = false;
    double m = std::numeric_limits<double>::max();  // SUNDIALS' BIG_REAL when no denominator is nonzero
    for (index i = 0; i < n; ++i) {
        if (dd[i] == 0.0) {
            continue;
        }
        const double q = nd[i] / dd[i];
        m = found ? std::min(m, q) : q;
        found = true;
    }
    return m;
}

// z = sum c[k] X[k], with nvec_serial's cases (z may be X[0]).
int linear_combination(int nvec, double* c, N_Vector* x, N_Vector z) {
    if (nvec == 1) {
        scale(c[0], x[0], z);
        return 0;
    }
    if (nvec == 2) {
        linear_sum(c[0], x[0], c[1], x[1], z);
        return 0;
    }
    const index n = length(z);
    double* zd = data(z);
    if (x[0] == z) {
        if (c[0] != 1.0) {
            for (index i = 0; i < n; ++i) {
                zd[i] *= c[0];
            }
        }
    }
    else {
        const double* xd = data(x[0]);
        for (index i = 0; i < n; ++i) {
            zd[i] = c[0] * xd[i];
        }
    }
    for (int k = 1; k < nvec; ++k) {
        const double* xd = data(x[k]);
        const double ck = c[k];
        for (index i = 0; i < n; ++i) {
            zd[i] += ck * xd[i];
        }
    }
    return 0;
}

// Z[k] = a[k] x + Y[k].
int scale_add_multi(int nvec, double* a, N_Vector x, N_Vector* y, N_Vector* z) {
    if (nvec == 1) {
        linear_sum(a[0], x, 1.0, y[0], z[0]);
        return 0;
    }
    // A block of elements at a time through every Z[k], so that x is read from memory once rather than nvec times
    // (CVODE's step update, zn[j] += l_j acor for j = 0 .. q, on long vectors). Each element's arithmetic is the same.
    const index n = length(x);
    const double* xd = data(x);
    for (index lo = 0; lo < n; lo += block) {
        const index m = std::min(block, n - lo);
        const double* xb = xd + lo;
        for (int k = 0; k < nvec; ++k) {
            const double* yb = data(y[k]) + lo;
            double* zb = data(z[k]) + lo;
            const double ak = a[k];
            for (index i = 0; i < m; ++i) {
                zb[i] = ak * xb[i] + yb[i];
            }
        }
    }
    return 0;
}

int dot_multi(int nvec, N_Vector x, N_Vector* y, double* dots) {
    for (int k = 0; k < nvec; ++k) {
        dots[k] = dot(x, y[k]);
    }
    return 0;
}

// ---- matrices ----

int dense_zero(SUNMatrix a) {
    std::fill(SM_DATA_D(a), SM_DATA_D(a) + SM_LDATA_D(a), 0.0);
    return SUNMAT_SUCCESS;
}

int dense_copy(SUNMatrix a, SUNMatrix b) {
    if (SM_ROWS_D(a) != SM_ROWS_D(b) || SM_COLUMNS_D(a) != SM_COLUMNS_D(b)) {
        return SUNMatCopy_Dense(a, b);
    }
    std::copy(SM_DATA_D(a), SM_DATA_D(a) + SM_LDATA_D(a), SM_DATA_D(b));
    return SUNMAT_SUCCESS;
}

int dense_scale_add_identity(double c, SUNMatrix a) {
    const index rows = SM_ROWS_D(a);
    const index columns = SM_COLUMNS_D(a);
    double* d = SM_DATA_D(a);
    for (index j = 0; j < columns; ++j) {
        double* column = d + j * rows;
        for (index i = 0; i < rows; ++i) {
            column[i] = c * column[i];
        }
        if (j < rows) {
            column[j] += 1.0;
        }
    }
    return SUNMAT_SUCCESS;
}

int sparse_zero(SUNMatrix a) {
    // As SUNMatZero_Sparse: values, row indices and column pointers all zero.
    const index nnz = SM_NNZ_S(a);
    std::fill(SM_DATA_S(a), SM_DATA_S(a) + nnz, 0.0);
    std::fill(SM_INDEXVALS_S(a), SM_INDEXVALS_S(a) + nnz, index{0});
    std::fill(SM_INDEXPTRS_S(a), SM_INDEXPTRS_S(a) + SM_NP_S(a) + 1, index{0});
    return SUNMAT_SUCCESS;
}

int sparse_copy(SUNMatrix a, SUNMatrix b) {
    const index used = SM_INDEXPTRS_S(a)[SM_NP_S(a)];
    if (SM_ROWS_S(a) != SM_ROWS_S(b) || SM_COLUMNS_S(a) != SM_COLUMNS_S(b) ||
        SM_SPARSETYPE_S(a) != SM_SPARSETYPE_S(b) || SM_NNZ_S(b) < used) {
        return SUNMatCopy_Sparse(a, b);  // reallocates b
    }
    const index nnz_b = SM_NNZ_S(b);
    std::copy(SM_DATA_S(a), SM_DATA_S(a) + used, SM_DATA_S(b));
    std::fill(SM_DATA_S(b) + used, SM_DATA_S(b) + nnz_b, 0.0);
    std::copy(SM_INDEXVALS_S(a), SM_INDEXVALS_S(a) + used, SM_INDEXVALS_S(b));
    std::fill(SM_INDEXVALS_S(b) + used, SM_INDEXVALS_S(b) + nnz_b, index{0});
    std::copy(SM_INDEXPTRS_S(a), SM_INDEXPTRS_S(a) + SM_NP_S(a) + 1, SM_INDEXPTRS_S(b));
    return SUNMAT_SUCCESS;
}

int sparse_scale_add_identity(double c, SUNMatrix a) {
    const index np = SM_NP_S(a);
    const index* ptr = SM_INDEXPTRS_S(a);
    const index* idx = SM_INDEXVALS_S(a);
    if (SM_ROWS_S(a) != SM_COLUMNS_S(a)) {
        return SUNMatScaleAddI_Sparse(c, a);
    }
    // Every column (CSC) or row (CSR) must hold its diagonal entry; else SUNDIALS' version makes room for it.
    for (index j = 0; j < np; ++j) {
        bool diagonal = false;
        for (index k = ptr[j]; k < ptr[j + 1]; ++k) {
            diagonal |= idx[k] == j;
        }
        if (!diagonal) {
            return SUNMatScaleAddI_Sparse(c, a);
        }
    }
    double* d = SM_DATA_S(a);
    for (index j = 0; j < np; ++j) {
        for (index k = ptr[j]; k < ptr[j + 1]; ++k) {
            d[k] = c * d[k];
            if (idx[k] == j) {
                d[k] += 1.0;
            }
        }
    }
    return SUNMAT_SUCCESS;
}

SUNMatrix fast_clone(SUNMatrix a) {
    SUNMatrix b = SUNMatGetID(a) == SUNMATRIX_DENSE ? SUNMatClone_Dense(a) : SUNMatClone_Sparse(a);
    if (b != nullptr) {
        use_fast_matrix_ops(b);
    }
    return b;
}

// ---- dense LU with partial pivoting over the leading block ----
//
// The matrix is [A 0; B D] with A the states' block (leading x leading) and D diagonal: the rows after the
// leading block belong to quantities that nothing in the leading block depends on (integrated budget
// channels). A is factorised with partial pivoting (as SUNDIALS' denseGETRF: largest magnitude in the column,
// whole rows swapped); the trailing unknowns follow by substitution.

struct dense_content {
    sunindextype n = 0;        // rows and columns
    sunindextype leading = 0;  // the factorised block
    std::vector<sunindextype> pivots;
    sunindextype last_flag = 0;
};

dense_content& content_of(SUNLinearSolver s) { return solver_content<dense_content>(s); }

int dense_space(SUNLinearSolver s, long* real_words, long* integer_words) {
    *real_words = 0;
    *integer_words = static_cast<long>(content_of(s).pivots.size()) + 3;
    return SUNLS_SUCCESS;
}

int dense_setup(SUNLinearSolver s, SUNMatrix a) {
    auto& c = content_of(s);
    if (SUNMatGetID(a) != SUNMATRIX_DENSE || SM_ROWS_D(a) != c.n || SM_COLUMNS_D(a) != c.n) {
        c.last_flag = SUNLS_ILL_INPUT;
        return SUNLS_ILL_INPUT;
    }
    const index n = c.n;
    const index m = c.leading;
    double* d = SM_DATA_D(a);
    for (index k = 0; k < m; ++k) {
        double* column_k = d + k * n;
        index pivot = k;
        for (index i = k + 1; i < m; ++i) {
            if (std::fabs(column_k[i]) > std::fabs(column_k[pivot])) {
                pivot = i;
            }
        }
        c.pivots[static_cast<std::size_t>(k)] = pivot;
        if (column_k[pivot] == 0.0) {
            c.last_flag = k + 1;
            return SUNLS_LUFACT_FAIL;
        }
        if (pivot != k) {
            for (index j = 0; j < m; ++j) {
                std::swap(d[j * n + pivot], d[j * n + k]);
            }
        }
        const double inverse_pivot = 1.0 / column_k[k];
        for (index i = k + 1; i < m; ++i) {
            column_k[i] *= inverse_pivot;
        }
        for (index j = k + 1; j < m; ++j) {
            double* column_j = d + j * n;
            const double a_kj = column_j[k];
            if (a_kj != 0.0) {
                for (index i = k + 1; i < m; ++i) {
                    column_j[i] -= a_kj * column_k[i];
                }
            }
        }
    }
    for (index i = m; i < n; ++i) {
        if (d[i * n + i] == 0.0) {
            c.last_flag = i + 1;
            return SUNLS_LUFACT_FAIL;
        }
    }
    c.last_flag = 0;
    return SUNLS_SUCCESS;
}

int dense_solve(SUNLinearSolver s, SUNMatrix a, N_Vector x, N_Vector b, double) {
    settle();  // x and b may be long vectors with pending sums
    auto& c = content_of(s);
    const index n = c.n;
    const index m = c.leading;
    const double* d = SM_DATA_D(a);
    double* xd = data(x);
    if (x != b) {
        std::copy(data(b), data(b) + n, xd);
    }
    for (index k = 0; k < m; ++k) {
        const index pivot = c.pivots[static_cast<std::size_t>(k)];
        if (pivot != k) {
            std::swap(xd[k], xd[pivot]);
        }
    }
    for (index k = 0; k + 1 < m; ++k) {  // L y = P b (unit diagonal)
        const double* column_k = d + k * n;
        const double xk = xd[k];
        for (index i = k + 1; i < m; ++i) {
            xd[i] -= column_k[i] * xk;
        }
    }
    for (index k = m - 1; k >= 0; --k) {  // U x = y
        const double* column_k = d + k * n;
        xd[k] /= column_k[k];
        const double xk = xd[k];
        for (index i = 0; i < k; ++i) {
            xd[i] -= column_k[i] * xk;
        }
    }
    for (index j = 0; j < m; ++j) {  // B x_A + D x_B = b_B
        const double* column_j = d + j * n;
        const double xj = xd[j];
        for (index i = m; i < n; ++i) {
            xd[i] -= column_j[i] * xj;
        }
    }
    for (index i = m; i < n; ++i) {
        xd[i] /= d[i * n + i];
    }
    c.last_flag = SUNLS_SUCCESS;
    return SUNLS_SUCCESS;
}

// Every operation of this file into a vector's table; on a long vector each one that reads or writes the data does
// the pending sums first, and the linear sum may defer.
template <bool Long>
void set_vector_ops(N_Vector_Ops ops) {
    ops->nvgetarraypointer = pick<Long, array_pointer>;
    ops->nvgetlength = length;
    ops->nvlinearsum = Long ? linear_sum_deferring : linear_sum;
    ops->nvconst = pick<Long, constant>;
    ops->nvprod = pick<Long, product>;
    ops->nvdiv = pick<Long, divide>;
    ops->nvscale = pick<Long, scale>;
    ops->nvabs = pick<Long, absolute>;
    ops->nvinv = pick<Long, inverse>;
    ops->nvaddconst = pick<Long, add_constant>;
    ops->nvdotprod = pick<Long, dot>;
    ops->nvmaxnorm = pick<Long, max_norm>;
    ops->nvwrmsnorm = pick<Long, wrms_norm>;
    ops->nvwrmsnormmask = pick<Long, wrms_norm_mask>;
    ops->nvmin = pick<Long, minimum>;
    ops->nvwl2norm = pick<Long, wl2_norm>;
    ops->nvl1norm = pick<Long, l1_norm>;
    ops->nvcompare = pick<Long, compare>;
    ops->nvinvtest = pick<Long, inverse_test>;
    ops->nvconstrmask = pick<Long, constraint_mask>;
    ops->nvminquotient = pick<Long, min_quotient>;
    ops->nvlinearcombination = pick<Long, linear_combination>;
    ops->nvscaleaddmulti = pick<Long, scale_add_multi>;
    ops->nvdotprodmulti = pick<Long, dot_multi>;
    ops->nvdotprodlocal = pick<Long, dot>;
    ops->nvmaxnormlocal = pick<Long, max_norm>;
    ops->nvminlocal = pick<Long, minimum>;
    ops->nvl1normlocal = pick<Long, l1_norm>;
    ops->nvinvtestlocal = pick<Long, inverse_test>;
    ops->nvconstrmasklocal = pick<Long, constraint_mask>;
    ops->nvminquotientlocal = pick<Long, min_quotient>;
    ops->nvwsqrsumlocal = pick<Long, weighted_square_sum>;
    ops->nvwsqrsummasklocal = pick<Long, weighted_square_sum_mask>;
    ops->nvdotprodmultilocal = pick<Long, dot_multi>;
}

} // namespace

void finish_vector_ops() noexcept { settle(); }

void use_fast_vector_ops(N_Vector v) {
    auto* ops = v->ops;
    if (length(v) >= defer_from) {
        set_vector_ops<true>(ops);
    }
    else {
        set_vector_ops<false>(ops);
    }
    // The operations of nvector_serial that stay reach the data only after the deferred sums are done.
    ops->nvdestroy = destroy;
    ops->nvsetarraypointer = set_array_pointer;
    ops->nvprint = print;
    ops->nvprintfile = print_file;
    ops->nvbufpack = buffer_pack;
    ops->nvbufunpack = buffer_unpack;
    // No vector-array operations (SUNDIALS then loops over the ones above).
    ops->nvlinearsumvectorarray = nullptr;
    ops->nvscalevectorarray = nullptr;
    ops->nvconstvectorarray = nullptr;
    ops->nvwrmsnormvectorarray = nullptr;
    ops->nvwrmsnormmaskvectorarray = nullptr;
    ops->nvscaleaddmultivectorarray = nullptr;
    ops->nvlinearcombinationvectorarray = nullptr;
}

void use_fast_matrix_ops(SUNMatrix m) {
    switch (SUNMatGetID(m)) {
    case SUNMATRIX_DENSE:
        m->ops->zero = dense_zero;
        m->ops->copy = dense_copy;
        m->ops->scaleaddi = dense_scale_add_identity;
        m->ops->clone = fast_clone;
        break;
    case SUNMATRIX_SPARSE:
        m->ops->zero = sparse_zero;
        m->ops->copy = sparse_copy;
        m->ops->scaleaddi = sparse_scale_add_identity;
        m->ops->clone = fast_clone;
        break;
    default:
        break;
    }
}

SUNLinearSolver make_dense_solver(SUNContext context, sunindextype n, sunindextype leading) {
    auto c = std::make_unique<dense_content>();
    c->n = n;
    c->leading = std::min(leading, n);
    c->pivots.assign(static_cast<std::size_t>(c->leading), 0);
    return make_direct_solver(context, std::move(c), dense_setup, dense_solve, dense_space);
}

} // namespace cadyn::detail
