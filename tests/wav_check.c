/* wav_check.c — what tests/run_nodes.sh measures in a rendered WAV file.
 *
 *   wav_check FILE.wav
 *
 * Prints "frames F channels C nonfinite N peak P" (P the largest |x| among
 * the finite samples) and exits 1 when any sample is NaN or infinite, or
 * when every finite sample is 0 (silent); 2 when the file cannot be read.
 * amp's own summary reports the peak of the finite samples only, so a
 * render with NaN mixed into finite output must be counted here.
 */
#include <math.h>
#include <stdio.h>

#include "wav.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: wav_check FILE.wav\n");
        return 2;
    }
    WavData w;
    char err[256];
    if (wav_read_file(argv[1], &w, err, sizeof err) != 0) {
        fprintf(stderr, "wav_check: %s: %s\n", argv[1], err);
        return 2;
    }
    long nonfinite = 0;
    double peak = 0.0;
    for (int c = 0; c < w.channels; c++)
        for (long i = 0; i < w.frames; i++) {
            float x = w.data[c][i];
            if (!isfinite(x))
                nonfinite++;
            else if (fabs(x) > peak)
                peak = fabs(x);
        }
    printf("frames %ld channels %d nonfinite %ld peak %.9g\n", w.frames, w.channels, nonfinite, peak);
    wav_free(&w);
    return nonfinite > 0 || peak == 0.0 ? 1 : 0;
}
