/* db.c: being written. */
#include "db.h"
