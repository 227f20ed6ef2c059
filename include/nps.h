/*
 * nps.h: declarations shared by the C files of the nps extension.
 */
#ifndef NPS_H
#define NPS_H

#include "postgres.h"

/* GUCs (src/nps.c) */
extern char *nps_database;
extern bool nps_enabled;

/* True when the library was loaded through shared_preload_libraries. */
extern bool nps_preloaded;

/* Background worker entry points (src/launcher.c); exported for the postmaster. */
extern PGDLLEXPORT void nps_launcher_main(Datum main_arg);

extern void nps_register_launcher(void);

#endif							/* NPS_H */
