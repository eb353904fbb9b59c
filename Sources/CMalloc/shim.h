// glibc's malloc tuning (malloc_trim, mallopt), which Glibc's Swift module leaves out.
#include <malloc.h>
