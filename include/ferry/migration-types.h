/*
 * The plain C types of qapi/migration.json that the public API uses
 * (MigrationStatus, MigrationCapability, MigrationParameters,
 * MigrationInfo...), generated from the schema.  The generated helper
 * functions in that header are the library's own and not exported: use
 * ferry_mig_status_name(), ferry_mig_info_free() and
 * ferry_mig_parameters_free().
 */
#ifndef FERRY_MIGRATION_TYPES_H
#define FERRY_MIGRATION_TYPES_H

#include "qapi/qapi-types-migration.h"

#endif
