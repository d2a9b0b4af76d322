/* Two-file link test, part 1: the implementation lives here. */
#define HTTPD_IMPLEMENTATION
#include "../../httpd.h"
int link_a(void);
int link_a(void) { return httpd_strerror(HTTPD_ERR_NOMEM)[0] == 'o'; }
