/* amp_faust.h — included by the C that faust generates from amp.lib (the
 * Faust side of `make bench`): amp_opaque is the identity, compiled away,
 * that amp.lib puts after a kernel's result so that Faust's normaliser
 * does not distribute the formulas that use it through the kernel's last
 * division (with our tan kernel written in Faust, it turned the filters'
 * two divisions per sample into five). */
#ifndef AMP_FAUST_H
#define AMP_FAUST_H
static inline float amp_opaque(float x) { return x; }
#endif
