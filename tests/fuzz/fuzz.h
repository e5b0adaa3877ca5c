/*
 * fuzz.h - what the libFuzzer harnesses of tests/fuzz/ share.
 *
 * A harness feeds one input to one parser of libezio and then checks
 * what the parser promises about its answer: a result that is consistent
 * when it accepts, a negative errno and a message when it refuses.  A
 * broken promise aborts, which libFuzzer reports as a crash like any
 * sanitizer finding.
 */
#ifndef EZ_FUZZ_H
#define EZ_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond)                                                                  \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__,       \
                                __LINE__, #cond);                                       \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* A refusal: a negative errno and one sentence saying why. */
#define FZ_CHECK_REFUSAL(r, err)                                                        \
        do {                                                                            \
                FZ_CHECK((r) < 0 && (r) > -4096);                                       \
                FZ_CHECK((err).msg[0] != '\0');                                         \
        } while (0)

#endif
