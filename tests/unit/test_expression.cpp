#include "expr/expression.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using cadyn::detail::expression;
using cadyn::detail::expression_error;
using cadyn::detail::referenced_names;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

namespace {

double eval(const std::string& text) {
    return expression(text, {}).eval();
}

// The expression_error thrown by compiling `text` with `variables`; fails the test if none is thrown.
expression_error error_of(const std::string& text, const std::vector<expression::binding>& variables = {}) {
    try {
        expression e(text, variables);
    } catch (const expression_error& err) {
        return err;
    }
    ADD_FAILURE() << "no expression_error for '" << text << "'";
    return expression_error("", -1);
}

} // namespace

TEST(expression, arithmetic_and_precedence) {
    EXPECT_DOUBLE_EQ(eval("1 + 2 * 3"), 7.0);
    EXPECT_DOUBLE_EQ(eval("(1 + 2) * 3"), 9.0);
    EXPECT_DOUBLE_EQ(eval("10 - 4 - 3"), 3.0);
    EXPECT_DOUBLE_EQ(eval("8 / 4 / 2"), 1.0);
    EXPECT_DOUBLE_EQ(eval("2 ^ 3 ^ 2"), 512.0); // right associative
    EXPECT_DOUBLE_EQ(eval("-2 ^ 2"), -4.0);     // power binds tighter than unary minus
    EXPECT_DOUBLE_EQ(eval("2 * -3"), -6.0);
    EXPECT_DOUBLE_EQ(eval("1 < 2"), 1.0);
    EXPECT_DOUBLE_EQ(eval("1 == 2"), 0.0);
    EXPECT_DOUBLE_EQ(eval("1 < 2 && 2 < 1"), 0.0);
    EXPECT_DOUBLE_EQ(eval("1 < 2 || 2 < 1"), 1.0);
    EXPECT_DOUBLE_EQ(eval("3 > 2 ? 10 : 20"), 10.0);
    EXPECT_DOUBLE_EQ(eval("3 < 2 ? 10 : 3 < 4 ? 30 : 40"), 30.0);
}

TEST(expression, numbers_parse_as_numbers) {
    EXPECT_DOUBLE_EQ(eval("2.5"), 2.5);
    EXPECT_DOUBLE_EQ(eval("1e-3"), 1e-3);
    EXPECT_DOUBLE_EQ(eval("2.5e3 + 1E2"), 2600.0);
    EXPECT_DOUBLE_EQ(eval(".5"), 0.5);
    EXPECT_DOUBLE_EQ(eval("1e-3*2"), 2e-3);
}

TEST(expression, builtin_functions) {
    EXPECT_DOUBLE_EQ(eval("sqrt(16)"), 4.0);
    EXPECT_DOUBLE_EQ(eval("exp(0)"), 1.0);
    EXPECT_DOUBLE_EQ(eval("ln(_e)"), 1.0);
    EXPECT_DOUBLE_EQ(eval("log(_e)"), 1.0); // natural logarithm, like ln
    EXPECT_DOUBLE_EQ(eval("log10(1000)"), 3.0);
    EXPECT_DOUBLE_EQ(eval("log2(8)"), 3.0);
    EXPECT_DOUBLE_EQ(eval("abs(-3)"), 3.0);
    EXPECT_DOUBLE_EQ(eval("sign(-3)"), -1.0);
    EXPECT_DOUBLE_EQ(eval("min(3, 1, 2)"), 1.0);
    EXPECT_DOUBLE_EQ(eval("max(3, 1, 2)"), 3.0);
    EXPECT_DOUBLE_EQ(eval("sum(1, 2, 3)"), 6.0);
    EXPECT_DOUBLE_EQ(eval("avg(1, 2, 3)"), 2.0);
    EXPECT_NEAR(eval("sin(_pi / 2) + cos(0) + tanh(0)"), 2.0, 1e-15);
}

TEST(expression, added_functions) {
    EXPECT_DOUBLE_EQ(eval("hill(1, 1, 2)"), 0.5);
    EXPECT_DOUBLE_EQ(eval("hill(3, 1, 1)"), 0.75);
    EXPECT_DOUBLE_EQ(eval("hill(0, 0.5, 4)"), 0.0);
    EXPECT_DOUBLE_EQ(eval("hill(2, 1, 3)"), 8.0 / 9.0);
    EXPECT_DOUBLE_EQ(eval("pow(2, 10)"), 1024.0);
    EXPECT_DOUBLE_EQ(eval("pow(4, 0.5)"), 2.0);
    EXPECT_DOUBLE_EQ(eval("heaviside(0)"), 1.0);
    EXPECT_DOUBLE_EQ(eval("heaviside(2)"), 1.0);
    EXPECT_DOUBLE_EQ(eval("heaviside(-1e-300)"), 0.0);
    EXPECT_DOUBLE_EQ(eval("floor(-1.5)"), -2.0);
    EXPECT_DOUBLE_EQ(eval("ceil(1.2)"), 2.0);
}

