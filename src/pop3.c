/* src/pop3.c: placeholder, being written. */
typedef int pop3_placeholder;
