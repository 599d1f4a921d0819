/* sink_priv.h: placeholder */
