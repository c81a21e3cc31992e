/* spice-snap: headless reference SPICE client on libspice-client-glib (no GTK, no X).
 *
 * Origin: the project's shared tool ../shared/tools/spice-snap.c (used by the rig
 * cases in tests/e2e/cases.sh); this copy adds a signal stop for scripts/bench-clients.
 *
 * Connects, optionally asks for an image compression, counts display
 * invalidations, and writes the decoded primary surface as a binary PPM when
 * SECONDS have passed or when it gets SIGTERM or SIGUSR1 (whichever comes
 * first; SECONDS 0 waits for a signal only). Decoding (QUIC/LZ/GLZ/LZ4/JPEG)
 * happens inside spice-glib's private spice-common canvas, which is not
 * exported; the primary surface is the public way to see its result.
 *
 * build: gcc -O2 -o spice-snap spice-snap.c $(pkg-config --cflags --libs spice-client-glib-2.0)
 * usage: spice-snap HOST PORT SECONDS OUT.ppm [compression: 1=off 2=auto_glz 3=auto_lz 4=quic 5=glz 6=lz 7=lz4]
 */
#include <glib-unix.h>
#include <signal.h>
#include <spice-client.h>
#include <stdio.h>
#include <stdlib.h>

static GMainLoop *loop;
static SpiceChannel *display;
static long invalidates, inval_pixels;
static int pref;

static void on_invalidate(SpiceChannel *c, gint x, gint y, gint w, gint h, gpointer d)
{
    (void)c; (void)x; (void)y; (void)d;
    invalidates++;
    inval_pixels += (long)w * h;
}

/* The preference can only be sent once the channel is up (the server's
 * capabilities are known then); asked for earlier it is dropped. */
static void on_channel_event(SpiceChannel *c, SpiceChannelEvent event, gpointer d)
{
    (void)d;
    if (event == SPICE_CHANNEL_OPENED && pref)
        spice_display_channel_change_preferred_compression(c, pref);
}

static void on_channel_new(SpiceSession *s, SpiceChannel *c, gpointer d)
{
    (void)s; (void)d;
    if (!SPICE_IS_DISPLAY_CHANNEL(c))
        return;
    display = c;
    g_signal_connect(c, "display-invalidate", G_CALLBACK(on_invalidate), NULL);
    g_signal_connect(c, "channel-event", G_CALLBACK(on_channel_event), NULL);
    spice_channel_connect(c);
}

/* Timer or signal: leave the main loop; main() writes the picture. */
static gboolean on_stop(gpointer d)
{
    (void)d;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

/* The primary surface (32-bit xRGB, little endian: B,G,R,X per pixel) as P6, one write per row. */
static int write_ppm(const char *path, const SpiceDisplayPrimary *p)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "P6\n%d %d\n255\n", p->width, p->height);
    guint8 *row = g_malloc((gsize)p->width * 3);
    for (int y = 0; y < p->height; y++) {
        const guint8 *src = p->data + (gsize)y * p->stride;
        for (int x = 0; x < p->width; x++) {
            row[3 * x] = src[4 * x + 2];
            row[3 * x + 1] = src[4 * x + 1];
            row[3 * x + 2] = src[4 * x];
        }
        fwrite(row, 3, (size_t)p->width, f);
    }
    g_free(row);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT SECONDS OUT.ppm [pref-compression]\n", argv[0]);
        return 2;
    }
    if (argc > 5)
        pref = atoi(argv[5]);
    int seconds = atoi(argv[3]);
    SpiceSession *session = spice_session_new();
    g_object_set(session, "host", argv[1], "port", argv[2], NULL);
    g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new), NULL);
    loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, on_stop, NULL);
    g_unix_signal_add(SIGUSR1, on_stop, NULL);
    if (!spice_session_connect(session)) {
        fprintf(stderr, "connect failed\n");
        return 1;
    }
    gint64 t0 = g_get_monotonic_time();
    if (seconds > 0)
        g_timeout_add_seconds((guint)seconds, on_stop, NULL);
    g_main_loop_run(loop);
    double dt = (g_get_monotonic_time() - t0) / 1e6;
    SpiceDisplayPrimary p;
    if (!display || !spice_display_channel_get_primary(display, 0, &p)) {
        fprintf(stderr, "no primary surface\n");
        return 1;
    }
    if (write_ppm(argv[4], &p) != 0) {
        fprintf(stderr, "cannot write %s\n", argv[4]);
        return 1;
    }
    printf("primary %dx%d fmt=%d stride=%d; %ld invalidates, %.1f Mpixel updated in %.1fs\n",
           p.width, p.height, p.format, p.stride, invalidates, inval_pixels / 1e6, dt);
    spice_session_disconnect(session);
    return 0;
}
