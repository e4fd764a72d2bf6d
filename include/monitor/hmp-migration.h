/* The migration commands of the human monitor (monitor/hmp-migration.c). */
#ifndef FERRY_MONITOR_HMP_MIGRATION_H
#define FERRY_MONITOR_HMP_MIGRATION_H

#include "monitor/hmp.h"

HmpHandler hmp_info_migrate;
HmpHandler hmp_info_migrate_capabilities;
HmpHandler hmp_info_migrate_parameters;
HmpHandler hmp_migrate;
HmpHandler hmp_migrate_incoming;
HmpHandler hmp_migrate_cancel;
HmpHandler hmp_migrate_continue;
HmpHandler hmp_migrate_start_postcopy;
HmpHandler hmp_migrate_pause;
HmpHandler hmp_migrate_recover;
HmpHandler hmp_migrate_set_capability;
HmpHandler hmp_migrate_set_parameter;

#endif
