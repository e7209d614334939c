#pragma once
// CADYN_AVX2_CLONES before a function compiles it for AVX2 as well as the baseline x86-64, the one to run picked
// when the program loads (GCC's target_clones, through an ifunc resolver). Under ThreadSanitizer (a build for
// checking threads, not for speed) the resolver would run, instrumented, before the sanitizer's runtime has
// started, and the program would crash as it loads: there only the baseline is compiled.
#if defined(__SANITIZE_THREAD__)
#define CADYN_AVX2_CLONES
#else
#define CADYN_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif
