/* src/driver.c: placeholder, being written. */
typedef int driver_placeholder;
