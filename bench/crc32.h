/* bench/crc32.h - CRC-32 (IEEE 802.3, reflected, the same value as zlib's crc32()) by
   slicing-by-8, for the bench tools (bench/upload.c checks what bench/sink.c and
   build/demo answer). Header-only, static: call crc_init() once, then
   crc = crc_update(crc, p, n) from crc = 0 over the stream. */
#ifndef BENCH_CRC32_H
#define BENCH_CRC32_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint32_t T8[8][256];
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        T8[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++) T8[t][i] = (T8[t - 1][i] >> 8) ^ T8[0][T8[t - 1][i] & 0xff];
}
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        a ^= crc;
        crc = T8[7][a & 0xff] ^ T8[6][(a >> 8) & 0xff] ^ T8[5][(a >> 16) & 0xff] ^ T8[4][a >> 24]
            ^ T8[3][b & 0xff] ^ T8[2][(b >> 8) & 0xff] ^ T8[1][(b >> 16) & 0xff] ^ T8[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = T8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
#endif
