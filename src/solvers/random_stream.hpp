#pragma once
// Reproducible uniform random numbers for the hybrid stochastic engine (docs/stochastic.md): Random123's
// Philox4x32-10 counter-based generator (Salmon et al. 2011, SC11 "Parallel random numbers: as easy as 1, 2, 3"),
// keyed by the run's seed. Draw n of stream s is a pure function of (seed, s, n): the same seed gives the same
// numbers on every machine and compiler, and independent streams need no state but their number (a sweep's
// points or a continued run's segments).
#include <cstdint>

#include <Random123/philox.h>

namespace cadyn::detail {

class random_stream {
public:
    random_stream(std::uint64_t seed, std::uint32_t stream):
        key_{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}}, stream_(stream) {}

    // Uniform in (0, 1): the top 53 bits of a 64-bit draw, centred in their interval (never 0, never 1).
    double uniform() {
        if (left_ == 0) {
            const r123::Philox4x32::ctr_type counter{
                {static_cast<std::uint32_t>(block_), static_cast<std::uint32_t>(block_ >> 32), stream_, 0}};
            out_ = r123::Philox4x32()(counter, key_);
            ++block_;
            left_ = 2;
        }
        const std::size_t k = 2 - left_--;
        const std::uint64_t bits = (static_cast<std::uint64_t>(out_[2 * k]) << 32) | out_[2 * k + 1];
        return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
    }

private:
    r123::Philox4x32::key_type key_;
    std::uint32_t stream_;
    std::uint64_t block_ = 0;
    r123::Philox4x32::ctr_type out_{};
    unsigned left_ = 0;
};

} // namespace cadyn::detail
