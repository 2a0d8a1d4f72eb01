// Linux calls the Glibc module does not export (glibc declares them only under _GNU_SOURCE).
#include <stdint.h>

int syncfs(int fd);
int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags);

#define SLUICE_SYNC_FILE_RANGE_WAIT_BEFORE 1
#define SLUICE_SYNC_FILE_RANGE_WRITE 2
#define SLUICE_SYNC_FILE_RANGE_WAIT_AFTER 4
