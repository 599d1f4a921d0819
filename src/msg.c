/* src/msg.c: placeholder, being written. */
typedef int msg_placeholder;
