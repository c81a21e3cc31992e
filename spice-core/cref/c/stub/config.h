/* config.h for building spice-common's decoders outside meson (bench only). */
#pragma once
#define USE_LZ4 1
