/* `attend op` (op.c): its API is public, in attend.h. */
#ifndef ATTEND_OP_H
#define ATTEND_OP_H

#include "attend.h"

#endif
