/* src/sink_mda.c: placeholder, being written. */
typedef int sink_mda_placeholder;
