/* Bench-only glue around spice-common's own image codecs, as spice-gtk's
 * canvas (common/canvas_base.c) and GLZ window (src/decode-glz.c) drive them:
 * QUIC and LZ through their user contexts with a longjmp error path, LZ4
 * block by block with LZ4_decompress_safe_continue as canvas_get_lz4 does,
 * GLZ through the GlibGlzDecoder's ops. Also the reference *encoders*
 * (QUIC, LZ; LZ4_compress_default), so the bench can feed both decoders
 * exactly what a SPICE server would send. Never part of the client. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lz4.h>
#include <pixman.h>
#include "common/quic.h"
#include "common/lz.h"
#include "common/canvas_utils.h"
#include "decode.h"

typedef struct {
    QuicUsrContext usr;
    jmp_buf jmp;
} CrefQuicUsr;

typedef struct {
    LzUsrContext usr;
    jmp_buf jmp;
} CrefLzUsr;

static void quic_err(QuicUsrContext *usr, const char *fmt, ...)
{
    (void)fmt;
    longjmp(((CrefQuicUsr *)usr)->jmp, 1);
}
static void quic_msg(QuicUsrContext *usr, const char *fmt, ...) { (void)usr; (void)fmt; }
static void *quic_alloc(QuicUsrContext *usr, int size) { (void)usr; return malloc(size); }
static void quic_dealloc(QuicUsrContext *usr, void *p) { (void)usr; free(p); }
static int quic_more_space(QuicUsrContext *usr, uint32_t **io, int rows) { (void)usr; (void)io; (void)rows; return 0; }
static int quic_more_lines(QuicUsrContext *usr, uint8_t **lines) { (void)usr; (void)lines; return 0; }

static void lz_err(LzUsrContext *usr, const char *fmt, ...)
{
    (void)fmt;
    longjmp(((CrefLzUsr *)usr)->jmp, 1);
}
static void lz_msg(LzUsrContext *usr, const char *fmt, ...) { (void)usr; (void)fmt; }
static void *lz_alloc(LzUsrContext *usr, int size) { (void)usr; return malloc(size); }
static void lz_dealloc(LzUsrContext *usr, void *p) { (void)usr; free(p); }
static int lz_more_space(LzUsrContext *usr, uint8_t **io) { (void)usr; (void)io; return 0; }
static int lz_more_lines(LzUsrContext *usr, uint8_t **lines) { (void)usr; (void)lines; return 0; }

typedef struct {
    CrefQuicUsr qusr;
    QuicContext *quic;
    CrefLzUsr lusr;
    LzContext *lz;
} CrefCodecs;

CrefCodecs *cref_codecs_new(void)
{
    CrefCodecs *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->qusr.usr = (QuicUsrContext){ quic_err, quic_msg, quic_msg, quic_alloc, quic_dealloc,
                                    quic_more_space, quic_more_lines };
    c->lusr.usr = (LzUsrContext){ lz_err, lz_msg, lz_msg, lz_alloc, lz_dealloc,
                                  lz_more_space, lz_more_lines };
    c->quic = quic_create(&c->qusr.usr);
    c->lz = lz_create(&c->lusr.usr);
    return c;
}

void cref_codecs_free(CrefCodecs *c)
{
    quic_destroy(c->quic);
    lz_destroy(c->lz);
    free(c);
}

/* QUIC encode (server side): RGB32 rows in; `out` word-aligned; returns
 * bytes or -1. */
int cref_quic_encode(CrefCodecs *c, int type, int w, int h, const uint32_t *px,
                     uint8_t *out, unsigned out_len)
{
    if (setjmp(c->qusr.jmp)) return -1;
    int words = quic_encode(c->quic, (QuicImageType)type, w, h, (uint8_t *)px, h, w * 4,
                            (uint32_t *)out, out_len / 4);
    return words < 0 ? -1 : words * 4;
}

/* QUIC decode as canvas_get_quic does (RGB32/RGB24 as RGB32, RGBA as RGBA)
 * into `dest` (w*h words, stride w*4); 0 on success. */
int cref_quic_decode(CrefCodecs *c, const uint8_t *data, unsigned len, uint32_t *dest,
                     int want_w, int want_h)
{
    QuicImageType type;
    int w, h;
    if (setjmp(c->qusr.jmp)) return -1;
    if (quic_decode_begin(c->quic, (uint32_t *)data, len >> 2, &type, &w, &h) == QUIC_ERROR)
        return -1;
    if (w != want_w || h != want_h) return -1;
    QuicImageType as = type == QUIC_IMAGE_TYPE_RGBA ? QUIC_IMAGE_TYPE_RGBA : QUIC_IMAGE_TYPE_RGB32;
    return quic_decode(c->quic, as, (uint8_t *)dest, w * 4) == QUIC_ERROR ? -1 : 0;
}

