/*
 * lab-agent: the lab guest's SPICE agent (a test program, not spice-vdagent).
 * Compiled on the host with `gcc -static` by scripts/guest/build and packed
 * into the initramfs as /bin/lab-agent; scripts/guest/init starts it when the
 * kernel command line has barespice_agent=1 (scripts/lab-server --agent adds
 * the virtio-serial port "com.redhat.spice.0" wired to QEMU's spicevmc).
 *
 * Owns: speaking enough of the VD_AGENT protocol (spice-protocol
 * spice/vd_agent.h; on the port every piece is a VDIChunkHeader {port, size}
 * followed by part of the VDAgentMessage stream) to be a guest agent:
 *   - ANNOUNCE_CAPABILITIES: answered with ours (mouse state, monitors
 *     config, reply, display config) when the client asks;
 *   - MONITORS_CONFIG: the first monitor's size is applied to the display
 *     with DRM KMS (a dumb buffer of the new size on the bochs-drm CRTC; the
 *     current picture, read from /dev/fb0, drawn into it scaled nearest-
 *     neighbour so the new desktop is well defined), then REPLY
 *     (VD_AGENT_SUCCESS, or VD_AGENT_ERROR when the mode set failed);
 *   - DISPLAY_CONFIG: logged with its flags, REPLY success (nothing to change here);
 *   - MOUSE_STATE (the server forwards the client's pointer in client mouse
 *     mode): every button press is reported on stdout.
 * Everything else (clipboard, file transfer, ...) is ignored.
 *
 * Serial lines (stdout, which init points at ttyS0):
 *   AGENT READY <device>
 *   AGENT MONITORS <w>x<h>              a MONITORS_CONFIG arrived
 *   AGENT RESIZED <w>x<h>               the display now has that mode
 *   AGENT CLICK <x> <y> buttons=<mask>  a button went down at guest pixel x,y
 *   AGENT DISPLAY_CONFIG flags=<f>      a DISPLAY_CONFIG arrived
 *   AGENT ERROR <text>
 *
 * The KMS structures and ioctl numbers below are the Linux UAPI
 * (include/uapi/drm/drm.h, drm_mode.h), written out here because the build
 * host has no libdrm headers; their sizes are checked at compile time.
 * Must not: print anything else on the serial line, or exit while the
 * display mode it set should stay (closing the DRM device would let the
 * kernel's fbdev restore its own mode).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- spice/vd_agent.h values ------------------------------------------- */
enum { VDP_CLIENT_PORT = 1, VDP_SERVER_PORT = 2 };
enum {
  VD_AGENT_MOUSE_STATE = 1, VD_AGENT_MONITORS_CONFIG = 2, VD_AGENT_REPLY = 3,
  VD_AGENT_DISPLAY_CONFIG = 5, VD_AGENT_ANNOUNCE_CAPABILITIES = 6,
};
enum { VD_AGENT_CAP_MOUSE_STATE = 0, VD_AGENT_CAP_MONITORS_CONFIG = 1, VD_AGENT_CAP_REPLY = 2, VD_AGENT_CAP_DISPLAY_CONFIG = 4 };
enum { VD_AGENT_SUCCESS = 1, VD_AGENT_ERROR = 2 };
#define VD_AGENT_PROTOCOL 1
#define HEADER 20           /* VDAgentMessage without data */
#define MAX_MESSAGE 65536   /* larger messages are skipped */

