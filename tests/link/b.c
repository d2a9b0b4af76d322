/* Two-file link test, part 2: declarations only, main here. */
#include <stdio.h>
#include "../../httpd.h"
int link_a(void);
int main(void) {
    printf("%s\n", httpd_reason(404));
    return link_a() ? 0 : 1;
}