TEST(expression, constants_at_full_precision) {
    EXPECT_EQ(eval("_pi"), std::numbers::pi);
    EXPECT_EQ(eval("_e"), std::numbers::e);
}

TEST(expression, variables_are_bound_by_address) {
    double x = 1.0;
    double y = 3.0;
    const expression e("2 * x + y", {{"x", &x}, {"y", &y}});
    EXPECT_DOUBLE_EQ(e.eval(), 5.0);
    x = 5.0;
    EXPECT_DOUBLE_EQ(e.eval(), 13.0);
    y = -10.0;
    EXPECT_DOUBLE_EQ(e.eval(), 0.0);
}

TEST(expression, power_of_variable) {
    // muparser rewrites x^2 .. x^4 into dedicated bytecode; check they still read the live value.
    double x = 3.0;
    const expression e("x^2 + x^3 + x^4 - x^2.5", {{"x", &x}});
    EXPECT_DOUBLE_EQ(e.eval(), 9.0 + 27.0 + 81.0 - std::pow(3.0, 2.5));
    x = 2.0;
    EXPECT_DOUBLE_EQ(e.eval(), 4.0 + 8.0 + 16.0 - std::pow(2.0, 2.5));
    EXPECT_DOUBLE_EQ(expression("-x^2", {{"x", &x}}).eval(), -4.0);
}

TEST(expression, unused_bindings_are_fine) {
    double x = 1.0;
    double unused = 0.0;
    EXPECT_DOUBLE_EQ(expression("x + 1", {{"x", &x}, {"other", &unused}}).eval(), 2.0);
}

TEST(expression, dotted_names) {
    double cyt_ca = 2.0;
    double er_ca = 400.0;
    const expression e("cyt.ca * 2.5", {{"cyt.ca", &cyt_ca}});
    EXPECT_DOUBLE_EQ(e.eval(), 5.0);
    cyt_ca = 0.1;
    EXPECT_DOUBLE_EQ(e.eval(), 0.25);

    const expression leak("1e-3 * (er.ca - cyt.ca)", {{"cyt.ca", &cyt_ca}, {"er.ca", &er_ca}});
    EXPECT_DOUBLE_EQ(leak.eval(), 1e-3 * (400.0 - 0.1));
}

TEST(expression, text_is_kept) {
    EXPECT_EQ(expression("1 + 2", {}).text(), "1 + 2");
}

TEST(expression, moved_expression_still_evaluates) {
    double x = 1.0;
    expression a("x * 10", {{"x", &x}});
    expression b(std::move(a));
    x = 2.0;
    EXPECT_DOUBLE_EQ(b.eval(), 20.0);
    EXPECT_EQ(b.text(), "x * 10");

    expression c("0", {});
    c = std::move(b);
    x = 3.0;
    EXPECT_DOUBLE_EQ(c.eval(), 30.0);

    // Growing a vector moves its elements.
    std::vector<expression> all;
    for (int i = 0; i < 20; ++i) {
        all.emplace_back("x + " + std::to_string(i), std::vector<expression::binding>{{"x", &x}});
    }
    x = 100.0;
    for (int i = 0; i < 20; ++i) {
        EXPECT_DOUBLE_EQ(all[static_cast<std::size_t>(i)].eval(), 100.0 + i);
    }
}

TEST(expression, unknown_name_fails_at_construction) {
    const auto err = error_of("foo*2");
    EXPECT_THAT(err.what(), HasSubstr("unknown name 'foo' in expression 'foo*2'"));
    EXPECT_EQ(err.position(), 0);

    double x = 0.0;
    const auto later = error_of("x + cyt.k * bar", {{"x", &x}});
    EXPECT_THAT(later.what(), HasSubstr("unknown name 'cyt.k'"));
    EXPECT_THAT(later.what(), HasSubstr("'x + cyt.k * bar'"));
    EXPECT_EQ(later.position(), 4);

    // A bound "x" does not make "x.y" known.
    EXPECT_THAT(error_of("x.y", {{"x", &x}}).what(), HasSubstr("unknown name 'x.y'"));
}