/* ---- DRM UAPI ------------------------------------------------------------ */
struct drm_mode_modeinfo {
  uint32_t clock;
  uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
  uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
  uint32_t vrefresh, flags, type;
  char name[32];
};
struct drm_mode_card_res {
  uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
  uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
  uint32_t min_width, max_width, min_height, max_height;
};
struct drm_mode_get_connector {
  uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
  uint32_t count_modes, count_props, count_encoders;
  uint32_t encoder_id, connector_id, connector_type, connector_type_id;
  uint32_t connection, mm_width, mm_height, subpixel, pad;
};
struct drm_mode_crtc {
  uint64_t set_connectors_ptr;
  uint32_t count_connectors, crtc_id, fb_id, x, y, gamma_size, mode_valid;
  struct drm_mode_modeinfo mode;
};
struct drm_mode_fb_cmd { uint32_t fb_id, width, height, pitch, bpp, depth, handle; };
struct drm_mode_create_dumb { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct drm_mode_map_dumb { uint32_t handle, pad; uint64_t offset; };
_Static_assert(sizeof(struct drm_mode_modeinfo) == 68, "drm_mode_modeinfo");
_Static_assert(sizeof(struct drm_mode_card_res) == 64, "drm_mode_card_res");
_Static_assert(sizeof(struct drm_mode_get_connector) == 80, "drm_mode_get_connector");
_Static_assert(sizeof(struct drm_mode_crtc) == 104, "drm_mode_crtc");
_Static_assert(sizeof(struct drm_mode_create_dumb) == 32, "drm_mode_create_dumb");
#define DRM_IOWR(nr, type) _IOWR('d', nr, type)
#define DRM_IOCTL_MODE_GETRESOURCES DRM_IOWR(0xA0, struct drm_mode_card_res)
#define DRM_IOCTL_MODE_SETCRTC DRM_IOWR(0xA2, struct drm_mode_crtc)
#define DRM_IOCTL_MODE_GETCONNECTOR DRM_IOWR(0xA7, struct drm_mode_get_connector)
#define DRM_IOCTL_MODE_ADDFB DRM_IOWR(0xAE, struct drm_mode_fb_cmd)
#define DRM_IOCTL_MODE_CREATE_DUMB DRM_IOWR(0xB2, struct drm_mode_create_dumb)
#define DRM_IOCTL_MODE_MAP_DUMB DRM_IOWR(0xB3, struct drm_mode_map_dumb)

static int port_fd = -1;
static int drm_fd = -1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  (void)!write(1, line, n); /* one write per line: no interleaving with init */
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* One agent message to the client: chunk header + message header + data. */
static void send_msg(uint32_t type, const uint8_t *data, uint32_t len) {
  uint8_t buf[8 + HEADER + 64];
  if (len > 64) return;
  put32(buf, VDP_CLIENT_PORT);
  put32(buf + 4, HEADER + len);
  put32(buf + 8, VD_AGENT_PROTOCOL);
  put32(buf + 12, type);
  memset(buf + 16, 0, 8); /* opaque */
  put32(buf + 24, len);
  memcpy(buf + 28, data, len);
  if (write(port_fd, buf, 28 + len) != (ssize_t)(28 + len)) say("AGENT ERROR write: %s", strerror(errno));
}

static void reply(uint32_t type, uint32_t error) {
  uint8_t d[8];
  put32(d, type);
  put32(d + 4, error);
  send_msg(VD_AGENT_REPLY, d, 8);
}

static void announce(int request) {
  uint8_t d[8];
  put32(d, request);
  put32(d + 4, 1u << VD_AGENT_CAP_MOUSE_STATE | 1u << VD_AGENT_CAP_MONITORS_CONFIG | 1u << VD_AGENT_CAP_REPLY |
                   1u << VD_AGENT_CAP_DISPLAY_CONFIG);
  send_msg(VD_AGENT_ANNOUNCE_CAPABILITIES, d, 8);
}

/* ---- the display ---------------------------------------------------------- */

static int read_sys(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, n - 1);
  close(fd);
  if (r <= 0) return -1;
  buf[r] = 0;
  return 0;
}

/* The picture on /dev/fb0 (the scene shown before the resize). */
static uint32_t *old_picture(uint32_t *w, uint32_t *h) {
  char s[64];
  if (read_sys("/sys/class/graphics/fb0/virtual_size", s, sizeof s) || sscanf(s, "%u,%u", w, h) != 2) return NULL;
  size_t bytes = (size_t)*w * *h * 4;
  uint32_t *px = malloc(bytes);
  int fd = open("/dev/fb0", O_RDONLY);
  if (!px || fd < 0) { free(px); if (fd >= 0) close(fd); return NULL; }
  size_t got = 0;
  while (got < bytes) {
    ssize_t r = read(fd, (char *)px + got, bytes - got);
    if (r <= 0) break;
    got += r;
  }
  close(fd);
  if (got < bytes) { free(px); return NULL; }
  return px;
}

