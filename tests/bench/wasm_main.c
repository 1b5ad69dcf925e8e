/* wasm_main.c — the WebAssembly side of `make bench`: cases.c's cases,
 * exported to wasm_driver.js, which bench.c talks to over a pipe, one
 * command per timed run. Times are taken inside the module with
 * emscripten_get_now (performance.now under node). One case open at a time.
 */
#include <emscripten.h>
#include <stdio.h>
#include "cases.h"

static OurCase wb_case;
static int wb_is_open;

EMSCRIPTEN_KEEPALIVE int wb_open(int id, int voices)
{
    char err[256];
    if (wb_is_open)
        our_close(&wb_case);
    wb_is_open = our_open(&wb_case, id, voices, err, sizeof err) == 0;
    if (!wb_is_open)
        fprintf(stderr, "wasm: %s\n", err);
    return wb_is_open ? 0 : -1;
}

EMSCRIPTEN_KEEPALIVE void wb_clock(int cpu)
{
    bench_set_clock(cpu);
}

EMSCRIPTEN_KEEPALIVE void wb_prepare(void)
{
    if (wb_is_open)
        our_prepare(&wb_case);
}

/* Render `frames` samples; the elapsed time in ns. */
EMSCRIPTEN_KEEPALIVE double wb_run(int frames)
{
    if (!wb_is_open)
        return -1.0;
    double t0 = bench_now_ns();
    our_run(&wb_case, frames);
    return bench_now_ns() - t0;
}

EMSCRIPTEN_KEEPALIVE double wb_rms(void)
{
    return wb_is_open ? wb_case.last_rms : -1.0;
}
