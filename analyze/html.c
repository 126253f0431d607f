/* html.c — the self-contained HTML report (see html.h). */
#include "html.h"

#include <stdio.h>

int html_write(const char *path, const struct an_report *r, const char *svg_dir, char *err,
               size_t errlen)
{
    (void)r;
    (void)svg_dir;
    snprintf(err, errlen, "%s: --html not implemented yet", path);
    return -1;
}
