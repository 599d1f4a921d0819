/* password.h: asking the user for the passwords the configuration lacks. */
#ifndef PASSWORD_H
#define PASSWORD_H

struct cfg;

/* Give every query to be polled that still has no password one typed at
 * the terminal, as fetchmail 6.4.37 does at start-up.  Without a terminal
 * on stdin that is an error.  Returns 0, or the exit status (3) after
 * printing why. */
int	ask_passwords(struct cfg *c);

#endif
