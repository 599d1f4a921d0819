/* src/sink.c: placeholder, being written. */
typedef int sink_placeholder;
