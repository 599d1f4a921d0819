/* src/sink_bsmtp.c: placeholder, being written. */
typedef int sink_bsmtp_placeholder;
