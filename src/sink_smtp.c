/* src/sink_smtp.c: placeholder, being written. */
typedef int sink_smtp_placeholder;
