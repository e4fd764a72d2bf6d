/* The QAPI types of qapi/migration.json that the public API uses. */
#ifndef FERRY_MIGRATION_TYPES_H
#define FERRY_MIGRATION_TYPES_H

#include "qapi/qapi-types.h"

#endif
