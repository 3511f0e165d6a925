#include "openhook.h"
