/* faust_ops.h — one Faust program compiled to C (faust -lang c, with or
 * without -vec), seen through a table of functions so that the benchmark
 * driver can run any of them. faust_wrap.c builds one table per generated
 * file. Native only. */
#ifndef BENCH_FAUST_OPS_H
#define BENCH_FAUST_OPS_H

#ifndef FAUSTFLOAT
#define FAUSTFLOAT float
#endif

typedef struct FaustOps {
    const char *name;           /* the class name given with -cn */
    void *(*create)(void);      /* calloc'ed instance */
    void (*destroy)(void *dsp);
    void (*class_init)(int sample_rate);            /* tables shared by all instances: once */
    void (*instance_init)(void *dsp, int sample_rate);
    void (*compute)(void *dsp, int count, FAUSTFLOAT **in, FAUSTFLOAT **out);
    /* Set the widget labelled `label` to value; returns 0, or -1 if there is none. */
    int (*set)(void *dsp, const char *label, float value);
    int (*num_inputs)(void);
    int (*num_outputs)(void);
} FaustOps;

#endif
