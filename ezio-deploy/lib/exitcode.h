/*
 * exitcode.h - the exit codes of ezio-deploy and ezio-mktorrent.
 *
 * A published contract: provisioning agents (the Ironic hook) act on
 * these numbers, the status JSON carries them as "exit_code" (its schema,
 * config/ezio-status.schema.json, lists the same), and each command's
 * --help, man page and README.rst document them.  tests/integration/
 * test-docs checks all of those against this file, so a code is added or
 * changed here first.  Installed as <ezio/exitcode.h>.
 */
#ifndef EZ_EXITCODE_H
#define EZ_EXITCODE_H

/* ezio-deploy */
enum ez_exit {
        EZ_EXIT_OK = 0,                 /* done (deploy, seed, --verify-only, --dry-run) */
        EZ_EXIT_INTERNAL = 1,           /* internal error, out of memory */
        EZ_EXIT_USAGE = 2,              /* bad option, node.yaml key or value; token unreadable */
        EZ_EXIT_TORRENT = 3,            /* torrent not fetched, unreadable, invalid, SHA-256 differs */
        EZ_EXIT_TARGET = 4,             /* target missing, too small, in use, of the other kind */
        EZ_EXIT_SWARM = 5,              /* cannot listen, --timeout passed, bad swarm settings */
        EZ_EXIT_IO = 6,                 /* a read or write on the target failed */
        EZ_EXIT_VERIFY = 7,             /* the target reads back different from the image */
        EZ_EXIT_INTERRUPTED = 130,      /* SIGINT or SIGTERM before the work was complete */
};

/* ezio-mktorrent */
enum ez_mk_exit {
        EZ_MK_EXIT_OK = 0,              /* torrent written (or --verify matched) */
        EZ_MK_EXIT_FAILED = 1,          /* failure; no torrent written */
        EZ_MK_EXIT_USAGE = 2,           /* bad option or value */
        EZ_MK_EXIT_MISMATCH = 3,        /* --verify found a difference */
        EZ_MK_EXIT_INTERRUPTED = 130,   /* SIGINT or SIGTERM; no torrent written */
};

#endif
