// Fuzz target: the unit parser. Every input is taken as a quantity ("1.5 mM") and converted to each dimension
// of dims::all(), to the coherent system, and as a bare unit ("mM") looked up by dimension. None of this may
// crash or throw anything but cadyn::error, and a value that comes back must be finite (to_canonical's
// contract: an overflowing conversion is an error, never inf).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <cadyn/units.hpp>

#include "finding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using cadyn::fuzz::expect_only_user_errors;
    using cadyn::fuzz::finding;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    expect_only_user_errors("split_quantity", [&] {
        const auto q = cadyn::split_quantity(text);
        if (!std::isfinite(q.value)) {
            finding("split_quantity returned a non-finite value");
        }
    });
    for (const cadyn::dimension* d: cadyn::dims::all()) {
        expect_only_user_errors("to_canonical", [&] {
            const double value = cadyn::to_canonical(text, *d);
            if (!std::isfinite(value)) {
                finding("to_canonical returned a non-finite " + std::string(d->name));
            }
        });
        expect_only_user_errors("has_dimension", [&] { (void)cadyn::has_dimension(text, *d); });
    }
    expect_only_user_errors("to_coherent", [&] {
        const auto q = cadyn::to_coherent(text);
        if (!std::isfinite(q.value) || q.unit.empty()) {
            finding("to_coherent returned a non-finite value or no unit");
        }
    });
    expect_only_user_errors("dimension_of", [&] { (void)cadyn::dimension_of(text); });
    return 0;
}
