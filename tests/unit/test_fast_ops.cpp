// src/solvers/fast_ops.cpp against SUNDIALS' own serial implementations: the compiled vector and matrix
// operations must give SUNDIALS' results to the bit (elementwise operations, same special cases) or to round-off
// (reductions, summed in four partial sums), and the budget-aware dense solver the same solution as SUNLinSol_Dense.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include "sundials_handles.hpp"
#include "solvers/fast_ops.hpp"

namespace {

using cadyn::detail::make_dense_solver;
using cadyn::detail::use_fast_matrix_ops;
using cadyn::detail::use_fast_vector_ops;

using context = cadyn::testing::sun_context;
using matrix = cadyn::testing::sun_matrix;
using solver = cadyn::testing::sun_solver;
using vector = cadyn::testing::sun_vector;

// Two copies of the same values: `plain` uses SUNDIALS' serial operations (fused ones enabled, so that its own
// linear combination and scale-add-multi run), `fast` uses fast_ops.
struct twin {
    vector plain;
    vector fast;
};

twin make_twin(const std::vector<double>& values, SUNContext ctx) {
    const auto n = static_cast<sunindextype>(values.size());
    twin p{vector(N_VNew_Serial(n, ctx)), vector(N_VNew_Serial(n, ctx))};
    N_VEnableFusedOps_Serial(p.plain.get(), SUNTRUE);
    use_fast_vector_ops(p.fast.get());
    std::memcpy(N_VGetArrayPointer(p.plain.get()), values.data(), values.size() * sizeof(double));
    std::memcpy(N_VGetArrayPointer(p.fast.get()), values.data(), values.size() * sizeof(double));
    return p;
}

// Random values of mixed sign and magnitude, with some exact zeros and ones.
std::vector<double> random_values(std::size_t n, std::mt19937& rng, bool zeros = true) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::uniform_int_distribution<int> e(-8, 8);
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = std::ldexp(u(rng), e(rng));
        if (zeros && i % 7 == 3) {
            v[i] = 0.0;
        }
        if (i % 11 == 5) {
            v[i] = 1.0;
        }
    }
    return v;
}

void expect_same_bits(N_Vector a, N_Vector b, const char* what) {
    const sunindextype n = N_VGetLength(a);
    ASSERT_EQ(n, N_VGetLength(b)) << what;
    for (sunindextype i = 0; i < n; ++i) {
        const double x = N_VGetArrayPointer(a)[i];
        const double y = N_VGetArrayPointer(b)[i];
        EXPECT_TRUE(std::memcmp(&x, &y, sizeof(double)) == 0) << what << " element " << i << ": " << x << " vs " << y;
    }
}

const std::vector<std::size_t> sizes = {1, 2, 3, 7, 64, 1001};