/* LZ encode (server side) of top-down RGB32 rows; returns bytes or -1. */
int cref_lz_encode(CrefCodecs *c, int type, int w, int h, const uint32_t *px,
                   uint8_t *out, unsigned out_len)
{
    if (setjmp(c->lusr.jmp)) return -1;
    return lz_encode(c->lz, (LzImageType)type, w, h, 1, (uint8_t *)px, h, w * 4, out, out_len);
}

/* LZ decode as canvas_get_lz does for RGB types (to RGB32/RGBA) into
 * `dest` (w*h words); 0 on success. */
int cref_lz_decode(CrefCodecs *c, const uint8_t *data, unsigned len, uint32_t *dest,
                   int want_w, int want_h)
{
    LzImageType type;
    int w, h, n, top_down;
    if (setjmp(c->lusr.jmp)) return -1;
    lz_decode_begin(c->lz, (uint8_t *)data, len, &type, &w, &h, &n, &top_down, NULL);
    if (w != want_w || h != want_h || n != w * h) return -1;
    LzImageType as = type == LZ_IMAGE_TYPE_RGBA ? LZ_IMAGE_TYPE_RGBA : LZ_IMAGE_TYPE_RGB32;
    if (type != LZ_IMAGE_TYPE_RGBA && type != LZ_IMAGE_TYPE_RGB32 && type != LZ_IMAGE_TYPE_RGB24)
        return -1;
    lz_decode(c->lz, as, (uint8_t *)dest);
    return 0;
}

/* SPICE LZ4 payload (top_down u8, format u8, then big-endian u32 size +
 * block, repeated) decoded as canvas_get_lz4 does; 0 on success. */
/* The SPICE LZ4 blocks from `data` to `end` (big-endian u32 size + block,
 * repeated) decoded with liblz4's streaming decoder as canvas_get_lz4 does,
 * into `dst` of `room` bytes; the bytes left over, or -1 on an error. */
static int lz4_blocks(const uint8_t *data, const uint8_t *end, char *dst, int room)
{
    LZ4_streamDecode_t *stream = LZ4_createStreamDecode();
    int left = room;
    while (data + 4 <= end) {
        uint32_t enc = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
        data += 4;
        if (enc > (uint32_t)(end - data)) { left = -1; break; }
        int n = LZ4_decompress_safe_continue(stream, (const char *)data, dst, enc, left);
        if (n <= 0) { left = -1; break; }
        dst += n;
        left -= n;
        data += enc;
    }
    LZ4_freeStreamDecode(stream);
    return left;
}

int cref_lz4_decode(const uint8_t *data, unsigned len, uint32_t *dest, int w, int h)
{
    if (len < 2) return -1;
    return lz4_blocks(data + 2, data + len, (char *)dest, w * h * 4) == 0 ? 0 : -1;
}

/* The destination of a draw as spice-gtk's software canvas holds it: a
 * pixman image over the caller's pixels (`dest_stride` pixels per row). */
static pixman_image_t *canvas_dest(uint32_t *dest, int w, int h, int dest_stride)
{
    return pixman_image_create_bits(PIXMAN_LE_x8r8g8b8, w, h, dest, dest_stride * 4);
}

/* Composite a decoded image onto the destination (PIXMAN_OP_SRC, the
 * canvas's plain copy) and drop the image, as the draw does afterwards. */
static int canvas_draw(pixman_image_t *src, uint32_t *dest, int w, int h, int dest_stride)
{
    pixman_image_t *dst = canvas_dest(dest, w, h, dest_stride);
    if (!dst) {
        pixman_image_unref(src);
        return -1;
    }
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst, 0, 0, 0, 0, 0, 0, w, h);
    pixman_image_unref(dst);
    pixman_image_unref(src);
    return 0;
}

/* The SPICE LZ4 payload the way spice-gtk's canvas draws it: a new pixman
 * surface per image (surface_create, as canvas_get_lz4), liblz4's streaming
 * decode into it, then the surface composited onto the destination
 * (`w x h` at `dest`, `dest_stride` pixels per row) and freed. 32BIT
 * payloads only (what the bench feeds); 0 on success. */
