#pragma once
// Rate laws shared by several mechanisms. Inline, branch-light, and safe for the small negative concentrations
// an implicit solver may try.

#include <algorithm>
#include <cmath>

namespace cadyn::mechanisms {

// Hill activation c^n / (K^n + c^n) in [0, 1); a negative c counts as 0.
inline double hill(double c, double k, double n) {
    const double cn = std::pow(std::max(c, 0.0), n);
    return cn / (std::pow(k, n) + cn);
}

} // namespace cadyn::mechanisms