TEST(fast_ops, elementwise_operations_match_sundials_to_the_bit) {
    context ctx;
    std::mt19937 rng(11);
    for (const auto n: sizes) {
        const auto xv = random_values(n, rng);
        const auto yv = random_values(n, rng);
        auto x = make_twin(xv, ctx);
        auto y = make_twin(yv, ctx);
        auto z = make_twin(std::vector<double>(n, 0.0), ctx);
        // Every special case of the linear sum, into a third vector and in place (z = x, z = y).
        const std::vector<std::pair<double, double>> ab = {{1, 1},   {1, -1},   {-1, 1},  {2.5, 2.5}, {2.5, -2.5},
                                                           {1, 0.3}, {0.3, 1},  {-1, 0.3}, {0.3, -1},  {0.7, 0.3},
                                                           {0, 0},   {1, 0},    {0, 1}};
        for (const auto& [a, b]: ab) {
            N_VLinearSum(a, x.plain.get(), b, y.plain.get(), z.plain.get());
            N_VLinearSum(a, x.fast.get(), b, y.fast.get(), z.fast.get());
            expect_same_bits(z.plain.get(), z.fast.get(), "linear sum");
            auto x2 = make_twin(xv, ctx);
            N_VLinearSum(a, x2.plain.get(), b, y.plain.get(), x2.plain.get());
            N_VLinearSum(a, x2.fast.get(), b, y.fast.get(), x2.fast.get());
            expect_same_bits(x2.plain.get(), x2.fast.get(), "linear sum into x");
            auto y2 = make_twin(yv, ctx);
            N_VLinearSum(a, x.plain.get(), b, y2.plain.get(), y2.plain.get());
            N_VLinearSum(a, x.fast.get(), b, y2.fast.get(), y2.fast.get());
            expect_same_bits(y2.plain.get(), y2.fast.get(), "linear sum into y");
        }
        for (const double c: {1.0, -1.0, 2.5}) {
            N_VScale(c, x.plain.get(), z.plain.get());
            N_VScale(c, x.fast.get(), z.fast.get());
            expect_same_bits(z.plain.get(), z.fast.get(), "scale");
            auto x2 = make_twin(xv, ctx);
            N_VScale(c, x2.plain.get(), x2.plain.get());
            N_VScale(c, x2.fast.get(), x2.fast.get());
            expect_same_bits(x2.plain.get(), x2.fast.get(), "scale in place");
        }
        const std::vector<std::pair<const char*, std::function<void(N_Vector, N_Vector, N_Vector)>>> ops = {
            {"const", [](N_Vector, N_Vector, N_Vector r) { N_VConst(0.25, r); }},
            {"prod", [](N_Vector p, N_Vector q, N_Vector r) { N_VProd(p, q, r); }},
            {"div", [](N_Vector p, N_Vector q, N_Vector r) { N_VDiv(p, q, r); }},
            {"abs", [](N_Vector p, N_Vector, N_Vector r) { N_VAbs(p, r); }},
            {"inv", [](N_Vector p, N_Vector, N_Vector r) { N_VInv(p, r); }},
            {"addconst", [](N_Vector p, N_Vector, N_Vector r) { N_VAddConst(p, -0.125, r); }},
            {"compare", [](N_Vector p, N_Vector, N_Vector r) { N_VCompare(0.01, p, r); }},
        };
        for (const auto& [name, op]: ops) {
            op(x.plain.get(), y.plain.get(), z.plain.get());
            op(x.fast.get(), y.fast.get(), z.fast.get());
            expect_same_bits(z.plain.get(), z.fast.get(), name);
        }
        // Tests that report: zeros in x, constraints of every kind, quotients with zero denominators.
        N_VConst(-3.0, z.plain.get());
        N_VConst(-3.0, z.fast.get());
        EXPECT_EQ(N_VInvTest(x.plain.get(), z.plain.get()), N_VInvTest(x.fast.get(), z.fast.get()));
        expect_same_bits(z.plain.get(), z.fast.get(), "invtest");
        std::vector<double> cv(n);
        for (std::size_t i = 0; i < n; ++i) {
            cv[i] = std::vector<double>{0, 1, -1, 2, -2}[i % 5];
        }
        auto c = make_twin(cv, ctx);
        EXPECT_EQ(N_VConstrMask(c.plain.get(), x.plain.get(), z.plain.get()),
                  N_VConstrMask(c.fast.get(), x.fast.get(), z.fast.get()));
        expect_same_bits(z.plain.get(), z.fast.get(), "constrmask");
        EXPECT_EQ(N_VMinQuotient(x.plain.get(), y.plain.get()), N_VMinQuotient(x.fast.get(), y.fast.get()));
        auto zero = make_twin(std::vector<double>(n, 0.0), ctx);
        EXPECT_EQ(N_VMinQuotient(x.plain.get(), zero.plain.get()), N_VMinQuotient(x.fast.get(), zero.fast.get()));
        EXPECT_EQ(N_VMin(x.plain.get()), N_VMin(x.fast.get()));
        EXPECT_EQ(N_VMaxNorm(x.plain.get()), N_VMaxNorm(x.fast.get()));
    }
}

