/*
 * lab-tones: the lab guest's known test signal (scripts/guest/init "tones").
 *
 * Plays a sequence of sine tones through the OSS emulation of the guest's
 * sound card (/dev/dsp, snd-pcm-oss) at 48000 Hz, stereo, signed 16-bit,
 * after turning the mixer's master and PCM volume to 100 (/dev/mixer: an
 * AC97 codec starts muted). Each argument is FREQ:MS (a tone of FREQ Hz for
 * MS milliseconds, amplitude AMPLITUDE, 5 ms raised-cosine edges) or 0:MS
 * (silence). The signal is generated here; nothing is read from files.
 * Prints "TONES DONE <frames>" on stdout when the device has drained.
 *
 * usage: lab-tones FREQ:MS [FREQ:MS ...]
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/soundcard.h>
#include <unistd.h>

#define RATE 48000
#define AMPLITUDE 16384 /* -6 dBFS */
#define EDGE_MS 5

static void die(const char *what) {
  fprintf(stderr, "GUEST ERROR tones: %s\n", what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: lab-tones FREQ:MS ...");
  int mix = open("/dev/mixer", O_RDWR);
  if (mix >= 0) {
    int full = 100 | (100 << 8);
    ioctl(mix, SOUND_MIXER_WRITE_VOLUME, &full);
    full = 100 | (100 << 8);
    ioctl(mix, SOUND_MIXER_WRITE_PCM, &full);
    close(mix);
  }
  int fd = open("/dev/dsp", O_WRONLY);
  if (fd < 0) die("cannot open /dev/dsp");
  int fmt = AFMT_S16_LE, ch = 2, rate = RATE;
  if (ioctl(fd, SNDCTL_DSP_SETFMT, &fmt) < 0 || fmt != AFMT_S16_LE) die("S16_LE refused");
  if (ioctl(fd, SNDCTL_DSP_CHANNELS, &ch) < 0 || ch != 2) die("stereo refused");
  if (ioctl(fd, SNDCTL_DSP_SPEED, &rate) < 0 || rate != RATE) die("48000 Hz refused");
  long total = 0;
  short buf[2 * 480];
  for (int a = 1; a < argc; a++) {
    double f;
    long ms;
    if (sscanf(argv[a], "%lf:%ld", &f, &ms) != 2 || f < 0 || ms <= 0 || ms > 60000) die("bad FREQ:MS");
    long n = ms * RATE / 1000, edge = EDGE_MS * RATE / 1000;
    for (long i = 0; i < n;) {
      int k = 0;
      for (; k < 480 && i < n; k++, i++) {
        double g = 1.0;
        if (i < edge) g = 0.5 - 0.5 * cos(M_PI * i / edge);
        else if (n - 1 - i < edge) g = 0.5 - 0.5 * cos(M_PI * (n - 1 - i) / edge);
        short s = f > 0 ? (short)lrint(AMPLITUDE * g * sin(2 * M_PI * f * (double)i / RATE)) : 0;
        buf[2 * k] = s;
        buf[2 * k + 1] = s;
      }
      size_t bytes = (size_t)k * 4, off = 0;
      while (off < bytes) {
        ssize_t w = write(fd, (char *)buf + off, bytes - off);
        if (w <= 0) die("write to /dev/dsp failed");
        off += (size_t)w;
      }
      total += k;
    }
  }
  ioctl(fd, SNDCTL_DSP_SYNC, 0);
  close(fd);
  printf("TONES DONE %ld\n", total);
  return 0;
}
