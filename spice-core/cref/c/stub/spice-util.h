/* Stand-in for spice-gtk's spice-util.h (bench only): debug logging off. */
#pragma once
#define SPICE_DEBUG(...) do { } while (0)
