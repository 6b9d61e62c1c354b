#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <malloc.h>

/* prctl is variadic, which Swift cannot call: names the calling thread (15 bytes at most). */
static inline int evalkit_name_this_thread(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }
#endif
