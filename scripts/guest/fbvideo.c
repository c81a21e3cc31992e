/*
 * fbvideo: the lab guest's "video" (scripts/guest/init, serial command
 * `video SECONDS`). Compiled on the host with `gcc -static` by
 * scripts/guest/build and packed into the initramfs as /bin/fbvideo.
 *
 * Owns: animating one box of /dev/fb0 (photo-like content scrolling
 * sideways with a soft ball bouncing over it) at a steady frame rate, so
 * that a SPICE server on a QXL device sees a run of same-size DRAW_COPY
 * updates of one area and turns them into an MJPEG video stream.
 *
 * Each frame is one write() of the full-width rows the box spans (read back
 * from the framebuffer once at the start): the DRM fbdev emulation turns a
 * write into one damage rectangle after the copy, so every update the driver
 * sends covers exactly the same rows. Writes through mmap() would be flushed
 * page by page whenever the deferred-I/O worker runs, often mid-frame, and
 * the uneven rectangles break the server's stream detection.
 * Must not: touch the framebuffer outside its box (the rest of the scene
 * stays as it was), or print anything but its marker and result lines.
 *
 * usage: fbvideo SECONDS [FPS [HOLD]]   (defaults: 25 fps, hold 1 s)
 * The box is 320x240 (clipped to the screen), centred. It moves for SECONDS,
 * prints "VIDEO STILL <frames>" on stderr, then writes the last picture again
 * for HOLD seconds at the same rate (so a stream's last frames show the final
 * picture), and prints the number of frames written on stdout. The last
 * picture stays on screen.
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Horizontal period of the scrolling texture (it wraps seamlessly). */
#define PERIOD 640
/* Pixels the texture moves per frame. */
#define SCROLL_STEP 4

static int die(const char *what)
{
    fprintf(stderr, "fbvideo: %s: %s\n", what, strerror(errno));
    return 1;
}

static uint8_t clamp8(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* A smooth, periodic landscape-like texture (BGRX), PERIOD x h pixels. */
static void make_texture(uint32_t *tex, int h)
{
    const double tau = 6.283185307179586;
    for (int y = 0; y < h; y++) {
        double fy = (double)y / (h > 1 ? h - 1 : 1);
        for (int x = 0; x < PERIOD; x++) {
            double fx = (double)x / PERIOD;
            /* Sky-to-ground gradient with gentle waves travelling along x. */
            double hill = 0.55 + 0.12 * sin(tau * fx * 2) + 0.06 * sin(tau * fx * 5 + 1.0);
            double r, g, b;
            if (fy < hill) {
                double t = fy / hill;
                r = 70 + 150 * t + 20 * sin(tau * fx * 3);
                g = 110 + 100 * t;
                b = 200 - 40 * t + 25 * sin(tau * fx);
            } else {
                double t = (fy - hill) / (1.0 - hill + 1e-9);
                r = 60 + 50 * sin(tau * fx * 4 + t * 3) + 40 * t;
                g = 140 - 60 * t + 30 * sin(tau * fx * 7);
                b = 50 + 30 * t;
            }
            tex[y * PERIOD + x] = (uint32_t)clamp8(b) | (uint32_t)clamp8(g) << 8 | (uint32_t)clamp8(r) << 16;
        }
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fbvideo SECONDS [FPS [HOLD]]\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    int fps = argc > 2 ? atoi(argv[2]) : 25;
    double hold = argc > 3 ? atof(argv[3]) : 1;
    int bw = 320, bh = 240;
    if (seconds <= 0 || fps <= 0 || fps > 100 || hold < 0 || hold > 600) {
        fprintf(stderr, "fbvideo: bad arguments\n");
        return 2;
    }

    int fd = open("/dev/fb0", O_RDWR);
    if (fd < 0)
        return die("open /dev/fb0");
    struct fb_var_screeninfo var;
    struct fb_fix_screeninfo fix;
    if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 || ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0)
        return die("framebuffer info");
    if (var.bits_per_pixel != 32) {
        fprintf(stderr, "fbvideo: %u bits per pixel, want 32\n", var.bits_per_pixel);
        return 1;
    }
    if (bw > (int)var.xres)
        bw = var.xres;
    if (bh > (int)var.yres)
        bh = var.yres;
    int x0 = ((int)var.xres - bw) / 2;
    int y0 = ((int)var.yres - bh) / 2;

    uint32_t *tex = malloc((size_t)PERIOD * bh * sizeof *tex);
    uint32_t *row = malloc((size_t)bw * sizeof *row);
    size_t strip_len = (size_t)fix.line_length * bh;
    off_t strip_at = (off_t)fix.line_length * y0;
    uint8_t *strip = malloc(strip_len);
    if (!tex || !row || !strip) {
        fprintf(stderr, "fbvideo: out of memory\n");
        return 1;
    }
    make_texture(tex, bh);
    /* The rows around the box keep the scene's pixels. */
    if (pread(fd, strip, strip_len, strip_at) != (ssize_t)strip_len)
        return die("read /dev/fb0");

    int moving = (int)(seconds * fps + 0.5);
    if (moving < 1)
        moving = 1;
    int total = moving + (int)(hold * fps + 0.5);
    double t0 = now_s();
    int radius = bh / 6 > 4 ? bh / 6 : 4;
    for (int n = 0; n < total; n++) {
        if (n == moving) {
            fprintf(stderr, "VIDEO STILL %d\n", moving);
        }
        int k = n < moving ? n : moving - 1;
        int off = (k * SCROLL_STEP) % PERIOD;
        /* Ball bouncing in a triangle wave across the box. */
        int span_x = bw - 2 * radius, span_y = bh - 2 * radius;
        int px = span_x > 0 ? (k * 7) % (2 * span_x) : 0;
        int py = span_y > 0 ? (k * 5) % (2 * span_y) : 0;
        int cx = radius + (px < span_x ? px : 2 * span_x - px);
        int cy = radius + (py < span_y ? py : 2 * span_y - py);
        for (int y = 0; y < bh; y++) {
            for (int x = 0; x < bw; x++)
                row[x] = tex[y * PERIOD + (x + off) % PERIOD];
            int dy = y - cy;
            if (dy >= -radius && dy <= radius) {
                for (int x = cx - radius; x <= cx + radius; x++) {
                    if (x < 0 || x >= bw)
                        continue;
                    int dx = x - cx;
                    double d = sqrt((double)(dx * dx + dy * dy)) / radius;
                    if (d >= 1.0)
                        continue;
                    /* Soft warm ball: blend towards orange, strongest at the centre. */
                    double a = 1.0 - d * d;
                    uint32_t p = row[x];
                    double b = (p & 0xff) * (1 - a) + 40 * a;
                    double g = (p >> 8 & 0xff) * (1 - a) + 170 * a;
                    double r = (p >> 16 & 0xff) * (1 - a) + 250 * a;
                    row[x] = (uint32_t)clamp8(b) | (uint32_t)clamp8(g) << 8 | (uint32_t)clamp8(r) << 16;
                }
            }
            memcpy(strip + (size_t)y * fix.line_length + (size_t)x0 * 4, row, (size_t)bw * 4);
        }
        if (pwrite(fd, strip, strip_len, strip_at) != (ssize_t)strip_len)
            return die("write /dev/fb0");
        sleep_until(t0 + (double)(n + 1) / fps);
    }
    printf("%d\n", total);
    return 0;
}