TEST(fast_ops, reductions_match_sundials_to_round_off) {
    // Four partial sums instead of one change only the rounding: relative differences of a few ulps.
    context ctx;
    std::mt19937 rng(12);
    for (const auto n: sizes) {
        auto x = make_twin(random_values(n, rng), ctx);
        auto w = make_twin(random_values(n, rng), ctx);
        auto id = make_twin(random_values(n, rng), ctx);
        const auto near = [](double a, double b) { return std::abs(a - b) <= 1e-14 * std::abs(a); };
        EXPECT_PRED2(near, N_VDotProd(x.plain.get(), w.plain.get()), N_VDotProd(x.fast.get(), w.fast.get()));
        EXPECT_PRED2(near, N_VWrmsNorm(x.plain.get(), w.plain.get()), N_VWrmsNorm(x.fast.get(), w.fast.get()));
        EXPECT_PRED2(near, N_VWrmsNormMask(x.plain.get(), w.plain.get(), id.plain.get()),
                     N_VWrmsNormMask(x.fast.get(), w.fast.get(), id.fast.get()));
        EXPECT_PRED2(near, N_VWL2Norm(x.plain.get(), w.plain.get()), N_VWL2Norm(x.fast.get(), w.fast.get()));
        EXPECT_PRED2(near, N_VL1Norm(x.plain.get()), N_VL1Norm(x.fast.get()));
    }
}

TEST(fast_ops, fused_operations_and_clones_match_sundials) {
    context ctx;
    std::mt19937 rng(13);
    for (const auto n: sizes) {
        std::vector<twin> xs;
        for (int k = 0; k < 5; ++k) {
            xs.push_back(make_twin(random_values(n, rng), ctx));
        }
        // A clone of a fast vector must carry the fast operations (CVODE makes all its vectors that way).
        vector clone(N_VClone(xs[0].fast.get()));
        EXPECT_EQ(clone->ops->nvlinearsum, xs[0].fast->ops->nvlinearsum);
        EXPECT_NE(clone->ops->nvlinearsum, xs[0].plain->ops->nvlinearsum);
        for (int nvec = 1; nvec <= 5; ++nvec) {
            std::vector<double> c = {1.0, -0.5, 2.0, 0.25, -3.0};
            for (const bool into_first: {false, true}) {
                for (const double c0: {1.0, 0.75}) {
                    c[0] = c0;
                    auto z = make_twin(std::vector<double>(n, 0.0), ctx);
                    auto first = make_twin(std::vector<double>(N_VGetArrayPointer(xs[0].plain.get()),
                                                               N_VGetArrayPointer(xs[0].plain.get()) + n),
                                           ctx);
                    std::vector<N_Vector> xp, xf;
                    xp.push_back(into_first ? first.plain.get() : xs[0].plain.get());
                    xf.push_back(into_first ? first.fast.get() : xs[0].fast.get());
                    for (int k = 1; k < nvec; ++k) {
                        xp.push_back(xs[static_cast<std::size_t>(k)].plain.get());
                        xf.push_back(xs[static_cast<std::size_t>(k)].fast.get());
                    }
                    N_Vector zp = into_first ? first.plain.get() : z.plain.get();
                    N_Vector zf = into_first ? first.fast.get() : z.fast.get();
                    ASSERT_EQ(N_VLinearCombination(nvec, c.data(), xp.data(), zp), 0);
                    ASSERT_EQ(N_VLinearCombination(nvec, c.data(), xf.data(), zf), 0);
                    expect_same_bits(zp, zf, "linear combination");
                }
            }
            // Z[k] = a[k] x + Y[k], into other vectors and in place (Y == Z).
            std::vector<twin> ys, zs;
            std::vector<N_Vector> yp, yf, zp, zf;
            for (int k = 0; k < nvec; ++k) {
                ys.push_back(make_twin(random_values(n, rng), ctx));
                zs.push_back(make_twin(std::vector<double>(n, 0.0), ctx));
            }
            for (int k = 0; k < nvec; ++k) {
                yp.push_back(ys[static_cast<std::size_t>(k)].plain.get());
                yf.push_back(ys[static_cast<std::size_t>(k)].fast.get());
                zp.push_back(zs[static_cast<std::size_t>(k)].plain.get());
                zf.push_back(zs[static_cast<std::size_t>(k)].fast.get());
            }
            std::vector<double> a = {0.5, -1.0, 1.0, 3.0, -0.25};
            ASSERT_EQ(N_VScaleAddMulti(nvec, a.data(), xs[1].plain.get(), yp.data(), zp.data()), 0);
            ASSERT_EQ(N_VScaleAddMulti(nvec, a.data(), xs[1].fast.get(), yf.data(), zf.data()), 0);
            for (int k = 0; k < nvec; ++k) {
                expect_same_bits(zp[static_cast<std::size_t>(k)], zf[static_cast<std::size_t>(k)], "scale add multi");
            }
            ASSERT_EQ(N_VScaleAddMulti(nvec, a.data(), xs[1].plain.get(), yp.data(), yp.data()), 0);
            ASSERT_EQ(N_VScaleAddMulti(nvec, a.data(), xs[1].fast.get(), yf.data(), yf.data()), 0);
            for (int k = 0; k < nvec; ++k) {
                expect_same_bits(yp[static_cast<std::size_t>(k)], yf[static_cast<std::size_t>(k)],
                                 "scale add multi in place");
            }
        }
    }
}