int cref_lz4_draw_canvas(const uint8_t *data, unsigned len, uint32_t *dest, int w, int h,
                         int dest_stride)
{
    if (len < 2) return -1;
    int top_down = !!data[0];
    pixman_image_t *surface = surface_create(PIXMAN_LE_x8r8g8b8, w, h, top_down);
    if (!surface) return -1;
    int stride = abs(pixman_image_get_stride(surface));
    char *dst = (char *)pixman_image_get_data(surface);
    if (!top_down) dst -= stride * (h - 1);
    if (lz4_blocks(data + 2, data + len, dst, h * stride) < 0) {
        pixman_image_unref(surface);
        return -1;
    }
    return canvas_draw(surface, dest, w, h, dest_stride);
}

/* An RGB LZ image the way spice-gtk's canvas draws it: lz_decode_begin,
 * a new surface (alloc_lz_image_surface, as canvas_get_lz), lz_decode into
 * it, then composited onto the destination and freed; 0 on success. */
int cref_lz_draw_canvas(CrefCodecs *c, const uint8_t *data, unsigned len, uint32_t *dest,
                        int want_w, int want_h, int dest_stride)
{
    LzImageType type;
    int w, h, n, top_down;
    if (setjmp(c->lusr.jmp)) return -1;
    lz_decode_begin(c->lz, (uint8_t *)data, len, &type, &w, &h, &n, &top_down, NULL);
    if (w != want_w || h != want_h || n != w * h) return -1;
    if (type != LZ_IMAGE_TYPE_RGB32 && type != LZ_IMAGE_TYPE_RGB24) return -1;
    LzDecodeUsrData usr = { NULL };
    pixman_image_t *surface = alloc_lz_image_surface(&usr, PIXMAN_LE_x8r8g8b8, w, h, n, top_down);
    if (!surface) return -1;
    uint8_t *bits = (uint8_t *)pixman_image_get_data(surface);
    if (!top_down) bits -= abs(pixman_image_get_stride(surface)) * (h - 1);
    lz_decode(c->lz, LZ_IMAGE_TYPE_RGB32, bits);
    return canvas_draw(surface, dest, w, h, dest_stride);
}

/* LZ4 block encode (what spice-server's lz4-encoder.c calls per chunk). */
int cref_lz4_compress(const uint8_t *src, int n, uint8_t *dst, int cap)
{
    return LZ4_compress_default((const char *)src, (char *)dst, n, cap);
}

/* GLZ: spice-gtk's window + decoder. */
typedef struct {
    SpiceGlzDecoderWindow *window;
    SpiceGlzDecoder *decoder;
} CrefGlz;

CrefGlz *cref_glz_new(void)
{
    CrefGlz *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->window = glz_decoder_window_new();
    g->decoder = glz_decoder_new(g->window);
    return g;
}

void cref_glz_free(CrefGlz *g)
{
    glz_decoder_destroy(g->decoder);
    glz_decoder_window_destroy(g->window);
    free(g);
}

/* Decode one GLZ image as canvas_get_glz_rgb_common does; copies the result
 * (top-down rows) to `out` when it is not NULL (checking only, untimed). */
int cref_glz_decode(CrefGlz *g, const uint8_t *data, uint32_t *out, int w, int h)
{
    LzDecodeUsrData usr = { NULL };
    g->decoder->ops->decode(g->decoder, (uint8_t *)data, NULL, &usr);
    if (!usr.out_surface) return -1;
    if (pixman_image_get_width(usr.out_surface) != w || pixman_image_get_height(usr.out_surface) != h) {
        pixman_image_unref(usr.out_surface);
        return -1;
    }
    if (out) {
        const uint8_t *base = (const uint8_t *)pixman_image_get_data(usr.out_surface);
        int stride = pixman_image_get_stride(usr.out_surface);
        for (int y = 0; y < h; y++)
            memcpy(out + (size_t)y * w, base + (ptrdiff_t)y * stride, (size_t)w * 4);
    }
    pixman_image_unref(usr.out_surface);
    return 0;
}

/* One GLZ image the way spice-gtk's canvas draws it: the decoder's own
 * surface (canvas_get_glz_rgb_common) composited onto the destination and
 * freed; 0 on success. */
int cref_glz_draw_canvas(CrefGlz *g, const uint8_t *data, uint32_t *dest, int w, int h,
                         int dest_stride)
{
    LzDecodeUsrData usr = { NULL };
    g->decoder->ops->decode(g->decoder, (uint8_t *)data, NULL, &usr);
    if (!usr.out_surface) return -1;
    if (pixman_image_get_width(usr.out_surface) != w || pixman_image_get_height(usr.out_surface) != h) {
        pixman_image_unref(usr.out_surface);
        return -1;
    }
    return canvas_draw(usr.out_surface, dest, w, h, dest_stride);
}
