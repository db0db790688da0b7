/*
 * version.h: the version cafe and cafed print with --version.
 */
#ifndef CAFESYNC_VERSION_H
#define CAFESYNC_VERSION_H

#ifndef CAFESYNC_VERSION
#define CAFESYNC_VERSION "0.9.0"
#endif

#endif
