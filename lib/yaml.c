/* yaml.c: being written. */
#include "yaml.h"