static int set_mode(uint32_t w, uint32_t h) {
  if (drm_fd < 0) drm_fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
  if (drm_fd < 0) { say("AGENT ERROR open /dev/dri/card0: %s", strerror(errno)); return -1; }
  struct drm_mode_card_res res = {0};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_GETRESOURCES, &res)) { say("AGENT ERROR GETRESOURCES: %s", strerror(errno)); return -1; }
  uint32_t crtcs[8] = {0}, conns[8] = {0};
  if (!res.count_crtcs || !res.count_connectors) { say("AGENT ERROR no CRTC or connector"); return -1; }
  res.count_crtcs = res.count_crtcs > 8 ? 8 : res.count_crtcs;
  res.count_connectors = res.count_connectors > 8 ? 8 : res.count_connectors;
  res.count_fbs = res.count_encoders = 0;
  res.crtc_id_ptr = (uintptr_t)crtcs;
  res.connector_id_ptr = (uintptr_t)conns;
  if (ioctl(drm_fd, DRM_IOCTL_MODE_GETRESOURCES, &res)) { say("AGENT ERROR GETRESOURCES: %s", strerror(errno)); return -1; }
  if (w < res.min_width || w > res.max_width || h < res.min_height || h > res.max_height) {
    say("AGENT ERROR %ux%u outside %u..%u x %u..%u", w, h, res.min_width, res.max_width, res.min_height, res.max_height);
    return -1;
  }
  struct drm_mode_get_connector conn = {.connector_id = conns[0]};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn)) { say("AGENT ERROR GETCONNECTOR: %s", strerror(errno)); return -1; }
  uint32_t nmodes = conn.count_modes;
  struct drm_mode_modeinfo *modes = calloc(nmodes ? nmodes : 1, sizeof *modes);
  struct drm_mode_get_connector conn2 = {.connector_id = conns[0], .count_modes = nmodes, .modes_ptr = (uintptr_t)modes};
  if (!modes || ioctl(drm_fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn2)) { say("AGENT ERROR GETCONNECTOR modes"); free(modes); return -1; }
  if (conn2.count_modes < nmodes) nmodes = conn2.count_modes;
  struct drm_mode_modeinfo mode = {0};
  int found = 0;
  for (uint32_t i = 0; i < nmodes; i++)
    if (modes[i].hdisplay == w && modes[i].vdisplay == h) { mode = modes[i]; found = 1; break; }
  free(modes);
  if (!found) {
    /* Not in the connector's list: a simple 60 Hz timing of that size
     * (bochs-drm only uses the visible size). */
    mode.hdisplay = w; mode.hsync_start = w + 16; mode.hsync_end = w + 32; mode.htotal = w + 48;
    mode.vdisplay = h; mode.vsync_start = h + 3; mode.vsync_end = h + 6; mode.vtotal = h + 9;
    mode.clock = (uint32_t)((uint64_t)mode.htotal * mode.vtotal * 60 / 1000);
    mode.vrefresh = 60;
    snprintf(mode.name, sizeof mode.name, "%ux%u", w, h);
  }
  struct drm_mode_create_dumb cd = {.height = h, .width = w, .bpp = 32};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd)) { say("AGENT ERROR CREATE_DUMB: %s", strerror(errno)); return -1; }
  struct drm_mode_fb_cmd fb = {.width = w, .height = h, .pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_ADDFB, &fb)) { say("AGENT ERROR ADDFB: %s", strerror(errno)); return -1; }
  struct drm_mode_map_dumb md = {.handle = cd.handle};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_MAP_DUMB, &md)) { say("AGENT ERROR MAP_DUMB: %s", strerror(errno)); return -1; }
  uint8_t *map = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, drm_fd, md.offset);
  if (map == MAP_FAILED) { say("AGENT ERROR mmap: %s", strerror(errno)); return -1; }
  /* The previous picture, scaled nearest-neighbour to the new size. */
  uint32_t ow = 0, oh = 0;
  uint32_t *old = old_picture(&ow, &oh);
  for (uint32_t y = 0; y < h; y++) {
    uint32_t *row = (uint32_t *)(map + (size_t)y * cd.pitch);
    for (uint32_t x = 0; x < w; x++)
      row[x] = old ? old[(size_t)(y * oh / h) * ow + x * ow / w] : ((x ^ y) & 0xff) * 0x010101;
  }
  free(old);
  struct drm_mode_crtc crtc = {.set_connectors_ptr = (uintptr_t)&conns[0], .count_connectors = 1,
                               .crtc_id = crtcs[0], .fb_id = fb.fb_id, .mode_valid = 1, .mode = mode};
  if (ioctl(drm_fd, DRM_IOCTL_MODE_SETCRTC, &crtc)) { say("AGENT ERROR SETCRTC %ux%u: %s", w, h, strerror(errno)); return -1; }
  return 0;
}

/* ---- messages ------------------------------------------------------------- */

static uint32_t buttons_held;

