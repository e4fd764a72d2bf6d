/*
 * What the installed ferry libraries export.  The libraries are built with
 * -fvisibility=hidden, so only declarations marked FERRY_API are visible
 * to an embedder; everything else stays internal.
 */
#ifndef FERRY_API_H
#define FERRY_API_H

#define FERRY_API __attribute__((visibility("default")))

#endif