// A CSC matrix with every diagonal entry (or with column `skip` lacking it) and a few off-diagonal ones.
matrix random_sparse(sunindextype n, std::mt19937& rng, SUNContext ctx, sunindextype skip = -1) {
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    matrix m(SUNSparseMatrix(n, n, 4 * n, CSC_MAT, ctx));
    sunindextype* ptr = SUNSparseMatrix_IndexPointers(m.get());
    sunindextype* idx = SUNSparseMatrix_IndexValues(m.get());
    double* data = SUNSparseMatrix_Data(m.get());
    sunindextype k = 0;
    for (sunindextype j = 0; j < n; ++j) {
        ptr[j] = k;
        for (const sunindextype i: {j - 2, j - 1, j, j + 1}) {
            if (i < 0 || i >= n || (i == j && j == skip)) {
                continue;
            }
            idx[k] = i;
            data[k++] = u(rng);
        }
    }
    ptr[n] = k;
    return m;
}

void expect_same_matrix(SUNMatrix a, SUNMatrix b) {
    ASSERT_EQ(SUNMatGetID(a), SUNMatGetID(b));
    if (SUNMatGetID(a) == SUNMATRIX_DENSE) {
        ASSERT_EQ(SUNDenseMatrix_LData(a), SUNDenseMatrix_LData(b));
        EXPECT_EQ(std::memcmp(SUNDenseMatrix_Data(a), SUNDenseMatrix_Data(b),
                              static_cast<std::size_t>(SUNDenseMatrix_LData(a)) * sizeof(double)),
                  0);
        return;
    }
    const sunindextype n = SUNSparseMatrix_NP(a);
    ASSERT_EQ(n, SUNSparseMatrix_NP(b));
    const sunindextype used = SUNSparseMatrix_IndexPointers(a)[n];
    ASSERT_EQ(used, SUNSparseMatrix_IndexPointers(b)[n]);
    for (sunindextype j = 0; j <= n; ++j) {
        EXPECT_EQ(SUNSparseMatrix_IndexPointers(a)[j], SUNSparseMatrix_IndexPointers(b)[j]);
    }
    for (sunindextype k = 0; k < used; ++k) {
        EXPECT_EQ(SUNSparseMatrix_IndexValues(a)[k], SUNSparseMatrix_IndexValues(b)[k]);
        EXPECT_EQ(SUNSparseMatrix_Data(a)[k], SUNSparseMatrix_Data(b)[k]);
    }
}

// CVODE's predictor, as cvPredict (SUNDIALS 6.4.1) does it: zn[j-1] += zn[j] for k = 1 .. q, j = q down to k.
void predict(std::vector<vector>& zn, int q) {
    for (int k = 1; k <= q; ++k) {
        for (int j = q; j >= k; --j) {
            N_VLinearSum(1.0, zn[static_cast<std::size_t>(j - 1)].get(), 1.0, zn[static_cast<std::size_t>(j)].get(),
                         zn[static_cast<std::size_t>(j - 1)].get());
        }
    }
}

std::vector<vector> history(const std::vector<std::vector<double>>& values, SUNContext ctx, bool fast) {
    std::vector<vector> zn;
    for (const auto& v: values) {
        zn.emplace_back(N_VNew_Serial(static_cast<sunindextype>(v.size()), ctx));
        if (fast) {
            use_fast_vector_ops(zn.back().get());
        }
        std::memcpy(N_VGetArrayPointer(zn.back().get()), v.data(), v.size() * sizeof(double));
    }
    return zn;
}