static void handle(uint32_t type, const uint8_t *d, uint32_t len) {
  switch (type) {
  case VD_AGENT_ANNOUNCE_CAPABILITIES:
    if (len >= 4 && get32(d)) announce(0);
    break;
  case VD_AGENT_MONITORS_CONFIG: {
    if (len < 8 + 20 || get32(d) == 0) { reply(type, VD_AGENT_ERROR); break; }
    uint32_t h = get32(d + 8), w = get32(d + 12);
    say("AGENT MONITORS %ux%u", w, h);
    if (w == 0 || h == 0 || w > 8192 || h > 8192 || set_mode(w, h)) {
      reply(type, VD_AGENT_ERROR);
    } else {
      say("AGENT RESIZED %ux%u", w, h);
      reply(type, VD_AGENT_SUCCESS);
    }
    break;
  }
  case VD_AGENT_DISPLAY_CONFIG:
    if (len >= 8) say("AGENT DISPLAY_CONFIG flags=%u", get32(d));
    reply(type, VD_AGENT_SUCCESS);
    break;
  case VD_AGENT_MOUSE_STATE:
    if (len >= 12) {
      uint32_t x = get32(d), y = get32(d + 4), b = get32(d + 8);
      if (b & ~buttons_held) say("AGENT CLICK %u %u buttons=%u", x, y, b);
      buttons_held = b;
    }
    break;
  default:
    break;
  }
}

/* Reassembly, one stream per chunk port. */
struct stream { uint8_t hdr[HEADER]; uint32_t have_hdr; uint8_t *data; uint32_t size, have, skip; };
static struct stream streams[3];

static void feed(struct stream *s, const uint8_t *p, uint32_t n) {
  while (n) {
    if (s->skip) {
      uint32_t k = n < s->skip ? n : s->skip;
      s->skip -= k; p += k; n -= k;
      continue;
    }
    if (s->have_hdr < HEADER) {
      uint32_t k = HEADER - s->have_hdr;
      if (k > n) k = n;
      memcpy(s->hdr + s->have_hdr, p, k);
      s->have_hdr += k; p += k; n -= k;
      if (s->have_hdr == HEADER) {
        s->size = get32(s->hdr + 16);
        s->have = 0;
        if (get32(s->hdr) != VD_AGENT_PROTOCOL || s->size > MAX_MESSAGE) {
          s->skip = s->size; s->have_hdr = 0; /* resynchronising is not possible; skip its claimed size */
        } else if (s->size == 0) {
          handle(get32(s->hdr + 4), NULL, 0); s->have_hdr = 0;
        } else {
          s->data = malloc(s->size);
          if (!s->data) { s->skip = s->size; s->have_hdr = 0; }
        }
      }
      continue;
    }
    uint32_t k = s->size - s->have;
    if (k > n) k = n;
    memcpy(s->data + s->have, p, k);
    s->have += k; p += k; n -= k;
    if (s->have == s->size) {
      handle(get32(s->hdr + 4), s->data, s->size);
      free(s->data); s->data = NULL; s->have_hdr = 0;
    }
  }
}

/* /dev/vportNpM of the port named com.redhat.spice.0 (waits up to 30 s). */
static int find_port(char *dev, size_t n) {
  for (int tries = 0; tries < 300; tries++) {
    DIR *dir = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
      char path[300], name[64];
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      if (read_sys(path, name, sizeof name) == 0 && strncmp(name, "com.redhat.spice.0", 18) == 0) {
        snprintf(dev, n, "/dev/%s", e->d_name);
        closedir(dir);
        return 0;
      }
    }
    if (dir) closedir(dir);
    usleep(100000);
  }
  return -1;
}

int main(void) {
  char dev[300];
  if (find_port(dev, sizeof dev)) { say("AGENT ERROR no virtio port com.redhat.spice.0"); return 1; }
  for (int tries = 0; port_fd < 0 && tries < 100; tries++) {
    port_fd = open(dev, O_RDWR);
    if (port_fd < 0) usleep(100000);
  }
  if (port_fd < 0) { say("AGENT ERROR open %s: %s", dev, strerror(errno)); return 1; }
  say("AGENT READY %s", dev);
  /* Chunks: VDIChunkHeader {port, size} then size bytes of that port's stream. */
  uint8_t buf[8192];
  uint32_t have = 0;
  for (;;) {
    ssize_t r = read(port_fd, buf + have, sizeof buf - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { usleep(100000); continue; } /* no host side yet */
    have += r;
    uint32_t off = 0;
    while (have - off >= 8) {
      uint32_t port = get32(buf + off), size = get32(buf + off + 4);
      if (size > sizeof buf - 8) { say("AGENT ERROR chunk of %u bytes", size); have = off = 0; break; }
      if (have - off - 8 < size) break;
      feed(&streams[port < 3 ? port : 0], buf + off + 8, size);
      off += 8 + size;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
  }
}
