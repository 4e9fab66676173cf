/* Reproducible randomness: every random choice is a pure function of a seed
 * and a counter, so runs repeat bit for bit at any thread count. */
#ifndef ATTEND_BASE_RNG_H
#define ATTEND_BASE_RNG_H

#include <stdint.h>

/* splitmix64's output function. */
static inline uint64_t attend_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* A uniform float in [0,1) that is a pure function of (seed, i). */
static inline float attend_hash_uniform(uint64_t seed, uint64_t i) {
    /* splitmix64's output function on the counter stream seed + i * gamma */
    return (float)(attend_mix64(seed + i * 0x9E3779B97F4A7C15ull) >> 40) * (1.0f / 16777216.0f);
}
/* The dropout stream: a uniform float in [0,1) from (seed, i) with 32-bit
 * arithmetic only (murmur3's finaliser on the Weyl sequence
 * seed32 + i * golden), so the loops over it run 16 lanes wide; the 64-bit
 * splitmix above cost as much as the rest of a dropout layer. The high
 * half of i is folded in, so counters past 2^32 do not repeat the low ones.
 * attend_dropout_uniform32 takes the seed folded to 32 bits and i's halves,
 * for loops that keep the counter as two 32-bit lanes. */
static inline float attend_dropout_uniform32(uint32_t seed32, uint32_t ilo, uint32_t ihi) {
    uint32_t x = seed32 + ilo * 0x9E3779B9u + ihi * 0x7F4A7C15u;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}
static inline float attend_dropout_uniform(uint64_t seed, uint64_t i) {
    return attend_dropout_uniform32((uint32_t)(seed ^ (seed >> 32)), (uint32_t)i,
                                    (uint32_t)(i >> 32));
}
/* Inverted dropout of element i: x * scale, or 0 when dropped (uniform < p).
 * The one decision every dropout site (layers, attention weights) makes. */
static inline float attend_dropout_apply(float x, uint64_t seed, uint64_t i, float p,
                                         float scale) {
    return attend_dropout_uniform(seed, i) >= p ? x * scale : 0.0f;
}
/* Derives an independent seed for a sub-site (layer, dropout site, ...). */
static inline uint64_t attend_seed_child(uint64_t seed, uint64_t site) {
    return attend_mix64(seed * 0x100000001B3ull + site);
}

#endif