TEST(fast_ops, deferred_sums_give_the_predictors_history_to_the_bit) {
    // fast_ops defers in-place unit sums on long vectors (256 and more) and does them, fused, at the next operation
    // of any kind. The predictor of every order 1..5 on vectors of 300 and 4003 values (odd: the pair loop's tail)
    // then read back through each kind of access (the data pointer, a norm, a linear combination, another linear
    // sum that is not deferred): bit for bit SUNDIALS' serial result. Then sums that are not the predictor's
    // pattern (one vector added twice, a different order), which take the general path.
    context ctx;
    std::mt19937 rng(5);
    for (const std::size_t n: {300, 4003}) {
        for (int q = 1; q <= 5; ++q) {
            std::vector<std::vector<double>> values;
            for (int j = 0; j <= 5; ++j) {
                values.push_back(random_values(n, rng));
            }
            for (int read = 0; read < 4; ++read) {
                auto plain = history(values, ctx, false);
                auto fast = history(values, ctx, true);
                predict(plain, q);
                predict(fast, q);
                if (read == 1) {  // a norm first: it must see the predicted values (it adds in another order)
                    const double want = N_VWrmsNorm(plain[0].get(), plain[1].get());
                    EXPECT_NEAR(N_VWrmsNorm(fast[0].get(), fast[1].get()), want, 1e-14 * want);
                }
                if (read == 2) {
                    double c[2] = {0.5, -2.0};
                    N_Vector x[2] = {fast[0].get(), fast[1].get()};
                    N_Vector xp[2] = {plain[0].get(), plain[1].get()};
                    N_VLinearCombination(2, c, x, fast[5].get());
                    N_VLinearCombination(2, c, xp, plain[5].get());
                }
                if (read == 3) {
                    N_VLinearSum(1.0, fast[0].get(), -1.0, fast[1].get(), fast[5].get());
                    N_VLinearSum(1.0, plain[0].get(), -1.0, plain[1].get(), plain[5].get());
                }
                for (int j = 0; j <= 5; ++j) {
                    expect_same_bits(plain[static_cast<std::size_t>(j)].get(), fast[static_cast<std::size_t>(j)].get(),
                                     "predicted history");
                }
            }
        }
        std::vector<std::vector<double>> values;
        for (int j = 0; j < 3; ++j) {
            values.push_back(random_values(n, rng));
        }
        auto plain = history(values, ctx, false);
        auto fast = history(values, ctx, true);
        for (auto* zn: {&plain, &fast}) {
            auto& z = *zn;
            N_VLinearSum(1.0, z[0].get(), 1.0, z[1].get(), z[0].get());
            N_VLinearSum(1.0, z[0].get(), 1.0, z[1].get(), z[0].get());
            N_VLinearSum(1.0, z[2].get(), 1.0, z[0].get(), z[2].get());
            N_VLinearSum(1.0, z[1].get(), 1.0, z[2].get(), z[1].get());
        }
        for (int j = 0; j < 3; ++j) {
            expect_same_bits(plain[static_cast<std::size_t>(j)].get(), fast[static_cast<std::size_t>(j)].get(),
                             "sums in another pattern");
        }
    }
}

TEST(fast_ops, deferred_sums_are_done_before_a_vector_goes_or_lends_its_memory) {
    // A pending x += y is done when y is destroyed (x then holds the sum; under AddressSanitizer a sum done later
    // would read freed memory); a vector around the caller's memory (N_VMake_Serial) is never deferred, so that
    // memory holds the sum at once; a short vector (a point model's) is summed at once too.
    context ctx;
    std::mt19937 rng(9);
    const std::size_t n = 1000;
    const auto xv = random_values(n, rng);
    const auto yv = random_values(n, rng);
    {
        auto x = history({xv}, ctx, true);
        auto y = history({yv}, ctx, true);
        N_VLinearSum(1.0, x[0].get(), 1.0, y[0].get(), x[0].get());
        y.clear();  // N_VDestroy
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(N_VGetArrayPointer(x[0].get())[i], xv[i] + yv[i]) << i;
        }
    }
    {
        std::vector<double> memory = xv;
        vector x(N_VMake_Serial(static_cast<sunindextype>(n), memory.data(), ctx));
        use_fast_vector_ops(x.get());
        auto y = history({yv}, ctx, true);
        N_VLinearSum(1.0, x.get(), 1.0, y[0].get(), x.get());
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(memory[i], xv[i] + yv[i]) << i;  // read directly, not through the vector
        }
    }
    {
        // finish_vector_ops() (called when CVode() and KINSol() return) leaves nothing pending: the content itself,
        // read past the operations (as another thread would find it), holds the sum.
        auto x = history({xv}, ctx, true);
        auto y = history({yv}, ctx, true);
        N_VLinearSum(1.0, x[0].get(), 1.0, y[0].get(), x[0].get());
        EXPECT_EQ(NV_DATA_S(x[0].get())[0], xv[0]);  // deferred (vectors of 1000)
        cadyn::detail::finish_vector_ops();
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(NV_DATA_S(x[0].get())[i], xv[i] + yv[i]) << i;
        }
    }
    {
        const std::vector<double> small_x(xv.begin(), xv.begin() + 8);
        const std::vector<double> small_y(yv.begin(), yv.begin() + 8);
        auto x = history({small_x}, ctx, true);
        auto y = history({small_y}, ctx, true);
        N_VLinearSum(1.0, x[0].get(), 1.0, y[0].get(), x[0].get());
        const double* raw = NV_DATA_S(x[0].get());  // the content itself, past the operations
        for (std::size_t i = 0; i < 8; ++i) {
            ASSERT_EQ(raw[i], small_x[i] + small_y[i]) << i;
        }
    }
}

TEST(fast_ops, matrix_operations_match_sundials) {
    context ctx;
    std::mt19937 rng(14);
    for (const sunindextype n: {1, 5, 40}) {
        for (const sunindextype skip: {sunindextype{-1}, n / 2}) {  // all diagonals, or one missing (SUNDIALS' path)
            auto plain = random_sparse(n, rng, ctx, skip);
            matrix fast(SUNSparseMatrix(n, n, 4 * n, CSC_MAT, ctx));
            ASSERT_EQ(SUNMatCopy(plain.get(), fast.get()), SUNMAT_SUCCESS);
            use_fast_matrix_ops(fast.get());
            ASSERT_EQ(SUNMatScaleAddI(-0.3, plain.get()), SUNMAT_SUCCESS);
            ASSERT_EQ(SUNMatScaleAddI(-0.3, fast.get()), SUNMAT_SUCCESS);
            expect_same_matrix(plain.get(), fast.get());
            // Copy into a clone (CVODE keeps the saved Jacobian in one), both ways, then zero.
            matrix saved(SUNMatClone(fast.get()));
            EXPECT_EQ(saved->ops->copy, fast->ops->copy);
            ASSERT_EQ(SUNMatCopy(fast.get(), saved.get()), SUNMAT_SUCCESS);
            expect_same_matrix(plain.get(), saved.get());
            ASSERT_EQ(SUNMatZero(fast.get()), SUNMAT_SUCCESS);
            ASSERT_EQ(SUNMatZero(plain.get()), SUNMAT_SUCCESS);
            expect_same_matrix(plain.get(), fast.get());
        }
        matrix dense_plain(SUNDenseMatrix(n, n, ctx));
        matrix dense_fast(SUNDenseMatrix(n, n, ctx));
        use_fast_matrix_ops(dense_fast.get());
        std::uniform_real_distribution<double> u(-2.0, 2.0);
        for (sunindextype k = 0; k < n * n; ++k) {
            SUNDenseMatrix_Data(dense_plain.get())[k] = SUNDenseMatrix_Data(dense_fast.get())[k] = u(rng);
        }
        ASSERT_EQ(SUNMatScaleAddI(0.7, dense_plain.get()), SUNMAT_SUCCESS);
        ASSERT_EQ(SUNMatScaleAddI(0.7, dense_fast.get()), SUNMAT_SUCCESS);
        expect_same_matrix(dense_plain.get(), dense_fast.get());
        matrix copy(SUNMatClone(dense_fast.get()));
        ASSERT_EQ(SUNMatCopy(dense_fast.get(), copy.get()), SUNMAT_SUCCESS);
        expect_same_matrix(dense_plain.get(), copy.get());
        ASSERT_EQ(SUNMatZero(dense_fast.get()), SUNMAT_SUCCESS);
        ASSERT_EQ(SUNMatZero(dense_plain.get()), SUNMAT_SUCCESS);
        expect_same_matrix(dense_plain.get(), dense_fast.get());
    }
}

