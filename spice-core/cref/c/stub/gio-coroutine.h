/* Stand-in for spice-gtk's gio-coroutine.h (bench only): the reference GLZ
 * window waits for a missing image in a coroutine; here every image is
 * decoded in order, so the condition is simply evaluated once. */
#pragma once
#include <glib.h>
#define g_coroutine_self() NULL
#define g_coroutine_condition_wait(self, func, data) ((func)(data))
