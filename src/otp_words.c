/* otp_words.c: being written */
#include "config.h"
extern int fm_placeholder_otp_words;