TEST(fast_ops, dense_solver_matches_sundials_dense_lu_with_budget_rows) {
    // [A 0; B D]: A general (pivoting needed), B dense, D diagonal, as the integrator's states and budget channels.
    // The solution must be SUNLinSol_Dense's on the whole matrix to round-off; a singular A is a recoverable failure.
    context ctx;
    std::mt19937 rng(15);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (const sunindextype states: {1, 2, 4, 9}) {
        for (const sunindextype budget: {0, 1, 5}) {
            const sunindextype n = states + budget;
            matrix ours(SUNDenseMatrix(n, n, ctx));
            matrix theirs(SUNDenseMatrix(n, n, ctx));
            for (sunindextype j = 0; j < n; ++j) {
                for (sunindextype i = 0; i < n; ++i) {
                    double v = u(rng);
                    if (j >= states) {
                        v = i == j ? 1.0 + 0.5 * u(rng) : 0.0;  // nothing depends on a budget channel
                    }
                    else if (i >= states) {
                        v *= 300.0;  // budget rows are large (amounts): SUNDIALS' LU pivots on them
                    }
                    SUNDenseMatrix_Column(ours.get(), j)[i] = SUNDenseMatrix_Column(theirs.get(), j)[i] = v;
                }
            }
            auto b = random_values(static_cast<std::size_t>(n), rng, false);
            vector x_ours(N_VNew_Serial(n, ctx));
            vector x_theirs(N_VNew_Serial(n, ctx));
            vector rhs(N_VNew_Serial(n, ctx));
            std::memcpy(N_VGetArrayPointer(rhs.get()), b.data(), b.size() * sizeof(double));
            solver s_ours(make_dense_solver(ctx, n, states));
            solver s_theirs(SUNLinSol_Dense(rhs.get(), theirs.get(), ctx));
            ASSERT_EQ(SUNLinSolSetup(s_ours.get(), ours.get()), SUNLS_SUCCESS);
            ASSERT_EQ(SUNLinSolSetup(s_theirs.get(), theirs.get()), SUNLS_SUCCESS);
            ASSERT_EQ(SUNLinSolSolve(s_ours.get(), ours.get(), x_ours.get(), rhs.get(), 0.0), SUNLS_SUCCESS);
            ASSERT_EQ(SUNLinSolSolve(s_theirs.get(), theirs.get(), x_theirs.get(), rhs.get(), 0.0), SUNLS_SUCCESS);
            double scale = 0;
            for (sunindextype i = 0; i < n; ++i) {
                scale = std::max(scale, std::abs(N_VGetArrayPointer(x_theirs.get())[i]));
            }
            for (sunindextype i = 0; i < n; ++i) {
                EXPECT_NEAR(N_VGetArrayPointer(x_ours.get())[i], N_VGetArrayPointer(x_theirs.get())[i], 1e-9 * scale)
                    << states << " states, " << budget << " budget rows, unknown " << i;
            }
        }
    }
    // A singular states' block: zero first column.
    matrix singular(SUNDenseMatrix(3, 3, ctx));
    for (sunindextype j = 0; j < 3; ++j) {
        for (sunindextype i = 0; i < 3; ++i) {
            SUNDenseMatrix_Column(singular.get(), j)[i] = j == 0 ? 0.0 : u(rng);
        }
    }
    solver s(make_dense_solver(ctx, 3, 3));
    EXPECT_EQ(SUNLinSolSetup(s.get(), singular.get()), SUNLS_LUFACT_FAIL);
    EXPECT_GT(SUNLinSolLastFlag(s.get()), 0);
}

} // namespace
