/* Stand-in for spice-gtk's client_sw_canvas.h (bench only): the canvas types
 * decode.h needs come from spice-common's canvas_base.h. */
#pragma once
#include "common/canvas_base.h"
