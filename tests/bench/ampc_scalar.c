/* ampc_scalar.c — writes the C of FILE.amp's unit compiled with
 * AmpcOptions.scalar = 1 (one voice per group, scalar floats), which the
 * `ampc` command has no option for, so that `make bench` can build the
 * scalar twin of the synth voice beside its SIMD build.
 *
 *   ampc_scalar FILE.amp OUT.c
 *
 * Exit status 0 and "scalar" on stdout when the scalar C differs from the
 * default (SIMD) C; 0 and "same" when it does not (scalar emission not
 * implemented yet); 1 on a compile or write error. */
#include <stdio.h>
#include <string.h>
#include "ampc.h"

static int compile(const char *path, int scalar, AmpcResult *r)
{
    AmpcOptions opt = { .scalar = scalar };
    Diag d;
    diag_init(&d, stderr);
    return ampc_compile_file(path, &opt, &d, r);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: ampc_scalar FILE.amp OUT.c\n", stderr);
        return 2;
    }
    AmpcResult simd, scalar;
    if (compile(argv[1], 0, &simd))
        return 1;
    if (compile(argv[1], 1, &scalar)) {
        ampc_result_free(&simd);
        return 1;
    }
    int same = simd.c_len == scalar.c_len && !memcmp(simd.c_text, scalar.c_text, simd.c_len);
    FILE *f = fopen(argv[2], "wb");
    int rc = !f || fwrite(scalar.c_text, 1, scalar.c_len, f) != scalar.c_len;
    if (f && fclose(f))
        rc = 1;
    if (rc)
        fprintf(stderr, "ampc_scalar: cannot write %s\n", argv[2]);
    else
        puts(same ? "same" : "scalar");
    ampc_result_free(&simd);
    ampc_result_free(&scalar);
    return rc;
}