TEST(expression, unknown_function_fails_at_construction) {
    const auto err = error_of("1 + foo(2)");
    EXPECT_THAT(err.what(), HasSubstr("unknown function 'foo' in expression '1 + foo(2)'"));
    EXPECT_EQ(err.position(), 4);
}

TEST(expression, errors_are_cadyn_errors) {
    EXPECT_THROW(expression("nope", {}), cadyn::error);
}

TEST(expression, syntax_errors_carry_message_and_position) {
    const auto op = error_of("1 +* 2");
    EXPECT_THAT(op.what(), HasSubstr("'1 +* 2'"));
    EXPECT_THAT(op.what(), HasSubstr("Unexpected operator"));
    EXPECT_EQ(op.position(), 3);

    const auto paren = error_of("(1+2");
    EXPECT_THAT(paren.what(), HasSubstr("'(1+2'"));
    EXPECT_THAT(paren.what(), HasSubstr("parenthesis"));
    EXPECT_EQ(paren.position(), 4); // the end of the text

    const auto empty = error_of("");
    EXPECT_THAT(empty.what(), HasSubstr("syntax error"));

    EXPECT_THAT(error_of("sin(1, 2)").what(), HasSubstr("Too many parameters"));
    EXPECT_THAT(error_of("2 3").what(), HasSubstr("'2 3'"));
}

TEST(expression, malformed_numbers_and_bare_functions) {
    const auto number = error_of("1e + 2");
    EXPECT_THAT(number.what(), HasSubstr("malformed number or name '1e'"));
    EXPECT_EQ(number.position(), 0);

    EXPECT_THAT(error_of("2 * sin").what(), HasSubstr("function 'sin' used without arguments"));
}

TEST(expression, assignment_and_multiple_values_are_rejected) {
    double x = 1.0;
    EXPECT_THAT(error_of("x = 3", {{"x", &x}}).what(), HasSubstr("assignment"));
    EXPECT_DOUBLE_EQ(x, 1.0); // nothing was evaluated
    EXPECT_THAT(error_of("1, 2").what(), HasSubstr("expected one"));
}

TEST(expression, bad_bindings_are_rejected) {
    double x = 0.0;
    EXPECT_THAT(error_of("1", {{"exp", &x}}).what(), HasSubstr("built-in"));
    EXPECT_THAT(error_of("1", {{"_pi", &x}}).what(), HasSubstr("built-in"));
    EXPECT_THAT(error_of("1", {{"1x", &x}}).what(), HasSubstr("invalid name '1x'"));
    EXPECT_THAT(error_of("1", {{"a-b", &x}}).what(), HasSubstr("invalid name 'a-b'"));
}

TEST(expression, division_by_zero_gives_inf_not_an_exception) {
    double x = 0.0;
    const expression inv("1 / x", {{"x", &x}});
    double r = 0.0;
    EXPECT_NO_THROW(r = inv.eval());
    EXPECT_EQ(r, std::numeric_limits<double>::infinity());
    EXPECT_TRUE(std::isnan(expression("0 / x", {{"x", &x}}).eval()));
    EXPECT_EQ(expression("ln(x)", {{"x", &x}}).eval(), -std::numeric_limits<double>::infinity());
    EXPECT_TRUE(std::isnan(expression("sqrt(-1)", {}).eval()));
}

TEST(expression, referenced_names_in_order_of_first_appearance) {
    EXPECT_THAT(referenced_names("b + a * b + cyt.ca + a"), ElementsAre("b", "a", "cyt.ca"));
    EXPECT_THAT(referenced_names("sin(x) + _pi * hill(y, k, 2) + 1e-3"), ElementsAre("x", "y", "k"));
    EXPECT_THAT(referenced_names("z > 0 ? z : -z"), ElementsAre("z"));
    EXPECT_THAT(referenced_names("1 + 2"), IsEmpty());
}

TEST(expression, referenced_names_rejects_syntax_errors) {
    EXPECT_THROW(referenced_names("a +* b"), expression_error);
    EXPECT_THROW(referenced_names("(a"), expression_error);
    EXPECT_THAT([] { referenced_names("foo(a)"); }, testing::ThrowsMessage<expression_error>(
                                                        HasSubstr("unknown function 'foo'")));
}
